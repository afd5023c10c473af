"""Helpers of the capture-session tests: a station on a fixed clock with synthetic staff, a
resident of each kind, and a run through a whole session on synthetic devices."""

from __future__ import annotations

import datetime
from pathlib import Path

from enrollment.capture import (
    CaptureOptions,
    CaptureSession,
    Modality,
    OperatorRegister,
    PopulationRegister,
    Resident,
    Role,
    Station,
    SyntheticDevice,
)
from enrollment.capture.synthetic import render_finger

UTC = datetime.timezone.utc
TODAY = datetime.date(2026, 3, 2)
#: Synthetic fingers of the station's staff (seeds of render_finger).
OPERATOR_FINGER, SUPERVISOR_FINGER = 9001, 9002


class Clock:
    """A clock that moves a minute per reading (deterministic timestamps)."""

    def __init__(self, start: datetime.datetime | None = None) -> None:
        self.now = start or datetime.datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime.datetime:
        self.now += datetime.timedelta(seconds=1)
        return self.now


def staff() -> OperatorRegister:
    register = OperatorRegister()
    register.enrol("op-1", "ANA", Role.OPERATOR, {2: render_finger(OPERATOR_FINGER, 0)})
    register.enrol("sv-1", "BAYU", Role.SUPERVISOR, {7: render_finger(SUPERVISOR_FINGER, 0)})
    return register


def operator_finger(impression: int = 1):
    return render_finger(OPERATOR_FINGER, impression)


def supervisor_finger(impression: int = 1):
    return render_finger(SUPERVISOR_FINGER, impression)


def make_station(folder: Path, *, options: CaptureOptions | None = None) -> Station:
    return Station(
        "ST-01",
        folder,
        PopulationRegister.synthetic(80, seed=11),
        staff(),
        options=options,
        clock=Clock(),
    )


def adult(station: Station, index: int = 0) -> Resident:
    people = [r for r in station.register.residents() if r.age_on(TODAY) >= 17 and not r.kitap]
    return people[index]


def start(station: Station, resident: Resident | None = None) -> CaptureSession:
    resident = resident or adult(station)
    login = station.login("op-1", operator_finger())
    return station.start_session(
        resident.nik,
        resident.family_card,
        operator=login,
        issuance="mass",
        call_letter="SP-2026/0001",
    )


def devices(seed: int) -> dict[str, SyntheticDevice]:
    return {
        "finger": SyntheticDevice("FP-1", Modality.FINGER, seed),
        "slap": SyntheticDevice("SL-1", Modality.FINGER, seed, sub_type="Slap"),
        "face": SyntheticDevice("CAM-1", Modality.FACE, seed),
        "iris": SyntheticDevice("IR-1", Modality.IRIS, seed),
        "pad": SyntheticDevice("SIG-1", Modality.SIGNATURE, seed),
    }


def capture_rest(session: CaptureSession, kit: dict[str, SyntheticDevice]) -> None:
    """Face, signature, irises, re-verification and confirmation."""
    session.capture_photo("face", kit["face"])
    session.capture_photo("signature", kit["pad"])
    session.capture_photo("left_iris", kit["iris"])
    session.capture_photo("right_iris", kit["iris"])
    if any("not verified again" in problem for problem in session.missing()):
        assert all(o.verified for o in session.reverify(kit["finger"]))
    session.confirm(kit["pad"])
