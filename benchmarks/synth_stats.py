"""Real vs synthetic template statistics, and the generator's speed (benchmarks/SYNTH.md).

Usage::

    AFIS_DATASETS=/path/to/datasets python benchmarks/synth_stats.py [--fingers 20] [--speed 100000]

For each FVC set with a profile in ``afis.synth.PROFILES`` it extracts the real templates,
generates ``--fingers`` synthetic fingers x 8 impressions with the matching profile, and
prints minutiae count, nearest-neighbour spacing and score percentiles (every unordered
pair, genuine = same finger). ``--speed N`` times N masters and N impressions on the
calling thread (pin it with ``taskset -c 0`` for a one-core figure).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

import afis
from afis.synth import PROFILES, Population
from afis.synth.stats import nearest_neighbour_distances, pair_scores

REPO = Path(__file__).resolve().parent.parent
SETS = {"fvc2002/DB1_B": "fvc2002_db1", "fvc2000/DB1_B": "fvc2000_db1"}
IMPRESSIONS = 8


def row(label: str, templates: list[afis.Template], fingers: list[int]) -> str:
    counts = np.array([len(t) for t in templates])
    nn = nearest_neighbour_distances(templates)
    gen, imp = pair_scores(templates, fingers)
    c = np.percentile(counts, [5, 50, 95])
    n = np.percentile(nn, [5, 25, 50])
    g = np.percentile(gen, [5, 25, 50, 75])
    i = np.percentile(imp, [50, 99])
    return (
        f"| {label} | {c[0]:.0f} / {c[1]:.0f} / {c[2]:.0f} | {n[0]:.1f} / {n[1]:.1f} / {n[2]:.1f}"
        f" | {g[0]:.3f} / {g[1]:.3f} / {g[2]:.3f} / {g[3]:.3f} | {i[0]:.4f} / {i[1]:.4f}"
        f" | {len(gen)} / {len(imp)} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fingers", type=int, default=20)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--speed", type=int, default=0, help="fingers to time (0: skip)")
    args = parser.parse_args()
    root = os.environ.get("AFIS_DATASETS")
    manifest = json.loads((REPO / "datasets" / "fvc.json").read_text())["sets"]
    print(
        "| templates | count p5/p50/p95 | NN distance p5/p25/p50 (px) "
        "| genuine p5/p25/p50/p75 | impostor p50/p99 | pairs gen/imp |"
    )
    print("|---|---|---|---|---|---|")
    for name, profile in SETS.items():
        if root:
            files = sorted((Path(root) / name).glob("*.tif"))
            real = [afis.extract(afis.load_image(f, dpi=manifest[name]["dpi"])) for f in files]
            print(row(f"{name} real", real, [int(f.stem.split("_")[0]) for f in files]))
        pop = Population(args.seed, PROFILES[profile])
        synth: list[afis.Template] = []
        for k in range(IMPRESSIONS):
            synth += pop.impressions(range(args.fingers), k).templates()
        print(row(f"synthetic `{profile}`", synth, list(range(args.fingers)) * IMPRESSIONS))
    if args.speed:
        pop = Population(args.seed)
        pop.impressions(10)  # load the compiled kernels
        t0 = time.perf_counter()
        masters = pop.masters(args.speed)
        t1 = time.perf_counter()
        n = sum(len(b) for b in pop.iter_impressions(args.speed, 0))
        t2 = time.perf_counter()
        templates = pop.impressions(min(args.speed, 20000), 1).templates()
        t3 = time.perf_counter()
        mean = masters.counts().mean()
        print(f"masters: {args.speed / (t1 - t0):,.0f} fingers/s ({mean:.1f} minutiae each)")
        print(f"impressions (packed, master included): {n / (t2 - t1):,.0f}/s")
        print(f"impressions as afis.Template objects: {len(templates) / (t3 - t2):,.0f}/s")


if __name__ == "__main__":
    main()
