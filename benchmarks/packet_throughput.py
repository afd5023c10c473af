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
import datetime
import multiprocessing
import pickle
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

from afis.atomic import atomic_write
from enrollment.capture import (
    Modality,
    OperatorRegister,
    PopulationRegister,
    Role,
    Station,
    SyntheticDevice,
)
from enrollment.capture.synthetic import render_finger
from enrollment.outbox import _post
from enrollment.packet import build_packet, registration_id
from enrollment.packet.keys import new_key, read_private_key, write_private_key
from enrollment.receiver import Receiver, StationRegister, make_server
from enrollment.store import Store

AT = datetime.datetime(2026, 3, 2, 17, 0, tzinfo=datetime.timezone.utc)


def _records(folder: Path, count: int) -> list:
    """``count`` approved records captured on synthetic devices (ten flat fingers, face,
    signature, irises, re-verification, confirmation)."""
    staff = OperatorRegister()
    staff.enrol("op-1", "ANA", Role.OPERATOR, {2: render_finger(9001, 0)})
    staff.enrol("sv-1", "BAYU", Role.SUPERVISOR, {7: render_finger(9002, 0)})
    register = PopulationRegister.synthetic(80, seed=11)
    station = Station("ST-01", folder, register, staff, clock=lambda: AT)
    people = [r for r in register.residents() if r.age_on(AT.date()) >= 17 and not r.kitap]
    ids = []
    for index in range(count):
        resident = people[index]
        login = station.login("op-1", render_finger(9001, 1))
        session = station.start_session(
            resident.nik, resident.family_card, operator=login, issuance="regular"
        )
        kit = {
            name: SyntheticDevice(f"{name}-1", modality, 700 + index)
            for name, modality in (
                ("finger", Modality.FINGER),
                ("face", Modality.FACE),
                ("iris", Modality.IRIS),
                ("pad", Modality.SIGNATURE),
            )
        }
        for position in range(1, 11):
            session.capture_finger(position, kit["finger"])
        session.capture_photo("face", kit["face"])
        session.capture_photo("signature", kit["pad"])
        session.capture_photo("left_iris", kit["iris"])
        session.capture_photo("right_iris", kit["iris"])
        session.reverify(kit["finger"])
        session.confirm(kit["pad"])
        session.sign_off(render_finger(9001, 2))
        ids.append(session.session_id)
    station.end_of_day("sv-1", render_finger(9002, 1), day=AT.date(), approve=ids)
    return [station.record(i) for i in ids]


def _worker(args: tuple) -> tuple[int, float]:
    records_file, keys, outbox, url, serials = args
    records = pickle.loads(Path(records_file).read_bytes())
    station_key = read_private_key(keys / "station.pem")
    centre_key = read_private_key(keys / "centre.pem").public_key()
    target = urllib.parse.urlsplit(url)
    delivered = 0
    started = time.perf_counter()
    for serial in serials:
        record = records[serial % len(records)]
        rid = registration_id("ST-01", AT + datetime.timedelta(seconds=serial), serial % 99_999 + 1)
        data = build_packet(
            record,
            registration_id=rid,
            station_key=station_key,
            centre_key=centre_key,
            created_at=AT,
        )
        atomic_write(outbox / f"{rid}.pkt", data)
        status, body = _post(target, data, rid, 60.0)
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
        records = _records(root / "station", args.records)
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
        server = make_server(receiver, threads=4, ingest_interval=None)
        threading.Thread(target=server.run, daemon=True).start()
        url = f"http://127.0.0.1:{server.effective_port}"
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
        server.close()
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
