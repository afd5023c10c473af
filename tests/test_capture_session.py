"""Parts 3-6 of issue 22 on synthetic devices: quality gates with retries and forced
captures, slaps, duplicates, device faults mid-session, exceptions with a supervisor's
approval and the exemption path, chip fingers, re-verification, confirmation, sign-off, the
end-of-day review, the audit log and durable sessions."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
from _capture import (
    TODAY,
    adult,
    capture_rest,
    devices,
    make_station,
    operator_finger,
    start,
    supervisor_finger,
)

from afis.template import FingerPosition as F
from enrollment.capture import (
    AuditLogError,
    CaptureError,
    CaptureOptions,
    CaptureRecord,
    CaptureTimeout,
    CorruptImage,
    DeviceBusy,
    DeviceNotReady,
    DuplicateFinger,
    FlatSlapMismatch,
    FolderDevice,
    Modality,
    NotAuthorised,
    SessionFileError,
    SessionStateError,
    SlapCountError,
    StationFull,
    SyntheticDevice,
)
from enrollment.capture.synthetic import png, render_finger


def _all_singles(session, device) -> None:
    for position in range(1, 11):
        assert session.capture_finger(position, device).accepted


def test_a_whole_session_on_single_finger_captures(tmp_path: Path) -> None:
    station = make_station(tmp_path)
    session = start(station)
    kit = devices(seed=21)
    _all_singles(session, kit["finger"])
    assert session.chip_fingers == {"right": F.RIGHT_INDEX, "left": F.LEFT_INDEX}
    with pytest.raises(SessionStateError, match="images missing: face"):
        session.sign_off(operator_finger(2))
    capture_rest(session, kit)
    with pytest.raises(NotAuthorised):
        session.sign_off(supervisor_finger(2))  # not the session's operator
    record = session.sign_off(operator_finger(2))
    assert isinstance(record, CaptureRecord)
    assert record.nik == adult(station).nik and record.resident == adult(station)
    assert record.issuance.value == "mass" and record.call_letter == "SP-2026/0001"
    assert [f.position for f in record.fingers] == list(F)[1:]
    assert all(f.source == "flat" and not f.forced and f.attempts == 1 for f in record.fingers)
    assert all(f.quality >= 40 and f.image.startswith(b"\x89PNG") for f in record.fingers)
    assert {v.position for v in record.verifications if v.verified} == {F.RIGHT_INDEX, F.LEFT_INDEX}
    assert record.operator_signoff.operator_id == "op-1" and record.supervisor_id == ""
    assert record.photo("face") is not None and record.photo("confirmation") is not None
    assert record.station_id == "ST-01" and record.finished_at > record.started_at
    assert station.record(session.session_id) == record
    with pytest.raises(SessionStateError, match="signed off"):
        session.capture_finger(1, kit["finger"])
    actions = [e["action"] for e in station.audit.events()]
    for action in (
        "session.started",
        "finger.captured",
        "photo.captured",
        "finger.verified",
        "resident.confirmed",
        "session.signed_off",
        "session.finished",
    ):
        assert action in actions


def test_a_capture_below_the_floor_is_retried_then_kept_as_forced(tmp_path: Path) -> None:
    station = make_station(tmp_path)
    session = start(station)
    scanner = SyntheticDevice("FP-1", Modality.FINGER, 22)
    scanner.inject("poor", "poor", "poor", "poor")
    first = session.capture_finger(1, scanner)
    assert not first.accepted and first.quality < 40 and "attempt 1 of 3" in first.message
    assert session.finger(1) is None
    assert not session.capture_finger(1, scanner).accepted
    third = session.capture_finger(1, scanner)
    assert third.accepted and third.forced and third.attempt == 3
    kept = session.finger(1)
    assert kept is not None and kept.forced and kept.attempts == 3 and kept.quality < 40
    # a poor attempt, then a good one: accepted on the second, not forced
    assert not session.capture_finger(2, scanner).accepted
    second = session.capture_finger(2, scanner)
    assert second.accepted and not second.forced and second.attempt == 2
    retries = [e for e in station.audit.events() if e["action"] == "finger.retry"]
    assert len(retries) == 3


def test_the_number_of_retries_is_configurable(tmp_path: Path) -> None:
    station = make_station(tmp_path, options=CaptureOptions(retries=1))
    session = start(station)
    scanner = SyntheticDevice("FP-1", Modality.FINGER, 22)
    scanner.inject("poor")
    outcome = session.capture_finger(5, scanner)
    assert outcome.accepted and outcome.forced and outcome.attempt == 1


def test_device_faults_change_nothing_and_the_session_carries_on(tmp_path: Path) -> None:
    station = make_station(tmp_path)
    session = start(station)
    scanner = SyntheticDevice("FP-1", Modality.FINGER, 23)
    scanner.inject("busy", "not_ready", "timeout", "corrupt")
    for error in (DeviceBusy, DeviceNotReady, CaptureTimeout, CorruptImage):
        with pytest.raises(error):
            session.capture_finger(1, scanner)
    assert session.fingers == [] and session.state["attempts"] == {}
    assert session.capture_finger(1, scanner).accepted
    camera = SyntheticDevice("CAM-1", Modality.FACE, 23)
    camera.inject("corrupt")
    with pytest.raises(CorruptImage, match="face"):
        session.capture_photo("face", camera)
    assert session.capture_photo("face", camera).kind.value == "face"
    failures = [
        e["details"]["code"] for e in station.audit.events() if e["action"] == "capture.failed"
    ]
    assert failures == [111, 110, 701, 102, 102]


def test_the_same_finger_under_two_positions_is_refused(tmp_path: Path) -> None:
    station = make_station(tmp_path)
    session = start(station)
    folder = {
        1: [tmp_path / "thumb.png"],
        2: [tmp_path / "thumb-again.png", tmp_path / "index.png"],
    }
    (tmp_path / "thumb.png").write_bytes(png(render_finger(500, 0)))
    (tmp_path / "thumb-again.png").write_bytes(png(render_finger(500, 1)))
    (tmp_path / "index.png").write_bytes(png(render_finger(501, 0)))
    scanner = FolderDevice("FP-9", Modality.FINGER, folder)
    assert session.capture_finger(1, scanner).accepted
    with pytest.raises(DuplicateFinger, match=r"RIGHT_INDEX matches .* RIGHT_THUMB") as err:
        session.capture_finger(2, scanner)
    assert err.value.other == F.RIGHT_THUMB
    assert session.finger(2) is None and "flat:2" not in session.state["attempts"]
    assert session.capture_finger(2, scanner).accepted


def test_slaps_are_segmented_into_their_fingers(tmp_path: Path) -> None:
    station = make_station(tmp_path)
    session = start(station)
    kit = devices(seed=24)
    for slap in ("left_slap", "right_slap", "two_thumbs"):
        outcomes = session.capture_slap(slap, kit["slap"])
        assert all(o.accepted and not o.forced for o in outcomes)
    assert sorted(int(f.position) for f in session.fingers) == list(range(1, 11))
    assert all(f.source == "slap" for f in session.fingers)
    slaps = {s["slap"]: s for s in session.state["slaps"]}
    assert sorted(slaps) == ["left_slap", "right_slap", "two_thumbs"]
    assert sorted(slaps["right_slap"]["boxes"]) == ["2", "3", "4", "5"]
    boxes = slaps["right_slap"]["boxes"]
    assert boxes["2"][1] < boxes["3"][1] < boxes["4"][1] < boxes["5"][1]
    # flats of the same person match their slap fingers; another person's finger does not
    assert session.capture_finger(2, kit["finger"]).accepted
    stranger = SyntheticDevice("FP-2", Modality.FINGER, seed=99)
    with pytest.raises(FlatSlapMismatch, match="RIGHT_MIDDLE"):
        session.capture_finger(3, stranger)
    assert {f.source for f in session.fingers if f.position == F.RIGHT_INDEX} == {"flat", "slap"}
    capture_rest(session, kit)
    record = session.sign_off(operator_finger(3))
    assert record.finger(2).source == "flat" and record.finger(3).source == "slap"
    assert len(record.slaps) == 3


def test_a_slap_with_the_wrong_number_of_fingers_is_refused(tmp_path: Path) -> None:
    station = make_station(tmp_path)
    session = start(station)
    slap = SyntheticDevice("SL-1", Modality.FINGER, 25, sub_type="Slap", missing=[3])
    with pytest.raises(SlapCountError, match="3 finger\\(s\\) found, 4 expected"):
        session.capture_slap("right_slap", slap)
    assert session.fingers == [] and session.state["slaps"] == []
    session.mark_exception(3, "amputated", "lost in an accident in 2019")
    outcomes = session.capture_slap("right_slap", slap)
    assert [o.position for o in outcomes] == [F.RIGHT_INDEX, F.RIGHT_RING, F.RIGHT_LITTLE]
    with pytest.raises(SlapCountError, match="4 finger\\(s\\) found, 2 expected"):
        session.capture_slap("two_thumbs", _four_as_thumbs())


def _four_as_thumbs():
    """A slap scanner that returns a four-finger slap whatever it is asked for."""

    class Device(SyntheticDevice):
        def _render(self, sub_id: int, impression: int, poor: bool) -> bytes:
            return super()._render(2, impression, poor)

    return Device("SL-3", Modality.FINGER, 26, sub_type="Slap")


def test_exceptions_need_a_reason_and_a_supervisor(tmp_path: Path) -> None:
    station = make_station(tmp_path)
    session = start(station)
    kit = devices(seed=27)
    with pytest.raises(CaptureError, match="needs a reason"):
        session.mark_exception(2, "bandaged", " ")
    assert session.capture_finger(1, kit["finger"]).accepted
    with pytest.raises(SessionStateError, match="discard it"):
        session.mark_exception(1, "unable", "scar")
    session.mark_exception(2, "bandaged", "cut, bandaged until next week")
    with pytest.raises(SessionStateError, match="marked as an exception"):
        session.capture_finger(2, kit["finger"])
    with pytest.raises(NotAuthorised, match="a supervisor is needed"):
        session.approve_exceptions("op-1", operator_finger())
    with pytest.raises(NotAuthorised, match="does not match"):
        session.approve_exceptions("sv-1", operator_finger())
    assert "the finger exceptions need a supervisor's approval" in session.missing()
    approval = session.approve_exceptions("sv-1", supervisor_finger(3))
    assert approval.role.value == "supervisor"
    assert "the finger exceptions need a supervisor's approval" not in session.missing()
    session.mark_exception(7, "amputated", "congenital")
    assert session.exception_approval is None  # a new exception needs approval again
    session.approve_exceptions("sv-1", supervisor_finger(4))
    for position in (3, 4, 5, 6, 8, 9, 10):
        assert session.capture_finger(position, kit["finger"]).accepted
    # chip fingers: right index excepted -> right middle; left index excepted -> left middle
    assert session.chip_fingers == {"right": F.RIGHT_MIDDLE, "left": F.LEFT_MIDDLE}
    capture_rest(session, kit)
    record = session.sign_off(operator_finger(4))
    assert record.supervisor_id == "sv-1"
    assert {(int(e.position), e.kind.value) for e in record.exceptions} == {
        (2, "bandaged"),
        (7, "amputated"),
    }
    assert record.chip_fingers["right"] == F.RIGHT_MIDDLE
    actions = [e["action"] for e in station.audit.events()]
    assert actions.count("finger.exception") == 2 and "exceptions.approved.refused" in actions


def test_chip_fingers_fall_back_to_middle_ring_then_thumb(tmp_path: Path) -> None:
    station = make_station(tmp_path, options=CaptureOptions(retries=1))
    session = start(station)
    scanner = SyntheticDevice("FP-1", Modality.FINGER, 28)
    for position in (2, 3, 7, 8, 9):
        session.mark_exception(position, "amputated", "work accident")
    assert session.chip_fingers == {"right": None, "left": None}
    scanner.inject("poor")
    assert session.capture_finger(4, scanner).forced  # right ring, forced
    assert session.chip_fingers["right"] == F.RIGHT_RING
    assert session.capture_finger(1, scanner).accepted  # right thumb, good
    assert session.chip_fingers["right"] == F.RIGHT_THUMB  # a good thumb over a forced ring
    assert session.capture_finger(6, scanner).accepted
    assert session.chip_fingers == {"right": F.RIGHT_THUMB, "left": F.LEFT_THUMB}


def test_no_usable_fingers_takes_the_exemption_path(tmp_path: Path) -> None:
    station = make_station(tmp_path)
    session = start(station)
    kit = devices(seed=29)
    for position in range(1, 11):
        session.mark_exception(position, "unable", "leprosy: no ridges left")
    session.approve_exceptions("sv-1", supervisor_finger())
    assert session.chip_fingers == {"right": None, "left": None}
    with pytest.raises(SessionStateError, match="no chip finger"):
        session.reverify(kit["finger"])
    capture_rest(session, kit)
    assert "images missing: left_hand, right_hand" in session.missing()
    session.capture_photo("left_hand", kit["face"])
    session.capture_photo("right_hand", kit["face"])
    record = session.sign_off(operator_finger())
    assert record.exempt and record.fingers == () and record.verifications == ()
    assert record.photo("left_hand") is not None and record.photo("right_iris") is not None


def test_re_verification_of_another_finger_fails_then_succeeds(tmp_path: Path) -> None:
    station = make_station(tmp_path)
    session = start(station)
    kit = devices(seed=30)
    _all_singles(session, kit["finger"])
    stranger = SyntheticDevice("FP-2", Modality.FINGER, seed=31)
    outcomes = session.reverify(stranger)
    assert [o.verified for o in outcomes] == [False, False]
    assert "does not match" in outcomes[0].message
    assert "chip finger RIGHT_INDEX not verified again" in session.missing()
    outcomes = session.reverify(kit["finger"])
    assert [(o.position, o.verified, o.attempt) for o in outcomes] == [
        (F.RIGHT_INDEX, True, 2),
        (F.LEFT_INDEX, True, 2),
    ]
    assert not any("verified" in m for m in session.missing())


def test_a_crash_loses_nothing_and_a_damaged_session_is_refused(tmp_path: Path) -> None:
    station = make_station(tmp_path)
    session = start(station)
    scanner = SyntheticDevice("FP-1", Modality.FINGER, 32)
    scanner.inject("poor")
    assert not session.capture_finger(1, scanner).accepted
    for position in (2, 3):
        assert session.capture_finger(position, scanner).accepted
    # the station process dies; a new one on the same folder resumes the session
    again = make_station(tmp_path)
    assert again.open_sessions() == [session.session_id]
    resumed = again.resume(session.session_id)
    assert [f.position for f in resumed.fingers] == [F.RIGHT_INDEX, F.RIGHT_MIDDLE]
    assert resumed.state["attempts"]["flat:1"] == 1 and "flat:1" in resumed.state["pending"]
    assert resumed.finger(2).image == session.finger(2).image
    state = tmp_path / "sessions" / session.session_id / "state.json"
    good = state.read_bytes()
    state.write_bytes(good[: len(good) // 2])
    with pytest.raises(SessionFileError, match=re.escape(str(state))):
        again.resume(session.session_id)
    state.write_bytes(json.dumps({**json.loads(good), "version": 99}).encode())
    with pytest.raises(SessionFileError, match="version-1"):
        again.resume(session.session_id)
    state.write_bytes(good)
    key = json.loads(good)["fingers"][0]["image"]
    blob = tmp_path / "blobs" / key
    blob.write_bytes(blob.read_bytes()[:-1] + b"\x00")
    with pytest.raises(SessionFileError, match=key):
        again.resume(session.session_id)
    with pytest.raises(SessionStateError, match="no session"):
        again.resume("ST-01-19990101000000-001")


def test_the_supervisor_reviews_the_day(tmp_path: Path) -> None:
    station = make_station(tmp_path)
    ids = []
    for index, seed in enumerate((33, 34)):
        session = start(station, adult(station, index))
        kit = devices(seed)
        _all_singles(session, kit["finger"])
        capture_rest(session, kit)
        session.sign_off(operator_finger())
        ids.append(session.session_id)
    assert station.pending_review(TODAY) == ids
    assert station.pending_review(TODAY.replace(day=3)) == []
    with pytest.raises(SessionStateError, match="needs a reason"):
        station.end_of_day("sv-1", supervisor_finger(), day=TODAY, reject={ids[1]: ""})
    with pytest.raises(NotAuthorised, match="a supervisor is needed"):
        station.end_of_day("op-1", operator_finger(), day=TODAY, approve=[ids[0]])
    with pytest.raises(SessionStateError, match="not awaiting review"):
        station.end_of_day("sv-1", supervisor_finger(), day=TODAY, approve=["ST-01-x"])
    report = station.end_of_day(
        "sv-1",
        supervisor_finger(),
        day=TODAY,
        approve=[ids[0]],
        reject={ids[1]: "face photo shows a second person"},
    )
    assert report.approved == (ids[0],) and report.rejected == (ids[1],)
    assert station.pending_review(TODAY) == []
    assert station.record(ids[0]).review.approved
    rejected = station.record(ids[1]).review
    assert not rejected.approved and rejected.reason == "face photo shows a second person"
    with pytest.raises(SessionStateError, match="not awaiting review"):
        station.end_of_day("sv-1", supervisor_finger(), day=TODAY, approve=[ids[0]])
    actions = [e["action"] for e in station.audit.events()]
    assert "session.approved" in actions and "session.rejected" in actions


def test_the_audit_log_detects_an_altered_line(tmp_path: Path) -> None:
    station = make_station(tmp_path)
    start(station)
    lines = station.audit.path.read_bytes().splitlines(keepends=True)
    assert len(lines) >= 2
    altered = lines[0].replace(b"op-1", b"op-2")
    station.audit.path.write_bytes(altered + b"".join(lines[1:]))
    with pytest.raises(AuditLogError, match="line 2"):
        station.audit.events()
    station.audit.path.write_bytes(b"".join(lines)[:-3])
    with pytest.raises(AuditLogError, match="cut short"):
        station.audit.events()


def test_a_capture_record_refuses_an_incomplete_session(tmp_path: Path) -> None:
    station = make_station(tmp_path)
    session = start(station)
    kit = devices(seed=35)
    _all_singles(session, kit["finger"])
    capture_rest(session, kit)
    record = session.sign_off(operator_finger())
    with pytest.raises(CaptureError, match="fingers neither captured nor excepted: RIGHT_THUMB"):
        dataclasses.replace(record, fingers=record.fingers[1:])
    with pytest.raises(CaptureError, match="images missing: face"):
        dataclasses.replace(
            record, photos=tuple(p for p in record.photos if p.kind.value != "face")
        )
    with pytest.raises(CaptureError, match="not verified again"):
        dataclasses.replace(record, verifications=())


def test_a_poor_recapture_never_replaces_a_capture_and_a_new_one_is_verified_again(
    tmp_path: Path,
) -> None:
    station = make_station(tmp_path, options=CaptureOptions(retries=1))
    session = start(station)
    kit = devices(seed=36)
    _all_singles(session, kit["finger"])
    assert all(o.verified for o in session.reverify(kit["finger"]))
    good = session.finger(2)
    kit["finger"].inject("poor")
    outcome = session.capture_finger(2, kit["finger"])
    assert not outcome.accepted and "earlier capture" in outcome.message
    assert session.finger(2) == good
    assert not any("not verified" in m for m in session.missing())
    assert session.capture_finger(2, kit["finger"]).accepted  # a good new capture
    assert "chip finger RIGHT_INDEX not verified again" in session.missing()
    assert [o.position for o in session.reverify(kit["finger"])] == [F.RIGHT_INDEX]
    capture_rest(session, kit)
    record = session.sign_off(operator_finger())
    assert record.confirmed_sha256 == session.demographics_digest()


def test_a_session_through_the_device_service_over_http(tmp_path: Path) -> None:
    from enrollment.capture import DeviceService, HttpDevice, discover

    station = make_station(tmp_path)
    session = start(station)
    kit = devices(seed=37)
    with DeviceService(kit.values()) as service:
        remote = {d.device_id: d for d, _ in discover([service.port])}
        http_kit = {name: remote[device.device_id] for name, device in kit.items()}
        assert all(isinstance(d, HttpDevice) for d in http_kit.values())
        kit["finger"].inject("corrupt", "busy")
        with pytest.raises(CorruptImage):
            session.capture_finger(1, http_kit["finger"])
        with pytest.raises(DeviceBusy):
            session.capture_finger(1, http_kit["finger"])
        for slap in ("left_slap", "right_slap", "two_thumbs"):
            assert all(o.accepted for o in session.capture_slap(slap, http_kit["slap"]))
        capture_rest(session, http_kit)
        record = session.sign_off(operator_finger())
    assert len(record.fingers) == 10 and {s.device_id for s in record.slaps} == {"SL-1"}


def test_a_station_short_of_disk_refuses_the_next_resident(tmp_path: Path, monkeypatch) -> None:
    """A home-visit station that cannot deliver keeps every packet: before the disk runs out
    it refuses to start another resident, says why, audits it, and keeps what it holds."""
    import shutil

    from enrollment.capture import session as session_module

    station = make_station(tmp_path / "station", options=CaptureOptions(min_free_bytes=2**30))
    first = start(station)  # plenty of room: the real disk
    total, used, _ = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(
        session_module.shutil,
        "disk_usage",
        lambda path: shutil._ntuple_diskusage(total, used, 100 * 2**20),  # 100 MiB free
    )
    assert station.free_bytes() == 100 * 2**20
    other = adult(station, 1)
    with pytest.raises(StationFull, match=r"only 100 MiB free .* needs 1024 MiB: deliver"):
        start(station, other)
    refusal = station.audit.events()[-1]
    assert refusal["action"] == "session.refused" and refusal["details"]["nik"] == other.nik
    assert station.open_sessions() == [first.session_id]  # the open session is untouched
    with pytest.raises(ValueError, match="min_free_bytes"):
        CaptureOptions(min_free_bytes=-1)
