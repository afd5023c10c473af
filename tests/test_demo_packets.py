"""The demo's records arrive at the centre through packets: one ingested receipt per
record, every record's history opening with the receiver's RECEIVED_AT_CENTRAL, one sealed
packet per record in the station's outbox, and a packet of the demo changed on the way is
refused."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from enrollment.dedup import DedupOptions
from enrollment.demo import DemoOptions, run_demo
from enrollment.packet.keys import read_private_key
from enrollment.receiver import Receiver, StationRegister
from enrollment.status import Status
from enrollment.store import Store, packet_receipts


def test_demo_records_arrive_as_packets(tmp_path: Path) -> None:
    work = tmp_path / "work"
    report = run_demo(
        tmp_path / "centre.db",
        work,
        DemoOptions(people=24, duplicate_share=0.1, mismatches=1, seed=5),
        DedupOptions(chunk_size=16),
        threads=1,
        processes=1,
        stations=2,
    )
    assert report.records == 26
    assert report.found_duplicates == report.planted_duplicates == 2
    assert report.unique_flagged == 0 and report.found_mismatches == 1
    packets = report.packets
    assert packets is not None
    assert (packets.built, packets.delivered, packets.refused) == (26, 26, 0)
    assert report.receipts == report.records
    assert len(list((work / "outbox").glob("*.pkt"))) == 26

    store = Store(tmp_path / "centre.db")
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(packet_receipts)).all()
    assert len(rows) == 26 and {r.state for r in rows} == {"ingested"}
    assert len({r.record_id for r in rows}) == 26
    for row in rows:
        first = store.history(row.record_id)[0]
        assert first.to_status == Status.RECEIVED_AT_CENTRAL
        assert first.actor == f"receiver:{row.station_id}"

    # a demo packet changed on the way: the centre refuses it and makes no record
    centre_key = read_private_key(work / "keys" / "centre.pem")
    stations = StationRegister()
    stations.add("ST-01", read_private_key(work / "keys" / "station.pem").public_key())
    receiver = Receiver(store, tmp_path / "again", centre_key, stations, minutiae=True)
    data = bytearray(next((work / "outbox").glob("*.pkt")).read_bytes())
    data[-100] ^= 0x01
    answer = receiver.receive(bytes(data))
    assert answer.http_status == 400 and answer.body["outcome"] == "REFUSED"
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(packet_receipts)).scalar() == 26
    store.close()
