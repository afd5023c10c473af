"""Errors of the capture session: each says what went wrong and what the operator can do.

Every error is a :class:`CaptureError` (an :class:`afis.AfisError` and a
:class:`ValueError`); the session is left as it was before the failed step, so the operator
carries on.

Examples
--------
>>> err = UnknownNik("3171014501900001")
>>> isinstance(err, ResidentRefused), err.nik
(True, '3171014501900001')
>>> str(DeviceBusy("FP-1", "another capture is running"))
'device FP-1 is busy (111): another capture is running'
"""

from __future__ import annotations

from afis.errors import AfisError
from afis.template import FingerPosition

__all__ = [
    "AuditLogError",
    "CaptureError",
    "CaptureTimeout",
    "CorruptImage",
    "DeviceBusy",
    "DeviceError",
    "DeviceNotReady",
    "DuplicateFinger",
    "FlatSlapMismatch",
    "ForeignResidentRefused",
    "NotAuthorised",
    "ResidentRefused",
    "SessionFileError",
    "SessionStateError",
    "SlapCountError",
    "StationFull",
    "UnderAge",
    "UnknownNik",
    "WrongFamilyCard",
]


class CaptureError(AfisError, ValueError):
    """Base class of the capture layer's errors."""


# -- starting a session ------------------------------------------------------------------------


class ResidentRefused(CaptureError):
    """The population register does not let this resident start an enrolment."""

    def __init__(self, nik: str, reason: str) -> None:
        super().__init__(f"NIK {nik}: {reason}")
        self.nik = nik
        self.reason = reason


class UnknownNik(ResidentRefused):
    """The NIK is not in the population register."""

    def __init__(self, nik: str) -> None:
        super().__init__(nik, "not in the population register (check the digits with the KK)")


class WrongFamilyCard(ResidentRefused):
    """The family card (KK) number given is not the resident's."""

    def __init__(self, nik: str, given: str) -> None:
        super().__init__(
            nik, f"family card {given!r} is not the resident's KK in the population register"
        )


class UnderAge(ResidentRefused):
    """The resident is under 17 and has never married."""

    def __init__(self, nik: str, age: int) -> None:
        super().__init__(nik, f"resident is {age}, an e-KTP is issued from 17 (or on marriage)")
        self.age = age


class ForeignResidentRefused(ResidentRefused):
    """A foreign resident without a matching KITAP, or a citizen given one."""


class NotAuthorised(CaptureError):
    """An operator or supervisor is unknown, lacks the role, or their finger did not match."""


# -- devices -----------------------------------------------------------------------------------


class DeviceError(CaptureError):
    """A biometric device failed a request; ``code`` is its numbered error code
    (:class:`enrollment.capture.devices.DeviceErrorCode`)."""

    def __init__(self, device_id: str, code: int, message: str) -> None:
        super().__init__(f"device {device_id} {message}")
        self.device_id = device_id
        self.code = int(code)


class DeviceBusy(DeviceError):
    """The device is capturing for someone else; try again when it is free."""

    def __init__(self, device_id: str, detail: str = "another capture is running") -> None:
        super().__init__(device_id, 111, f"is busy (111): {detail}")


class DeviceNotReady(DeviceError):
    """The device is disconnected, warming up or not registered."""

    def __init__(self, device_id: str, detail: str = "check its cable and service") -> None:
        super().__init__(device_id, 110, f"is not ready (110): {detail}")


class CaptureTimeout(DeviceError):
    """No biometric was presented (or the device did not answer) within the timeout."""

    def __init__(self, device_id: str, timeout: float) -> None:
        super().__init__(device_id, 701, f"timed out (701) after {timeout:g} s: capture again")
        self.timeout = timeout


class CorruptImage(DeviceError):
    """The device returned bytes that do not decode as an image."""

    def __init__(self, device_id: str, detail: str) -> None:
        super().__init__(device_id, 102, f"returned a corrupt image (102): {detail}")


# -- fingerprints ------------------------------------------------------------------------------


class SlapCountError(CaptureError):
    """A slap holds another number of fingers than expected; nothing of it is kept."""

    def __init__(self, slap: str, expected: int, found: int) -> None:
        super().__init__(
            f"{slap}: {found} finger(s) found, {expected} expected; place the "
            f"{expected} finger(s) flat and apart, or mark the missing ones as exceptions"
        )
        self.slap, self.expected, self.found = slap, expected, found


class DuplicateFinger(CaptureError):
    """A finger matches another position of the same record: it was captured twice."""

    def __init__(self, position: FingerPosition, other: FingerPosition, score: float) -> None:
        super().__init__(
            f"{position.name} matches the finger already captured as {other.name} "
            f"(score {score:.3f}): the same finger was presented twice; capture {position.name}"
        )
        self.position, self.other, self.score = position, other, score


class FlatSlapMismatch(CaptureError):
    """A flat capture does not match the same position's finger from its slap."""

    def __init__(self, position: FingerPosition, score: float) -> None:
        super().__init__(
            f"{position.name}: the flat capture does not match the finger of the slap "
            f"(score {score:.3f}); one of them is another finger, capture it again"
        )
        self.position, self.score = position, score


# -- the session and its files -----------------------------------------------------------------


class SessionStateError(CaptureError):
    """A step was asked for that the session's state does not allow (with what is missing)."""


class StationFull(CaptureError):
    """The station's disk has too little room left to capture another resident."""


class SessionFileError(CaptureError):
    """A persisted session file is unreadable, truncated or altered; the message names it."""


class AuditLogError(CaptureError):
    """The audit log is unreadable or its hash chain is broken (the message names the line)."""
