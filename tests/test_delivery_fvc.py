"""Issue 22's acceptance on real fingerprints (``AFIS_DATASETS``): eight people enrolled
through folder-backed devices, seven of them with the ten fingers of one FVC 'B' set each
and the eighth with ten synthetic fingers written to files (the FVC 'B' sets hold only 70
distinct fingers: FVC2000 DB1_B and DB2_B are the same ten fingers on two sensors, which
the de-duplication rightly reports as one person), sealed, delivered over HTTP to the centre's
receiving endpoint on 127.0.0.1, ingested, checked and de-duplicated: each record goes
UNREGISTERED -> ... -> SENT_FOR_ENROLLMENT at the station and RECEIVED_AT_CENTRAL ->
SENT_FOR_DEDUP -> PRINT_READY_RECORD at the centre. A ninth person presenting the first
person's fingers (other impressions) under another NIK ends DUPLICATE_RECORD."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from _capture import (
    TODAY,
    adult,
    make_station,
    operator_finger,
    start,
    supervisor_finger,
)
from _delivery import centre, keys, register

from enrollment.capture import CaptureRequest, FolderDevice, Modality, Station, SyntheticDevice
from enrollment.capture.synthetic import png, render_finger
from enrollment.checks import run_checks
from enrollment.dedup import DedupOptions, run_dedup
from enrollment.outbox import DeliveryOutcome, Outbox
from enrollment.status import TRANSITIONS, Status

pytestmark = pytest.mark.datasets
#: FVC 'B' sets of distinct fingers (FVC2000 DB2_B repeats DB1_B's fingers: left out).
SETS = [
    "fvc2002/DB1_B",
    "fvc2002/DB2_B",
    "fvc2002/DB3_B",
    "fvc2002/DB4_B",
    "fvc2000/DB1_B",
    "fvc2000/DB3_B",
    "fvc2000/DB4_B",
]


@pytest.fixture
def fvc_sets(datasets_root: Path) -> list[Path]:
    folders = [datasets_root / s for s in SETS]
    if not all((f / "101_1.tif").exists() for f in folders):
        pytest.skip("the FVC2000 and FVC2002 'B' sets are not all in AFIS_DATASETS")
    return folders


def _synthetic_prints(folder: Path) -> Path:
    """Ten synthetic fingers, four impressions each, as PNG files named like FVC's."""
    folder.mkdir()
    for position in range(1, 11):
        for impression in (1, 2):
            image = render_finger(88_000 + position, impression - 1)
            (folder / f"{100 + position}_{impression}.tif").write_bytes(png(image))
    return folder


def _photos(folder: Path, seed: int) -> dict[str, FolderDevice]:
    """Face, iris and signature devices serving files (synthetic images written once)."""
    devices = {}
    for name, modality in (
        ("face", Modality.FACE),
        ("iris", Modality.IRIS),
        ("pad", Modality.SIGNATURE),
    ):
        source = SyntheticDevice(f"{name}-src", modality, seed)
        files: dict[int, list[Path]] = {}
        for sub in source.sub_ids:
            path = folder / f"{name}-{seed}-{sub}.png"
            path.write_bytes(source.capture(CaptureRequest(sub_id=sub)).image)
            files[sub] = [path]
        devices[name] = FolderDevice(f"{name.upper()}-1", modality, files)
    return devices


def _enrol(station: Station, index: int, prints: Path, impressions: tuple[int, int]) -> str:
    first, again = impressions
    scanner = FolderDevice(
        "FP-FVC",
        Modality.FINGER,
        {
            p: [prints / f"{100 + p}_{first}.tif", prints / f"{100 + p}_{again}.tif"]
            for p in range(1, 11)
        },
    )
    session = start(station, adult(station, index))
    for position in range(1, 11):
        while not session.capture_finger(position, scanner).accepted:
            pass  # a poor impression is captured again, then kept as a forced capture
    kit = _photos(station.folder.parent, index)
    session.capture_photo("face", kit["face"])
    session.capture_photo("signature", kit["pad"])
    session.capture_photo("left_iris", kit["iris"])
    session.capture_photo("right_iris", kit["iris"])
    assert all(o.verified for o in session.reverify(scanner)), index  # impression `again`
    session.confirm(kit["pad"])
    session.sign_off(operator_finger())
    return session.session_id


def _deliver(outbox: Outbox, url: str, expected: int) -> None:
    outbox.sync()
    tries = outbox.deliver(url)
    assert [t.outcome for t in tries] == [DeliveryOutcome.DELIVERED] * expected


def test_eight_fvc_people_are_printed_and_a_ninth_is_a_duplicate(
    fvc_sets: list[Path], tmp_path: Path
) -> None:
    station = make_station(tmp_path / "station")
    station_key, centre_key = keys(tmp_path / "keys")
    outbox = Outbox(station, station_key=station_key, centre_key=centre_key.public_key())
    people = [*fvc_sets, _synthetic_prints(tmp_path / "synthetic")]
    ids = [_enrol(station, i, prints, (1, 2)) for i, prints in enumerate(people)]
    station.end_of_day("sv-1", supervisor_finger(), day=TODAY, approve=ids)
    options = DedupOptions(chunk_size=16)
    with centre(tmp_path / "centre", centre_key, register(station_key)) as c:
        _deliver(outbox, c.url, 8)
        assert c.receiver.ingest().records == 8
        assert run_checks(c.store) == {Status.SENT_FOR_DEDUP: 8}
        run_dedup(c.store, tmp_path / "work", options, threads=2)
        # the ninth: person 1's fingers (impressions 3 and 4) under another resident's NIK
        late = _enrol(station, 8, fvc_sets[0], (3, 4))
        station.end_of_day("sv-1", supervisor_finger(), day=TODAY, approve=[late])
        _deliver(outbox, c.url, 1)
        assert c.receiver.ingest().records == 1
        assert run_checks(c.store) == {Status.SENT_FOR_DEDUP: 1}
        run_dedup(c.store, tmp_path / "work", options, threads=2)
        for session_id in [*ids, late]:
            at_station = [h.to_status for h in outbox.history(session_id)]
            assert at_station == [
                Status.UNREGISTERED,
                Status.BIO_CAPTURED,
                Status.PROCESSING,
                Status.SENT_FOR_ENROLLMENT,
            ]
            found = c.receiver.receipt(outbox.entry(session_id).registration_id)
            at_centre = [h.to_status for h in c.store.history(found["record_id"])]
            path = at_station + at_centre
            assert all(b in TRANSITIONS[a] for a, b in itertools.pairwise(path)), path
            ending = Status.DUPLICATE_RECORD if session_id == late else Status.PRINT_READY_RECORD
            assert at_centre == [Status.RECEIVED_AT_CENTRAL, Status.SENT_FOR_DEDUP, ending], (
                session_id,
                c.store.history(found["record_id"])[-1].reason,
            )
            assert len(c.store.samples(found["record_id"])) == 10
        first = c.receiver.receipt(outbox.entry(ids[0]).registration_id)["record_id"]
        ninth = c.receiver.receipt(outbox.entry(late).registration_id)["record_id"]
        assert c.store.person(ninth).nik != c.store.person(first).nik
    outbox.close()
