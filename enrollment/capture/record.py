"""The capture record: everything a finished capture session hands on (to the packet).

A :class:`CaptureRecord` is frozen and validated: every finger position is captured or has
an exception, exceptions carry a supervisor's approval, the chip fingers are captured
fingers and were verified again, the face, signature, irises and the resident's confirmation
are there (and both hand photos when the resident is exempt from fingerprinting), the
operator signed off. Images are kept as the encoded bytes the device returned (a finger cut
out of a slap as PNG); templates are :meth:`afis.Template.to_bytes`.

The parts (:class:`FingerCapture`, :class:`FingerException`, :class:`SlapImage`,
:class:`Photo`, :class:`Verification`, :class:`SignOff`, :class:`Review`) are also what an
in-progress session persists; each converts to and from a JSON-able dict whose byte
fields are replaced by the keys a blob store gives them.

Examples
--------
>>> ExceptionKind("amputated").value, PhotoKind.LEFT_IRIS.value
('amputated', 'left_iris')
>>> image_format(b"\\x89PNG\\r\\n\\x1a\\n...")
'png'
"""

from __future__ import annotations

import datetime
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from afis.template import FingerPosition
from enrollment.capture import constants as C
from enrollment.capture.errors import CaptureError
from enrollment.capture.register import Resident, Role
from enrollment.kinds import Citizenship, Issuance

__all__ = [
    "CaptureRecord",
    "ExceptionKind",
    "FingerCapture",
    "FingerException",
    "Photo",
    "PhotoKind",
    "Review",
    "SignOff",
    "SlapImage",
    "Verification",
    "image_format",
]

Put = Callable[[bytes], str]
Get = Callable[[str], bytes]

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"\xff\xa0", "wsq"),
    (b"BM", "bmp"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"\x00\x00\x00\x0cjP  ", "jp2"),
    (b"P5", "pgm"),
)


def image_format(data: bytes) -> str:
    """The format of encoded image bytes from their first bytes (``png``, ``jpeg``, ``wsq``,
    ``bmp``, ``tiff``, ``jp2``); :class:`~.errors.CaptureError` for anything else."""
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    raise CaptureError(f"not an encoded image of a known format (starts {data[:8]!r})")


def _time(value: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(value)


class ExceptionKind(str, enum.Enum):
    """Why a finger was not captured."""

    AMPUTATED = "amputated"
    BANDAGED = "bandaged"
    UNABLE = "unable"  # present but cannot be recorded (scarred, worn, disability)


class PhotoKind(str, enum.Enum):
    """The images of a record besides fingers (stored and sent, not matched)."""

    FACE = "face"
    SIGNATURE = "signature"
    LEFT_IRIS = "left_iris"
    RIGHT_IRIS = "right_iris"
    LEFT_HAND = "left_hand"
    RIGHT_HAND = "right_hand"
    CONFIRMATION = "confirmation"  # the resident's signature confirming the data


@dataclass(frozen=True)
class FingerCapture:
    """One accepted finger: the image as captured, its template and how it was obtained."""

    position: FingerPosition
    image: bytes
    template: bytes
    quality: int
    attempts: int
    forced: bool
    source: str  # "flat" or "slap"
    device_id: str
    captured_at: datetime.datetime
    #: the image WSQ-compressed at capture time (the packet's Type-14 data, so that a
    #: packet needs no encoding); empty when ``image`` is WSQ already
    wsq: bytes = b""

    def __post_init__(self) -> None:
        object.__setattr__(self, "position", FingerPosition(int(self.position)))
        if self.position == FingerPosition.UNKNOWN:
            raise CaptureError("a finger capture needs a position 1..10")
        if self.source not in ("flat", "slap"):
            raise CaptureError(f"source must be 'flat' or 'slap', got {self.source!r}")
        if not 0 <= self.quality <= 100 or self.attempts < 1:
            raise CaptureError(f"{self.position.name}: quality 0..100 and attempts >= 1 needed")
        image_format(self.image)
        if self.wsq and image_format(self.wsq) != "wsq":
            raise CaptureError(f"{self.position.name}: the compressed copy is not WSQ")

    @property
    def compressed(self) -> bytes:
        """The finger as WSQ (the captured bytes when the device delivered WSQ), or the
        captured image when no compressed copy was made."""
        return self.wsq or self.image

    def to_dict(self, put: Put) -> dict[str, Any]:
        return {
            "position": int(self.position),
            "image": put(self.image),
            "template": put(self.template),
            "quality": self.quality,
            "attempts": self.attempts,
            "forced": self.forced,
            "source": self.source,
            "device_id": self.device_id,
            "captured_at": self.captured_at.isoformat(),
            "wsq": put(self.wsq) if self.wsq else "",
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], get: Get) -> FingerCapture:
        return cls(
            FingerPosition(int(data["position"])),
            get(data["image"]),
            get(data["template"]),
            int(data["quality"]),
            int(data["attempts"]),
            bool(data["forced"]),
            str(data["source"]),
            str(data["device_id"]),
            _time(data["captured_at"]),
            get(data["wsq"]) if data.get("wsq") else b"",
        )


@dataclass(frozen=True)
class FingerException:
    """A finger that was not captured, why, and who marked it."""

    position: FingerPosition
    kind: ExceptionKind
    reason: str
    marked_by: str
    marked_at: datetime.datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "position", FingerPosition(int(self.position)))
        object.__setattr__(self, "kind", ExceptionKind(self.kind))
        if not isinstance(self.reason, str) or not self.reason.strip():
            raise CaptureError(f"{self.position.name}: an exception needs a reason")

    def to_dict(self, put: Put | None = None) -> dict[str, Any]:
        return {
            "position": int(self.position),
            "kind": self.kind.value,
            "reason": self.reason,
            "marked_by": self.marked_by,
            "marked_at": self.marked_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], get: Get | None = None) -> FingerException:
        return cls(
            FingerPosition(int(data["position"])),
            ExceptionKind(data["kind"]),
            str(data["reason"]),
            str(data["marked_by"]),
            _time(data["marked_at"]),
        )


@dataclass(frozen=True)
class SlapImage:
    """A whole slap as captured, with where each finger was found in it."""

    slap: str
    image: bytes
    device_id: str
    captured_at: datetime.datetime
    boxes: Mapping[FingerPosition, tuple[int, int, int, int]] = field(default_factory=dict)
    #: the slap WSQ-compressed at capture time (empty when ``image`` is WSQ already)
    wsq: bytes = b""

    def __post_init__(self) -> None:
        if self.slap not in C.SLAP_POSITIONS:
            raise CaptureError(f"unknown slap {self.slap!r}")
        image_format(self.image)
        if self.wsq and image_format(self.wsq) != "wsq":
            raise CaptureError(f"{self.slap}: the compressed copy is not WSQ")

    @property
    def compressed(self) -> bytes:
        """The slap as WSQ, or the captured image when no compressed copy was made."""
        return self.wsq or self.image

    def to_dict(self, put: Put) -> dict[str, Any]:
        return {
            "slap": self.slap,
            "image": put(self.image),
            "device_id": self.device_id,
            "captured_at": self.captured_at.isoformat(),
            "boxes": {str(int(p)): list(b) for p, b in self.boxes.items()},
            "wsq": put(self.wsq) if self.wsq else "",
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], get: Get) -> SlapImage:
        return cls(
            str(data["slap"]),
            get(data["image"]),
            str(data["device_id"]),
            _time(data["captured_at"]),
            {FingerPosition(int(p)): tuple(int(v) for v in b) for p, b in data["boxes"].items()},
            get(data["wsq"]) if data.get("wsq") else b"",
        )


@dataclass(frozen=True)
class Photo:
    """A face, hand, iris or signature image (stored, not matched)."""

    kind: PhotoKind
    image: bytes
    device_id: str
    captured_at: datetime.datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", PhotoKind(self.kind))
        image_format(self.image)

    def to_dict(self, put: Put) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "image": put(self.image),
            "device_id": self.device_id,
            "captured_at": self.captured_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], get: Get) -> Photo:
        return cls(
            PhotoKind(data["kind"]),
            get(data["image"]),
            str(data["device_id"]),
            _time(data["captured_at"]),
        )


@dataclass(frozen=True)
class Verification:
    """A re-verification of a chip finger: captured again and matched 1:1."""

    position: FingerPosition
    score: float
    verified: bool
    attempt: int
    at: datetime.datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "position", FingerPosition(int(self.position)))

    def to_dict(self, put: Put | None = None) -> dict[str, Any]:
        return {
            "position": int(self.position),
            "score": self.score,
            "verified": self.verified,
            "attempt": self.attempt,
            "at": self.at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], get: Get | None = None) -> Verification:
        return cls(
            FingerPosition(int(data["position"])),
            float(data["score"]),
            bool(data["verified"]),
            int(data["attempt"]),
            _time(data["at"]),
        )


@dataclass(frozen=True)
class SignOff:
    """A staff member's finger-authenticated act (exception approval, operator sign-off)."""

    act: str
    operator_id: str
    role: Role
    position: FingerPosition
    score: float
    at: datetime.datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "role", Role(self.role))
        object.__setattr__(self, "position", FingerPosition(int(self.position)))

    def to_dict(self, put: Put | None = None) -> dict[str, Any]:
        return {
            "act": self.act,
            "operator_id": self.operator_id,
            "role": self.role.value,
            "position": int(self.position),
            "score": self.score,
            "at": self.at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], get: Get | None = None) -> SignOff:
        return cls(
            str(data["act"]),
            str(data["operator_id"]),
            Role(data["role"]),
            FingerPosition(int(data["position"])),
            float(data["score"]),
            _time(data["at"]),
        )


@dataclass(frozen=True)
class Review:
    """The supervisor's end-of-day decision on a finished session."""

    approved: bool
    supervisor_id: str
    reason: str
    at: datetime.datetime

    def __post_init__(self) -> None:
        if not self.approved and not self.reason.strip():
            raise CaptureError("a rejection needs a reason")

    def to_dict(self, put: Put | None = None) -> dict[str, Any]:
        return {
            "approved": self.approved,
            "supervisor_id": self.supervisor_id,
            "reason": self.reason,
            "at": self.at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], get: Get | None = None) -> Review:
        return cls(
            bool(data["approved"]),
            str(data["supervisor_id"]),
            str(data["reason"]),
            _time(data["at"]),
        )


@dataclass(frozen=True)
class CaptureRecord:
    """A finished capture session (see the module docstring for what is checked).

    ``fingers`` holds at most one flat and one slap capture per position; ``chip_fingers``
    maps ``"right"`` / ``"left"`` to the position chosen for the card (``None`` when that
    hand has no captured finger); ``supervisor_id`` is who approved the exceptions (empty
    without exceptions); ``confirmed_sha256`` is the SHA-256 of the demographics the resident
    confirmed (:meth:`~.session.CaptureSession.demographics_digest`); ``review`` is the
    end-of-day decision once taken.
    """

    session_id: str
    station_id: str
    resident: Resident
    issuance: Issuance
    call_letter: str
    home_visit_reason: str
    citizenship: Citizenship
    kitap: str
    operator_id: str
    started_at: datetime.datetime
    finished_at: datetime.datetime
    fingers: tuple[FingerCapture, ...]
    slaps: tuple[SlapImage, ...]
    exceptions: tuple[FingerException, ...]
    exception_approval: SignOff | None
    photos: tuple[Photo, ...]
    chip_fingers: Mapping[str, FingerPosition | None]
    verifications: tuple[Verification, ...]
    operator_signoff: SignOff
    confirmed_sha256: str = ""
    review: Review | None = None

    @property
    def nik(self) -> str:
        """The resident's NIK."""
        return self.resident.nik

    @property
    def exempt(self) -> bool:
        """No finger could be captured: the exemption path (face and hand photos, irises)."""
        return len({e.position for e in self.exceptions}) == 10

    @property
    def supervisor_id(self) -> str:
        """Who approved the exceptions ('' when there were none)."""
        return self.exception_approval.operator_id if self.exception_approval else ""

    def finger(self, position: FingerPosition | int) -> FingerCapture | None:
        """The capture of a position: the flat one if there is one, else the slap's."""
        found = [f for f in self.fingers if f.position == int(position)]
        return next((f for f in found if f.source == "flat"), found[0] if found else None)

    def photo(self, kind: PhotoKind | str) -> Photo | None:
        """The image of a kind, if captured."""
        return next((p for p in self.photos if p.kind == PhotoKind(kind)), None)

    def __post_init__(self) -> None:
        problems = record_problems(self)
        if problems:
            raise CaptureError(f"capture record {self.session_id}: " + "; ".join(problems))


def record_problems(record: Any) -> list[str]:
    """What keeps a record (or a session's state with the same attributes) from being
    complete; empty when it is."""
    problems = []
    seen: set[tuple[int, str]] = set()
    for finger in record.fingers:
        key = (int(finger.position), finger.source)
        if key in seen:
            problems.append(f"{finger.position.name} captured twice as {finger.source}")
        seen.add(key)
    captured = {int(f.position) for f in record.fingers}
    excepted = {int(e.position) for e in record.exceptions}
    both = captured & excepted
    if both:
        problems.append(f"positions both captured and excepted: {sorted(both)}")
    todo = [FingerPosition(p).name for p in range(1, 11) if p not in captured | excepted]
    if todo:
        problems.append("fingers neither captured nor excepted: " + ", ".join(todo))
    approval = record.exception_approval
    if record.exceptions and (approval is None or approval.role != Role.SUPERVISOR):
        problems.append("the finger exceptions need a supervisor's approval")
    kinds = {p.kind for p in record.photos}
    needed = [PhotoKind.FACE, PhotoKind.SIGNATURE, PhotoKind.LEFT_IRIS, PhotoKind.RIGHT_IRIS]
    if len(excepted) == 10:
        needed += [PhotoKind.LEFT_HAND, PhotoKind.RIGHT_HAND]
    missing = [k.value for k in needed if k not in kinds]
    if missing:
        problems.append("images missing: " + ", ".join(missing))
    for hand, position in record.chip_fingers.items():
        if position is None:
            continue
        if int(position) not in captured:
            problems.append(f"chip finger {position.name} ({hand}) is not captured")
        elif not any(v.position == position and v.verified for v in record.verifications):
            problems.append(f"chip finger {position.name} not verified again")
    if PhotoKind.CONFIRMATION not in kinds:
        problems.append("the resident has not confirmed the data (signature)")
    return problems
