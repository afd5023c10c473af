"""One-to-many matching throughput against a large gallery (issue 3's acceptance test).

The gallery repeats the 320 templates of FVC2002 DB1_B..DB4_B (extracted at the manifest's
dpi) up to ``--size`` templates (default 100,000); a few probes from those sets are scored
against all of it with ``Matcher.compare_many`` on 1 and 2 threads, best of ``--repeats``
runs. Prints comparisons per second of wall time (per core for one thread), per second of
CPU time (all threads; what a comparison costs even when other jobs share the cores) and
the 2-thread speed-up::

    PYTHONPATH=$PWD python benchmarks/match_throughput.py --cache /tmp/fvc-templates

The machine may be shared: compare builds in the same session, alternating runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from fvc_templates import load_set

import afis

SETS = [f"fvc2002/DB{n}_B" for n in (1, 2, 3, 4)]


def tiled(gallery: afis.Gallery, copies: int) -> afis.Gallery:
    """The gallery repeated ``copies`` times (as if packed from the repeated templates)."""
    return gallery.subset(np.tile(np.arange(len(gallery)), copies))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, help="folder caching extracted templates")
    parser.add_argument("--size", type=int, default=100_000, help="gallery templates (minimum)")
    parser.add_argument("--probes", type=int, default=4, help="probes per run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)
    base = [t for name in SETS for t in load_set(name, args.cache)]
    copies = -(-args.size // len(base))
    start = time.perf_counter()
    gallery = tiled(afis.Gallery.from_templates(base, threads=2), copies)
    built = time.perf_counter() - start
    minutiae = gallery.minutiae / len(gallery)
    # Probes spread evenly over the four sets (first impressions when --probes divides 40).
    probes = [afis.Matcher(base[(k * len(base)) // args.probes]) for k in range(args.probes)]
    result = {
        "module": afis.__file__,
        "gallery": len(gallery),
        "mean_minutiae": minutiae,
        "build_s": built,
    }
    n = args.probes * len(gallery)
    for threads in args.threads:
        best, best_cpu = float("inf"), float("inf")
        for _ in range(args.repeats):
            start, start_cpu = time.perf_counter(), time.process_time()
            for matcher in probes:
                matcher.compare_many(gallery, threads=threads)
            best = min(best, time.perf_counter() - start)
            best_cpu = min(best_cpu, time.process_time() - start_cpu)
        result[f"per_s_{threads}t"] = n / best
        result[f"us_per_comparison_{threads}t"] = 1e6 * threads * best / n
        # CPU time of all threads: the cost per comparison even when other jobs share the cores.
        result[f"per_cpu_s_{threads}t"] = n / best_cpu
    if 1 in args.threads and 2 in args.threads:
        result["speedup_2t"] = result["per_s_2t"] / result["per_s_1t"]
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
