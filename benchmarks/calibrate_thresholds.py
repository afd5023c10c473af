"""Calibrate score thresholds for target false match rates (``afis.threshold_for_fmr``).

Impostor scores come from every pair of images of different fingers across all eight FVC
'B' sets, within and across sets, about 190,000 pairs. Sets of one year may share fingers:
FVC2000 DB1_B and DB2_B hold the same fingers under the same numbers (two sensors, the same
volunteers; their cross-set same-number pairs score like genuine pairs), so a finger is
identified by (year, finger number) and such pairs are left out. For each target FMR the
threshold is the smallest score that at most that share of
impostor pairs reach. Rerun whenever the matcher or the extractor changes:

    AFIS_DATASETS=../shared/datasets python benchmarks/calibrate_thresholds.py

It rewrites ``afis/data/thresholds.json``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

import afis
from afis.bench import folder_dpi, read_fvc_folder

REPO = Path(__file__).resolve().parent.parent
SETS = [f"fvc{year}/DB{n}_B" for year in (2000, 2002) for n in (1, 2, 3, 4)]
TARGETS = [10.0**-k for k in (1, 1.5, 2, 2.5, 3, 3.5, 4)]
#: Highest impostor scores the tail beyond the last target is fitted on (FMR ~2.6e-4..5e-6).
TAIL_POINTS = 50
#: The fitted tail's slope (log10 FMR per score unit) is flattened by this factor: a heavier
#: tail than measured, so extrapolated false match rates err on the side of caution.
TAIL_SAFETY = 0.85


def main() -> int:
    root = Path(os.environ.get("AFIS_DATASETS", REPO.parent / "shared" / "datasets"))
    manifest = REPO / "datasets" / "fvc.json"
    templates, fingers = [], []
    for name in SETS:
        folder = root / name
        files = read_fvc_folder(folder)
        dpi = folder_dpi(folder, manifest)
        extracted = afis.extract_many([afis.load_image(f, dpi=dpi) for f in files.values()])
        templates += extracted
        fingers += [(name.split("/")[0], key[0]) for key in files]
        print(f"{name}: {len(extracted)} templates", file=sys.stderr)
    gallery = afis.Gallery.from_templates(templates)
    finger_ids = np.array([hash(f) for f in fingers])
    impostor = []
    start = time.perf_counter()
    for i, probe in enumerate(templates):
        scores = afis.Matcher(probe).compare_many(gallery)
        later = np.arange(len(templates)) > i
        impostor.append(scores[later & (finger_ids != finger_ids[i])])
    scores = np.sort(np.concatenate(impostor))[::-1]
    n = len(scores)
    print(f"{n} impostor scores in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    table = []
    for fmr in TARGETS:
        allowed = int(np.floor(fmr * n))  # impostor scores allowed at or above the threshold
        threshold = float(np.nextafter(scores[allowed], np.float32(2))) if allowed < n else 0.0
        table.append({"fmr": fmr, "threshold": threshold})
    # Beyond the last target: log10 FMR linear in the score, fitted by least squares on the
    # highest impostor scores (empirical FMR = rank / n), anchored at the last threshold.
    ranks = np.arange(1, TAIL_POINTS + 1)
    fitted = float(np.polyfit(scores[:TAIL_POINTS], np.log10(ranks / n), 1)[0])
    out = {
        "description": "score thresholds for target false match rates, from FVC2000+2002 B "
        "impostor pairs (within and across sets)",
        "impostor_pairs": n,
        "afis_version": afis.__version__,
        "table": table,
        "tail": {
            "description": "beyond the last threshold, log10(FMR) falls by `slope` per score "
            f"unit: a least-squares fit on the {TAIL_POINTS} highest impostor scores, "
            f"flattened by {TAIL_SAFETY} (a heavier tail than measured)",
            "fitted_slope": fitted,
            "slope": fitted * TAIL_SAFETY,
            "highest_impostor": float(scores[0]),
        },
    }
    (REPO / "afis" / "data" / "thresholds.json").write_text(json.dumps(out, indent=1) + "\n")
    for row in table:
        print(f"FMR {row['fmr']:.0e}: threshold {row['threshold']:.4f}")
    used = out["tail"]["slope"]
    print(f"tail: fitted slope {fitted:.1f} log10(FMR) per score unit, used {used:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
