"""Enrolment at the service point: the capture session a station embeds (issue 22, parts 1-6).

- :mod:`~enrollment.capture.register`: the population register (a SIAK stand-in, seeded
  synthetic residents) and the station's operator register (fingers enrolled);
- :mod:`~enrollment.capture.devices`: biometric devices behind one protocol modelled on
  MOSIP's device specification (folder-backed, synthetic, HTTP client, discovery);
  :mod:`~enrollment.capture.service` serves any of them over HTTP on 127.0.0.1;
- :mod:`~enrollment.capture.slaps`: slap images segmented into fingers;
- :mod:`~enrollment.capture.session`: :class:`Station` and :class:`CaptureSession` (quality
  gates with retries and forced captures, duplicates, exceptions with a supervisor's
  approval, chip fingers, re-verification, confirmation, sign-off, end-of-day review),
  persisted step by step; :mod:`~enrollment.capture.audit`: the append-only audit log;
- :mod:`~enrollment.capture.record`: the frozen :class:`CaptureRecord` a session ends with;
- :mod:`~enrollment.capture.synthetic`: seeded synthetic images for the synthetic devices;
- :mod:`~enrollment.capture.constants` and :mod:`~enrollment.capture.errors`.

Examples
--------
>>> from enrollment.capture import CaptureOptions, PopulationRegister
>>> CaptureOptions().quality_floor, len(PopulationRegister.synthetic(10, seed=0))
(40, 10)
"""

from enrollment.capture.audit import AuditLog
from enrollment.capture.devices import (
    BiometricDevice,
    CaptureRequest,
    DeviceCapture,
    DeviceErrorCode,
    DeviceInfo,
    DeviceStatus,
    FolderDevice,
    HttpDevice,
    Modality,
    SyntheticDevice,
    discover,
)
from enrollment.capture.errors import (
    AuditLogError,
    CaptureError,
    CaptureTimeout,
    CorruptImage,
    DeviceBusy,
    DeviceError,
    DeviceNotReady,
    DuplicateFinger,
    FlatSlapMismatch,
    ForeignResidentRefused,
    NotAuthorised,
    ResidentRefused,
    SessionFileError,
    SessionStateError,
    SlapCountError,
    StationFull,
    UnderAge,
    UnknownNik,
    WrongFamilyCard,
)
from enrollment.capture.record import (
    CaptureRecord,
    ExceptionKind,
    FingerCapture,
    FingerException,
    Photo,
    PhotoKind,
    Review,
    SignOff,
    SlapImage,
    Verification,
)
from enrollment.capture.register import (
    Authentication,
    Operator,
    OperatorRegister,
    PopulationRegister,
    Resident,
    Role,
)
from enrollment.capture.service import DeviceService
from enrollment.capture.session import (
    CaptureOptions,
    CaptureSession,
    DayReport,
    FingerOutcome,
    SessionInfo,
    Station,
    VerifyOutcome,
)
from enrollment.capture.slaps import SlapFinger, segment_slap

__all__ = [
    "AuditLog",
    "AuditLogError",
    "Authentication",
    "BiometricDevice",
    "CaptureError",
    "CaptureOptions",
    "CaptureRecord",
    "CaptureRequest",
    "CaptureSession",
    "CaptureTimeout",
    "CorruptImage",
    "DayReport",
    "DeviceBusy",
    "DeviceCapture",
    "DeviceError",
    "DeviceErrorCode",
    "DeviceInfo",
    "DeviceNotReady",
    "DeviceService",
    "DeviceStatus",
    "DuplicateFinger",
    "ExceptionKind",
    "FingerCapture",
    "FingerException",
    "FingerOutcome",
    "FlatSlapMismatch",
    "FolderDevice",
    "ForeignResidentRefused",
    "HttpDevice",
    "Modality",
    "NotAuthorised",
    "Operator",
    "OperatorRegister",
    "Photo",
    "PhotoKind",
    "PopulationRegister",
    "Resident",
    "ResidentRefused",
    "Review",
    "Role",
    "SessionFileError",
    "SessionInfo",
    "SessionStateError",
    "SignOff",
    "SlapCountError",
    "SlapFinger",
    "SlapImage",
    "Station",
    "StationFull",
    "SyntheticDevice",
    "UnderAge",
    "UnknownNik",
    "Verification",
    "VerifyOutcome",
    "WrongFamilyCard",
    "discover",
    "segment_slap",
]
