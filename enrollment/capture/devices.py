"""Biometric devices behind one small protocol, modelled on MOSIP's biometric device
specification (SBI / MDS 0.9.5).

A :class:`BiometricDevice` answers four calls: :meth:`~BiometricDevice.info` (what it is,
its sub-ids and status), :meth:`~BiometricDevice.status` (:class:`DeviceStatus`: ready,
busy, not ready, not registered), :meth:`~BiometricDevice.capture` (a
:class:`CaptureRequest`: sub-id, requested quality, timeout, fingers declared missing) and
:meth:`~BiometricDevice.preview` (one live frame). Failures are :class:`~.errors.DeviceError`
with a numbered :class:`DeviceErrorCode`.

Three kinds ship:

- :class:`FolderDevice` serves images from folders (one folder per sub-id, files in name
  order, one per capture, the last repeated): a vendor's captures, or test sets.
- :class:`SyntheticDevice` draws seeded images (:mod:`enrollment.capture.synthetic`) of the
  person presented to it, and can be told to misbehave (busy, not ready, timeout, a corrupt
  or a poor image) as MOSIP's mock device can: for training stations and for tests.
- :class:`HttpDevice` talks to a device service on 127.0.0.1 (ports 4501-4600) with the
  specification's verbs ``MOSIPDISC``, ``MOSIPDINFO``, ``RCAPTURE`` and ``STREAM``, so a
  vendor's service plugs in; :func:`discover` finds the services on those ports, and
  :class:`enrollment.capture.service.DeviceService` is the project's own.

Sub-ids follow the specification: a single-finger scanner's sub-id is the ISO finger
position (1-10); a slap scanner's 1 = left slap, 2 = right slap, 3 = two thumbs; an iris
camera's 1 = left, 2 = right; a face camera's 0 = face and (this project's) 1 / 2 = the left /
right hand photos of the exemption path; a signature pad's 0. The wire format is a
simplification: the specification wraps each biometric in a JWT signed by the device's key;
here the device returns the image with a hash chained to the previous capture
(``sha256(previous hash + sha256(image))``), which the client checks.

The error code numbers follow the specification's table as far as this project knows it
(check them against the specification before integrating a certified device).

Examples
--------
>>> device = SyntheticDevice("FP-1", Modality.FINGER, seed=5)
>>> device.status().value
'Ready'
>>> shot = device.capture(CaptureRequest(sub_id=2))
>>> shot.image[:4], shot.sub_id
(b'\\x89PNG', 2)
>>> device.inject("busy")
>>> device.capture(CaptureRequest(sub_id=2))
Traceback (most recent call last):
...
enrollment.capture.errors.DeviceBusy: device FP-1 is busy (111): simulated: another capture ...
"""

from __future__ import annotations

import base64
import enum
import hashlib
import http.client
import json
import os
import threading
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from afis.template import FingerPosition
from enrollment.capture import constants as C
from enrollment.capture import synthetic
from enrollment.capture.errors import (
    CaptureError,
    CaptureTimeout,
    CorruptImage,
    DeviceBusy,
    DeviceError,
    DeviceNotReady,
)

__all__ = [
    "SLAP_SUB_IDS",
    "BiometricDevice",
    "CaptureRequest",
    "DeviceCapture",
    "DeviceErrorCode",
    "DeviceInfo",
    "DeviceStatus",
    "FolderDevice",
    "HttpDevice",
    "Modality",
    "SyntheticDevice",
    "chain_hash",
    "device_error",
    "discover",
]

#: The specification's version this protocol is modelled on.
SPEC_VERSION = "0.9.5"


class Modality(str, enum.Enum):
    """What a device captures (the specification's ``type``; signature is this project's)."""

    FINGER = "Finger"
    FACE = "Face"
    IRIS = "Iris"
    SIGNATURE = "Signature"


class DeviceStatus(str, enum.Enum):
    """A device's state, as the specification spells it."""

    READY = "Ready"
    BUSY = "Busy"
    NOT_READY = "Not Ready"
    NOT_REGISTERED = "Not Registered"


class DeviceErrorCode(enum.IntEnum):
    """Numbered errors of a device call."""

    SUCCESS = 0
    NOT_REGISTERED = 100
    NO_BIOMETRIC = 101
    TECHNICAL_ERROR = 102  # also: an image that does not decode
    TAMPER = 103
    WRONG_ORIENTATION = 105
    NOT_FOUND = 106
    COUNT_NOT_SUPPORTED = 109
    NOT_READY = 110
    BUSY = 111
    INVALID_REQUEST = 500
    INVALID_SUB_ID = 501
    TIMEOUT = 701


#: Sub-ids of a slap scanner and the slap each captures.
SLAP_SUB_IDS = {1: "left_slap", 2: "right_slap", 3: "two_thumbs"}


def device_error(device_id: str, code: int, message: str) -> DeviceError:
    """The typed error for a numbered device error (busy, not ready, timeout, corrupt image,
    or a plain :class:`DeviceError`).

    Examples
    --------
    >>> type(device_error("FP-1", 110, "cable")).__name__
    'DeviceNotReady'
    """
    if code == DeviceErrorCode.BUSY:
        return DeviceBusy(device_id, message)
    if code in (DeviceErrorCode.NOT_READY, DeviceErrorCode.NOT_REGISTERED):
        return DeviceNotReady(device_id, message)
    if code == DeviceErrorCode.TIMEOUT:
        return CaptureTimeout(device_id, _seconds(message))
    if code == DeviceErrorCode.TECHNICAL_ERROR:
        return CorruptImage(device_id, message)
    try:
        name = DeviceErrorCode(code).name.lower().replace("_", " ")
    except ValueError:
        name = "error"
    return DeviceError(device_id, code, f"failed ({code}, {name}): {message}")


def _seconds(message: str) -> float:
    try:
        return float(message.split()[0])
    except (IndexError, ValueError):
        return 0.0


def chain_hash(previous: str, image: bytes) -> str:
    """The capture's hash chained to the previous one (hex SHA-256).

    Examples
    --------
    >>> len(chain_hash("", b"x"))
    64
    """
    return hashlib.sha256(previous.encode() + hashlib.sha256(image).digest()).hexdigest()


@dataclass(frozen=True)
class DeviceInfo:
    """What a device is (the specification's device info, flattened)."""

    device_id: str
    modality: Modality
    sub_type: str  # "Single", "Slap", "Double", "Full face", "Pad"
    sub_ids: tuple[int, ...]
    status: DeviceStatus
    make: str = "nusafis"
    model: str = ""
    serial: str = ""
    spec_version: str = SPEC_VERSION

    def to_dict(self) -> dict[str, Any]:
        """The info as the wire's JSON object."""
        return {
            "deviceId": self.device_id,
            "deviceStatus": self.status.value,
            "deviceSubId": list(self.sub_ids),
            "specVersion": [self.spec_version],
            "digitalId": {
                "type": self.modality.value,
                "deviceSubType": self.sub_type,
                "make": self.make,
                "model": self.model,
                "serialNo": self.serial,
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeviceInfo:
        """The inverse of :meth:`to_dict`; :class:`~.errors.CaptureError` on a bad object."""
        try:
            digital = data["digitalId"]
            return cls(
                device_id=str(data["deviceId"]),
                modality=Modality(digital["type"]),
                sub_type=str(digital["deviceSubType"]),
                sub_ids=tuple(int(s) for s in data["deviceSubId"]),
                status=DeviceStatus(data["deviceStatus"]),
                make=str(digital.get("make", "")),
                model=str(digital.get("model", "")),
                serial=str(digital.get("serialNo", "")),
                spec_version=str((data.get("specVersion") or [SPEC_VERSION])[0]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CaptureError(f"not a device info object: {exc}") from exc


@dataclass(frozen=True)
class CaptureRequest:
    """One capture: which sub-id, the quality wanted (1-100), how long to wait for it (s),
    the finger positions declared missing (a slap then holds fewer fingers).

    Examples
    --------
    >>> CaptureRequest(sub_id=2, requested_quality=101)
    Traceback (most recent call last):
    ...
    ValueError: requested_quality must lie in 1..100, got 101
    """

    sub_id: int
    requested_quality: int = C.QUALITY_FLOOR
    timeout: float = C.DEFAULT_CAPTURE_TIMEOUT
    exceptions: tuple[int, ...] = ()
    transaction_id: str = ""
    previous_hash: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.sub_id, bool) or not isinstance(self.sub_id, int):
            raise TypeError(f"sub_id must be an int, got {type(self.sub_id).__name__}")
        if not 1 <= self.requested_quality <= 100:
            raise ValueError(f"requested_quality must lie in 1..100, got {self.requested_quality}")
        if not 0 < self.timeout <= 600:
            raise ValueError(f"timeout must lie in (0, 600] seconds, got {self.timeout}")
        object.__setattr__(
            self, "exceptions", tuple(int(FingerPosition(int(p))) for p in self.exceptions)
        )

    def to_dict(self) -> dict[str, Any]:
        """The request as the wire's ``RCAPTURE`` body."""
        return {
            "purpose": "Registration",
            "specVersion": SPEC_VERSION,
            "timeout": round(self.timeout * 1000),
            "transactionId": self.transaction_id,
            "bio": [
                {
                    "deviceSubId": self.sub_id,
                    "requestedScore": self.requested_quality,
                    "exception": list(self.exceptions),
                    "previousHash": self.previous_hash,
                }
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CaptureRequest:
        """The inverse of :meth:`to_dict` (raises ValueError / TypeError / KeyError)."""
        bio = data["bio"][0]
        return cls(
            sub_id=int(bio["deviceSubId"]),
            requested_quality=int(bio.get("requestedScore", C.QUALITY_FLOOR)),
            timeout=float(data.get("timeout", C.DEFAULT_CAPTURE_TIMEOUT * 1000)) / 1000,
            exceptions=tuple(int(p) for p in bio.get("exception", ())),
            transaction_id=str(data.get("transactionId", "")),
            previous_hash=str(bio.get("previousHash", "")),
        )


@dataclass(frozen=True)
class DeviceCapture:
    """What a device returned: the encoded image as captured, and its chained hash."""

    device_id: str
    modality: Modality
    sub_id: int
    image: bytes
    ppi: float | None = None  # None: as the image file says (or 500 when it says nothing)
    quality: int | None = None  # the device's own score, if it reports one
    hash: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.image, bytes):
            raise TypeError("DeviceCapture.image must be bytes")


@runtime_checkable
class BiometricDevice(Protocol):
    """The protocol every device implements."""

    def info(self) -> DeviceInfo:
        """What the device is, with its current status."""
        ...

    def status(self) -> DeviceStatus:
        """Ready, busy, not ready or not registered."""
        ...

    def capture(self, request: CaptureRequest) -> DeviceCapture:
        """Capture one image; raises :class:`~.errors.DeviceError` on failure."""
        ...

    def preview(self, sub_id: int) -> bytes:
        """One live frame (PNG) of what the sensor sees now."""
        ...


_SUB_TYPES = {
    Modality.FINGER: "Single",
    Modality.FACE: "Full face",
    Modality.IRIS: "Double",
    Modality.SIGNATURE: "Pad",
}
_SUB_IDS = {
    ("Finger", "Single"): tuple(range(1, 11)),
    ("Finger", "Slap"): (1, 2, 3),
    ("Face", "Full face"): (0, 1, 2),
    ("Iris", "Double"): (1, 2),
    ("Signature", "Pad"): (0,),
}
#: Folder names a :class:`FolderDevice` also accepts for sub-ids.
SUB_ID_NAMES = {
    **{p.name.lower(): int(p) for p in FingerPosition if p != FingerPosition.UNKNOWN},
    **{name: sub for sub, name in SLAP_SUB_IDS.items()},
    "face": 0,
    "left_hand": 1,
    "right_hand": 2,
    "left_iris": 1,
    "right_iris": 2,
    "signature": 0,
}


class _LocalDevice:
    """What the in-process devices share: one capture at a time (a second caller is told the
    device is busy), a hash chain, the sub-ids of the device's kind."""

    def __init__(self, device_id: str, modality: Modality | str, sub_type: str | None) -> None:
        if not isinstance(device_id, str) or not device_id:
            raise CaptureError("a device needs a non-empty device_id")
        self.device_id = device_id
        self.modality = Modality(modality)
        self.sub_type = sub_type or _SUB_TYPES[self.modality]
        key = (self.modality.value, self.sub_type)
        if key not in _SUB_IDS:
            raise CaptureError(f"no {self.modality.value} device of sub-type {self.sub_type!r}")
        self.sub_ids = _SUB_IDS[key]
        self._lock = threading.Lock()
        self._ppi: float | None = None

    def _ready(self) -> str:
        """Why the device is not ready ('' when it is)."""
        return ""

    def status(self) -> DeviceStatus:
        if self._ready():
            return DeviceStatus.NOT_READY
        return DeviceStatus.BUSY if self._lock.locked() else DeviceStatus.READY

    def info(self) -> DeviceInfo:
        return DeviceInfo(
            self.device_id,
            self.modality,
            self.sub_type,
            self.sub_ids,
            self.status(),
            model=type(self).__name__,
        )

    def capture(self, request: CaptureRequest) -> DeviceCapture:
        if not self._lock.acquire(blocking=False):
            raise DeviceBusy(self.device_id)
        try:
            why = self._ready()
            if why:
                raise DeviceNotReady(self.device_id, why)
            if request.sub_id not in self.sub_ids:
                raise DeviceError(
                    self.device_id,
                    DeviceErrorCode.INVALID_SUB_ID,
                    f"has no sub-id {request.sub_id} (it has {list(self.sub_ids)})",
                )
            image, quality = self._capture(request)
        finally:
            self._lock.release()
        return DeviceCapture(
            self.device_id,
            self.modality,
            request.sub_id,
            image,
            ppi=self._ppi,
            quality=quality,
            hash=chain_hash(request.previous_hash, image),
        )

    def _capture(self, request: CaptureRequest) -> tuple[bytes, int | None]:
        raise NotImplementedError


class FolderDevice(_LocalDevice):
    """A device that serves image files: per sub-id a list of files, one per capture in
    order, the last one repeated once the list is used up.

    Parameters
    ----------
    device_id : str
    modality : Modality
    images : mapping or path
        Sub-id -> image files; or a folder with one subfolder per sub-id, named by number
        (``2``) or name (``right_index``, ``left_slap``, ``face``, ``left_iris``,
        ``signature``), its files taken in name order. A folder that does not exist makes
        the device not ready (unplugged).
    sub_type : str, optional
        ``"Slap"`` for a slap scanner; the modality's default otherwise.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from enrollment.capture.synthetic import png, render_finger
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (root / "right_index").mkdir(), (root / "right_index" / "a.png").write_bytes(
    ...     png(render_finger(1, 0)))
    >>> device = FolderDevice("FP-2", Modality.FINGER, root)
    >>> device.capture(CaptureRequest(sub_id=2)).image[:4]
    b'\\x89PNG'
    >>> FolderDevice("FP-3", Modality.FINGER, root / "unplugged").status().value
    'Not Ready'
    """

    def __init__(
        self,
        device_id: str,
        modality: Modality | str,
        images: Mapping[int, Sequence[str | os.PathLike[str]]] | str | os.PathLike[str],
        *,
        sub_type: str | None = None,
    ) -> None:
        super().__init__(device_id, modality, sub_type)
        self._root: Path | None = None
        self._files: dict[int, list[Path]] = {}
        if isinstance(images, Mapping):
            self._files = {int(k): [Path(p) for p in v] for k, v in images.items()}
        else:
            self._root = Path(images)
        self._served: dict[int, int] = {}

    def _ready(self) -> str:
        if self._root is not None and not self._root.is_dir():
            return f"its image folder {self._root} is missing"
        return ""

    def _list(self, sub_id: int) -> list[Path]:
        if self._root is None:
            return self._files.get(sub_id, [])
        names = {str(sub_id)} | {n for n, s in SUB_ID_NAMES.items() if s == sub_id}
        return sorted(
            f
            for d in self._root.iterdir()
            if d.is_dir() and d.name in names
            for f in d.iterdir()
            if f.is_file() and not f.name.startswith(".")
        )

    def _capture(self, request: CaptureRequest) -> tuple[bytes, int | None]:
        files = self._list(request.sub_id)
        if not files:
            raise DeviceError(
                self.device_id,
                DeviceErrorCode.NO_BIOMETRIC,
                f"detected nothing (101) for sub-id {request.sub_id}: no image to serve",
            )
        index = min(self._served.get(request.sub_id, 0), len(files) - 1)
        self._served[request.sub_id] = index + 1
        try:
            return files[index].read_bytes(), None
        except OSError as exc:
            raise DeviceError(
                self.device_id,
                DeviceErrorCode.TECHNICAL_ERROR,
                f"cannot read {files[index]}: {exc}",
            ) from exc

    def preview(self, sub_id: int) -> bytes:
        files = self._list(sub_id)
        if not files:
            raise DeviceError(self.device_id, DeviceErrorCode.NO_BIOMETRIC, "has no frame")
        return files[min(self._served.get(sub_id, 0), len(files) - 1)].read_bytes()


#: Faults a :class:`SyntheticDevice` can be told to show on its next captures.
FAULTS = ("busy", "not_ready", "timeout", "corrupt", "poor", "no_biometric")


class SyntheticDevice(_LocalDevice):
    """A device that draws seeded synthetic images of the person presented to it.

    Parameters
    ----------
    device_id : str
    modality : Modality
    seed : int
        The person presented first (:meth:`present` changes it).
    missing : iterable of int
        Finger positions the person lacks (a slap then shows fewer fingers).
    sub_type : str, optional
        ``"Slap"`` for a slap scanner.

    Notes
    -----
    Finger ``p`` of person ``seed`` is :func:`~.synthetic.render_finger` of
    ``seed * 10 + p``; each capture of a sub-id is a new impression. :meth:`inject` queues
    faults for the next captures: ``busy``, ``not_ready``, ``timeout`` (nothing presented
    within the timeout, reported at once), ``corrupt`` (truncated PNG bytes), ``poor`` (an
    image below the quality floor), ``no_biometric``.
    """

    def __init__(
        self,
        device_id: str,
        modality: Modality | str,
        seed: int,
        *,
        missing: Iterable[int] = (),
        sub_type: str | None = None,
    ) -> None:
        super().__init__(device_id, modality, sub_type)
        self._ppi = 500.0
        self._faults: deque[str] = deque()
        self._fault = ""
        self.present(seed, missing=missing)

    def present(self, seed: int, *, missing: Iterable[int] = ()) -> None:
        """A new person steps up (their impressions count from 0 again)."""
        self.seed = int(seed)
        self.missing = frozenset(int(FingerPosition(int(p))) for p in missing)
        self._impressions: dict[int, int] = {}

    def inject(self, *faults: str) -> None:
        """Queue faults for the next captures, one a capture."""
        for fault in faults:
            if fault not in FAULTS:
                raise ValueError(f"unknown fault {fault!r}; one of {FAULTS}")
            self._faults.append(fault)

    def capture(self, request: CaptureRequest) -> DeviceCapture:
        fault = self._faults.popleft() if self._faults else ""
        if fault == "busy":
            raise DeviceBusy(self.device_id, "simulated: another capture is running")
        if fault == "not_ready":
            raise DeviceNotReady(self.device_id, "simulated: sensor unplugged")
        if fault == "timeout":
            raise CaptureTimeout(self.device_id, request.timeout)
        if fault == "no_biometric":
            raise DeviceError(
                self.device_id, DeviceErrorCode.NO_BIOMETRIC, "detected nothing (101)"
            )
        self._fault = fault
        return super().capture(request)

    def _finger(self, position: int, impression: int, poor: bool) -> Any:
        return synthetic.render_finger(self.seed * 10 + position, impression, poor=poor)

    def _render(self, sub_id: int, impression: int, poor: bool) -> bytes:
        if self.modality == Modality.FINGER:
            if self.sub_type == "Slap":
                positions = [
                    int(p)
                    for p in C.SLAP_POSITIONS[SLAP_SUB_IDS[sub_id]]
                    if int(p) not in self.missing
                ]
                fingers = [self._finger(p, impression, poor) for p in positions]
                return synthetic.png(synthetic.compose_slap(fingers, seed=impression))
            if sub_id in self.missing:
                raise DeviceError(
                    self.device_id, DeviceErrorCode.NO_BIOMETRIC, "detected nothing (101)"
                )
            return synthetic.png(self._finger(sub_id, impression, poor))
        if self.modality == Modality.FACE:
            if sub_id == 0:
                return synthetic.png(synthetic.render_face(self.seed))
            return synthetic.png(
                synthetic.render_hand(self.seed, "left" if sub_id == 1 else "right")
            )
        if self.modality == Modality.IRIS:
            return synthetic.png(synthetic.render_iris(self.seed * 2 + sub_id))
        return synthetic.png(synthetic.render_signature(self.seed + impression))

    def _capture(self, request: CaptureRequest) -> tuple[bytes, int | None]:
        impression = self._impressions.get(request.sub_id, 0)
        self._impressions[request.sub_id] = impression + 1
        image = self._render(request.sub_id, impression, self._fault == "poor")
        if self._fault == "corrupt":
            image = image[: len(image) // 3]
        return image, None

    def preview(self, sub_id: int) -> bytes:
        return self._render(sub_id, self._impressions.get(sub_id, 0), poor=False)


# -- HTTP ------------------------------------------------------------------------------------


def _split_url(url: str) -> tuple[str, int]:
    if not url.startswith("http://"):
        raise CaptureError(f"a device service URL starts with http://, got {url!r}")
    host, _, port = url[len("http://") :].rstrip("/").partition(":")
    if host not in ("127.0.0.1", "localhost"):
        raise CaptureError(f"device services run on 127.0.0.1 only, got {host!r}")
    try:
        return host, int(port)
    except ValueError:
        raise CaptureError(f"no port in device service URL {url!r}") from None


def _call(url: str, verb: str, path: str, body: Any, timeout: float, device_id: str) -> Any:
    """One request to a device service; its JSON answer, or a typed device error."""
    host, port = _split_url(url)
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        payload = json.dumps(body).encode()
        connection.request(verb, path, payload, {"Content-Type": "application/json"})
        response = connection.getresponse()
        data = response.read(C.MAX_DEVICE_RESPONSE + 1)
    except TimeoutError:
        raise CaptureTimeout(device_id, timeout) from None
    except OSError as exc:
        raise DeviceNotReady(device_id, f"no device service at {url}: {exc}") from exc
    finally:
        connection.close()
    if len(data) > C.MAX_DEVICE_RESPONSE:
        raise DeviceError(device_id, DeviceErrorCode.TECHNICAL_ERROR, "sent an oversized answer")
    if response.status != 200:
        raise DeviceError(
            device_id, DeviceErrorCode.INVALID_REQUEST, f"answered HTTP {response.status}"
        )
    if verb == "STREAM":
        return data
    try:
        return json.loads(data)
    except ValueError as exc:
        raise CorruptImage(device_id, f"the service's answer is not JSON ({exc})") from exc


def _raise_for(answer: Mapping[str, Any], device_id: str) -> None:
    error = answer.get("error") or {}
    code = int(error.get("errorCode", 0))
    if code:
        raise device_error(device_id, code, str(error.get("errorInfo", "")))


class HttpDevice:
    """A device behind a device service on 127.0.0.1 (a vendor's, or
    :class:`~enrollment.capture.service.DeviceService`).

    Parameters
    ----------
    url : str
        ``http://127.0.0.1:<port>``.
    device_id : str
        The device's id at that service (from :func:`discover`).
    call_timeout : float
        Seconds allowed for a non-capture call; a capture is allowed its request's timeout
        plus this much.
    """

    def __init__(self, url: str, device_id: str, *, call_timeout: float = 2.0) -> None:
        _split_url(url)
        self.url, self.device_id, self.call_timeout = url.rstrip("/"), device_id, call_timeout

    def __repr__(self) -> str:
        return f"HttpDevice({self.url!r}, {self.device_id!r})"

    def info(self) -> DeviceInfo:
        answer = _call(
            self.url,
            "MOSIPDINFO",
            "/info",
            {"deviceId": self.device_id},
            self.call_timeout,
            self.device_id,
        )
        _raise_for(answer, self.device_id)
        return DeviceInfo.from_dict(answer["deviceInfo"])

    def status(self) -> DeviceStatus:
        try:
            return self.info().status
        except DeviceError:
            return DeviceStatus.NOT_READY

    def capture(self, request: CaptureRequest) -> DeviceCapture:
        body = request.to_dict()
        body["bio"][0]["deviceId"] = self.device_id
        answer = _call(
            self.url,
            "RCAPTURE",
            "/capture",
            body,
            request.timeout + self.call_timeout,
            self.device_id,
        )
        try:
            biometric = answer["biometrics"][0]
            _raise_for(biometric, self.device_id)
            data = biometric["data"]
            image = base64.b64decode(data["bioValue"], validate=True)
            quality = data.get("qualityScore")
            capture = DeviceCapture(
                self.device_id,
                Modality(data["bioType"]),
                int(data["bioSubType"]),
                image,
                ppi=None if data.get("ppi") is None else float(data["ppi"]),
                quality=None if quality is None else int(quality),
                hash=str(biometric["hash"]),
            )
        except DeviceError:
            raise
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise CorruptImage(self.device_id, f"malformed capture answer ({exc})") from exc
        if capture.hash != chain_hash(request.previous_hash, image):
            raise CorruptImage(
                self.device_id, "the image does not match its hash (altered in transit)"
            )
        return capture

    def preview(self, sub_id: int) -> bytes:
        return _call(
            self.url,
            "STREAM",
            "/stream",
            {"deviceId": self.device_id, "deviceSubId": sub_id},
            self.call_timeout,
            self.device_id,
        )


def discover(
    ports: Iterable[int] = C.DEVICE_PORTS,
    *,
    modality: Modality | None = None,
    timeout: float = 0.5,
) -> list[tuple[HttpDevice, DeviceInfo]]:
    """The devices of the device services listening on 127.0.0.1 at ``ports``
    (``MOSIPDISC``), with their info; ports where nothing listens are skipped.

    Examples
    --------
    >>> discover(ports=[1], timeout=0.1)
    []
    """
    found = []
    for port in ports:
        url = f"http://127.0.0.1:{int(port)}"
        body = {"type": modality.value if modality else "Biometric Device"}
        try:
            answer = _call(url, "MOSIPDISC", "/device", body, timeout, "discovery")
        except DeviceError:
            continue
        for row in answer if isinstance(answer, list) else []:
            info = DeviceInfo.from_dict(row)
            found.append((HttpDevice(url, info.device_id), info))
    return found
