"""Scripted and batch capture sessions (issue 22, part 9): ``afis-enrollment capture script``
and ``afis-enrollment capture batch``.

A **script** (TOML or JSON) holds the answers an operator gives at a station: the station and
its keys, the population register, the staff, the resident's NIK and family card (KK), the
issuance, the image folders of the file-backed devices, which fingers are captured singly or
by slap, exceptions with reasons and the supervisor's approval, the photos, re-verification,
confirmation, the operator's sign-off and the end-of-day review. :func:`run_script` runs it
through the capture API (:class:`~enrollment.capture.Station`) and, once the record is
approved, seals its packet into the station's outbox (:class:`~enrollment.outbox.Outbox`).
Relative paths are taken from the script's folder. A script that is wrong stops before
anything is captured with a :class:`ScriptError` naming the file and the field.

A **batch** (:func:`run_batch`) enrols FVC-style folders (``<finger>_<impression>.tif``):
each run of ten distinct finger ids, in numeric order, becomes one synthetic resident of a
seeded population register (adults without KITAP, in NIK order), captured finger by finger
through a :class:`~enrollment.capture.FolderDevice` serving that finger's impressions in
order (the next impression serves the re-verification), with synthetic face, iris and
signature devices and synthetic staff; each record is approved and its packet queued. A
re-run skips residents already captured and finishes a session a crash left open.

Examples
--------
>>> fields = parse_script({"station": {"id": "ST-01"}}, "day.toml")
Traceback (most recent call last):
...
enrollment.scripted.ScriptError: day.toml: station.folder: missing
>>> finger_position("left_index", "day.toml", "fingers.single[0]").name
'LEFT_INDEX'
>>> group_fingers({101: ["a"], 102: ["b"]}, 2)
[[101, 102]]
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from afis.template import FingerPosition
from enrollment.capture import (
    CaptureError,
    CaptureOptions,
    CaptureSession,
    ExceptionKind,
    FolderDevice,
    Modality,
    OperatorRegister,
    PopulationRegister,
    Resident,
    Role,
    Station,
    SyntheticDevice,
)
from enrollment.capture.constants import SLAP_POSITIONS
from enrollment.capture.synthetic import render_finger
from enrollment.kinds import Issuance
from enrollment.outbox import Outbox
from enrollment.packet.keys import read_private_key, read_public_key

__all__ = [
    "BATCH_IMAGE",
    "BatchReport",
    "CaptureScript",
    "ScriptError",
    "ScriptResult",
    "finger_position",
    "group_fingers",
    "load_script",
    "parse_script",
    "run_batch",
    "run_script",
    "scan_fvc_folder",
]

#: File names a batch folder's images have: ``<finger>_<impression>.<tif|tiff|png|bmp>``.
BATCH_IMAGE = re.compile(r"^(\d+)_(\d+)\.(tif|tiff|png|bmp)$", re.IGNORECASE)
#: Seeds of the synthetic staff of a batch station (their fingers come from render_finger).
BATCH_OPERATOR_SEED, BATCH_SUPERVISOR_SEED = 9101, 9102
#: Photos a session needs, in the order a script takes them by default.
DEFAULT_PHOTOS = ("face", "signature", "left_iris", "right_iris")
_HAND_PHOTOS = ("left_hand", "right_hand")
_DEVICE_FIELDS = ("finger", "slap", "camera", "iris", "signature", "verify")


class ScriptError(CaptureError):
    """A capture script that cannot be run: the message names the file and the field."""

    def __init__(self, path: str | os.PathLike[str], field_name: str, problem: str) -> None:
        where = f"{path}: {field_name}" if field_name else str(path)
        super().__init__(f"{where}: {problem}")
        self.path = str(path)
        self.field = field_name


# -- reading a script ---------------------------------------------------------------------------


def finger_position(value: Any, path: str | os.PathLike[str], field_name: str) -> FingerPosition:
    """A finger named as in the seeds (``right_thumb`` .. ``left_little``) or numbered 1-10.

    Raises
    ------
    ScriptError
        Any other value, with the names allowed.
    """
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 10:
        return FingerPosition(value)
    if isinstance(value, str):
        name = value.strip().upper().replace("-", "_").replace(" ", "_")
        if name in FingerPosition.__members__ and name != "UNKNOWN":
            return FingerPosition[name]
    names = ", ".join(p.name.lower() for p in FingerPosition if p != FingerPosition.UNKNOWN)
    raise ScriptError(path, field_name, f"unknown finger {value!r}; one of {names} or 1-10")


class _Fields:
    """Typed access to one table of a script, naming the field in every error."""

    def __init__(self, data: Any, path: str | os.PathLike[str], prefix: str, allowed: set[str]):
        if not isinstance(data, Mapping):
            raise ScriptError(path, prefix, f"must be a table, got {type(data).__name__}")
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ScriptError(
                path,
                f"{prefix}.{unknown[0]}",
                f"unknown field; known: {', '.join(sorted(allowed))}",
            )
        self.data, self.path, self.prefix = data, path, prefix

    def name(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def error(self, key: str, problem: str) -> ScriptError:
        return ScriptError(self.path, self.name(key), problem)

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        if key not in self.data:
            if default is ...:
                raise self.error(key, "missing")
            return default
        value = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds:
            raise self.error(key, f"expected {kinds[0].__name__}, got {value!r}")
        if not isinstance(value, kinds):
            raise self.error(key, f"expected {kinds[0].__name__}, got {value!r}")
        return value

    def text(self, key: str, default: Any = ...) -> str:
        value = self.get(key, str, default)
        if default is ... and not value.strip():
            raise self.error(key, "is empty")
        return value

    def digits(self, key: str, length: int) -> str:
        value = self.get(key, (str, int))
        value = str(value) if not isinstance(value, bool) else value
        if not re.fullmatch(rf"\d{{{length}}}", value):
            raise self.error(key, f"must be {length} digits, got {value!r}")
        return value

    def file(self, key: str, base: Path, default: Any = ..., folder: bool = False) -> Path | None:
        value = self.get(key, str, default)
        if value is None:
            return None
        resolved = (base / value) if not Path(value).is_absolute() else Path(value)
        exists = resolved.is_dir() if folder else resolved.is_file()
        if not exists:
            what = "folder" if folder else "file"
            raise self.error(key, f"{what} {resolved} does not exist")
        return resolved

    def table(self, key: str, allowed: set[str], default: Any = ...) -> _Fields | None:
        if key not in self.data:
            if default is ...:
                raise self.error(key, "missing (a table)")
            return default
        return _Fields(self.data[key], self.path, self.name(key), allowed)


@dataclass(frozen=True)
class StaffMember:
    """A member of the station's staff as a script enrols them."""

    operator_id: str
    name: str
    role: Role
    fingers: Mapping[FingerPosition, Path]


@dataclass(frozen=True)
class ScriptException:
    """A finger exception the script marks."""

    position: FingerPosition
    kind: ExceptionKind
    reason: str


@dataclass(frozen=True)
class CaptureScript:
    """A capture script, checked (see :func:`parse_script` for its fields)."""

    path: str
    station_id: str
    station_folder: Path
    station_key: Path
    centre_public: Path
    register_size: int
    register_seed: int
    register_file: Path | None
    staff: tuple[StaffMember, ...]
    operator_id: str
    login_finger: Path
    signoff_finger: Path
    nik: str
    family_card: str
    kitap: str
    issuance: Issuance
    call_letter: str
    home_visit_reason: str
    devices: Mapping[str, Path]
    single: tuple[FingerPosition, ...]
    slaps: tuple[str, ...]
    exceptions: tuple[ScriptException, ...]
    approver: tuple[str, Path] | None
    photos: tuple[str, ...]
    reverify: bool
    confirm: bool
    review: tuple[str, Path, bool, str] | None
    retries: int = field(default=3)


def load_script(path: str | os.PathLike[str]) -> CaptureScript:
    """Read and check a capture script (``.toml``, else JSON).

    Raises
    ------
    ScriptError
        An unreadable file, bad TOML or JSON, or a wrong field (named).
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScriptError(path, "", f"cannot read the script: {exc.strerror or exc}") from exc
    if path.suffix.lower() == ".toml":
        try:
            import tomllib
        except ImportError as exc:  # Python 3.10
            raise ScriptError(
                path, "", "TOML scripts need Python 3.11 (tomllib); use JSON"
            ) from exc
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ScriptError(path, "", f"not valid TOML: {exc}") from exc
    else:
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ScriptError(path, "", f"not valid JSON: {exc}") from exc
    return parse_script(data, path, base=path.parent)


def parse_script(
    data: Any, path: str | os.PathLike[str], *, base: str | os.PathLike[str] | None = None
) -> CaptureScript:
    """Check a script's data (as read from TOML or JSON) and return it typed.

    Tables and fields (``?`` optional)::

        station   id, folder, key (private PEM), centre_public (PEM)
        register  synthetic (size) + seed?, or file (JSON list of residents)
        staff     [{id, name, role (operator|supervisor), fingers {finger: image}}]
        operator  id, login_finger, signoff_finger?
        resident  nik, kk, kitap?
        issuance  type (mass|regular|home_visit), call_letter?, home_visit_reason?
        devices   folders: finger?, slap?, camera?, iris?, signature, verify?
        fingers   single? (fingers, or "rest"), slaps? (left_slap|right_slap|two_thumbs)
        exceptions? [{finger, kind (amputated|bandaged|unable), reason}]
        exception_approval? supervisor, finger
        steps?    photos?, reverify? (true), confirm? (true), retries? (3)
        review?   supervisor, finger, approve (bool), reason? (needed to reject)

    Raises
    ------
    ScriptError
        The first wrong field, named as ``table.field``.
    """
    base = Path(base) if base is not None else Path(path).parent
    top = _Fields(
        data,
        path,
        "",
        {
            "station",
            "register",
            "staff",
            "operator",
            "resident",
            "issuance",
            "devices",
            "fingers",
            "exceptions",
            "exception_approval",
            "steps",
            "review",
        },
    )
    st = top.table("station", {"id", "folder", "key", "centre_public"})
    assert st is not None
    station_id = st.text("id")
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,128}", station_id):
        raise st.error("id", f"must be 1-128 of [A-Za-z0-9_.-], got {station_id!r}")
    folder_value = st.text("folder")
    station_folder = (
        base / folder_value if not Path(folder_value).is_absolute() else Path(folder_value)
    )
    station_key = st.file("key", base)
    centre_public = st.file("centre_public", base)

    reg = top.table("register", {"synthetic", "seed", "file"})
    assert reg is not None
    register_file = reg.file("file", base, None)
    register_size = reg.get("synthetic", int, 0)
    if register_file is None and not 1 <= register_size <= 10_000_000:
        raise reg.error("synthetic", f"give a size 1..10000000 or a file, got {register_size}")
    register_seed = reg.get("seed", int, 0)

    staff_rows = top.get("staff", list)
    if not staff_rows:
        raise top.error("staff", "is empty: the station needs its operator")
    staff = []
    for i, row in enumerate(staff_rows):
        s = _Fields(row, path, f"staff[{i}]", {"id", "name", "role", "fingers"})
        role = s.text("role")
        if role not in {r.value for r in Role}:
            raise s.error("role", f"one of {[r.value for r in Role]}, got {role!r}")
        fingers = s.get("fingers", Mapping)
        if not fingers:
            raise s.error("fingers", "is empty: enrol at least one finger")
        f = _Fields(fingers, path, s.name("fingers"), set(fingers))
        staff.append(
            StaffMember(
                s.text("id"),
                s.text("name"),
                Role(role),
                {finger_position(k, path, f.name(k)): f.file(k, base) for k in fingers},
            )
        )
    ids = [m.operator_id for m in staff]
    if len(set(ids)) != len(ids):
        raise top.error("staff", f"an id appears twice: {ids}")

    op = top.table("operator", {"id", "login_finger", "signoff_finger"})
    assert op is not None
    operator_id = op.text("id")
    if operator_id not in ids:
        raise op.error("id", f"{operator_id!r} is not in staff ({', '.join(ids)})")
    login_finger = op.file("login_finger", base)
    signoff_finger = op.file("signoff_finger", base, None) or login_finger

    res = top.table("resident", {"nik", "kk", "kitap"})
    assert res is not None
    nik, family_card = res.digits("nik", 16), res.digits("kk", 16)
    kitap = res.text("kitap", "")

    iss = top.table("issuance", {"type", "call_letter", "home_visit_reason"})
    assert iss is not None
    kind = iss.text("type")
    if kind not in {i.value for i in Issuance}:
        raise iss.error("type", f"one of {[i.value for i in Issuance]}, got {kind!r}")
    issuance = Issuance(kind)
    call_letter = iss.text("call_letter", "")
    home_visit_reason = iss.text("home_visit_reason", "")
    if issuance == Issuance.MASS and not call_letter.strip():
        raise iss.error("call_letter", "missing: mass enrolment needs the call letter number")
    if issuance == Issuance.HOME_VISIT and not home_visit_reason.strip():
        raise iss.error("home_visit_reason", "missing: a home visit needs its reason")

    dev = top.table("devices", set(_DEVICE_FIELDS))
    assert dev is not None
    devices = {
        name: p
        for name in _DEVICE_FIELDS
        if (p := dev.file(name, base, None, folder=True)) is not None
    }

    exceptions = []
    for i, row in enumerate(top.get("exceptions", list, [])):
        e = _Fields(row, path, f"exceptions[{i}]", {"finger", "kind", "reason"})
        kind_value = e.text("kind")
        if kind_value not in {k.value for k in ExceptionKind}:
            raise e.error("kind", f"one of {[k.value for k in ExceptionKind]}, got {kind_value!r}")
        exceptions.append(
            ScriptException(
                finger_position(e.get("finger", (str, int)), path, e.name("finger")),
                ExceptionKind(kind_value),
                e.text("reason"),
            )
        )
    excepted = [e.position for e in exceptions]
    if len(set(excepted)) != len(excepted):
        raise top.error("exceptions", "a finger is listed twice")

    fin = top.table("fingers", {"single", "slaps"})
    assert fin is not None
    slaps = tuple(fin.get("slaps", list, []))
    for i, slap in enumerate(slaps):
        if slap not in SLAP_POSITIONS:
            raise fin.error(
                f"slaps[{i}]", f"unknown slap {slap!r}; one of {sorted(SLAP_POSITIONS)}"
            )
    if len(set(slaps)) != len(slaps):
        raise fin.error("slaps", "a slap is listed twice")
    slapped = {p for s in slaps for p in SLAP_POSITIONS[s]}
    single_value = fin.get("single", (list, str), "rest")
    if isinstance(single_value, str):
        if single_value != "rest":
            raise fin.error("single", f'a list of fingers or "rest", got {single_value!r}')
        single = tuple(
            p
            for p in FingerPosition
            if p != FingerPosition.UNKNOWN and p not in slapped and p not in excepted
        )
    else:
        single = tuple(
            finger_position(v, path, fin.name(f"single[{i}]")) for i, v in enumerate(single_value)
        )
    if len(set(single)) != len(single):
        raise fin.error("single", "a finger is listed twice")
    both = sorted(p.name.lower() for p in set(single) & set(excepted))
    if both:
        raise fin.error("single", f"{', '.join(both)} also marked as an exception")
    if single and "finger" not in devices:
        raise dev.error("finger", "missing: fingers.single needs a finger scanner folder")
    if slaps and "slap" not in devices:
        raise dev.error("slap", "missing: fingers.slaps needs a slap scanner folder")

    approver = None
    if "exception_approval" in data:
        ap = top.table("exception_approval", {"supervisor", "finger"})
        assert ap is not None
        approver = (_staff_id(ap, "supervisor", staff, Role.SUPERVISOR), ap.file("finger", base))
    if exceptions and approver is None:
        raise top.error("exception_approval", "missing: every exception needs a supervisor")

    steps = top.table("steps", {"photos", "reverify", "confirm", "retries"}, None)
    default_photos = DEFAULT_PHOTOS + (_HAND_PHOTOS if len(set(excepted)) == 10 else ())
    photos: tuple[str, ...] = default_photos
    reverify, confirm, retries = True, True, 3
    if steps is not None:
        photos = tuple(steps.get("photos", list, list(default_photos)))
        allowed = (*DEFAULT_PHOTOS, *_HAND_PHOTOS)
        for i, name in enumerate(photos):
            if name not in allowed:
                raise steps.error(f"photos[{i}]", f"unknown photo {name!r}; one of {allowed}")
        reverify = steps.get("reverify", bool, True)
        confirm = steps.get("confirm", bool, True)
        retries = steps.get("retries", int, 3)
        if not 1 <= retries <= 10:
            raise steps.error("retries", f"must be 1..10, got {retries}")
    for name in photos:
        device = _photo_device(name)
        if device not in devices:
            raise dev.error(device, f"missing: the {name} photo needs a {device} folder")
    if confirm and "signature" not in devices:
        raise dev.error("signature", "missing: the confirmation needs a signature pad folder")

    review = None
    if "review" in data:
        rv = top.table("review", {"supervisor", "finger", "approve", "reason"})
        assert rv is not None
        approve = rv.get("approve", bool)
        reason = rv.text("reason", "")
        if not approve and not reason.strip():
            raise rv.error("reason", "missing: a rejection needs its reason")
        review = (
            _staff_id(rv, "supervisor", staff, Role.SUPERVISOR),
            rv.file("finger", base),
            approve,
            reason,
        )
    return CaptureScript(
        path=str(path),
        station_id=station_id,
        station_folder=station_folder,
        station_key=station_key,  # type: ignore[arg-type]
        centre_public=centre_public,  # type: ignore[arg-type]
        register_size=register_size,
        register_seed=register_seed,
        register_file=register_file,
        staff=tuple(staff),
        operator_id=operator_id,
        login_finger=login_finger,  # type: ignore[arg-type]
        signoff_finger=signoff_finger,
        nik=nik,
        family_card=family_card,
        kitap=kitap,
        issuance=issuance,
        call_letter=call_letter,
        home_visit_reason=home_visit_reason,
        devices=devices,
        single=single,
        slaps=slaps,
        exceptions=tuple(exceptions),
        approver=approver,  # type: ignore[arg-type]
        photos=photos,
        reverify=reverify,
        confirm=confirm,
        review=review,  # type: ignore[arg-type]
        retries=retries,
    )


def _staff_id(table: _Fields, key: str, staff: Sequence[StaffMember], role: Role) -> str:
    value = table.text(key)
    member = next((m for m in staff if m.operator_id == value), None)
    if member is None:
        raise table.error(key, f"{value!r} is not in staff")
    if member.role != role:
        raise table.error(key, f"{value!r} is a {member.role.value}, a {role.value} is needed")
    return value


def _photo_device(name: str) -> str:
    if name == "signature":
        return "signature"
    return "iris" if name.endswith("_iris") else "camera"


# -- running a script ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ScriptResult:
    """What a scripted session ended with: its station status and, once approved, the
    registration id and the packet file in the outbox."""

    session_id: str
    status: str
    registration_id: str | None
    packet: Path | None


def _capture_until_accepted(
    session: CaptureSession, position: FingerPosition, device: Any, tries: int
) -> Any:
    """Capture a finger until it is accepted (the session forces one after its retries)."""
    for _ in range(tries):
        outcome = session.capture_finger(position, device)
        if outcome.accepted:
            return outcome
    raise CaptureError(f"{position.name}: not accepted after {tries} captures ({outcome.message})")


def run_script(
    script: CaptureScript | str | os.PathLike[str], *, progress: Callable[[str], None] = print
) -> ScriptResult:
    """Run a capture script through the capture API and queue its packet when approved.

    Raises
    ------
    ScriptError
        A bad script (nothing is captured) or a step the station refused; the message names
        the step, and the session stays open to be resumed (:meth:`Station.resume`).
    """
    if not isinstance(script, CaptureScript):
        script = load_script(script)
    path = script.path
    staff = OperatorRegister()
    for i, member in enumerate(script.staff):
        try:
            staff.enrol(member.operator_id, member.name, member.role, dict(member.fingers))
        except CaptureError as exc:
            raise ScriptError(path, f"staff[{i}].fingers", str(exc)) from exc
    if script.register_file is not None:
        register = _register_file(script.register_file, path)
    else:
        register = PopulationRegister.synthetic(script.register_size, script.register_seed)
    try:
        station_key = read_private_key(script.station_key)
        centre_key = read_public_key(script.centre_public.read_text())
    except (CaptureError, ValueError, OSError) as exc:
        raise ScriptError(path, "station.key / station.centre_public", str(exc)) from exc
    station = Station(
        script.station_id,
        script.station_folder,
        register,
        staff,
        options=CaptureOptions(retries=script.retries),
    )
    d = script.devices

    def step(name: str, action: Callable[[], Any]) -> Any:
        try:
            return action()
        except CaptureError as exc:
            raise ScriptError(path, name, f"refused by the station: {exc}") from exc

    login = step(
        "operator.login_finger", lambda: station.login(script.operator_id, script.login_finger)
    )
    session = step(
        "resident",
        lambda: station.start_session(
            script.nik,
            script.family_card,
            operator=login,
            issuance=script.issuance,
            call_letter=script.call_letter,
            home_visit_reason=script.home_visit_reason,
            kitap=script.kitap,
        ),
    )
    progress(f"session {session.session_id}: NIK {script.nik} ({session.resident.name})")
    for i, exc_ in enumerate(script.exceptions):
        step(
            f"exceptions[{i}]",
            lambda e=exc_: session.mark_exception(e.position, e.kind, e.reason),
        )
    if script.approver is not None:
        supervisor, finger = script.approver
        step("exception_approval", lambda: session.approve_exceptions(supervisor, finger))
    if script.slaps:
        slap_device = FolderDevice("SL-SCRIPT", Modality.FINGER, d["slap"], sub_type="Slap")
        for i, slap in enumerate(script.slaps):
            outcomes = step(
                f"fingers.slaps[{i}]", lambda s=slap: session.capture_slap(s, slap_device)
            )
            progress(f"  {slap}: " + ", ".join(f"{o.position.name} q{o.quality}" for o in outcomes))
    if script.single:
        scanner = FolderDevice("FP-SCRIPT", Modality.FINGER, d["finger"])
        for i, position in enumerate(script.single):
            outcome = step(
                f"fingers.single[{i}] ({position.name.lower()})",
                lambda p=position: _capture_until_accepted(session, p, scanner, script.retries + 1),
            )
            forced = " forced" if outcome.forced else ""
            progress(f"  {position.name}: quality {outcome.quality}{forced}")
    devices = {
        "camera": lambda: FolderDevice("CAM-SCRIPT", Modality.FACE, d["camera"]),
        "iris": lambda: FolderDevice("IR-SCRIPT", Modality.IRIS, d["iris"]),
        "signature": lambda: FolderDevice("SIG-SCRIPT", Modality.SIGNATURE, d["signature"]),
    }
    made: dict[str, Any] = {}
    for i, name in enumerate(script.photos):
        kind = _photo_device(name)
        device = made.setdefault(kind, devices[kind]())
        step(f"steps.photos[{i}] ({name})", lambda n=name, dv=device: session.capture_photo(n, dv))
    if script.reverify:
        folder = d.get("verify", d.get("finger"))
        if folder is None:
            raise ScriptError(path, "devices.verify", "missing: re-verification needs a scanner")
        verifier = FolderDevice("FP-VERIFY", Modality.FINGER, folder)
        for outcome in step("steps.reverify", lambda: session.reverify(verifier)):
            progress(f"  re-verified {outcome.message}")
            if not outcome.verified:
                raise ScriptError(path, "steps.reverify", outcome.message)
    if script.confirm:
        pad = made.setdefault("signature", devices["signature"]())
        step("steps.confirm", lambda: session.confirm(pad))
    record = step("operator.signoff_finger", lambda: session.sign_off(script.signoff_finger))
    progress(f"  signed off by {record.operator_id}")
    outbox = Outbox(station, station_key=station_key, centre_key=centre_key)
    try:
        if script.review is not None:
            supervisor, finger, approve, reason = script.review
            day = station.session_info(session.session_id).finished_at.date()  # type: ignore[union-attr]
            step(
                "review",
                lambda: station.end_of_day(
                    supervisor,
                    finger,
                    day=day,
                    approve=[session.session_id] if approve else [],
                    reject={} if approve else {session.session_id: reason},
                ),
            )
        outbox.sync()
        entry = outbox.entry(session.session_id)
    finally:
        outbox.close()
    packet = None
    if entry.registration_id is not None:
        packet = station.folder / "outbox" / f"{entry.registration_id}.pkt"
        progress(f"  packet {entry.registration_id} queued ({entry.status.value})")
    else:
        progress(f"  {entry.status.value}: {entry.last_error or 'awaiting the end-of-day review'}")
    return ScriptResult(session.session_id, entry.status.value, entry.registration_id, packet)


def _register_file(file: Path, path: str) -> PopulationRegister:
    try:
        rows = json.loads(file.read_bytes())
        if not isinstance(rows, list):
            raise ValueError("expected a JSON list of residents")
        return PopulationRegister(Resident.from_dict(r) for r in rows)
    except (OSError, ValueError, CaptureError) as exc:
        raise ScriptError(path, "register.file", f"{file}: {exc}") from exc


# -- batch --------------------------------------------------------------------------------------


def scan_fvc_folder(folder: str | os.PathLike[str]) -> dict[int, list[Path]]:
    """Finger id -> its impression files (in impression order) of an FVC-style folder.

    Raises
    ------
    CaptureError
        The folder is missing or holds no ``<finger>_<impression>`` image.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise CaptureError(f"{folder}: not a folder")
    found: dict[int, list[tuple[int, Path]]] = {}
    for f in folder.iterdir():
        m = BATCH_IMAGE.match(f.name)
        if m and f.is_file():
            found.setdefault(int(m.group(1)), []).append((int(m.group(2)), f))
    if not found:
        raise CaptureError(
            f"{folder}: no image named <finger>_<impression>.tif (or .tiff, .png, .bmp)"
        )
    return {k: [p for _, p in sorted(v)] for k, v in sorted(found.items())}


def group_fingers(fingers: Mapping[int, Sequence[Any]], size: int = 10) -> list[list[int]]:
    """Consecutive runs of ``size`` distinct finger ids in numeric order (a short last run
    is left out)."""
    ids = sorted(fingers)
    return [ids[i : i + size] for i in range(0, len(ids) - size + 1, size)]


@dataclass
class BatchReport:
    """What a batch did: residents captured now, skipped (captured before), failed."""

    captured: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    left_over: list[int] = field(default_factory=list)
    queued: int = 0

    def lines(self) -> list[str]:
        """A summary for the command line."""
        out = [
            f"{len(self.captured)} captured, {len(self.skipped)} skipped (captured before), "
            f"{len(self.failed)} failed; {self.queued} packet(s) in the outbox"
        ]
        if self.left_over:
            out.append(f"fingers left over (not a set of ten): {self.left_over}")
        return out


def _batch_staff() -> OperatorRegister:
    staff = OperatorRegister()
    staff.enrol(
        "batch-op", "BATCH OPERATOR", Role.OPERATOR, {2: render_finger(BATCH_OPERATOR_SEED, 0)}
    )
    staff.enrol(
        "batch-sv",
        "BATCH SUPERVISOR",
        Role.SUPERVISOR,
        {7: render_finger(BATCH_SUPERVISOR_SEED, 0)},
    )
    return staff


def run_batch(
    folder: str | os.PathLike[str],
    station_folder: str | os.PathLike[str],
    *,
    station_id: str,
    station_key: Any,
    centre_key: Any,
    register_size: int = 1000,
    seed: int = 0,
    limit: int | None = None,
    progress: Callable[[str], None] = print,
) -> BatchReport:
    """Enrol the sets of ten fingers of an FVC-style folder (see the module docstring).

    Parameters
    ----------
    folder : path-like
        Images ``<finger>_<impression>.<tif|tiff|png|bmp>``.
    station_folder : path-like
        The station's folder (sessions, audit log, outbox); a re-run resumes there.
    station_key, centre_key
        The station's P-256 private key and the centre's public key.
    register_size, seed : int
        The synthetic population register whose adult citizens, in NIK order, are given the
        sets (the same size and seed on every run of one station).
    limit : int, optional
        Enrol at most this many sets.

    Raises
    ------
    CaptureError
        No images, or more sets than eligible residents in the register.
    """
    fingers = scan_fvc_folder(folder)
    groups = group_fingers(fingers)
    report = BatchReport(left_over=sorted(fingers)[len(groups) * 10 :])
    if limit is not None:
        groups = groups[:limit]
    register = PopulationRegister.synthetic(register_size, seed)
    station = Station(station_id, station_folder, register, _batch_staff())
    today = station.clock().date()
    eligible = [
        r
        for r in register.residents()
        if not r.kitap and (r.age_on(today) >= 17 or r.marital_status != "BELUM KAWIN")
    ]
    if len(groups) > len(eligible):
        raise CaptureError(
            f"{len(groups)} sets of ten fingers but only {len(eligible)} eligible residents in "
            f"the register of {register_size} (seed {seed}); give a larger --register-size"
        )
    by_nik: dict[str, list[str]] = {}
    for session_id in station.session_ids():
        by_nik.setdefault(station.session_info(session_id).nik, []).append(session_id)
    outbox = Outbox(station, station_key=station_key, centre_key=centre_key)
    try:
        outbox.sync()  # seals anything a crash left approved but unsealed
        for index, (ids, resident) in enumerate(zip(groups, eligible, strict=False)):
            label = f"[{index + 1}/{len(groups)}] NIK {resident.nik} fingers {ids[0]}..{ids[-1]}"
            started = time.perf_counter()
            sessions = by_nik.get(resident.nik, [])
            done = [s for s in sessions if station.session_info(s).state == "finished"]
            if done:
                _approve(station, done[-1])
                outbox.sync()
                report.skipped.append(resident.nik)
                progress(f"{label}: skipped, captured before in session {done[-1]}")
                continue
            try:
                session = (
                    station.resume(sessions[-1])
                    if sessions
                    else station.start_session(
                        resident.nik,
                        resident.family_card,
                        operator=station.login("batch-op", render_finger(BATCH_OPERATOR_SEED, 1)),
                        issuance="regular",
                    )
                )
                _batch_session(
                    session, {p: fingers[i] for p, i in zip(range(1, 11), ids, strict=True)}, index
                )
                _approve(station, session.session_id)
                outbox.sync()
            except CaptureError as exc:
                report.failed.append(resident.nik)
                progress(f"{label}: failed: {exc}")
                continue
            entry = outbox.entry(session.session_id)
            report.captured.append(resident.nik)
            progress(
                f"{label}: packet {entry.registration_id} queued "
                f"({time.perf_counter() - started:.1f} s)"
            )
        report.queued = sum(1 for e in outbox.entries() if e.registration_id is not None)
    finally:
        outbox.close()
    return report


def _batch_session(session: CaptureSession, files: Mapping[int, list[Path]], index: int) -> None:
    """Capture what the session still lacks: ten flats, photos, re-verification, sign-off."""
    scanner = FolderDevice("FP-BATCH", Modality.FINGER, {p: list(v) for p, v in files.items()})
    tries = session.options.retries + 1
    for position in range(1, 11):
        if session.finger(position) is None:
            _capture_until_accepted(session, FingerPosition(position), scanner, tries)
    seed = 700_000 + index
    kinds = {p.kind.value for p in session.photos}
    camera = SyntheticDevice("CAM-BATCH", Modality.FACE, seed)
    iris = SyntheticDevice("IR-BATCH", Modality.IRIS, seed)
    pad = SyntheticDevice("SIG-BATCH", Modality.SIGNATURE, seed)
    for name, device in (
        ("face", camera),
        ("signature", pad),
        ("left_iris", iris),
        ("right_iris", iris),
    ):
        if name not in kinds:
            session.capture_photo(name, device)
    if any("not verified again" in problem for problem in session.missing()):
        for outcome in session.reverify(scanner):
            if not outcome.verified:
                raise CaptureError(f"re-verification failed: {outcome.message}")
    if "confirmation" not in kinds:
        session.confirm(pad)
    session.sign_off(render_finger(BATCH_OPERATOR_SEED, 2))


def _approve(station: Station, session_id: str) -> None:
    """The batch supervisor approves a signed-off session not yet reviewed."""
    info = station.session_info(session_id)
    if info.review is None and info.finished_at is not None:
        station.end_of_day(
            "batch-sv",
            render_finger(BATCH_SUPERVISOR_SEED, 1),
            day=info.finished_at.date(),
            approve=[session_id],
        )
