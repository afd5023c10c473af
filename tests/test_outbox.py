"""Issue 22, part 8: the station's outbox and the centre's receiving endpoint over HTTP
(synthetic devices): statuses, exactly-once delivery (replays, kill -9 of the station at
five points, a centre that fails after its receipt), a centre down all day, tampered and
wrong-station packets, regional failures and re-sent packets, and the reader fuzzed."""

from __future__ import annotations

import datetime
import itertools
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa
from _capture import make_station
from _delivery import approved_station, centre, keys, register

from enrollment._packet_fuzz import fuzz
from enrollment.outbox import DeliveryOutcome, Outbox, OutboxError, OutboxOptions
from enrollment.packet import build_packet
from enrollment.packet.keys import new_key
from enrollment.receiver import RESENDABLE_STATUSES, StationRegister
from enrollment.status import Status
from enrollment.store import Store, packet_receipts

REPO = Path(__file__).resolve().parent.parent
UTC = datetime.timezone.utc


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A station folder with three approved records and one open session (copied per test)."""
    folder = tmp_path_factory.mktemp("template") / "station"
    approved_station(folder, 3, open_one=True)
    return folder


@pytest.fixture
def setup(template: Path, tmp_path: Path):
    shutil.copytree(template, tmp_path / "station")
    station = make_station(tmp_path / "station")
    station_key, centre_key = keys(tmp_path / "keys")
    outbox = Outbox(station, station_key=station_key, centre_key=centre_key.public_key())
    yield station, outbox, station_key, centre_key
    outbox.close()


def _receipts(store) -> list[tuple[str, str]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(packet_receipts.c.registration_id, packet_receipts.c.kind)
        ).all()
    return sorted((r[0], r[1]) for r in rows)


def test_statuses_delivery_and_replays(setup, tmp_path: Path) -> None:
    _, outbox, station_key, centre_key = setup
    counts = outbox.sync()
    assert counts == {Status.PROCESSING: 3, Status.UNREGISTERED: 1}
    assert outbox.sync() == counts  # idempotent: nothing sealed twice
    with centre(tmp_path / "centre", centre_key, register(station_key)) as c:
        tries = outbox.deliver(c.url)
        assert [t.outcome for t in tries] == [DeliveryOutcome.DELIVERED] * 3
        assert outbox.deliver(c.url) == []  # nothing due any more
        report = c.receiver.ingest()
        assert (report.records, report.failed) == (3, 0)
        for entry in outbox.entries():
            if entry.status == Status.UNREGISTERED:
                continue
            moves = [h.to_status for h in outbox.history(entry.session_id)]
            assert moves == [
                Status.UNREGISTERED,
                Status.BIO_CAPTURED,
                Status.PROCESSING,
                Status.SENT_FOR_ENROLLMENT,
            ]
            found = c.receiver.receipt(entry.registration_id)
            assert found["status"] == "RECEIVED_AT_CENTRAL"
            assert len(c.store.samples(found["record_id"])) == 10
            # the same bytes again: answered as the first time, no second record
            data = (outbox.folder / f"{entry.registration_id}.pkt").read_bytes()
            again = c.receiver.receive(data)
            assert again.http_status == 200 and again.body["replayed"]
            assert again.body["receipt"] == entry.receipt
        assert c.receiver.ingest().records == 0
        assert len(c.store.statuses()) == 3


def test_tampered_and_wrong_station_packets(setup, tmp_path: Path) -> None:
    station, outbox, station_key, centre_key = setup
    outbox.sync()
    first, second, third = [e for e in outbox.entries() if e.registration_id]
    path = outbox.folder / f"{first.registration_id}.pkt"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    stations = StationRegister()  # the centre does not know ST-01 yet
    with centre(tmp_path / "centre", centre_key, stations) as c:
        refused = c.receiver.receive(bytes(data))
        assert refused.http_status == 400 and "decryption failed" in refused.body["reason"]
        refused = c.receiver.receive(bytes(data), sha256="0" * 64)
        assert refused.body["retry"] and "damaged on the way" in refused.body["reason"]
        path.write_bytes(bytes(data))  # the station's own copy damaged on disk
        tries = {t.session_id: t for t in outbox.deliver(c.url)}
        assert {t.outcome for t in tries.values()} == {DeliveryOutcome.HELD}
        assert "unknown station 'ST-01'" in tries[second.session_id].reason
        assert tries[second.session_id].http_status == 403
        assert outbox.deliver(c.url) == []  # held: not tried again by itself
        open_session = next(e for e in outbox.entries() if e.status == Status.UNREGISTERED)
        with pytest.raises(OutboxError, match="not held"):
            outbox.release(open_session.session_id)
        stations.add("ST-01", station_key.public_key())
        for entry in (first, second, third):
            outbox.release(entry.session_id)
        tries = outbox.deliver(c.url)
        assert [t.outcome for t in tries] == [DeliveryOutcome.DELIVERED] * 3
        assert _receipts(c.store) == sorted(
            (e.registration_id, "new") for e in (first, second, third)
        )
        # the damaged copy was sealed again before it was sent: the centre has the new one
        assert outbox.entry(first.session_id).sha256 != first.sha256
        # a packet signed by another key in the name of ST-01
        forged = build_packet(
            station.record(first.session_id),
            registration_id="ST-01-00009-20260302170000",
            station_key=new_key(),
            centre_key=centre_key.public_key(),
            created_at=datetime.datetime(2026, 3, 2, 17, 0, tzinfo=UTC),
        )
        refused = c.receiver.receive(forged)
        assert refused.http_status == 400
        assert "signature is not station ST-01's" in refused.body["reason"]
        assert len(_receipts(c.store)) == 3


def test_a_centre_down_all_day_then_delivered_once(setup, tmp_path: Path) -> None:
    _, outbox, station_key, centre_key = setup
    outbox.sync()
    with centre(tmp_path / "centre", centre_key, register(station_key)) as c:
        live = c.url
    dead = live  # closed: connection refused
    start = datetime.datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
    now, tries, times = start, [], []
    while now < start + datetime.timedelta(days=1):
        tries += outbox.deliver(dead, now=now)
        times.append(now)
        now = max(now, outbox.next_due())
    assert {t.outcome for t in tries} == {DeliveryOutcome.RETRY}
    queued = [e for e in outbox.entries() if e.registration_id]
    assert sum(e.attempts for e in queued) == len(tries)
    options = OutboxOptions()
    for entry in queued:
        # exponential back-off to the 15-minute cap: about 24 h / 15-19 min tries, not more
        assert 70 <= entry.attempts <= 24 * 3600 / options.max_delay + 12
        assert "ConnectionRefusedError" in entry.last_error
        assert entry.status == Status.PROCESSING and entry.delivery == "queued"
    gaps = sorted((b - a).total_seconds() for a, b in itertools.pairwise(times))
    assert gaps[-1] <= options.max_delay * (1 + options.jitter)
    # the centre is back (its store kept); one try each delivers, once
    with centre(tmp_path / "centre", centre_key, register(station_key)) as c:
        tries = outbox.deliver(c.url, now=now + datetime.timedelta(hours=1))
        assert [t.outcome for t in tries] == [DeliveryOutcome.DELIVERED] * 3
        assert len(_receipts(c.store)) == 3


def test_a_centre_failing_after_its_receipt_is_answered_by_the_replay(
    setup, tmp_path: Path
) -> None:
    _, outbox, station_key, centre_key = setup
    outbox.sync()
    with centre(tmp_path / "centre", centre_key, register(station_key)) as c:

        def crash(event: str, rid: str) -> None:
            if event == "receipted":
                raise OSError("disk went away after the receipt")

        c.receiver.hook = crash
        tries = outbox.deliver(c.url)
        assert {t.outcome for t in tries} == {DeliveryOutcome.RETRY}
        assert {t.http_status for t in tries} == {503}
        c.receiver.hook = None
        later = max(e.next_attempt_at for e in outbox.entries() if e.next_attempt_at)
        tries = outbox.deliver(c.url, now=later)
        assert [(t.outcome, t.replayed) for t in tries] == [(DeliveryOutcome.DELIVERED, True)] * 3
        assert len(_receipts(c.store)) == 3


def test_regional_failure_then_a_re_sent_packet(setup, tmp_path: Path) -> None:
    _, outbox, station_key, centre_key = setup
    outbox.sync()
    # the centre has the station for a province none of its residents live in
    stations = register(station_key, ("91",))
    with centre(tmp_path / "centre", centre_key, stations) as c:
        tries = outbox.deliver(c.url)
        assert {t.outcome for t in tries} == {DeliveryOutcome.REGIONAL_FAILURE}
        assert all("outside the station's areas (91)" in t.reason for t in tries)
        c.receiver.ingest()
        session = tries[0].session_id
        assert outbox.status(session) == Status.ENROLL_FAILURE_AT_REGIONAL
        found = c.receiver.receipt(tries[0].registration_id)
        assert found["status"] == "ENROLL_FAILURE_AT_REGIONAL"
        assert Status.ENROLL_FAILURE_AT_REGIONAL in RESENDABLE_STATUSES
        with pytest.raises(OutboxError, match="needs the reason"):
            outbox.resend(session, " ")
        stations.add("ST-01", station_key.public_key(), ())  # the region's fix: all areas
        outbox.resend(session, "station registered for its areas")
        with pytest.raises(OutboxError, match="only ENROLL_FAILURE_AT_REGIONAL is re-sent"):
            outbox.resend(session, "again")
        again = outbox.deliver(c.url)
        assert [(t.session_id, t.outcome) for t in again] == [(session, DeliveryOutcome.DELIVERED)]
        assert c.receiver.ingest().resent == 1
        record = c.receiver.receipt(tries[0].registration_id)["record_id"]
        assert [h.to_status for h in c.store.history(record)] == [
            Status.RECEIVED_AT_CENTRAL,
            Status.ENROLL_FAILURE_AT_REGIONAL,
            Status.PACKET_ENTRY,
            Status.RECEIVED_AT_CENTRAL,
        ]
        assert len(c.store.samples(record)) == 10
        assert [h.to_status for h in outbox.history(session)][-3:] == [
            Status.ENROLL_FAILURE_AT_REGIONAL,
            Status.PROCESSING,
            Status.SENT_FOR_ENROLLMENT,
        ]


def _kill_script(folder: Path, url: str, event: str, nth: int) -> str:
    return textwrap.dedent(
        f"""
        import os, signal, sys
        from pathlib import Path
        sys.path.insert(0, {str(REPO / "tests")!r})
        from _capture import make_station
        from _delivery import keys
        from enrollment.outbox import Outbox

        seen = []
        def hook(event, session):
            if event == {event!r}:
                seen.append(session)
                if len(seen) == {nth}:
                    os.kill(os.getpid(), signal.SIGKILL)

        station_key, centre_key = keys(Path({str(folder / "keys")!r}))
        outbox = Outbox(make_station(Path({str(folder / "station")!r})), station_key=station_key,
                        centre_key=centre_key.public_key(), hook=hook)
        outbox.sync()
        outbox.deliver({url!r})
        """
    )


def test_kill_9_while_sealing_and_delivering_loses_nothing_and_sends_once(
    setup, tmp_path: Path
) -> None:
    _, outbox, station_key, centre_key = setup
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with centre(tmp_path / "centre", centre_key, register(station_key)) as c:
        for event, nth in (
            ("reserved", 1),  # registration id committed, no packet yet
            ("sealed", 1),  # packet built, the file not written
            ("written", 1),  # file written, not yet queued
            ("answered", 1),  # the centre took it, the station did not record it
            ("sending", 2),  # the second packet about to go
            ("answered", 1),
        ):
            done = subprocess.run(
                [sys.executable, "-c", _kill_script(tmp_path, c.url, event, nth)],
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert done.returncode == -signal.SIGKILL, (event, done.stderr[-2000:])
        outbox.sync()
        tries = outbox.deliver(c.url)
        assert all(t.outcome == DeliveryOutcome.DELIVERED for t in tries)
        entries = [e for e in outbox.entries() if e.registration_id]
        assert len(entries) == 3 and {e.status for e in entries} == {Status.SENT_FOR_ENROLLMENT}
        # every packet received exactly once, each under its own registration id
        assert _receipts(c.store) == sorted((e.registration_id, "new") for e in entries)
        assert sorted(p.name for p in outbox.folder.glob("*.pkt")) == sorted(
            f"{e.registration_id}.pkt" for e in entries
        )
        assert c.receiver.ingest().records == 3
        for entry in entries:
            moves = [h.to_status for h in outbox.history(entry.session_id)]
            assert moves.count(Status.SENT_FOR_ENROLLMENT) == 1
            assert moves.count(Status.PROCESSING) == 1


def test_the_packet_reader_survives_mutated_packets() -> None:
    report = fuzz(2000, seed=22)
    assert report.crashes == []
    assert report.cases == 2000 and {400, 422} <= set(report.answers)


def test_the_command_line_registers_delivers_and_ingests(template: Path, tmp_path: Path) -> None:
    from enrollment.cli import main
    from enrollment.packet.keys import read_private_key
    from enrollment.receiver import StationRegister as Register

    shutil.copytree(template, tmp_path / "station")
    assert main(["packet-keys", "--out", str(tmp_path / "st.pem")]) == 0
    assert main(["packet-keys", "--out", str(tmp_path / "centre.pem")]) == 0
    with pytest.raises(SystemExit, match="never overwritten"):
        main(["packet-keys", "--out", str(tmp_path / "st.pem")])
    stations = tmp_path / "stations.json"
    args = ["receiver", "add-station", "ST-01", "--public", str(tmp_path / "st.pub.pem")]
    assert main([*args, "--areas", "11", "32", "--stations", str(stations)]) == 0
    assert Register.load(stations).get("ST-01").areas == ("11", "32")
    assert main([*args, "--stations", str(stations)]) == 0  # re-registered: every area
    assert Register.load(stations).get("ST-01").areas == ()
    station = ["--folder", str(tmp_path / "station"), "--station-id", "ST-01"]
    station += [
        "--key",
        str(tmp_path / "st.pem"),
        "--centre-public",
        str(tmp_path / "centre.pub.pem"),
    ]
    with centre(
        tmp_path / "centre", read_private_key(tmp_path / "centre.pem"), Register.load(stations)
    ) as c:
        assert main(["outbox", "deliver", *station, "--url", c.url]) == 0
        outbox = Outbox(
            make_station(tmp_path / "station"),
            station_key=read_private_key(tmp_path / "st.pem"),
            centre_key=read_private_key(tmp_path / "centre.pem").public_key(),
        )
        statuses = sorted(e.status.value for e in outbox.entries())
        outbox.close()
        assert statuses == ["SENT_FOR_ENROLLMENT"] * 3 + ["UNREGISTERED"]
    rx = [
        "--db",
        str(tmp_path / "centre" / "centre.db"),
        "--folder",
        str(tmp_path / "centre" / "inbox"),
    ]
    rx += ["--key", str(tmp_path / "centre.pem"), "--stations", str(stations)]
    assert main(["receiver", "ingest", *rx]) == 0
    store = Store(tmp_path / "centre" / "centre.db")
    assert store.status_counts() == {Status.RECEIVED_AT_CENTRAL: 3}
    store.close()
    assert main(["outbox", "status", *station]) == 0
