"""Fuzzing of the centre's packet reader (``python -m enrollment._packet_fuzz --count N
[--seed S] [--ingest-limit M]``).

Each case is a small but complete enrolment packet (Type-1, Type-2, ten Type-14 WSQ
fingers, a manifest) with one seeded mutation: of the sealed bytes (bit flips, cuts,
inserted or overwritten bytes), of the transaction inside a correctly sealed packet, or of
the manifest's values. Every case goes through :meth:`enrollment.receiver.Receiver.receive`
and the packets taken are ingested at the end. The reader must answer every case with an
HTTP status and never raise.

Examples
--------
>>> report = fuzz(40, seed=1)
>>> report.cases, report.crashes
(40, [])
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from afis.image import FingerprintImage, encode_wsq
from afis.interchange import ansi_nist_itl as an
from enrollment.packet import TRANSACTION_PART, seal
from enrollment.packet.keys import new_key
from enrollment.receiver import Receiver, StationRegister
from enrollment.store import Store

__all__ = ["FuzzReport", "fuzz"]

_ANSWERS = frozenset({200, 400, 403, 409, 413, 422})
_DATE = datetime.date(2026, 3, 2)


@dataclass
class FuzzReport:
    """Cases run, answers by HTTP status, crashes (first 20 reprs) and seconds."""

    cases: int = 0
    answers: Counter = field(default_factory=Counter)
    ingested: int = 0
    crashes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _finger(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:96, 0:80]
    angle = rng.uniform(0, np.pi)
    ridges = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) / 1.6 + rng.uniform(0, 6))
    return encode_wsq(FingerprintImage(np.clip(128 + 90 * ridges, 0, 255).astype(np.uint8), 500))


def _manifest(rid: str) -> dict:
    return {
        "format": "nusafis-ektp-packet/1",
        "registration_id": rid,
        "session_id": "S-1",
        "station_id": "ST-01",
        "nik": "3171014501900001",
        "region": "317101",
        "issuance": "regular",
        "citizenship": "citizen",
        "operator_id": "op-1",
        "supervisor_id": "",
        "review": {"approved": True, "supervisor_id": "sv-1", "reason": "", "at": "x"},
        "started_at": "2026-03-02T08:00:00+00:00",
        "finished_at": "2026-03-02T08:05:00+00:00",
        "created_at": "2026-03-02T17:00:00+00:00",
        "exempt": False,
        "exceptions": [],
        "fingers": [{"position": p} for p in range(1, 11)],
        "chip_fingers": {"right": 2, "left": 7},
        "confirmed_sha256": "",
    }


def _transaction(rid: str, fingers: list[bytes]) -> bytes:
    type2 = an.type2_record(
        1,
        {3: "3171014501900001", 5: "SITI", 6: "F", 7: "1990-01-05", 13: "3171011001"},
        encoding="utf-8",
    )
    records = [type2] + [
        an.type14_record(data, idc=2 + i, position=1 + i, date=_DATE)
        for i, data in enumerate(fingers)
    ]
    return an.Transaction.build(
        records, originator="ST-01", control_number=rid, date=_DATE, character_set=3
    ).to_bytes()


def _mutate(data: bytes, rng: np.random.Generator) -> bytes:
    out = bytearray(data)
    kind = int(rng.integers(5))
    at = int(rng.integers(len(out)))
    if kind == 0:
        for _ in range(int(rng.integers(1, 4))):
            out[int(rng.integers(len(out)))] ^= 1 << int(rng.integers(8))
    elif kind == 1:
        out = out[:at]
    elif kind == 2:
        out[at:at] = rng.integers(0, 256, int(rng.integers(1, 16)), dtype=np.uint8).tobytes()
    elif kind == 3:
        out[at : at + 4] = bytes(rng.choice([0x00, 0x1D, 0x1E, 0x1F, 0x3A, 0xFF, 0x39], 4))
    else:
        del out[at : at + int(rng.integers(1, 64))]
    return bytes(out)


def _mutate_manifest(manifest: dict, rng: np.random.Generator) -> dict:
    out = dict(manifest)
    key = sorted(out)[int(rng.integers(len(out)))]
    choice = int(rng.integers(4))
    if choice == 0:
        out.pop(key)
    elif choice == 1:
        out[key] = [None, 7, "x" * 300, {"a": 1}, -1, 1e308][int(rng.integers(6))]
    elif choice == 2:
        out["fingers"] = [{"position": int(p)} for p in rng.integers(-3, 14, rng.integers(0, 12))]
    else:
        out["exceptions"] = [{"position": 3, "kind": "amputated", "reason": "x"}]
    out["registration_id"], out["station_id"] = manifest["registration_id"], "ST-01"
    return out


def fuzz(count: int, seed: int = 2026, *, ingest_limit: int | None = None) -> FuzzReport:
    """Run ``count`` mutated packets through a receiver in a temporary folder, then ingest
    the packets it took (at most ``ingest_limit`` of them; all by default)."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be a positive int, got {count!r}")
    rng = np.random.default_rng(seed)
    station, centre = new_key(), new_key()
    stations = StationRegister()
    stations.add("ST-01", station.public_key(), ("31",))
    fingers = [_finger(seed * 100 + i) for i in range(10)]
    report = FuzzReport()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "centre.db")
        receiver = Receiver(store, Path(tmp) / "inbox", centre, stations)
        for case in range(count):
            rid = f"ST-01-{case % 99_999 + 1:05d}-2026030217{case // 99_999:04d}"
            transaction, manifest = _transaction(rid, fingers), _manifest(rid)
            where = int(rng.integers(3))
            try:
                if where == 1:
                    transaction = _mutate(transaction, rng)
                elif where == 2:
                    manifest = _mutate_manifest(manifest, rng)
                data = seal(
                    {TRANSACTION_PART: transaction},
                    json.loads(json.dumps(manifest)),
                    station_key=station,
                    centre_key=centre.public_key(),
                )
                if where == 0:
                    data = _mutate(data, rng)
                answer = receiver.receive(data)
                if answer.http_status not in _ANSWERS:
                    raise AssertionError(f"HTTP {answer.http_status}: {answer.body}")
                report.answers[answer.http_status] += 1
            except Exception as exc:  # a crash of the reader: reported, never raised
                if len(report.crashes) < 20:
                    report.crashes.append(f"case {case}: {type(exc).__name__}: {exc}")
                else:
                    report.crashes.append("...")
            report.cases += 1
        try:
            done = receiver.ingest(limit=ingest_limit)
            report.ingested = done.records + done.resent + done.failed
        except Exception as exc:
            report.crashes.append(f"ingest: {type(exc).__name__}: {exc}")
        store.close()
    report.seconds = time.perf_counter() - started
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description="fuzz the centre's packet reader")
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--ingest-limit", type=int, default=2000, help="packets taken that are then ingested"
    )
    args = parser.parse_args()
    if args.count < 1 or args.ingest_limit < 0:
        parser.error("--count must be at least 1 and --ingest-limit at least 0")
    logging.basicConfig(level=logging.ERROR)  # each refusal is logged as a warning
    report = fuzz(args.count, args.seed, ingest_limit=args.ingest_limit)
    print(
        f"{report.cases} mutated packets in {report.seconds:.1f} s; answers "
        f"{dict(sorted(report.answers.items()))}; {report.ingested} taken and ingested; "
        f"{len(report.crashes)} crashes"
    )
    for line in report.crashes[:20]:
        print("  " + line)
    raise SystemExit(1 if report.crashes else 0)


if __name__ == "__main__":
    main()
