"""Packet throughput of issue 22's acceptance: building, signing, encrypting and delivering
enrolment packets (ten WSQ fingers, face, signature, confirmation, both irises) at 20 people
a second or more on 2 cores.

What is timed, per person: :func:`enrollment.packet.build_packet` (the ANSI/NIST-ITL
transaction from the record's WSQ made at capture time, the manifest, ECDSA P-256
signature, ECDH + HKDF + AES-256-GCM), the sealed packet written to the outbox folder
atomically (fsync of file and folder), and its delivery over HTTP to the centre's
receiving endpoint on 127.0.0.1 (waitress, in this process), which decrypts and checks it
(signature, hashes, schema, area code), writes it durably and commits a receipt before it
answers. Records are captured first (synthetic devices; untimed) and packed under distinct
registration ids by ``--processes`` worker processes. The centre's ingestion (template
extraction) is not part of it: it runs later, at the centre.

Usage::

    PYTHONPATH=. python benchmarks/packet_throughput.py --people 200 --processes 2
"""

from __future__ import annotations

import argparse
import multiprocessing
import pickle
import tempfile
import time
import urllib.parse
from pathlib import Path

from enrollment.packet.keys import new_key, read_private_key, write_private_key
from enrollment.receiver import Receiver, StationRegister, serving
from enrollment.store import Store
from enrollment.synthetic_packets import capture_records, pack_and_post, synthetic_registration_id


def _worker(args: tuple) -> tuple[int, float]:
    records_file, keys, outbox, url, serials = args
    records = pickle.loads(Path(records_file).read_bytes())
    station_key = read_private_key(keys / "station.pem")
    centre_key = read_private_key(keys / "centre.pem").public_key()
    target = urllib.parse.urlsplit(url)
    delivered = 0
    started = time.perf_counter()
    for serial in serials:
        status, body = pack_and_post(
            records[serial % len(records)],
            synthetic_registration_id(serial),
            station_key=station_key,
            centre_key=centre_key,
            outbox=outbox,
            url=target,
        )
        if status == 200 and body.get("outcome") == "RECEIVED_AT_CENTRAL":
            delivered += 1
    return delivered, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=200, help="packets to deliver")
    parser.add_argument("--processes", type=int, default=2, help="station worker processes")
    parser.add_argument("--records", type=int, default=3, help="distinct records captured")
    args = parser.parse_args()
    if args.people < 1 or args.processes < 1 or args.records < 1:
        parser.error("--people, --processes and --records must be at least 1")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        records = capture_records(root / "station", args.records)
        print(f"captured {len(records)} records in {time.perf_counter() - started:.1f} s (untimed)")
        (root / "records.pkl").write_bytes(pickle.dumps(records))
        keys = root / "keys"
        station_key, centre_key = new_key(), new_key()
        write_private_key(keys / "station.pem", station_key)
        write_private_key(keys / "centre.pem", centre_key)
        stations = StationRegister()
        stations.add("ST-01", station_key.public_key())
        (root / "centre").mkdir()
        store = Store(root / "centre" / "centre.db")
        receiver = Receiver(store, root / "centre" / "inbox", centre_key, stations)
        with serving(receiver) as url:
            outbox = root / "outbox"
            outbox.mkdir()
            serials = list(range(args.people))
            jobs = [
                (root / "records.pkl", keys, outbox, url, serials[i :: args.processes])
                for i in range(args.processes)
            ]
            context = multiprocessing.get_context("fork")
            with context.Pool(args.processes) as pool:
                warm = [args.people + i for i in range(2 * args.processes)]  # untimed, own ids
                pool.map(_worker, [(*j[:4], warm[i :: args.processes]) for i, j in enumerate(jobs)])
                started = time.perf_counter()
                results = pool.map(_worker, jobs)
                wall = time.perf_counter() - started
        delivered = sum(r[0] for r in results)
        files = list(outbox.glob("*.pkt"))
        size = sum(p.stat().st_size for p in files) / max(1, len(files))
        print(
            f"{delivered} of {args.people} packets (mean {size / 1024:.0f} KiB) built, signed, "
            f"encrypted, written and delivered in {wall:.2f} s by {args.processes} processes: "
            f"{delivered / wall:.1f} people/s"
        )
        store.close()


if __name__ == "__main__":
    main()
