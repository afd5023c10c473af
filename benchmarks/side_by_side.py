"""Two builds of the engine side by side in one run: the same workloads, alternated, and ratios.

Each build is a source tree with its native core built in place (``python setup.py
build_ext --inplace``), for instance two git worktrees of two commits. Every measurement runs in
a fresh subprocess with ``PYTHONPATH`` set to one tree; the two trees alternate within each
round (old first in odd rounds, new first in even ones), so that a machine shared with other
jobs slows both alike. Each subprocess reports the best of a few repetitions; the table gives
the median over the rounds and the speed-up (old time / new time, or new rate / old rate:
above 1, the new build is faster). Wall time is what the issue's targets are about; CPU time
(all threads of the process) is printed beside it because a shared machine stretches wall
time unevenly::

    python benchmarks/side_by_side.py --old /path/to/old-tree --new $PWD --cache /tmp/fvc \\
        --workloads prepare compare compare_many --rounds 5

Workloads (``--workloads``, default all):

``prepare``
    ``Gallery.from_templates`` on one thread, µs per template: synthetic templates
    (``afis.synth.Population(seed).impressions(range(n), 0)``) and FVC2002 DB1_B's.
``from_bytes``
    ``Template.from_bytes`` of the synthetic templates' bytes, µs per template.
``compare``
    ``afis.compare`` of two fresh templates (their cylinders built every time), µs per pair,
    FVC2002 DB1_B templates (i, i + 1).
``compare_many``
    ``Matcher.compare_many`` against FVC2002 DB1_B..DB4_B's 320 templates tiled to at least
    ``--size`` entries (default 100,000), on 1 and 2 threads, comparisons per second.
``extract``
    ``afis.extract`` on every image of ``--extract-set`` (default FVC2002 DB1_B), median ms
    per image on one thread.

FVC templates are extracted once and cached under ``--cache`` (see ``fvc_templates.py``), so
both builds score the very same minutiae; datasets come from ``AFIS_DATASETS``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKLOADS = ("prepare", "from_bytes", "compare", "compare_many", "extract")
FVC2002 = [f"fvc2002/DB{n}_B" for n in (1, 2, 3, 4)]


# --- measurements (run inside the subprocess, against whichever build is on the path) --------


def _best(run: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Fastest wall time and fastest CPU time (all threads) of ``repeats`` calls, seconds."""
    wall = cpu = float("inf")
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        run()
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    return wall, cpu


def _synthetic(count: int, seed: int = 26) -> list:
    from afis.synth import Population

    return Population(seed).impressions(range(count), 0).templates()


def _fvc(names: list[str], cache: Path | None) -> list:
    sys.path.insert(0, str(HERE))
    from fvc_templates import load_set

    return [t for name in names for t in load_set(name, cache)]


def measure(workload: str, args: argparse.Namespace) -> dict[str, float]:
    """The workload's figures (name -> value) with the build on ``sys.path``."""
    import numpy as np

    import afis

    out: dict[str, float] = {}
    if workload == "prepare":
        for label, templates in (
            ("synthetic", _synthetic(args.templates)),
            ("fvc2002_db1", _fvc(FVC2002[:1], args.cache)),
        ):
            wall, cpu = _best(lambda t=templates: afis.Gallery.from_templates(t, threads=1), 5)
            out[f"prepare {label} (us/template)"] = wall / len(templates) * 1e6
            out[f"prepare {label}, CPU time (us/template)"] = cpu / len(templates) * 1e6
    elif workload == "from_bytes":
        data = [t.to_bytes() for t in _synthetic(args.templates)]
        wall, cpu = _best(lambda: [afis.Template.from_bytes(d) for d in data], 5)
        out["from_bytes synthetic (us/template)"] = wall / len(data) * 1e6
        out["from_bytes synthetic, CPU time (us/template)"] = cpu / len(data) * 1e6
    elif workload == "compare":
        templates = _fvc(FVC2002[:1], args.cache)
        pairs = list(itertools.pairwise(templates))
        wall, cpu = _best(lambda: [afis.compare(a, b) for a, b in pairs], 5)
        out["compare fvc2002_db1 (us/pair)"] = wall / len(pairs) * 1e6
        out["compare fvc2002_db1, CPU time (us/pair)"] = cpu / len(pairs) * 1e6
    elif workload == "compare_many":
        base = _fvc(FVC2002, args.cache)
        gallery = afis.Gallery.from_templates(base, threads=2)
        copies = -(-args.size // len(base))
        gallery = gallery.subset(np.tile(np.arange(len(gallery)), copies))
        probes = [afis.Matcher(base[(k * len(base)) // args.probes]) for k in range(args.probes)]
        for threads in (1, 2):
            wall, cpu = _best(
                lambda th=threads: [p.compare_many(gallery, threads=th) for p in probes], 2
            )
            name = f"compare_many {len(gallery)} x {threads} thread(s)"
            out[f"{name} (comparisons/s)"] = len(probes) * len(gallery) / wall
            out[f"{name} (comparisons/CPU s)"] = len(probes) * len(gallery) / cpu
    elif workload == "extract":
        from afis.bench import folder_dpi, read_fvc_folder

        root = Path(os.environ.get("AFIS_DATASETS", HERE.parent.parent / "shared" / "datasets"))
        folder = root / args.extract_set
        dpi = folder_dpi(folder, HERE.parent / "datasets" / "fvc.json")
        images = [afis.load_image(path, dpi=dpi) for path in read_fvc_folder(folder).values()]
        times = []
        for image in images:
            start = time.perf_counter()
            afis.extract(image)
            times.append(time.perf_counter() - start)
        out[f"extract {args.extract_set} median (ms/image)"] = statistics.median(times) * 1e3
    else:
        raise SystemExit(f"unknown workload {workload!r}")
    out["module"] = afis.__file__  # type: ignore[assignment]
    return out


# --- the driver ---------------------------------------------------------------------------------


def run_worker(tree: Path, workload: str, args: argparse.Namespace) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        workload,
        "--templates",
        str(args.templates),
        "--size",
        str(args.size),
        "--probes",
        str(args.probes),
        "--extract-set",
        args.extract_set,
    ]
    if args.cache:
        command += ["--cache", str(args.cache)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{workload} with {tree} failed:\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    module = Path(result.pop("module")).resolve()
    if not module.is_relative_to(tree.resolve()):
        raise SystemExit(f"{tree}: imported afis from {module} (build it in place)")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", type=Path, help="source tree of the reference build")
    parser.add_argument("--new", type=Path, help="source tree of the candidate build")
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=WORKLOADS)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cache", type=Path, help="folder caching extracted FVC templates")
    parser.add_argument("--templates", type=int, default=200, help="synthetic templates")
    parser.add_argument("--size", type=int, default=100_000, help="compare_many gallery size")
    parser.add_argument("--probes", type=int, default=4, help="compare_many probes")
    parser.add_argument("--extract-set", default="fvc2002/DB1_B")
    parser.add_argument("--worker", choices=WORKLOADS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(measure(args.worker, args)))
        return 0
    if not (args.old and args.new):
        parser.error("--old and --new are required")
    builds = {"old": args.old, "new": args.new}
    figures: dict[str, dict[str, list[float]]] = {}
    for round_ in range(args.rounds):
        order = ["old", "new"] if round_ % 2 == 0 else ["new", "old"]
        for workload in args.workloads:
            for build in order:
                for name, value in run_worker(builds[build], workload, args).items():
                    figures.setdefault(name, {"old": [], "new": []})[build].append(value)
        print(f"round {round_ + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    print(f"old: {args.old}\nnew: {args.new}")
    print(f"rounds: {args.rounds} (median; per round in brackets)")
    print("\n| measure | old | new | speed-up |\n|---|---|---|---|")
    for name, values in figures.items():
        old, new = statistics.median(values["old"]), statistics.median(values["new"])
        ratio = new / old if "/s" in name or "/CPU s" in name else old / new
        per_round = "; ".join(
            f"{o:.4g} / {n:.4g}" for o, n in zip(values["old"], values["new"], strict=True)
        )
        print(f"| {name} | {old:.4g} | {new:.4g} | {ratio:.2f} [{per_round}] |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
