"""The engine's own fingerprint template type and its compact binary format.

A :class:`Template` holds the minutiae (and optional singular points) of one finger
impression on a pixel grid of known size and resolution. It is immutable: every array is a
read-only, C-contiguous copy owned by the template, and the constructor validates and
normalises every field, so a template that exists is always well-formed and always
serialisable.

Binary format (version 1), all integers little-endian::

    offset  size  field
    0       4     magic b"NAFT"
    4       2     format version (uint16, = 1)
    6       2     header length in bytes (uint16, >= 28; 28 in version 1)
    8       2     width (uint16, 1..65535)
    10      2     height (uint16, 1..65535)
    12      4     resolution, hundredths of a ppi (uint32, > 0)
    16      4     source resolution, hundredths of a ppi (uint32, > 0)
    20      1     image quality (uint8, 0..100)
    21      1     finger position (uint8, ISO/IEC 19794-2 code 0..10)
    22      2     minutia count N (uint16)
    24      1     singular point count M (uint8)
    25      3     reserved, zero
    H       8*N   minutiae: x u16, y u16, direction u16 (units of 2*pi/65536), type u8,
                  quality u8
    H+8N    5*M   singular points: x u16, y u16, type u8
    H+8N+5M 4     CRC-32 (zlib.crc32) of every preceding byte (uint32)

``H`` is the header length read from offset 6; header bytes beyond the 28 defined here are
skipped by this reader (room for compatible extensions).
"""

from __future__ import annotations

import enum
import math
import operator
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from afis.errors import TemplateError

__all__ = [
    "TEMPLATE_FORMAT_VERSION",
    "FingerPosition",
    "MinutiaType",
    "SingularType",
    "Template",
]

TEMPLATE_FORMAT_VERSION = 1
"""Version of the binary format written by :meth:`Template.to_bytes`."""

_MAGIC = b"NAFT"
_ISO_MAGIC = b"FMR\x00"
# magic, version, header length, width, height, resolution, source resolution,
# image quality, finger position, minutia count, singular count, reserved
_HEADER = struct.Struct("<4sHHHHIIBBHB3s")
_HEADER_SIZE = _HEADER.size  # 28
_CRC_SIZE = 4
_MINUTIA_DTYPE = np.dtype(
    [("x", "<u2"), ("y", "<u2"), ("direction", "<u2"), ("type", "u1"), ("quality", "u1")]
)
_SINGULAR_DTYPE = np.dtype([("x", "<u2"), ("y", "<u2"), ("type", "u1")])
_MINUTIAE_VIEW_DTYPE = np.dtype(
    [("x", "u2"), ("y", "u2"), ("direction", "f4"), ("type", "u1"), ("quality", "u1")]
)

_MAX_MINUTIAE = 0xFFFF
_MAX_SINGULAR = 0xFF
_MAX_CENTI_PPI = 0xFFFFFFFF
_TWO_PI = 2.0 * math.pi
_DIRECTION_STEPS = 65536
_DIRECTION_UNIT = _TWO_PI / _DIRECTION_STEPS

assert _MINUTIA_DTYPE.itemsize == 8 and _SINGULAR_DTYPE.itemsize == 5
assert _HEADER_SIZE == 28


class MinutiaType(enum.IntEnum):
    """Kind of a minutia (codes as in ISO/IEC 19794-2)."""

    OTHER = 0
    ENDING = 1
    BIFURCATION = 2


class SingularType(enum.IntEnum):
    """Kind of a singular point."""

    CORE = 1
    DELTA = 2


class FingerPosition(enum.IntEnum):
    """Finger position codes of ISO/IEC 19794-2."""

    UNKNOWN = 0
    RIGHT_THUMB = 1
    RIGHT_INDEX = 2
    RIGHT_MIDDLE = 3
    RIGHT_RING = 4
    RIGHT_LITTLE = 5
    LEFT_THUMB = 6
    LEFT_INDEX = 7
    LEFT_MIDDLE = 8
    LEFT_RING = 9
    LEFT_LITTLE = 10


_MINUTIA_TYPE_CODES = np.array(sorted(int(m) for m in MinutiaType), dtype=np.uint8)
_SINGULAR_TYPE_CODES = np.array(sorted(int(s) for s in SingularType), dtype=np.uint8)


def _code_table(codes: np.ndarray) -> np.ndarray:
    """Read-only 256-entry table, True at the valid uint8 ``codes``: one lookup checks a
    template's codes (np.isin costs tens of microseconds on a few dozen)."""
    table = np.zeros(256, dtype=bool)
    table[codes] = True
    table.setflags(write=False)
    return table


_MINUTIA_TYPE_VALID = _code_table(_MINUTIA_TYPE_CODES)
_SINGULAR_TYPE_VALID = _code_table(_SINGULAR_TYPE_CODES)
_FINGER_POSITIONS = tuple(FingerPosition)  # by code: codes are 0..10
_MAX_FINGER = len(_FINGER_POSITIONS) - 1
_MAX_MINUTIA_TYPE = int(max(_MINUTIA_TYPE_CODES))
assert (_MINUTIA_TYPE_CODES == np.arange(len(_MINUTIA_TYPE_CODES))).all()  # 0..max, no gaps
assert tuple(int(f) for f in _FINGER_POSITIONS) == tuple(range(len(_FINGER_POSITIONS)))


# ----------------------------------------------------------------------------- helpers


def _int_field(name: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise TemplateError(f"{name} must be an integer, not a bool")
    try:
        v = operator.index(value)
    except TypeError:
        raise TemplateError(
            f"{name} must be an integer, not {type(value).__name__}: {value!r}"
        ) from None
    if not lo <= v <= hi:
        raise TemplateError(f"{name} must be in {lo}..{hi}, got {v}")
    return int(v)


def _centi_ppi(name: str, value: Any) -> int:
    """Resolution in ppi -> integer hundredths of a ppi (the stored representation)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise TemplateError(f"{name} must be a number (ppi), not {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v) or v <= 0.0:
        raise TemplateError(f"{name} must be a finite positive ppi, got {value!r}")
    k = round(v * 100.0)
    if not 1 <= k <= _MAX_CENTI_PPI:
        raise TemplateError(
            f"{name} must be in 0.01..{_MAX_CENTI_PPI / 100:.2f} ppi, got {value!r}"
        )
    return k


def _resolution_from_centi(k: int) -> float:
    return k / 100.0


def _as_1d(name: str, value: Any) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and other oddities
        raise TemplateError(f"{name} cannot be converted to an array: {exc}") from None
    if arr.ndim != 1:
        raise TemplateError(f"{name} must be 1-D, got shape {arr.shape}")
    return arr


#: Largest value of the unsigned integer types templates hold (np.iinfo is slow to ask).
_INT_MAX = {np.dtype(np.uint8): 0xFF, np.dtype(np.uint16): 0xFFFF}


def _int_array(name: str, value: Any, dtype: np.dtype, hi: int | None = None) -> np.ndarray:
    """Coerce to a fresh read-only C-contiguous integer array, refusing values that don't fit."""
    arr = _as_1d(name, value)
    dtype = np.dtype(dtype)
    dtype_max = _INT_MAX.get(dtype)
    if dtype_max is None:
        dtype_max = int(np.iinfo(dtype).max)
    top = dtype_max if hi is None else hi
    if arr.size == 0:
        if arr.dtype.kind not in "iuf":
            raise TemplateError(f"{name} must hold integers, got dtype {arr.dtype}")
        out = np.empty(0, dtype=dtype)
    elif arr.dtype == dtype and arr.dtype.kind == "u":  # the common case: only the top to check
        if top < dtype_max and int(arr.max()) > top:
            raise TemplateError(f"{name} must be in 0..{top}, got {int(arr.max())}")
        out = np.array(arr, dtype=dtype, order="C", copy=True)
    elif arr.dtype.kind in "iu":
        lo_v, hi_v = int(arr.min()), int(arr.max())
        if lo_v < 0 or hi_v > top:
            bad = lo_v if lo_v < 0 else hi_v
            raise TemplateError(f"{name} must be in 0..{top}, got {bad}")
        out = arr.astype(dtype, order="C", copy=True)
    elif arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)):
            raise TemplateError(f"{name} must be finite integers, got NaN or infinity")
        if not np.all(arr == np.floor(arr)):
            raise TemplateError(f"{name} must hold integers, got non-integral values")
        lo_f, hi_f = float(arr.min()), float(arr.max())
        if lo_f < 0 or hi_f > top:
            bad = lo_f if lo_f < 0 else hi_f
            raise TemplateError(f"{name} must be in 0..{top}, got {bad:g}")
        out = arr.astype(dtype, order="C", copy=True)
    else:
        raise TemplateError(f"{name} must hold integers, got dtype {arr.dtype}")
    out.setflags(write=False)
    return out


def _quantize_direction(value: Any) -> np.ndarray:
    """Directions (radians, any finite value) -> float32 on the 2*pi/65536 grid, [0, 2*pi)."""
    arr = _as_1d("direction", value)
    if arr.dtype.kind not in "iuf":
        raise TemplateError(f"direction must hold real numbers, got dtype {arr.dtype}")
    d = arr.astype(np.float64)
    if not np.all(np.isfinite(d)):
        raise TemplateError("direction must be finite, got NaN or infinity")
    return _directions_from_codes(_direction_codes(d))


def _direction_codes(d: np.ndarray) -> np.ndarray:
    k = np.mod(np.rint(d * (_DIRECTION_STEPS / _TWO_PI)), float(_DIRECTION_STEPS))
    return (k.astype(np.int64) % _DIRECTION_STEPS).astype(np.uint16)


def _directions_from_codes(k: np.ndarray) -> np.ndarray:
    out = (k.astype(np.float64) * _DIRECTION_UNIT).astype(np.float32)
    out.setflags(write=False)
    return out


#: The direction of every stored code, as the constructor makes it (read-only).
_DIRECTION_TABLE = _directions_from_codes(np.arange(_DIRECTION_STEPS, dtype=np.uint16))


def _check_codes(name: str, arr: np.ndarray, valid: np.ndarray, enum_name: str) -> None:
    """Refuse uint8 codes where the :func:`_code_table` ``valid`` is False."""
    if not arr.size:
        return
    ok = valid[arr]
    if not ok.all():
        bad = int(arr[~ok][0])
        codes = ", ".join(str(int(c)) for c in np.flatnonzero(valid))
        raise TemplateError(f"{name} has invalid {enum_name} code {bad} (valid: {codes})")


def _empty(dtype: type) -> np.ndarray:
    a = np.empty(0, dtype=dtype)
    a.setflags(write=False)
    return a


#: The singular-point arrays of templates without any (read-only, so they may be shared).
_NO_SINGULAR = (_empty(np.uint16), _empty(np.uint16), _empty(np.uint8))


# ---------------------------------------------------------------------------- Template


def _layout(buf: memoryview) -> tuple[int, int, int, tuple[int, int, int, int, int, int]]:
    """Check a serialised template's structure (magic, version, lengths, CRC, reserved
    bytes, resolutions; :class:`TemplateError` saying what is wrong) and return its header
    length, minutia and singular point counts and the fields ``(width, height, res_c,
    src_res_c, image_quality, finger_position)``."""
    size = len(buf)
    if size < len(_MAGIC):
        raise TemplateError(f"truncated: {size} bytes, header needs {_HEADER_SIZE}")
    magic = bytes(buf[:4])
    if magic != _MAGIC:
        msg = f"not an nusafis template: magic {magic!r} (expected {_MAGIC!r})"
        if magic == _ISO_MAGIC:
            msg += (
                "; this looks like an ISO/IEC 19794-2 (or ANSI/INCITS 378) finger minutiae "
                "record, read it with the ISO codec (afis.interchange.from_iso or from_ansi378)"
            )
        raise TemplateError(msg)
    if size < _HEADER_SIZE:
        raise TemplateError(f"truncated: {size} bytes, header needs {_HEADER_SIZE}")
    (
        _,
        version,
        header_len,
        width,
        height,
        res_c,
        src_res_c,
        image_quality,
        finger_position,
        n,
        m,
        reserved,
    ) = _HEADER.unpack_from(buf, 0)
    if version > TEMPLATE_FORMAT_VERSION:
        raise TemplateError(
            f"unsupported template format version {version}: this reader supports "
            f"up to {TEMPLATE_FORMAT_VERSION}; upgrade nusafis"
        )
    if version < 1:
        raise TemplateError(f"invalid template format version {version}")
    if header_len < _HEADER_SIZE:
        raise TemplateError(
            f"header length {header_len} is shorter than the {_HEADER_SIZE} bytes "
            f"of version {version}"
        )
    if header_len > size:
        raise TemplateError(f"truncated: {size} bytes, header declares {header_len}")
    # Everything below is plain integer arithmetic on at most 16-bit counts; arrays are
    # only made (as views of ``buf``) after the lengths have been checked.
    need = 8 * n + 5 * m + _CRC_SIZE
    remain = size - header_len
    if remain < need:
        raise TemplateError(
            f"truncated: declares {n} minutiae ({8 * n} bytes) and {m} singular points "
            f"({5 * m} bytes) plus a {_CRC_SIZE}-byte CRC ({need} bytes) but only "
            f"{remain} remain after the {header_len}-byte header"
        )
    if remain > need:
        raise TemplateError(
            f"{remain - need} trailing bytes after the template "
            f"(expected {header_len + need} bytes, got {size})"
        )
    (stored_crc,) = struct.unpack_from("<I", buf, size - _CRC_SIZE)
    actual_crc = zlib.crc32(buf[: size - _CRC_SIZE])
    if stored_crc != actual_crc:
        raise TemplateError(
            f"CRC mismatch: stored {stored_crc:#010x}, computed {actual_crc:#010x} "
            "(corrupt template)"
        )
    if reserved != b"\x00\x00\x00":
        raise TemplateError(f"reserved header bytes must be zero, got {reserved!r}")
    if res_c == 0 or src_res_c == 0:
        raise TemplateError("resolution and source_resolution must be positive")
    return header_len, n, m, (width, height, res_c, src_res_c, image_quality, finger_position)


def _fields_usable(width: int, height: int, image_quality: int, finger_position: int) -> bool:
    """Whether a header's fields are valid as stored (the constructor says why not)."""
    return bool(width and height and image_quality <= 100 and finger_position <= _MAX_FINGER)


def _bad_records(records: np.ndarray, width: Any, height: Any) -> np.ndarray:
    """Which ``(n, 4)`` ``uint16`` minutia records hold a value the constructor refuses
    (coordinates outside the grid, an unknown type, a quality above 100); ``width`` and
    ``height`` per record or one for all."""
    octets = records.view(np.uint8)
    return (
        (records[:, 0] >= width)
        | (records[:, 1] >= height)
        | (octets[:, 6] > _MAX_MINUTIA_TYPE)
        | (octets[:, 7] > 100)
    )


def _singular_records(
    buf: memoryview, header_len: int, n: int, m: int, width: int, height: int
) -> np.ndarray | None:
    """The ``m`` singular point records when every one is valid as stored, else None."""
    singular = np.frombuffer(buf, dtype=_SINGULAR_DTYPE, count=m, offset=header_len + 8 * n)
    if m and (
        int(singular["x"].max()) >= width
        or int(singular["y"].max()) >= height
        or not _SINGULAR_TYPE_VALID[singular["type"]].all()
    ):
        return None
    return singular


def _minutia_words(
    buffers: Sequence[bytes | bytearray | memoryview],
) -> tuple[list[np.ndarray | None], list[float]]:
    """The minutia records of many serialised templates without making :class:`Template`
    objects: for each, its ``(n, 4)`` ``uint16`` words (x, y, direction code, type and
    quality) when every field is valid as stored, else ``None`` (:meth:`Template.from_bytes`
    then builds it, or says what is wrong), and its resolution. A structural fault (magic,
    lengths, CRC, ...) raises :class:`TemplateError` as :meth:`Template.from_bytes` does.

    The checks of :meth:`Template._from_valid_records`, one comparison per field over all
    the templates' records at once: a re-rank reads hundreds of stored templates a probe."""
    words: list[np.ndarray | None] = []
    resolutions: list[float] = []
    limits: list[tuple[int, int]] = []
    for data in buffers:
        buf = memoryview(data).cast("B")
        header_len, n, m, fields = _layout(buf)
        width, height, res_c, _, image_quality, finger_position = fields
        resolutions.append(_resolution_from_centi(res_c))
        usable = _fields_usable(width, height, image_quality, finger_position) and (
            _singular_records(buf, header_len, n, m, width, height) is not None
        )
        words.append(
            np.frombuffer(buf, dtype="<u2", count=4 * n, offset=header_len).reshape(n, 4)
            if usable
            else None
        )
        limits.append((width, height))
    held = [w for w in words if w is not None]
    if held:
        counts = np.fromiter((len(w) for w in held), np.int64, len(held))
        records = np.concatenate(held)
        kept = [lim for lim, w in zip(limits, words, strict=True) if w is not None]
        size = np.repeat(np.array(kept, np.int64).reshape(-1, 2), counts, axis=0)
        bad = _bad_records(records, size[:, 0], size[:, 1])
        if bad.any():
            where = [i for i, w in enumerate(words) if w is not None]
            owner = np.repeat(np.arange(len(held)), counts)
            for k in np.unique(owner[bad]).tolist():
                words[where[k]] = None
    return words, resolutions


@dataclass(frozen=True, eq=False, kw_only=True)
class Template:
    """Minutiae of one finger impression; immutable and always valid.

    All arguments are keyword-only. Array-likes are copied into read-only, C-contiguous
    arrays of the documented dtype; values that do not fit raise :class:`TemplateError`
    (never a silent wraparound).

    Parameters
    ----------
    width, height : int
        Size of the coordinate grid in pixels, 1..65535.
    resolution : float
        Resolution of the coordinate grid in ppi (the engine produces 500.0). Stored to
        1/100 ppi; other values are rounded to that grid.
    source_resolution : float
        Resolution (ppi) of the image the template was extracted from, e.g. 569.0.
        Same storage rule as ``resolution``.
    x, y : array_like of int, shape (N,)
        Pixel coordinates, ``0 <= x < width`` and ``0 <= y < height``; stored as uint16.
    direction : array_like of float, shape (N,)
        Ridge direction in radians, counter-clockwise from +x with y up. Any finite value is
        accepted, wrapped into [0, 2π) and quantised onto the stored grid of 2π/65536, so
        that ``Template.from_bytes(t.to_bytes()) == t`` exactly. Stored as float32.
    type : array_like of int, shape (N,)
        :class:`MinutiaType` codes; stored as uint8.
    quality : array_like of int, shape (N,)
        Per-minutia quality 0..100; stored as uint8.
    image_quality : int
        Quality of the whole impression, 0..100.
    finger_position : FingerPosition, optional
        ISO/IEC 19794-2 finger position code; default ``FingerPosition.UNKNOWN``.
    singular_x, singular_y : array_like of int, shape (M,), optional
        Coordinates of singular points (cores, deltas), within the grid; uint16.
    singular_type : array_like of int, shape (M,), optional
        :class:`SingularType` codes; uint8.

    Notes
    -----
    At most 65535 minutiae and 255 singular points. Templates compare equal when every field
    and every array is exactly equal; they are not hashable.

    Examples
    --------
    >>> t = Template(width=300, height=400, resolution=500.0, source_resolution=569.0,
    ...              x=[10, 120], y=[20, 230], direction=[0.0, 1.5],
    ...              type=[MinutiaType.ENDING, MinutiaType.BIFURCATION], quality=[80, 60],
    ...              image_quality=71)
    >>> t
    Template(2 minutiae, 300x400 @ 500 ppi, quality 71)
    >>> len(t), t.x.dtype.name, t.x.flags.writeable
    (2, 'uint16', False)
    >>> round(float(t.direction[1]), 4)   # quantised to the 2*pi/65536 grid
    1.5
    >>> Template.from_bytes(t.to_bytes()) == t
    True
    """

    width: int
    height: int
    resolution: float
    source_resolution: float
    x: np.ndarray
    y: np.ndarray
    direction: np.ndarray
    type: np.ndarray
    quality: np.ndarray
    image_quality: int
    finger_position: FingerPosition = FingerPosition.UNKNOWN
    singular_x: np.ndarray = field(default_factory=lambda: _empty(np.uint16))
    singular_y: np.ndarray = field(default_factory=lambda: _empty(np.uint16))
    singular_type: np.ndarray = field(default_factory=lambda: _empty(np.uint8))

    __hash__ = None  # type: ignore[assignment]  # mutable-looking payload: unhashable

    def __post_init__(self) -> None:
        put = object.__setattr__
        width = _int_field("width", self.width, 1, 0xFFFF)
        height = _int_field("height", self.height, 1, 0xFFFF)
        put(self, "width", width)
        put(self, "height", height)
        put(self, "resolution", _resolution_from_centi(_centi_ppi("resolution", self.resolution)))
        put(
            self,
            "source_resolution",
            _resolution_from_centi(_centi_ppi("source_resolution", self.source_resolution)),
        )
        put(self, "image_quality", _int_field("image_quality", self.image_quality, 0, 100))
        fp = _int_field("finger_position", self.finger_position, 0, 0xFF)
        try:
            put(self, "finger_position", FingerPosition(fp))
        except ValueError:
            raise TemplateError(
                f"finger_position must be an ISO/IEC 19794-2 code 0..10, got {fp}"
            ) from None

        x = _int_array("x", self.x, np.uint16, width - 1)
        y = _int_array("y", self.y, np.uint16, height - 1)
        direction = _quantize_direction(self.direction)
        mtype = _int_array("type", self.type, np.uint8)
        quality = _int_array("quality", self.quality, np.uint8, 100)
        n = len(x)
        for name, arr in (
            ("y", y),
            ("direction", direction),
            ("type", mtype),
            ("quality", quality),
        ):
            if len(arr) != n:
                raise TemplateError(f"{name} has {len(arr)} entries but x has {n}")
        if n > _MAX_MINUTIAE:
            raise TemplateError(f"too many minutiae: {n} (at most {_MAX_MINUTIAE})")
        _check_codes("type", mtype, _MINUTIA_TYPE_VALID, "MinutiaType")
        put(self, "x", x)
        put(self, "y", y)
        put(self, "direction", direction)
        put(self, "type", mtype)
        put(self, "quality", quality)

        sx = _int_array("singular_x", self.singular_x, np.uint16, width - 1)
        sy = _int_array("singular_y", self.singular_y, np.uint16, height - 1)
        stype = _int_array("singular_type", self.singular_type, np.uint8)
        m = len(sx)
        for name, arr in (("singular_y", sy), ("singular_type", stype)):
            if len(arr) != m:
                raise TemplateError(f"{name} has {len(arr)} entries but singular_x has {m}")
        if m > _MAX_SINGULAR:
            raise TemplateError(f"too many singular points: {m} (at most {_MAX_SINGULAR})")
        _check_codes("singular_type", stype, _SINGULAR_TYPE_VALID, "SingularType")
        put(self, "singular_x", sx)
        put(self, "singular_y", sy)
        put(self, "singular_type", stype)

    # ------------------------------------------------------------------ basic protocol

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Template):
            return NotImplemented
        return (
            self.width == other.width
            and self.height == other.height
            and self.resolution == other.resolution
            and self.source_resolution == other.source_resolution
            and self.image_quality == other.image_quality
            and self.finger_position == other.finger_position
            and all(
                np.array_equal(getattr(self, f), getattr(other, f))
                for f in (
                    "x",
                    "y",
                    "direction",
                    "type",
                    "quality",
                    "singular_x",
                    "singular_y",
                    "singular_type",
                )
            )
        )

    def __repr__(self) -> str:
        extra = ""
        if self.finger_position != FingerPosition.UNKNOWN:
            extra += f", {self.finger_position.name}"
        if len(self.singular_x):
            extra += f", {len(self.singular_x)} singular points"
        return (
            f"Template({len(self)} minutiae, {self.width}x{self.height} "
            f"@ {self.resolution:g} ppi, quality {self.image_quality}{extra})"
        )

    # -------------------------------------------------------------------- constructors

    @classmethod
    def empty(
        cls,
        width: int,
        height: int,
        resolution: float = 500.0,
        source_resolution: float | None = None,
        image_quality: int = 0,
        finger_position: FingerPosition = FingerPosition.UNKNOWN,
    ) -> Template:
        """A template without minutiae or singular points.

        Parameters
        ----------
        width, height : int
            Grid size in pixels.
        resolution : float, optional
            Grid resolution in ppi (default 500.0).
        source_resolution : float or None, optional
            Resolution of the source image; ``None`` means the same as ``resolution``.
        image_quality : int, optional
            0..100 (default 0).
        finger_position : FingerPosition, optional
            Default ``FingerPosition.UNKNOWN``.

        Examples
        --------
        >>> Template.empty(388, 374)
        Template(0 minutiae, 388x374 @ 500 ppi, quality 0)
        """
        return cls(
            width=width,
            height=height,
            resolution=resolution,
            source_resolution=resolution if source_resolution is None else source_resolution,
            x=_empty(np.uint16),
            y=_empty(np.uint16),
            direction=_empty(np.float32),
            type=_empty(np.uint8),
            quality=_empty(np.uint8),
            image_quality=image_quality,
            finger_position=finger_position,
        )

    @property
    def minutiae(self) -> np.ndarray:
        """The minutiae as a new structured array.

        Returns
        -------
        numpy.ndarray
            Shape (N,), fields ``x`` (uint16), ``y`` (uint16), ``direction`` (float32),
            ``type`` (uint8), ``quality`` (uint8); a writable copy.

        Examples
        --------
        >>> t = Template(width=100, height=100, resolution=500.0, source_resolution=500.0,
        ...              x=[5], y=[7], direction=[0.0], type=[1], quality=[90],
        ...              image_quality=50)
        >>> m = t.minutiae
        >>> m.dtype.names
        ('x', 'y', 'direction', 'type', 'quality')
        >>> int(m[0]["x"]), int(m[0]["quality"])
        (5, 90)
        """
        out = np.empty(len(self), dtype=_MINUTIAE_VIEW_DTYPE)
        out["x"] = self.x
        out["y"] = self.y
        out["direction"] = self.direction
        out["type"] = self.type
        out["quality"] = self.quality
        return out

    # ---------------------------------------------------------------------- format I/O

    def to_bytes(self) -> bytes:
        """Serialise to the compact binary format (see the module docstring).

        The output is deterministic: equal templates give identical bytes.

        Returns
        -------
        bytes
            ``28 + 8*N + 5*M + 4`` bytes for N minutiae and M singular points.

        Examples
        --------
        >>> t = Template(width=256, height=256, resolution=500.0, source_resolution=500.0,
        ...              x=[1, 2], y=[3, 4], direction=[0.5, 3.0], type=[1, 2],
        ...              quality=[40, 50], image_quality=60)
        >>> data = t.to_bytes()
        >>> data[:4], len(data)
        (b'NAFT', 48)
        >>> Template.from_bytes(data) == t
        True
        """
        n, m = len(self), len(self.singular_x)
        header = _HEADER.pack(
            _MAGIC,
            TEMPLATE_FORMAT_VERSION,
            _HEADER_SIZE,
            self.width,
            self.height,
            round(self.resolution * 100.0),
            round(self.source_resolution * 100.0),
            self.image_quality,
            int(self.finger_position),
            n,
            m,
            b"\x00\x00\x00",
        )
        rec = np.empty(n, dtype=_MINUTIA_DTYPE)
        rec["x"] = self.x
        rec["y"] = self.y
        rec["direction"] = _direction_codes(self.direction.astype(np.float64))
        rec["type"] = self.type
        rec["quality"] = self.quality
        sing = np.empty(m, dtype=_SINGULAR_DTYPE)
        sing["x"] = self.singular_x
        sing["y"] = self.singular_y
        sing["type"] = self.singular_type
        body = b"".join((header, rec.tobytes(), sing.tobytes()))
        return body + struct.pack("<I", zlib.crc32(body))

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> Template:
        """Parse a buffer written by :meth:`to_bytes`.

        Parameters
        ----------
        data : bytes-like
            Exactly one serialised template (any object supporting the buffer protocol).

        Returns
        -------
        Template

        Raises
        ------
        TypeError
            If ``data`` is not bytes-like (e.g. ``None``, ``str``, ``int``).
        TemplateError
            If the buffer is truncated, foreign (wrong magic), of a newer format version,
            has counts that disagree with its length, trailing bytes, a CRC mismatch, or
            fields that are invalid (coordinates outside the grid, unknown codes, ...).
            Nothing is allocated in proportion to declared counts before they have been
            checked against the buffer length.

        Examples
        --------
        >>> t = Template(width=300, height=300, resolution=500.0, source_resolution=500.0,
        ...              x=[10, 20], y=[30, 40], direction=[1.0, 2.0], type=[1, 2],
        ...              quality=[90, 80], image_quality=75)
        >>> Template.from_bytes(t.to_bytes()) == t
        True
        >>> Template.from_bytes(b"FMR\\x00" + bytes(40))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        afis.errors.TemplateError: not an nusafis template: magic b'FMR\\x00' ...
        """
        if isinstance(data, str):
            raise TypeError("from_bytes() needs a bytes-like object, not str")
        try:
            mv = memoryview(data)
        except TypeError:
            raise TypeError(
                f"from_bytes() needs a bytes-like object, not {type(data).__name__}"
            ) from None
        try:
            buf = mv.cast("B") if mv.c_contiguous else memoryview(mv.tobytes())
        except (TypeError, ValueError):
            buf = memoryview(mv.tobytes())
        return cls._parse(buf)

    @classmethod
    def _parse(cls, buf: memoryview) -> Template:
        header_len, n, m, fields = _layout(buf)
        template = cls._from_valid_records(buf, header_len, n, m, *fields)
        width, height, res_c, src_res_c, image_quality, finger_position = fields
        if template is not None:
            return template
        # Some field is invalid: the constructor's checks say which.
        rec = np.frombuffer(buf, dtype=_MINUTIA_DTYPE, count=n, offset=header_len)
        sing = np.frombuffer(buf, dtype=_SINGULAR_DTYPE, count=m, offset=header_len + 8 * n)
        try:
            return cls(
                width=width,
                height=height,
                resolution=_resolution_from_centi(res_c),
                source_resolution=_resolution_from_centi(src_res_c),
                x=rec["x"],
                y=rec["y"],
                direction=_directions_from_codes(rec["direction"]),
                type=rec["type"],
                quality=rec["quality"],
                image_quality=image_quality,
                finger_position=finger_position,
                singular_x=sing["x"],
                singular_y=sing["y"],
                singular_type=sing["type"],
            )
        except TemplateError as exc:
            raise TemplateError(f"invalid template: {exc}") from None

    @classmethod
    def _from_valid_records(
        cls,
        buf: memoryview,
        header_len: int,
        n: int,
        m: int,
        width: int,
        height: int,
        res_c: int,
        src_res_c: int,
        image_quality: int,
        finger_position: int,
    ) -> Template | None:
        """The template of a buffer whose structure and CRC have been checked, when every field
        is valid as stored (None otherwise, and the constructor explains what is wrong).

        Every field of the format is already of its stored type, so only the ranges the types
        do not imply are checked (coordinates within the grid, codes, qualities), with one
        comparison per record array instead of the constructor's conversions. Produces what
        the constructor produces from the same fields, array for array (directions through a
        table of the constructor's own conversion of every code).
        """
        if not _fields_usable(width, height, image_quality, finger_position):
            return None
        words = np.frombuffer(buf, dtype="<u2", count=4 * n, offset=header_len).reshape(n, 4)
        if n and _bad_records(words, width, height).any():
            return None
        singular = _singular_records(buf, header_len, n, m, width, height)
        if singular is None:
            return None
        if m:
            sx = singular["x"].astype(np.uint16)
            sy = singular["y"].astype(np.uint16)
            stype = singular["type"].astype(np.uint8)
        else:
            sx, sy, stype = _NO_SINGULAR
        octets = words.view(np.uint8)
        arrays = {
            "x": words[:, 0].astype(np.uint16),
            "y": words[:, 1].astype(np.uint16),
            "direction": _DIRECTION_TABLE[words[:, 2]],
            "type": octets[:, 6].copy(),
            "quality": octets[:, 7].copy(),
            "singular_x": sx,
            "singular_y": sy,
            "singular_type": stype,
        }
        for array in arrays.values():
            array.setflags(write=False)
        template = cls.__new__(cls)
        template.__dict__.update(
            width=width,
            height=height,
            resolution=_resolution_from_centi(res_c),
            source_resolution=_resolution_from_centi(src_res_c),
            image_quality=image_quality,
            finger_position=_FINGER_POSITIONS[finger_position],
            **arrays,
        )
        return template
