"""Interoperability with another vendor's minutiae (the MINEX idea) on FVC2002.

The shared datasets hold ISO/IEC 19794-2:2005 records of every FVC2002 'B' image made by
SecuGen's extractor (``fvc2002_iso19794-2_secugen``). This script scores, per set and with
the protocols of ``afis bench verify`` (:func:`afis.bench.verify.protocol_pairs`,
:func:`afis.bench.metrics.error_rates`), four configurations with the engine's matcher:

``ours``
    the engine's templates of both impressions (what ``afis bench verify`` measures);
``theirs``
    the vendor's templates of both impressions, read with the set's real resolution and
    image size (their headers say 300 x 400 at 197 px/cm for every image; the minutiae are
    those of the image stretched to that frame, see :mod:`afis.interchange.minutiae`);
``theirs-as-written``
    the same records read as their headers say (to show what the overrides are worth);
``cross``
    the engine's template of one impression against the vendor's of the other, both ways
    round for every pair (so twice the pairs of the other rows).

Run from the repository root::

    AFIS_DATASETS=/path/to/datasets python benchmarks/interop.py [--protocol both] [--json out]

It prints one row per set, protocol and configuration plus macro averages (rates in
percent).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import afis
import afis.match
from afis import interchange
from afis._native import _core
from afis.bench.metrics import error_rates
from afis.bench.verify import PROTOCOLS, Key, Pair, protocol_pairs, read_fvc_folder
from afis.template import Template

REPO = Path(__file__).resolve().parent.parent
SETS = ("DB1_B", "DB2_B", "DB3_B", "DB4_B")
CONFIGS = ("ours", "theirs", "theirs-as-written", "cross")
METRICS = ("eer", "fmr100", "fmr1000", "zero_fmr")


def load_set(
    root: Path, vendor: str, name: str, manifest: dict[str, Any]
) -> dict[str, dict[Key, Any]]:
    """Prepared (cylinder) templates of one set: the engine's, the vendor's read right and
    the vendor's read as written, keyed by (finger, impression)."""
    meta = manifest["sets"][f"fvc2002/{name}"]
    images = read_fvc_folder(root / "fvc2002" / name)
    prepared: dict[str, dict[Key, Any]] = {c: {} for c in CONFIGS[:3]}
    for key, path in images.items():
        record = root / vendor / name / f"{path.stem}.iso"
        data = record.read_bytes()
        templates: dict[str, Template] = {
            "ours": afis.extract(afis.load_image(path, dpi=meta["dpi"])),
            "theirs": interchange.from_iso(data, resolution=meta["dpi"], image_size=meta["size"]),
            "theirs-as-written": interchange.from_iso(data),
        }
        for config, template in templates.items():
            prepared[config][key] = afis.match._cylinders(template)
    return prepared


def scores(prepared: dict[str, dict[Key, Any]], pairs: Sequence[Pair], config: str) -> np.ndarray:
    """Scores of ``pairs`` in one configuration (``cross``: both ways round, concatenated)."""
    compare: Callable[[Any, Any], float] = _core.compare
    if config == "cross":
        ours, theirs = prepared["ours"], prepared["theirs"]
        forward = [compare(ours[a], theirs[b]) for a, b in pairs]
        backward = [compare(ours[b], theirs[a]) for a, b in pairs]
        return np.asarray(forward + backward, np.float64)
    side = prepared[config]
    return np.asarray([compare(side[a], side[b]) for a, b in pairs], np.float64)


def run(
    root: Path, vendor: str, sets: Sequence[str], protocols: Sequence[str], manifest_path: Path
) -> list[dict[str, Any]]:
    manifest = json.loads(manifest_path.read_text())
    rows: list[dict[str, Any]] = []
    for name in sets:
        prepared = load_set(root, vendor, name, manifest)
        keys = list(prepared["ours"])
        for protocol in protocols:
            genuine, impostor = protocol_pairs(keys, protocol)
            for config in CONFIGS:
                rates = error_rates(
                    scores(prepared, genuine, config), scores(prepared, impostor, config)
                )
                rows.append(
                    {"set": name, "protocol": protocol, "config": config, **rates.to_dict()}
                )
        print(f"{name}: done", file=sys.stderr, flush=True)
    for protocol in protocols:
        for config in CONFIGS:
            chosen = [r for r in rows if r["protocol"] == protocol and r["config"] == config]
            macro = {m: statistics.fmean(r[m] for r in chosen) for m in METRICS}
            rows.append(
                {
                    "set": "macro",
                    "protocol": protocol,
                    "config": config,
                    **macro,
                    "n_genuine": sum(r["n_genuine"] for r in chosen),
                    "n_impostor": sum(r["n_impostor"] for r in chosen),
                }
            )
    return rows


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    head = f"{'set':<8}{'protocol':<10}{'config':<19}" + "".join(
        f"{h:>10}" for h in ("EER %", "FMR100 %", "FMR1000 %", "ZeroFMR %", "genuine", "impostor")
    )
    lines = [head]
    for r in rows:
        lines.append(
            f"{r['set']:<8}{r['protocol']:<10}{r['config']:<19}"
            + "".join(f"{r[m]:>10.2f}" for m in METRICS)
            + f"{r['n_genuine']:>10}{r['n_impostor']:>10}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--datasets", default=os.environ.get("AFIS_DATASETS"), help="shared datasets folder"
    )
    parser.add_argument(
        "--vendor",
        default="fvc2002_iso19794-2_secugen",
        help="folder of the vendor's records under the datasets",
    )
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    parser.add_argument("--protocol", choices=(*PROTOCOLS, "both"), default="both")
    parser.add_argument("--manifest", default=str(REPO / "datasets" / "fvc.json"))
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args(argv)
    if not args.datasets:
        parser.error("give --datasets or set AFIS_DATASETS")
    protocols = PROTOCOLS if args.protocol == "both" else (args.protocol,)
    rows = run(Path(args.datasets), args.vendor, args.sets, protocols, Path(args.manifest))
    print(format_table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
