"""The capture session an enrolment station embeds.

A :class:`Station` (its id, a folder, the population register, the operator register, the
options and a clock) logs operators in by finger, starts a :class:`CaptureSession` for a
resident admitted by the register, resumes sessions left open, and takes the supervisor's
end-of-day review. A session walks the seeds' steps:

1. fingers, one at a time in the seeds' order (:meth:`CaptureSession.capture_finger`) or as
   4-4-2 slaps (:meth:`CaptureSession.capture_slap`), each gated on the engine's image
   quality with retries, then the best attempt kept as a forced capture; a finger that
   matches another position of the record is refused (the same finger twice), and a flat
   capture must match the same position's slap finger;
2. exceptions per finger (:meth:`CaptureSession.mark_exception`) approved by a supervisor's
   finger (:meth:`CaptureSession.approve_exceptions`); with all ten excepted the resident
   takes the exemption path (face and both hands photographed, irises);
3. face, signature and irises (:meth:`CaptureSession.capture_photo`);
4. the chip fingers (:attr:`CaptureSession.chip_fingers`) captured again and matched 1:1
   (:meth:`CaptureSession.reverify`); the resident's confirmation
   (:meth:`CaptureSession.confirm`); the operator's sign-off with their own finger
   (:meth:`CaptureSession.sign_off`), which returns the frozen
   :class:`~.record.CaptureRecord`.

Every step is written to disk before it returns (images as content-addressed blobs, then
the session's state file, both with :func:`afis.atomic.atomic_write`), so a crash loses
nothing captured: :meth:`Station.resume` picks the session up. Every step, refusal and
device failure is in the station's :class:`~.audit.AuditLog`. A failed step (a device
error, a duplicate finger, a slap with the wrong count) changes nothing and the session
carries on.

Examples
--------
>>> import datetime, tempfile
>>> from enrollment.capture.register import OperatorRegister, PopulationRegister, Role
>>> from enrollment.capture.devices import Modality, SyntheticDevice
>>> from enrollment.capture.synthetic import render_finger
>>> register = PopulationRegister.synthetic(40, seed=3)
>>> staff = OperatorRegister()
>>> staff.enrol("op-1", "ANA", Role.OPERATOR, {2: render_finger(901, 0)})
>>> clock = lambda: datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.timezone.utc)
>>> station = Station("ST-01", tempfile.mkdtemp(), register, staff, clock=clock)
>>> login = station.login("op-1", render_finger(901, 1))
>>> adult = next(r for r in register.residents()
...              if r.age_on(clock().date()) >= 17 and not r.kitap)
>>> session = station.start_session(adult.nik, adult.family_card, operator=login,
...                                 issuance="regular")
>>> scanner = SyntheticDevice("FP-1", Modality.FINGER, seed=77)
>>> outcome = session.capture_finger(1, scanner)
>>> outcome.accepted, outcome.forced, outcome.quality >= 40
(True, False, True)
>>> session.missing()[0]
'fingers neither captured nor excepted: RIGHT_INDEX, RIGHT_MIDDLE, ...'
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import os
import re
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import afis
from afis.atomic import atomic_write
from afis.errors import ImageError
from afis.image import ImageSource, encode_wsq
from afis.template import FingerPosition, Template
from enrollment.capture import constants as C
from enrollment.capture.audit import AuditLog
from enrollment.capture.devices import (
    SLAP_SUB_IDS,
    BiometricDevice,
    CaptureRequest,
    DeviceCapture,
)
from enrollment.capture.errors import (
    CaptureError,
    CorruptImage,
    DeviceError,
    DuplicateFinger,
    FlatSlapMismatch,
    NotAuthorised,
    SessionFileError,
    SessionStateError,
    StationFull,
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
    image_format,
    record_problems,
)
from enrollment.capture.register import (
    Authentication,
    OperatorRegister,
    PopulationRegister,
    Resident,
    Role,
)
from enrollment.capture.slaps import segment_slap
from enrollment.capture.synthetic import png
from enrollment.kinds import Citizenship, Issuance

__all__ = [
    "CaptureOptions",
    "CaptureSession",
    "DayReport",
    "FingerOutcome",
    "SessionInfo",
    "Station",
    "VerifyOutcome",
]

#: Version of the session state file.
STATE_VERSION = 1
_SESSION_ID = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


@dataclass(frozen=True)
class CaptureOptions:
    """What a station may tune about capture; frozen and validated.

    Examples
    --------
    >>> CaptureOptions().retries
    3
    >>> CaptureOptions(retries=0)
    Traceback (most recent call last):
    ...
    ValueError: retries must lie in 1..10, got 0
    """

    quality_floor: int = C.QUALITY_FLOOR
    retries: int = C.RETRIES
    duplicate_fmr: float = C.DUPLICATE_FINGER_FMR
    flat_slap_fmr: float = C.FLAT_SLAP_FMR
    verify_fmr: float = C.VERIFY_FMR
    capture_timeout: float = C.DEFAULT_CAPTURE_TIMEOUT
    #: free disk (bytes) under the station folder below which no new resident is started
    min_free_bytes: int = C.MIN_FREE_BYTES

    def __post_init__(self) -> None:
        for name, lo, hi in (("quality_floor", 1, 100), ("retries", 1, 10)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
            if not lo <= value <= hi:
                raise ValueError(f"{name} must lie in {lo}..{hi}, got {value}")
        for name in ("duplicate_fmr", "flat_slap_fmr", "verify_fmr"):
            value = getattr(self, name)
            if not isinstance(value, float) or not 1e-6 <= value <= 0.1:
                raise ValueError(f"{name} must be a float in [1e-6, 0.1], got {value!r}")
        if not 0 < self.capture_timeout <= 600:
            raise ValueError(f"capture_timeout must lie in (0, 600], got {self.capture_timeout}")
        value = self.min_free_bytes
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"min_free_bytes must be a non-negative int, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        """The options as a plain dictionary (stored with each session)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class FingerOutcome:
    """What became of one finger's capture attempt."""

    position: FingerPosition
    accepted: bool  # stored (forced or not)
    quality: int
    attempt: int
    forced: bool
    message: str


@dataclass(frozen=True)
class VerifyOutcome:
    """What became of one re-verification attempt."""

    position: FingerPosition
    verified: bool
    score: float
    attempt: int
    message: str


@dataclass(frozen=True)
class DayReport:
    """The end-of-day review: who approved, which sessions went which way."""

    day: datetime.date
    supervisor_id: str
    approved: tuple[str, ...]
    rejected: tuple[str, ...]


@dataclass(frozen=True)
class SessionInfo:
    """Where a session stands: ``state`` is ``open`` (capturing) or ``finished`` (signed
    off); ``review`` is the end-of-day decision once taken."""

    session_id: str
    nik: str
    issuance: str
    state: str
    started_at: datetime.datetime
    finished_at: datetime.datetime | None
    review: Review | None


class _Blobs:
    """Content-addressed files (name = SHA-256 of the content), written atomically once,
    checked when read."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def put(self, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()
        path = self.folder / key
        if not path.exists():
            atomic_write(path, data)
        return key

    def get(self, key: str) -> bytes:
        if not isinstance(key, str) or not re.fullmatch(r"[0-9a-f]{64}", key):
            raise SessionFileError(f"{self.folder}: {key!r} is not a blob key")
        path = self.folder / key
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise SessionFileError(f"{path}: blob missing or unreadable ({exc})") from exc
        if hashlib.sha256(data).hexdigest() != key:
            raise SessionFileError(f"{path}: blob content does not match its name (corrupt)")
        return data


def _wsq(captured: bytes, image: afis.FingerprintImage) -> bytes:
    """The WSQ copy a finger or slap keeps for its packet: none when the device delivered
    WSQ (those bytes go into the packet unchanged), else the image compressed now, once,
    at 0.75 bit per pixel (about 10 ms, a fraction of the extraction each capture costs)."""
    return b"" if image_format(captured) == "wsq" else encode_wsq(image)


def _now(clock: Callable[[], datetime.datetime]) -> datetime.datetime:
    at = clock()
    if not isinstance(at, datetime.datetime) or at.tzinfo is None:
        raise CaptureError("the station's clock must return timezone-aware datetimes")
    return at


class Station:
    """An enrolment station: where sessions start, persist, resume and are reviewed.

    Parameters
    ----------
    station_id : str
        The station's id (letters, digits, ``-_.``), part of every session id.
    folder : path-like
        Where the sessions, their images and the audit log live.
    register : PopulationRegister
    operators : OperatorRegister
    options : CaptureOptions, optional
    clock : callable, optional
        Returns the current time (timezone-aware); ``datetime.now(UTC)`` by default.
    """

    def __init__(
        self,
        station_id: str,
        folder: str | os.PathLike[str],
        register: PopulationRegister,
        operators: OperatorRegister,
        *,
        options: CaptureOptions | None = None,
        clock: Callable[[], datetime.datetime] | None = None,
    ) -> None:
        if not isinstance(station_id, str) or not _SESSION_ID.match(station_id):
            raise CaptureError(f"station id must be 1-128 of [A-Za-z0-9_.-], got {station_id!r}")
        self.station_id = station_id
        self.folder = Path(folder)
        self.register = register
        self.operators = operators
        self.options = options or CaptureOptions()
        self.clock = clock or (lambda: datetime.datetime.now(datetime.timezone.utc))
        self.audit = AuditLog(self.folder / "audit.log")
        self.blobs = _Blobs(self.folder / "blobs")
        self.sessions_folder = self.folder / "sessions"

    # -- staff ----------------------------------------------------------------------------------

    def authenticate(
        self, operator_id: str, finger: ImageSource, *, act: str, role: Role | None = None
    ) -> Authentication:
        """Match a staff member's finger (audited, refusals too)."""
        at = _now(self.clock)
        try:
            auth = self.operators.authenticate(operator_id, finger, at=at, role=role)
        except NotAuthorised as exc:
            self.audit.append(operator_id, f"{act}.refused", {"reason": str(exc)}, at=at)
            raise
        self.audit.append(
            operator_id, act, {"finger": auth.position.name, "score": round(auth.score, 4)}, at=at
        )
        return auth

    def login(self, operator_id: str, finger: ImageSource) -> Authentication:
        """An operator (or supervisor) logs in with a finger."""
        return self.authenticate(operator_id, finger, act="operator.login")

    # -- sessions -------------------------------------------------------------------------------

    def free_bytes(self) -> int:
        """Free disk under the station folder (of its nearest existing ancestor)."""
        folder = self.folder.absolute()
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        return shutil.disk_usage(folder).free

    def start_session(
        self,
        nik: str,
        family_card: str,
        *,
        operator: Authentication,
        issuance: Issuance | str,
        call_letter: str = "",
        home_visit_reason: str = "",
        kitap: str = "",
    ) -> CaptureSession:
        """Start capturing a resident the register admits.

        Parameters
        ----------
        operator : Authentication
            The logged-in operator (:meth:`login`).
        issuance : Issuance
            ``mass`` needs the ``call_letter`` number, ``home_visit`` a
            ``home_visit_reason`` (age, disability, illness); ``regular`` neither.
        kitap : str
            A foreign resident's KITAP number (as in the register); empty for a citizen.

        Raises
        ------
        ResidentRefused
            Unknown NIK, wrong family card, under 17, KITAP mismatch (audited).
        SessionStateError
            Missing call letter or visit reason, or a session for this NIK is still open.
        StationFull
            Less than ``options.min_free_bytes`` free under the station folder (audited):
            deliver the outbox or free space first; nothing already captured is touched.
        """
        at = _now(self.clock)
        if not isinstance(operator, Authentication):
            raise NotAuthorised("a session needs a logged-in operator (Station.login)")
        issuance = Issuance(issuance)
        if issuance == Issuance.MASS and not call_letter.strip():
            raise SessionStateError("mass enrolment needs the call letter (surat panggilan) number")
        if issuance != Issuance.MASS and call_letter:
            raise SessionStateError("a call letter belongs to mass enrolment only")
        if issuance == Issuance.HOME_VISIT and not home_visit_reason.strip():
            raise SessionStateError("a home visit needs its reason (age, disability, illness)")
        free = self.free_bytes()
        if free < self.options.min_free_bytes:
            reason = (
                f"only {free / 2**20:.0f} MiB free under {self.folder} and a resident needs "
                f"{self.options.min_free_bytes / 2**20:.0f} MiB: deliver the outbox or free "
                "space before capturing more (nothing captured so far is affected)"
            )
            self.audit.append(
                operator.operator_id, "session.refused", {"nik": str(nik), "reason": reason}, at=at
            )
            raise StationFull(reason)
        try:
            resident = self.register.admit(nik, family_card, on=at.date(), kitap=kitap)
        except CaptureError as exc:
            self.audit.append(
                operator.operator_id,
                "session.refused",
                {"nik": str(nik), "reason": str(exc)},
                at=at,
            )
            raise
        for session_id in self.open_sessions():
            if self._read_state(session_id)["resident"]["nik"] == nik:
                raise SessionStateError(
                    f"NIK {nik} has an open session {session_id}: resume it (Station.resume)"
                )
        stem = f"{self.station_id}-{at:%Y%m%d%H%M%S}"
        serial = 1
        while (self.sessions_folder / f"{stem}-{serial:03d}").exists():
            serial += 1
        state = {
            "version": STATE_VERSION,
            "session_id": f"{stem}-{serial:03d}",
            "station_id": self.station_id,
            "state": "open",
            "resident": resident.to_dict(),
            "issuance": issuance.value,
            "call_letter": call_letter,
            "home_visit_reason": home_visit_reason,
            "citizenship": resident.citizenship.value,
            "kitap": kitap,
            "operator_id": operator.operator_id,
            "started_at": at.isoformat(),
            "options": self.options.to_dict(),
            "attempts": {},
            "pending": {},
            "fingers": [],
            "slaps": [],
            "exceptions": [],
            "exception_approval": None,
            "photos": [],
            "verifications": [],
            "verify_attempts": {},
            "operator_signoff": None,
            "finished_at": None,
            "review": None,
        }
        session = CaptureSession(self, state)
        session._save()
        self.audit.append(
            operator.operator_id,
            "session.started",
            {"session": state["session_id"], "nik": nik, "issuance": issuance.value},
            at=at,
        )
        return session

    def _state_path(self, session_id: str) -> Path:
        if not isinstance(session_id, str) or not _SESSION_ID.match(session_id):
            raise SessionStateError(f"not a session id: {session_id!r}")
        return self.sessions_folder / session_id / "state.json"

    def _read_state(self, session_id: str) -> dict[str, Any]:
        path = self._state_path(session_id)
        try:
            with path.open("rb") as f:
                data = f.read(C.SESSION_FILE_LIMIT + 1)
        except FileNotFoundError:
            raise SessionStateError(f"no session {session_id} at this station") from None
        except OSError as exc:
            raise SessionFileError(f"{path}: unreadable ({exc})") from exc
        if len(data) > C.SESSION_FILE_LIMIT:
            raise SessionFileError(f"{path}: larger than {C.SESSION_FILE_LIMIT} bytes")
        try:
            state = json.loads(data)
        except ValueError as exc:
            raise SessionFileError(
                f"{path}: not a session state file (corrupt JSON: {exc})"
            ) from exc
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            raise SessionFileError(f"{path}: not a version-{STATE_VERSION} session state file")
        if state.get("session_id") != session_id:
            raise SessionFileError(f"{path}: holds session {state.get('session_id')!r}")
        return state

    def session_ids(self) -> list[str]:
        """Every session of this station, in order."""
        if not self.sessions_folder.is_dir():
            return []
        return sorted(
            p.name for p in self.sessions_folder.iterdir() if (p / "state.json").is_file()
        )

    def session_info(self, session_id: str) -> SessionInfo:
        """Where a session stands (read from its state file, images not loaded)."""
        state = self._read_state(session_id)
        review = state.get("review")
        finished = state.get("finished_at")
        return SessionInfo(
            session_id,
            str(state["resident"]["nik"]),
            str(state["issuance"]),
            str(state["state"]),
            datetime.datetime.fromisoformat(state["started_at"]),
            datetime.datetime.fromisoformat(finished) if finished else None,
            Review.from_dict(review) if review else None,
        )

    def open_sessions(self) -> list[str]:
        """Sessions not yet signed off (left by a crash or a break)."""
        return [s for s in self.session_ids() if self._read_state(s)["state"] == "open"]

    def resume(self, session_id: str) -> CaptureSession:
        """Open a session again from its files; a corrupt file is refused by name."""
        session = CaptureSession(self, self._read_state(session_id))
        session._check()
        return session

    def record(self, session_id: str) -> CaptureRecord:
        """The record of a signed-off session (with its review once taken)."""
        session = self.resume(session_id)
        return session._record()

    # -- end of day -----------------------------------------------------------------------------

    def pending_review(self, day: datetime.date) -> list[str]:
        """Signed-off sessions finished on ``day`` (station's clock, UTC offset as stored)
        that await the supervisor's decision."""
        out = []
        for session_id in self.session_ids():
            state = self._read_state(session_id)
            if state["state"] == "finished" and state["review"] is None:
                if datetime.datetime.fromisoformat(state["finished_at"]).date() == day:
                    out.append(session_id)
        return out

    def end_of_day(
        self,
        supervisor_id: str,
        finger: ImageSource,
        *,
        day: datetime.date,
        approve: Iterable[str] = (),
        reject: Mapping[str, str] | None = None,
    ) -> DayReport:
        """The supervisor approves or rejects (with a reason) the day's sessions.

        Raises
        ------
        NotAuthorised
            The finger does not match or the staff member is not a supervisor.
        SessionStateError
            A session that is not awaiting review on that day, listed twice, or a
            rejection without a reason; nothing is decided then.
        """
        approve, reject = list(approve), dict(reject or {})
        pending = set(self.pending_review(day))
        chosen = approve + list(reject)
        if len(set(chosen)) != len(chosen):
            raise SessionStateError("a session is both approved and rejected, or listed twice")
        wrong = [s for s in chosen if s not in pending]
        if wrong:
            raise SessionStateError(f"not awaiting review on {day.isoformat()}: {wrong}")
        blank = [s for s, reason in reject.items() if not str(reason).strip()]
        if blank:
            raise SessionStateError(f"a rejection needs a reason: {blank}")
        auth = self.authenticate(supervisor_id, finger, act="day.review", role=Role.SUPERVISOR)
        for session_id in chosen:
            session = CaptureSession(self, self._read_state(session_id))
            review = Review(
                session_id in approve, supervisor_id, reject.get(session_id, ""), auth.at
            )
            session.state["review"] = review.to_dict()
            session._save()
            self.audit.append(
                supervisor_id,
                "session.approved" if review.approved else "session.rejected",
                {"session": session_id, "reason": review.reason},
                at=auth.at,
            )
        return DayReport(day, supervisor_id, tuple(approve), tuple(reject))


class CaptureSession:
    """One resident's capture (made by :meth:`Station.start_session` or
    :meth:`Station.resume`; see the module docstring)."""

    def __init__(self, station: Station, state: dict[str, Any]) -> None:
        self.station = station
        self.state = state
        self.options = station.options

    # -- persistence ----------------------------------------------------------------------------

    @property
    def session_id(self) -> str:
        """``<station>-<start time>-<serial>``."""
        return str(self.state["session_id"])

    @property
    def resident(self) -> Resident:
        """The resident as the register knew them when the session started."""
        return Resident.from_dict(self.state["resident"])

    def _save(self) -> None:
        path = self.station._state_path(self.session_id)
        atomic_write(path, json.dumps(self.state, indent=1, sort_keys=True).encode())

    def _parts(self, name: str, cls: Any) -> list[Any]:
        try:
            return [cls.from_dict(d, self.station.blobs.get) for d in self.state[name]]
        except SessionFileError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            path = self.station._state_path(self.session_id)
            raise SessionFileError(f"{path}: bad {name} entry ({exc})") from exc

    def _check(self) -> None:
        """Read every part once (blobs checked): a damaged session is refused on resume."""
        for name, cls in (
            ("fingers", FingerCapture),
            ("slaps", SlapImage),
            ("exceptions", FingerException),
            ("photos", Photo),
            ("verifications", Verification),
        ):
            self._parts(name, cls)
        for entry in self.state["pending"].values():
            FingerCapture.from_dict(entry, self.station.blobs.get)
        try:
            self.resident  # noqa: B018 - validates the stored demographics
        except CaptureError as exc:
            raise SessionFileError(
                f"{self.station._state_path(self.session_id)}: bad resident ({exc})"
            ) from exc

    def _audit(self, action: str, details: dict[str, Any], actor: str = "") -> None:
        details = {"session": self.session_id, **details}
        self.station.audit.append(
            actor or self.state["operator_id"], action, details, at=_now(self.station.clock)
        )

    def _open(self) -> None:
        if self.state["state"] != "open":
            raise SessionStateError(f"session {self.session_id} is signed off; nothing can change")

    # -- views ----------------------------------------------------------------------------------

    @property
    def fingers(self) -> list[FingerCapture]:
        """Accepted fingers (flat and slap)."""
        return self._parts("fingers", FingerCapture)

    @property
    def exceptions(self) -> list[FingerException]:
        """Fingers marked as not capturable."""
        return self._parts("exceptions", FingerException)

    @property
    def photos(self) -> list[Photo]:
        """Face, hands, irises, signature and confirmation captured so far."""
        return self._parts("photos", Photo)

    @property
    def verifications(self) -> list[Verification]:
        """Re-verifications of the current captures, successful or not."""
        return self._parts("verifications", Verification)

    @property
    def exception_approval(self) -> SignOff | None:
        """The supervisor's approval of the current exceptions, if given."""
        data = self.state["exception_approval"]
        return None if data is None else SignOff.from_dict(data)

    def finger(self, position: FingerPosition | int) -> FingerCapture | None:
        """The accepted capture of a position (flat preferred over slap)."""
        found = [f for f in self.fingers if f.position == int(position)]
        return next((f for f in found if f.source == "flat"), found[0] if found else None)

    @property
    def chip_fingers(self) -> dict[str, FingerPosition | None]:
        """Per hand the finger the card will hold: index, else middle, ring, thumb; a capture
        at the quality floor preferred to a forced one; ``None`` when the hand has none."""
        captured = {int(f.position): f for f in self.fingers}
        chosen: dict[str, FingerPosition | None] = {}
        for hand, order in C.CHIP_FINGER_PREFERENCE.items():
            good = [p for p in order if int(p) in captured and not captured[int(p)].forced]
            any_ = [p for p in order if int(p) in captured]
            chosen[hand] = (good or any_ or [None])[0]
        return chosen

    def missing(self) -> list[str]:
        """What the session still needs before the operator can sign off."""
        return record_problems(self)

    # -- fingers --------------------------------------------------------------------------------

    def _request(self, sub_id: int, exceptions: Iterable[int] = ()) -> CaptureRequest:
        return CaptureRequest(
            sub_id=sub_id,
            requested_quality=self.options.quality_floor,
            timeout=self.options.capture_timeout,
            exceptions=tuple(exceptions),
            transaction_id=self.session_id,
        )

    def _grab(self, device: BiometricDevice, request: CaptureRequest, what: str) -> DeviceCapture:
        """One device capture; a failure is audited and raised (nothing changes)."""
        self._open()
        try:
            return device.capture(request)
        except DeviceError as exc:
            self._audit("capture.failed", {"what": what, "code": exc.code, "error": str(exc)})
            raise

    def _decode(self, shot: DeviceCapture, what: str) -> afis.FingerprintImage:
        try:
            return afis.load_image(shot.image, dpi=shot.ppi)  # None: the file's own
        except ImageError as exc:
            error = CorruptImage(shot.device_id, str(exc))
            self._audit("capture.failed", {"what": what, "code": error.code, "error": str(error)})
            raise error from exc

    def _excepted(self) -> set[int]:
        return {int(e["position"]) for e in self.state["exceptions"]}

    def _check_not_duplicate(
        self, position: FingerPosition, template: Template, others: Mapping[int, Template]
    ) -> None:
        threshold = afis.threshold_for_fmr(self.options.duplicate_fmr)
        for finger in self.fingers:
            if finger.position != position:
                others = {**others, int(finger.position): Template.from_bytes(finger.template)}
        for other, candidate in sorted(others.items()):
            if other == int(position):
                continue
            score = afis.compare(template, candidate)
            if score >= threshold:
                error = DuplicateFinger(position, FingerPosition(other), score)
                self._audit("capture.refused", {"position": position.name, "error": str(error)})
                raise error

    def _check_flat_against_slap(
        self, position: FingerPosition, template: Template, source: str
    ) -> None:
        counterpart = next(
            (f for f in self.fingers if f.position == position and f.source != source), None
        )
        if counterpart is None:
            return
        score = afis.compare(template, Template.from_bytes(counterpart.template))
        if score < afis.threshold_for_fmr(self.options.flat_slap_fmr):
            error = FlatSlapMismatch(position, score)
            self._audit("capture.refused", {"position": position.name, "error": str(error)})
            raise error

    def _gate(
        self,
        position: FingerPosition,
        image: bytes,
        template: Template,
        source: str,
        device_id: str,
        wsq: bytes,
    ) -> FingerOutcome:
        """Count the attempt and keep the finger if it reaches the floor or the retries are
        used up (then its best attempt, forced). The caller saves the state."""
        key = f"{source}:{int(position)}"
        attempt = int(self.state["attempts"].get(key, 0)) + 1
        self.state["attempts"][key] = attempt
        capture = FingerCapture(
            position,
            image,
            template.to_bytes(),
            template.image_quality,
            attempt,
            False,
            source,
            device_id,
            _now(self.station.clock),
            wsq,
        )
        blobs = self.station.blobs
        floor = self.options.quality_floor
        earlier = next(
            (
                f
                for f in self.state["fingers"]
                if int(f["position"]) == int(position) and f["source"] == source
            ),
            None,
        )
        if capture.quality < floor and earlier is not None:
            # a poor attempt at a finger already captured never replaces the capture
            self._audit(
                "finger.retry",
                {
                    "position": position.name,
                    "source": source,
                    "quality": capture.quality,
                    "attempt": attempt,
                    "kept": "earlier capture",
                },
            )
            message = (
                f"{position.name}: quality {capture.quality} below {floor}; the earlier capture "
                f"(quality {earlier['quality']}) is kept"
            )
            return FingerOutcome(position, False, capture.quality, attempt, False, message)
        if capture.quality < floor:
            best = self.state["pending"].get(key)
            if best is None or capture.quality > int(best["quality"]):
                self.state["pending"][key] = capture.to_dict(blobs.put)
            if attempt < self.options.retries:
                message = (
                    f"{position.name}: quality {capture.quality} below {floor} (attempt "
                    f"{attempt} of {self.options.retries}); clean the finger and the glass and "
                    "capture again"
                )
                self._audit(
                    "finger.retry",
                    {
                        "position": position.name,
                        "source": source,
                        "quality": capture.quality,
                        "attempt": attempt,
                    },
                )
                return FingerOutcome(position, False, capture.quality, attempt, False, message)
            kept = FingerCapture.from_dict(self.state["pending"][key], blobs.get)
            capture = FingerCapture(
                position,
                kept.image,
                kept.template,
                kept.quality,
                attempt,
                True,
                source,
                kept.device_id,
                kept.captured_at,
                kept.wsq,
            )
        self.state["pending"].pop(key, None)
        self._forget_verifications(position)
        self.state["fingers"] = [
            f
            for f in self.state["fingers"]
            if not (int(f["position"]) == int(position) and f["source"] == source)
        ] + [capture.to_dict(blobs.put)]
        self._audit(
            "finger.captured",
            {
                "position": position.name,
                "source": source,
                "quality": capture.quality,
                "attempt": attempt,
                "forced": capture.forced,
            },
        )
        message = (
            f"{position.name}: kept the best of {attempt} attempts (quality {capture.quality}), "
            "flagged as a forced capture"
            if capture.forced
            else f"{position.name}: accepted, quality {capture.quality}"
        )
        return FingerOutcome(position, True, capture.quality, attempt, capture.forced, message)

    def _forget_verifications(self, position: FingerPosition) -> None:
        """A verification vouches for the capture it was matched against: a new capture or
        a discarded one of that position must be verified again."""
        self.state["verifications"] = [
            v for v in self.state["verifications"] if int(v["position"]) != int(position)
        ]

    def capture_finger(
        self, position: FingerPosition | int, device: BiometricDevice
    ) -> FingerOutcome:
        """Capture one finger flat from a single-finger scanner (sub-id = position).

        Returns
        -------
        FingerOutcome
            Accepted (at the floor, or forced after the retries) or to be captured again.

        Raises
        ------
        DeviceError
            Busy, not ready, timeout, corrupt image (:class:`~.errors.CorruptImage`) ...
        DuplicateFinger, FlatSlapMismatch
            The finger matches another position, or not its own slap finger.
        SessionStateError
            The position has an exception or the session is signed off.
        """
        position = FingerPosition(int(position))
        if position == FingerPosition.UNKNOWN:
            raise SessionStateError("capture a finger position 1..10")
        self._open()
        if int(position) in self._excepted():
            raise SessionStateError(f"{position.name} is marked as an exception; remove it first")
        shot = self._grab(device, self._request(int(position)), position.name)
        image = self._decode(shot, position.name)
        template = afis.extract(image, finger_position=position)
        self._check_not_duplicate(position, template, {})
        self._check_flat_against_slap(position, template, "flat")
        outcome = self._gate(
            position, shot.image, template, "flat", shot.device_id, _wsq(shot.image, image)
        )
        self._save()
        return outcome

    def capture_slap(self, slap: str, device: BiometricDevice) -> list[FingerOutcome]:
        """Capture a slap (``left_slap``, ``right_slap``, ``two_thumbs``) from a slap scanner,
        segment it into fingers and gate each.

        Positions marked as exceptions are expected to be absent. Nothing of a slap is kept
        when its finger count is wrong (:class:`~.errors.SlapCountError`) or one of its
        fingers matches another position (:class:`~.errors.DuplicateFinger`).
        """
        if slap not in C.SLAP_POSITIONS:
            raise SessionStateError(f"unknown slap {slap!r}; one of {sorted(C.SLAP_POSITIONS)}")
        self._open()
        sub_id = {name: sub for sub, name in SLAP_SUB_IDS.items()}[slap]
        gone = sorted(self._excepted() & {int(p) for p in C.SLAP_POSITIONS[slap]})
        shot = self._grab(device, self._request(sub_id, gone), slap)
        image = self._decode(shot, slap)
        try:
            cut = segment_slap(image.pixels, slap, missing=gone, ppi=image.ppi)
        except CaptureError as exc:
            self._audit("capture.refused", {"what": slap, "error": str(exc)})
            raise
        templates = {
            int(f.position): afis.extract(
                afis.FingerprintImage(f.pixels, image.ppi), finger_position=f.position
            )
            for f in cut
        }
        for finger in cut:
            position = finger.position
            self._check_not_duplicate(position, templates[int(position)], templates)
            self._check_flat_against_slap(position, templates[int(position)], "slap")
        outcomes = [
            self._gate(
                f.position,
                png(f.pixels, ppi=image.ppi),
                templates[int(f.position)],
                "slap",
                shot.device_id,
                encode_wsq(afis.FingerprintImage(f.pixels, image.ppi)),
            )
            for f in cut
        ]
        record = SlapImage(
            slap,
            shot.image,
            shot.device_id,
            _now(self.station.clock),
            {f.position: f.box for f in cut},
            _wsq(shot.image, image),
        )
        self.state["slaps"] = [s for s in self.state["slaps"] if s["slap"] != slap] + [
            record.to_dict(self.station.blobs.put)
        ]
        self._save()
        return outcomes

    def discard_finger(self, position: FingerPosition | int, reason: str) -> None:
        """Remove a position's accepted captures (a mistake the operator saw), audited."""
        self._open()
        position = FingerPosition(int(position))
        if not reason.strip():
            raise SessionStateError("discarding a finger needs a reason")
        self.state["fingers"] = [
            f for f in self.state["fingers"] if int(f["position"]) != int(position)
        ]
        self._forget_verifications(position)
        self._save()
        self._audit("finger.discarded", {"position": position.name, "reason": reason})

    # -- exceptions -----------------------------------------------------------------------------

    def mark_exception(
        self, position: FingerPosition | int, kind: ExceptionKind | str, reason: str
    ) -> None:
        """Mark a finger as not capturable (amputated, bandaged, unable) with a reason.

        The supervisor's approval (:meth:`approve_exceptions`) is needed again afterwards.
        """
        self._open()
        position = FingerPosition(int(position))
        if position == FingerPosition.UNKNOWN:
            raise SessionStateError("an exception needs a finger position 1..10")
        if any(int(f["position"]) == int(position) for f in self.state["fingers"]):
            raise SessionStateError(
                f"{position.name} is captured; discard it (discard_finger) before marking it"
            )
        exception = FingerException(
            position,
            ExceptionKind(kind),
            reason,
            self.state["operator_id"],
            _now(self.station.clock),
        )
        self.state["exceptions"] = [
            e for e in self.state["exceptions"] if int(e["position"]) != int(position)
        ] + [exception.to_dict()]
        self.state["exception_approval"] = None
        self._save()
        self._audit(
            "finger.exception",
            {"position": position.name, "kind": exception.kind.value, "reason": reason},
        )

    def remove_exception(self, position: FingerPosition | int) -> None:
        """Withdraw an exception (the finger can be captured after all), audited."""
        self._open()
        position = FingerPosition(int(position))
        self.state["exceptions"] = [
            e for e in self.state["exceptions"] if int(e["position"]) != int(position)
        ]
        self.state["exception_approval"] = None
        self._save()
        self._audit("finger.exception_removed", {"position": position.name})

    def approve_exceptions(self, supervisor_id: str, finger: ImageSource) -> SignOff:
        """A supervisor approves the exceptions marked so far with their finger."""
        self._open()
        if not self.state["exceptions"]:
            raise SessionStateError("there are no exceptions to approve")
        auth = self.station.authenticate(
            supervisor_id, finger, act="exceptions.approved", role=Role.SUPERVISOR
        )
        approval = SignOff(
            "exceptions", auth.operator_id, auth.role, auth.position, auth.score, auth.at
        )
        self.state["exception_approval"] = approval.to_dict()
        self._save()
        self._audit("exceptions.approved", {"positions": sorted(self._excepted())}, supervisor_id)
        return approval

    # -- other images ---------------------------------------------------------------------------

    def capture_photo(self, kind: PhotoKind | str, device: BiometricDevice) -> Photo:
        """Capture the face (camera sub-id 0), a hand (1 left, 2 right), an iris (1 left,
        2 right) or the signature (pad, 0); the image is checked to decode, then kept."""
        kind = PhotoKind(kind)
        if kind == PhotoKind.CONFIRMATION:
            raise SessionStateError("the resident's confirmation is taken by confirm()")
        sub_id = {
            PhotoKind.FACE: 0,
            PhotoKind.SIGNATURE: 0,
            PhotoKind.LEFT_HAND: 1,
            PhotoKind.RIGHT_HAND: 2,
            PhotoKind.LEFT_IRIS: 1,
            PhotoKind.RIGHT_IRIS: 2,
        }[kind]
        return self._photo(kind, device, sub_id)

    def _photo(self, kind: PhotoKind, device: BiometricDevice, sub_id: int) -> Photo:
        shot = self._grab(device, self._request(sub_id), kind.value)
        try:
            from PIL import Image

            with Image.open(io.BytesIO(shot.image)) as im:
                im.load()
        except Exception as exc:  # Pillow raises many kinds on corrupt input
            error = CorruptImage(shot.device_id, f"{kind.value}: {exc}")
            self._audit("capture.failed", {"what": kind.value, "code": 102, "error": str(error)})
            raise error from exc
        photo = Photo(kind, shot.image, shot.device_id, _now(self.station.clock))
        self.state["photos"] = [p for p in self.state["photos"] if p["kind"] != kind.value] + [
            photo.to_dict(self.station.blobs.put)
        ]
        self._save()
        self._audit("photo.captured", {"kind": kind.value})
        return photo

    # -- re-verification and sign-off -----------------------------------------------------------

    def reverify(self, device: BiometricDevice) -> list[VerifyOutcome]:
        """Capture each chip finger not yet verified again and match it 1:1 against its
        capture in this session."""
        self._open()
        done = {v.position for v in self.verifications if v.verified}
        todo = [p for p in self.chip_fingers.values() if p is not None and p not in done]
        if not todo:
            raise SessionStateError("no chip finger to verify (capture the fingers first)")
        threshold = afis.threshold_for_fmr(self.options.verify_fmr)
        outcomes = []
        for position in todo:
            shot = self._grab(device, self._request(int(position)), f"verify {position.name}")
            image = self._decode(shot, f"verify {position.name}")
            probe = afis.extract(image, finger_position=position)
            enrolled = [f for f in self.fingers if f.position == position]
            score = max(afis.compare(probe, Template.from_bytes(f.template)) for f in enrolled)
            attempt = int(self.state["verify_attempts"].get(str(int(position)), 0)) + 1
            self.state["verify_attempts"][str(int(position))] = attempt
            verified = score >= threshold
            check = Verification(position, score, verified, attempt, _now(self.station.clock))
            self.state["verifications"].append(check.to_dict())
            self._save()
            self._audit(
                "finger.verified" if verified else "finger.verify_failed",
                {"position": position.name, "score": round(score, 4), "attempt": attempt},
            )
            message = (
                f"{position.name}: matched (score {score:.3f})"
                if verified
                else f"{position.name}: does not match its capture (score {score:.3f}, "
                f"{threshold:.3f} needed); present the same finger again, or capture it again"
            )
            outcomes.append(VerifyOutcome(position, verified, score, attempt, message))
        return outcomes

    def demographics_digest(self) -> str:
        """SHA-256 of the demographics shown to the resident for confirmation."""
        text = json.dumps(self.state["resident"], sort_keys=True).encode()
        return hashlib.sha256(text).hexdigest()

    def confirm(self, signature_pad: BiometricDevice) -> Photo:
        """The resident confirms the data shown with a signature (kept as an image)."""
        photo = self._photo(PhotoKind.CONFIRMATION, signature_pad, 0)
        self.state["confirmed_sha256"] = self.demographics_digest()
        self._save()
        self._audit("resident.confirmed", {"demographics_sha256": self.demographics_digest()})
        return photo

    def sign_off(self, finger: ImageSource) -> CaptureRecord:
        """The session's operator signs off with their own finger; returns the record.

        Raises
        ------
        SessionStateError
            With everything still missing (the session stays open).
        NotAuthorised
            The finger is not the session operator's.
        """
        self._open()
        problems = self.missing()
        if problems:
            raise SessionStateError("cannot sign off yet: " + "; ".join(problems))
        operator_id = self.state["operator_id"]
        auth = self.station.authenticate(operator_id, finger, act="session.signed_off")
        signoff = SignOff("operator", operator_id, auth.role, auth.position, auth.score, auth.at)
        self.state["operator_signoff"] = signoff.to_dict()
        self.state["finished_at"] = auth.at.isoformat()
        self.state["state"] = "finished"
        self.state["pending"] = {}
        record = self._record()
        self._save()
        self._audit(
            "session.finished",
            {"chip_fingers": {h: (p.name if p else None) for h, p in record.chip_fingers.items()}},
        )
        return record

    def _record(self) -> CaptureRecord:
        if self.state["state"] != "finished":
            raise SessionStateError(f"session {self.session_id} is not signed off")
        state = self.state
        review = state["review"]
        return CaptureRecord(
            session_id=self.session_id,
            station_id=state["station_id"],
            resident=self.resident,
            issuance=Issuance(state["issuance"]),
            call_letter=state["call_letter"],
            home_visit_reason=state["home_visit_reason"],
            citizenship=Citizenship(state["citizenship"]),
            kitap=state["kitap"],
            operator_id=state["operator_id"],
            started_at=datetime.datetime.fromisoformat(state["started_at"]),
            finished_at=datetime.datetime.fromisoformat(state["finished_at"]),
            fingers=tuple(self.fingers),
            slaps=tuple(self._parts("slaps", SlapImage)),
            exceptions=tuple(self.exceptions),
            exception_approval=self.exception_approval,
            photos=tuple(self.photos),
            chip_fingers=self.chip_fingers,
            verifications=tuple(self.verifications),
            operator_signoff=SignOff.from_dict(state["operator_signoff"]),
            confirmed_sha256=state.get("confirmed_sha256", ""),
            review=None if review is None else Review.from_dict(review),
        )
