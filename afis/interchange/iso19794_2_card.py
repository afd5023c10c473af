"""ISO/IEC 19794-2 card formats for match-on-card, with the Biometric Information Template.

A card that compares fingerprints itself (match-on-card: the e-KTP pick-up check, a
PIV-style card) stores the enrolled minutiae and receives the live ones in a card format:
no header, only minutiae, in a unit of length rather than pixels.

=============  ======  ============================================================
format         bytes   one minutia
=============  ======  ============================================================
compact size   3       x (8 bits), y (8 bits), in units of 0.1 mm;
                       type (2 bits) | angle (6 bits, units of 360/64 degrees)
normal size    5       type (2 bits) | x (14 bits); reserved (2 bits) | y (14 bits),
                       in units of 0.01 mm; angle (8 bits, units of 360/256 degrees)
=============  ======  ============================================================

Neither carries a quality. Coordinates keep the record conventions (origin top left, y
down) and so do angles (counter-clockwise, turned 180 degrees from the engine's direction:
see :mod:`afis.interchange.minutiae`). The compact format reaches 25.5 mm from the origin:
minutiae beyond that (images larger than 502 pixels at 500 ppi) cannot be written and are
left out.

Minutia cap and order. A card states in its Biometric Information Template (BIT) the least
and most minutiae it accepts (one byte each, so at most 255) and the order it wants them
in. :func:`encode` keeps at most ``max_minutiae`` (default :data:`DEFAULT_MAX_MINUTIAE`,
60; 83 compact minutiae fill one short APDU) chosen by the rule of ISO/IEC 19794-2:2011
clause 9.3.2 (:func:`afis.interchange.minutiae.keep_best`: lowest quality out first, ties by
distance from the centre of mass), then sorts them by ``order``:

============  =====  ===================================================================
order         value  sort key (on the card-unit values)
============  =====  ===================================================================
none          0x00   extraction order
x-y           0x04   x, then y
y-x           0x08   y, then x
angle         0x0C   angle, then x, then y
polar         0x10   distance from the centre of mass, then the polar angle about it
============  =====  ===================================================================

plus 0x01 (ascending) or 0x02 (descending); e.g. ``ORDER_ASCENDING | ORDER_YX``.

Data objects (BER-TLV, ISO/IEC 7816-4/-11)::

    7F2E  biometric data template (what VERIFY sends, what the card stores)
          81  finger minutiae data (card format) -- tag 90 in the 2011 edition
    7F60  biometric information template (BIT)
          A1  biometric header template
              81  biometric type (08: fingerprint)
              82  biometric subtype (finger: bits 1-2 right 01 / left 10,
                  bits 3-5 thumb 001 .. little 101)
              87  format owner (0101: ISO/IEC JTC 1/SC 37)
              88  format type
              B1  biometric matching algorithm parameters
                  81  minimum and maximum number of minutiae (1 byte each)
                  82  minutiae order
                  83  feature handling indicator (optional)
    7F61  BIT group: 02 (number of BITs), then the 7F60 objects

The CBEFF format type values used for the card formats (:data:`FORMAT_TYPE_NORMAL`,
:data:`FORMAT_TYPE_COMPACT`) are those of the SC 37 registrations as far as they could be
checked without the standard's text; both BIT fields can be set explicitly for a card
profile that says otherwise.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np

from afis.errors import FormatError
from afis.interchange._binary import as_buffer, ber_tlv, iter_tlv
from afis.interchange.minutiae import TWO_PI, keep_best
from afis.template import FingerPosition, MinutiaType, Template

__all__ = [
    "DEFAULT_MAX_MINUTIAE",
    "DEFAULT_MIN_MINUTIAE",
    "FORMAT_OWNER_SC37",
    "FORMAT_TYPE_COMPACT",
    "FORMAT_TYPE_NORMAL",
    "ORDER_ANGLE",
    "ORDER_ASCENDING",
    "ORDER_DESCENDING",
    "ORDER_NONE",
    "ORDER_POLAR",
    "ORDER_XY",
    "ORDER_YX",
    "BiometricInformationTemplate",
    "CardFormat",
    "decode",
    "decode_bit",
    "decode_bit_group",
    "decode_compact",
    "decode_normal",
    "encode",
    "unwrap",
]

RECORD = "ISO/IEC 19794-2 card data"
BIT_RECORD = "ISO/IEC 7816-11 biometric information template"

#: Default cap on minutiae written (a common match-on-card maximum).
DEFAULT_MAX_MINUTIAE = 60
#: Default least number of minutiae a BIT asks for (verification).
DEFAULT_MIN_MINUTIAE = 12
#: Most minutiae a card can accept (the BIT counts in one byte).
MAX_CARD_MINUTIAE = 255

ORDER_NONE = 0x00
ORDER_ASCENDING = 0x01
ORDER_DESCENDING = 0x02
ORDER_XY = 0x04
ORDER_YX = 0x08
ORDER_ANGLE = 0x0C
ORDER_POLAR = 0x10
_ORDER_DIRECTIONS = (0, ORDER_ASCENDING, ORDER_DESCENDING)
_ORDER_METHODS = (0, ORDER_XY, ORDER_YX, ORDER_ANGLE, ORDER_POLAR)

#: CBEFF format owner ISO/IEC JTC 1/SC 37.
FORMAT_OWNER_SC37 = 0x0101
#: CBEFF format types of the card formats (see the module docstring).
FORMAT_TYPE_NORMAL = 0x0003
FORMAT_TYPE_COMPACT = 0x0005
#: Format types read as each card format (with and without extended data).
_FORMAT_TYPES = {0x0003: "normal", 0x0004: "normal", 0x0005: "compact", 0x0006: "compact"}

TAG_BDT = 0x7F2E
TAG_MINUTIAE = 0x81
TAG_MINUTIAE_2011 = 0x90
TAG_BIT = 0x7F60
TAG_BIT_GROUP = 0x7F61
TAG_BIT_COUNT = 0x02
TAG_BHT = 0xA1
TAG_TYPE = 0x81
TAG_SUBTYPE = 0x82
TAG_OWNER = 0x87
TAG_FORMAT = 0x88
TAG_PARAMETERS = 0xB1
TAG_MIN_MAX = 0x81
TAG_ORDER = 0x82
TAG_FEATURES = 0x83
BIOMETRIC_TYPE_FINGER = 0x08

_MM_PER_INCH = 25.4


class CardFormat(enum.Enum):
    """The two card formats: bytes per minutia, length unit, angle units, coordinate limit."""

    COMPACT = ("compact", 3, 0.1, 64, 0xFF)
    NORMAL = ("normal", 5, 0.01, 256, 0x3FFF)

    def __init__(
        self, label: str, size: int, unit_mm: float, angle_units: int, max_unit: int
    ) -> None:
        self.label = label
        self.size = size
        self.unit_mm = unit_mm
        self.angle_units = angle_units
        self.max_unit = max_unit

    @property
    def units_per_inch(self) -> float:
        return _MM_PER_INCH / self.unit_mm

    @property
    def format_type(self) -> int:
        return FORMAT_TYPE_COMPACT if self is CardFormat.COMPACT else FORMAT_TYPE_NORMAL


def _card_format(compact: bool) -> CardFormat:
    if not isinstance(compact, bool):
        raise TypeError(f"compact must be a bool, got {type(compact).__name__}")
    return CardFormat.COMPACT if compact else CardFormat.NORMAL


def _check_order(order: int) -> int:
    if isinstance(order, bool) or not isinstance(order, int | np.integer):
        raise TypeError(f"order must be an int, got {type(order).__name__}")
    direction, method = int(order) & 0x03, int(order) & ~0x03
    if direction not in _ORDER_DIRECTIONS or method not in _ORDER_METHODS:
        raise ValueError(f"minutiae order {order:#04x} is not a defined order")
    if bool(direction) != bool(method):
        raise ValueError(
            f"minutiae order {order:#04x}: a sort key needs a direction and vice versa"
        )
    return int(order)


# ----------------------------------------------------------------------------- minutiae


def encode(
    template: Template,
    *,
    compact: bool = True,
    max_minutiae: int = DEFAULT_MAX_MINUTIAE,
    order: int = ORDER_NONE,
    wrap: bool = True,
    data_tag: int = TAG_MINUTIAE,
) -> bytes:
    """Write a template in a card format.

    Parameters
    ----------
    template : Template
    compact : bool
        Compact (3 bytes a minutia, 0.1 mm) or normal size (5 bytes, 0.01 mm).
    max_minutiae : int
        Most minutiae written, 0..255 (the card's BIT maximum); when the template has more,
        the best are kept (lowest quality out first, see the module docstring).
    order : int
        Sort order as a BIT order byte, e.g. ``ORDER_ASCENDING | ORDER_XY``.
    wrap : bool
        True: a biometric data template ``7F2E { data_tag { minutiae } }``, what a VERIFY
        command carries; False: the bare minutiae.
    data_tag : int
        Tag of the minutiae inside ``7F2E``: 0x81 (2005 edition, MINEX II) or 0x90 (2011).

    Returns
    -------
    bytes

    Examples
    --------
    >>> t = Template(width=300, height=400, resolution=500.0, source_resolution=500.0,
    ...              x=[100, 50], y=[200, 30], direction=[0.0, 1.0], type=[1, 2],
    ...              quality=[80, 90], image_quality=70)
    >>> encode(t, wrap=False).hex()   # x, y in 0.1 mm; type | angle (180 deg turned)
    '336660190faa'
    >>> encode(t, order=ORDER_ASCENDING | ORDER_YX).hex()
    '7f2e088106190faa336660'
    """
    if not isinstance(template, Template):
        raise TypeError(f"template must be an afis.Template, got {type(template).__name__}")
    fmt = _card_format(compact)
    if isinstance(max_minutiae, bool) or not isinstance(max_minutiae, int | np.integer):
        raise TypeError(f"max_minutiae must be an int, got {type(max_minutiae).__name__}")
    if not 0 <= max_minutiae <= MAX_CARD_MINUTIAE:
        raise ValueError(f"max_minutiae must be within 0..{MAX_CARD_MINUTIAE}, got {max_minutiae}")
    order = _check_order(order)
    if data_tag not in (TAG_MINUTIAE, TAG_MINUTIAE_2011):
        raise ValueError(f"data_tag must be 0x81 or 0x90, got {data_tag!r}")

    scale = fmt.units_per_inch / template.resolution
    ux = np.rint(template.x.astype(np.float64) * scale).astype(np.int64)
    uy = np.rint(template.y.astype(np.float64) * scale).astype(np.int64)
    inside = np.flatnonzero((ux <= fmt.max_unit) & (uy <= fmt.max_unit))
    chosen = keep_best(_subset(template, inside), int(max_minutiae))
    ux = np.rint(chosen.x.astype(np.float64) * scale).astype(np.int64)
    uy = np.rint(chosen.y.astype(np.float64) * scale).astype(np.int64)
    turned = np.mod(chosen.direction.astype(np.float64) + math.pi, TWO_PI)
    angle = np.mod(np.rint(turned * (fmt.angle_units / TWO_PI)), fmt.angle_units).astype(np.int64)
    kind = chosen.type.astype(np.int64)
    idx = _sort(ux, uy, angle, order)
    ux, uy, angle, kind = ux[idx], uy[idx], angle[idx], kind[idx]
    if fmt is CardFormat.COMPACT:
        raw = np.empty(len(idx), dtype=[("x", "u1"), ("y", "u1"), ("ta", "u1")])
        raw["x"], raw["y"], raw["ta"] = ux, uy, (kind << 6) | angle
    else:
        raw = np.empty(len(idx), dtype=[("tx", ">u2"), ("y", ">u2"), ("a", "u1")])
        raw["tx"], raw["y"], raw["a"] = (kind << 14) | ux, uy, angle
    minutiae = raw.tobytes()
    return ber_tlv(TAG_BDT, ber_tlv(data_tag, minutiae)) if wrap else minutiae


def _subset(template: Template, keep: np.ndarray) -> Template:
    if len(keep) == len(template):
        return template
    return Template(
        width=template.width,
        height=template.height,
        resolution=template.resolution,
        source_resolution=template.source_resolution,
        x=template.x[keep],
        y=template.y[keep],
        direction=template.direction[keep],
        type=template.type[keep],
        quality=template.quality[keep],
        image_quality=template.image_quality,
        finger_position=template.finger_position,
    )


def _sort(ux: np.ndarray, uy: np.ndarray, angle: np.ndarray, order: int) -> np.ndarray:
    method = order & ~0x03
    if method == ORDER_NONE or not len(ux):
        return np.arange(len(ux))
    if method == ORDER_XY:
        idx = np.lexsort((uy, ux))
    elif method == ORDER_YX:
        idx = np.lexsort((ux, uy))
    elif method == ORDER_ANGLE:
        idx = np.lexsort((uy, ux, angle))
    else:  # polar, about the centre of mass; polar angle counter-clockwise with y up
        dx, dy = ux - ux.mean(), uy - uy.mean()
        radius = np.hypot(dx, dy)
        polar = np.mod(np.arctan2(-dy, dx), TWO_PI)
        idx = np.lexsort((polar, radius))
    return idx[::-1] if order & 0x03 == ORDER_DESCENDING else idx


def decode(
    data: bytes | bytearray | memoryview,
    *,
    compact: bool = True,
    resolution: float = 500.0,
    image_size: tuple[int, int] | None = None,
    finger_position: FingerPosition = FingerPosition.UNKNOWN,
) -> Template:
    """Read card-format minutiae into a template.

    Parameters
    ----------
    data : bytes-like
        A biometric data template (``7F2E`` holding ``81`` or ``90`` with the minutiae;
        other data objects inside it, such as ridge counts, are skipped) or bare minutiae.
    compact : bool
        Compact size (3 bytes a minutia) or normal size (5 bytes); the data does not say.
    resolution : float
        Resolution (ppi) of the template grid the millimetres are converted to.
    image_size : (int, int), optional
        Template grid size; by default the smallest that holds every minutia.
    finger_position : FingerPosition
        Stored in the template (card data do not carry it; the BIT does).

    Returns
    -------
    Template
        Qualities are 0 (the card formats have none).

    Raises
    ------
    FormatError
        A malformed data object, a length that is not a whole number of minutiae, more than
        255 minutiae, reserved type or bit values, minutiae outside ``image_size``.

    Examples
    --------
    >>> t = decode(bytes.fromhex("7f2e088106190faa336660"))   # 0.1 mm units -> 500 ppi
    >>> [int(v) for v in t.x], [int(v) for v in t.y], t.resolution
    ([49, 100], [30, 201], 500.0)
    >>> decode(b"\\x7f\\x2e\\x06\\x81\\x04abcd")
    Traceback (most recent call last):
    ...
    afis.errors.FormatError: ISO/IEC 19794-2 card data: finger minutiae data: 4 bytes (expected a multiple of 3, the compact size of one minutia)
    """  # noqa: E501
    fmt = _card_format(compact)
    if isinstance(resolution, bool) or not isinstance(resolution, int | float | np.number):
        raise TypeError(f"resolution must be a number (ppi), got {type(resolution).__name__}")
    if not (math.isfinite(float(resolution)) and float(resolution) > 0):
        raise ValueError(f"resolution must be a positive ppi, got {resolution!r}")
    buf = as_buffer(data, RECORD)
    minutiae = _minutiae_bytes(buf)
    if len(minutiae) % fmt.size:
        raise FormatError(
            f"{RECORD}: finger minutiae data: {len(minutiae)} bytes (expected a multiple of "
            f"{fmt.size}, the {fmt.label} size of one minutia)"
        )
    count = len(minutiae) // fmt.size
    if count > MAX_CARD_MINUTIAE:
        raise FormatError(
            f"{RECORD}: finger minutiae data: {count} minutiae (expected at most "
            f"{MAX_CARD_MINUTIAE}, the most a card can accept)"
        )
    if fmt is CardFormat.COMPACT:
        raw = np.frombuffer(minutiae, dtype=[("x", "u1"), ("y", "u1"), ("ta", "u1")])
        ux, uy = raw["x"].astype(np.int64), raw["y"].astype(np.int64)
        kind, angle = raw["ta"].astype(np.int64) >> 6, raw["ta"].astype(np.int64) & 0x3F
        reserved = np.zeros(count, np.int64)
    else:
        raw = np.frombuffer(minutiae, dtype=[("tx", ">u2"), ("y", ">u2"), ("a", "u1")])
        tx, ry = raw["tx"].astype(np.int64), raw["y"].astype(np.int64)
        kind, ux, reserved, uy = tx >> 14, tx & 0x3FFF, ry >> 14, ry & 0x3FFF
        angle = raw["a"].astype(np.int64)
    for name, bad, expected in (
        ("type", kind > int(MinutiaType.BIFURCATION), "0, 1 or 2"),
        ("reserved bits", reserved != 0, "0"),
    ):
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            value = int((kind if name == "type" else reserved)[i])
            raise FormatError(f"{RECORD}: minutia {i}: {name} {value} (expected {expected})")
    scale = float(resolution) / fmt.units_per_inch
    x = np.rint(ux * scale).astype(np.int64)
    y = np.rint(uy * scale).astype(np.int64)
    if image_size is None:
        width = int(x.max()) + 1 if count else 1
        height = int(y.max()) + 1 if count else 1
    else:
        width, height = _image_size(image_size)
        outside = (x >= width) | (y >= height)
        if outside.any():
            i = int(np.flatnonzero(outside)[0])
            raise FormatError(
                f"{RECORD}: minutia {i} at ({int(x[i])}, {int(y[i])}) pixels lies outside "
                f"image_size {width} x {height}"
            )
    direction = np.mod(angle * (TWO_PI / fmt.angle_units) + math.pi, TWO_PI)
    return Template(
        width=width,
        height=height,
        resolution=float(resolution),
        source_resolution=float(resolution),
        x=x,
        y=y,
        direction=direction,
        type=kind,
        quality=np.zeros(count, np.int64),
        image_quality=0,
        finger_position=finger_position,
    )


def _image_size(image_size: object) -> tuple[int, int]:
    try:
        w, h = image_size  # type: ignore[misc]
    except (TypeError, ValueError):
        raise TypeError(f"image_size must be (width, height), got {image_size!r}") from None
    for v in (w, h):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or not 1 <= v <= 0xFFFF:
            raise ValueError(f"image_size must hold two ints in 1..65535, got {image_size!r}")
    return int(w), int(h)


def unwrap(data: bytes | bytearray | memoryview) -> bytes:
    """The card-format minutiae inside a ``7F2E`` biometric data template (or ``data``
    itself when it is bare minutiae).

    Examples
    --------
    >>> unwrap(bytes.fromhex("7f2e0881061906f0336660")).hex()
    '1906f0336660'
    """
    return bytes(_minutiae_bytes(as_buffer(data, RECORD)))


def _minutiae_bytes(buf: memoryview) -> memoryview:
    """The minutiae inside a 7F2E biometric data template, or ``buf`` itself if bare."""
    if len(buf) < 2 or bytes(buf[:2]) != b"\x7f\x2e":
        return buf
    objects = list(iter_tlv(buf, RECORD))
    if len(objects) != 1:
        raise FormatError(
            f"{RECORD}: {len(objects)} data objects (expected one biometric data template 7F2E)"
        )
    found = [
        obj
        for obj in iter_tlv(objects[0].value, RECORD)
        if obj.tag in (TAG_MINUTIAE, TAG_MINUTIAE_2011)
    ]
    if len(found) != 1:
        raise FormatError(
            f"{RECORD}: biometric data template 7F2E holds {len(found)} finger minutiae data "
            "objects (expected exactly one, tag 81 or 90)"
        )
    return found[0].value


def decode_compact(data: bytes | bytearray | memoryview) -> Template:
    """:func:`decode` of compact-size data (the fuzzing entry point)."""
    return decode(data, compact=True)


def decode_normal(data: bytes | bytearray | memoryview) -> Template:
    """:func:`decode` of normal-size data (the fuzzing entry point)."""
    return decode(data, compact=False)


# ----------------------------------------------------------------------------- BIT

_HANDS = {0: 0, 1: 0x01, 2: 0x02}  # unknown, right, left
_FINGERS = {"THUMB": 1, "INDEX": 2, "MIDDLE": 3, "RING": 4, "LITTLE": 5}


def _subtype(position: FingerPosition) -> int:
    """ISO/IEC 7816-11 biometric subtype of a finger position."""
    if position == FingerPosition.UNKNOWN:
        return 0
    hand, finger = position.name.split("_")
    return (0x01 if hand == "RIGHT" else 0x02) | (_FINGERS[finger] << 2)


def _position(subtype: int) -> FingerPosition:
    hand = subtype & 0x03
    finger = (subtype >> 2) & 0x07
    if hand not in (1, 2) or not 1 <= finger <= 5:
        return FingerPosition.UNKNOWN
    return FingerPosition((0 if hand == 1 else 5) + finger)


@dataclass(frozen=True)
class BiometricInformationTemplate:
    """What a match-on-card application tells the terminal about its fingerprint reference.

    Parameters
    ----------
    card_format : CardFormat or None
        Card format the reference is in; None when the format type is not a card format.
    finger_position : FingerPosition
        Finger of the reference (the BIT's biometric subtype).
    min_minutiae, max_minutiae : int
        Least and most minutiae the card accepts, 0..255, min <= max.
    order : int
        Minutiae order the card expects (``ORDER_*`` values).
    feature_handling : int or None
        Feature handling indicator byte (ridge counts, cores, deltas, cell quality), or None
        when absent.
    format_owner, format_type : int
        CBEFF format owner and type written in the BIT (default: SC 37 and the card
        format's type).

    Examples
    --------
    >>> bit = BiometricInformationTemplate(finger_position=FingerPosition.RIGHT_INDEX,
    ...                                    max_minutiae=60, order=ORDER_ASCENDING | ORDER_XY)
    >>> bit.to_bytes().hex()
    '7f6019a1178101088201098702010188020005b10781020c3c820105'
    >>> decode_bit(bit.to_bytes()) == bit
    True
    """

    card_format: CardFormat | None = CardFormat.COMPACT
    finger_position: FingerPosition = FingerPosition.UNKNOWN
    min_minutiae: int = DEFAULT_MIN_MINUTIAE
    max_minutiae: int = DEFAULT_MAX_MINUTIAE
    order: int = ORDER_NONE
    feature_handling: int | None = None
    format_owner: int = FORMAT_OWNER_SC37
    format_type: int | None = None

    def __post_init__(self) -> None:
        put = object.__setattr__
        put(self, "finger_position", FingerPosition(int(self.finger_position)))
        for name in ("min_minutiae", "max_minutiae"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 255:
                raise ValueError(f"{name} must be an int in 0..255, got {value!r}")
        if self.min_minutiae > self.max_minutiae:
            raise ValueError(
                f"min_minutiae {self.min_minutiae} exceeds max_minutiae {self.max_minutiae}"
            )
        put(self, "order", _check_order(self.order))
        if self.feature_handling is not None and not 0 <= self.feature_handling <= 255:
            raise ValueError(f"feature_handling must be 0..255, got {self.feature_handling}")
        if not 0 <= self.format_owner <= 0xFFFF:
            raise ValueError(f"format_owner must be 0..65535, got {self.format_owner}")
        if self.format_type is None:
            if self.card_format is None:
                raise ValueError("give a card_format or an explicit format_type")
            put(self, "format_type", self.card_format.format_type)
        elif not 0 <= self.format_type <= 0xFFFF:
            raise ValueError(f"format_type must be 0..65535, got {self.format_type}")

    def to_bytes(self) -> bytes:
        """The BIT as a ``7F60`` data object."""
        parameters = ber_tlv(TAG_MIN_MAX, bytes([self.min_minutiae, self.max_minutiae]))
        parameters += ber_tlv(TAG_ORDER, bytes([self.order]))
        if self.feature_handling is not None:
            parameters += ber_tlv(TAG_FEATURES, bytes([self.feature_handling]))
        header = ber_tlv(TAG_TYPE, bytes([BIOMETRIC_TYPE_FINGER]))
        header += ber_tlv(TAG_SUBTYPE, bytes([_subtype(self.finger_position)]))
        header += ber_tlv(TAG_OWNER, self.format_owner.to_bytes(2, "big"))
        header += ber_tlv(TAG_FORMAT, int(self.format_type or 0).to_bytes(2, "big"))
        header += ber_tlv(TAG_PARAMETERS, parameters)
        return ber_tlv(TAG_BIT, ber_tlv(TAG_BHT, header))


def decode_bit(data: bytes | bytearray | memoryview) -> BiometricInformationTemplate:
    """Read one biometric information template (``7F60``).

    Data objects the template does not define are skipped; the header template (A1), its
    format owner (87) and type (88), and the matching parameters (B1) with min/max (81) and
    order (82) are required.

    Raises
    ------
    FormatError
        If the data is not exactly one well-formed 7F60 object with those fields.
    """
    buf = as_buffer(data, BIT_RECORD)
    objects = list(iter_tlv(buf, BIT_RECORD))
    if len(objects) != 1 or objects[0].tag != TAG_BIT:
        tags = ", ".join(f"{o.tag:02X}" for o in objects) or "none"
        raise FormatError(f"{BIT_RECORD}: data objects {tags} (expected exactly one 7F60)")
    return _parse_bit(objects[0].value)


def decode_bit_group(
    data: bytes | bytearray | memoryview,
) -> tuple[BiometricInformationTemplate, ...]:
    """Read a BIT group (``7F61``: a count, then that many ``7F60``)."""
    buf = as_buffer(data, BIT_RECORD)
    objects = list(iter_tlv(buf, BIT_RECORD))
    if len(objects) != 1 or objects[0].tag != TAG_BIT_GROUP:
        raise FormatError(f"{BIT_RECORD}: expected exactly one BIT group 7F61")
    children = list(iter_tlv(objects[0].value, BIT_RECORD))
    if not children or children[0].tag != TAG_BIT_COUNT or len(children[0].value) != 1:
        raise FormatError(f"{BIT_RECORD}: BIT group: expected a 1-byte count (tag 02) first")
    bits = [c for c in children[1:] if c.tag == TAG_BIT]
    if len(bits) != children[0].value[0]:
        raise FormatError(
            f"{BIT_RECORD}: BIT group declares {children[0].value[0]} BITs but holds {len(bits)}"
        )
    return tuple(_parse_bit(b.value) for b in bits)


def _parse_bit(value: memoryview) -> BiometricInformationTemplate:
    inner = {o.tag: o.value for o in iter_tlv(value, BIT_RECORD)}
    if TAG_BHT not in inner:
        raise FormatError(f"{BIT_RECORD}: no biometric header template (A1)")
    header = {o.tag: o.value for o in iter_tlv(inner[TAG_BHT], BIT_RECORD)}
    fields = {}
    for tag, name, size in (
        (TAG_OWNER, "format owner (87)", 2),
        (TAG_FORMAT, "format type (88)", 2),
        (TAG_TYPE, "biometric type (81)", 1),
        (TAG_SUBTYPE, "biometric subtype (82)", 1),
    ):
        if tag not in header:
            if tag in (TAG_TYPE, TAG_SUBTYPE):
                continue
            raise FormatError(f"{BIT_RECORD}: biometric header template has no {name}")
        if len(header[tag]) != size:
            raise FormatError(f"{BIT_RECORD}: {name}: {len(header[tag])} bytes (expected {size})")
        fields[tag] = int.from_bytes(header[tag], "big")
    if fields.get(TAG_TYPE, BIOMETRIC_TYPE_FINGER) != BIOMETRIC_TYPE_FINGER:
        raise FormatError(
            f"{BIT_RECORD}: biometric type {fields[TAG_TYPE]:#04x} (expected 0x08, fingerprint)"
        )
    if TAG_PARAMETERS not in header:
        raise FormatError(f"{BIT_RECORD}: no biometric matching algorithm parameters (B1)")
    parameters = {o.tag: o.value for o in iter_tlv(header[TAG_PARAMETERS], BIT_RECORD)}
    for tag, name, size in (
        (TAG_MIN_MAX, "min/max minutiae (81)", 2),
        (TAG_ORDER, "order (82)", 1),
    ):
        if tag not in parameters or len(parameters[tag]) != size:
            raise FormatError(
                f"{BIT_RECORD}: matching parameters: {name} missing or not {size} bytes"
            )
    features = parameters.get(TAG_FEATURES)
    if features is not None and len(features) != 1:
        raise FormatError(f"{BIT_RECORD}: feature handling indicator (83): expected 1 byte")
    label = (
        _FORMAT_TYPES.get(fields[TAG_FORMAT]) if fields[TAG_OWNER] == FORMAT_OWNER_SC37 else None
    )
    low, high = parameters[TAG_MIN_MAX][0], parameters[TAG_MIN_MAX][1]
    if low > high:
        raise FormatError(f"{BIT_RECORD}: min minutiae {low} exceeds max minutiae {high}")
    order = parameters[TAG_ORDER][0]
    try:
        _check_order(order)
    except ValueError as exc:
        raise FormatError(f"{BIT_RECORD}: {exc}") from None
    return BiometricInformationTemplate(
        card_format=None
        if label is None
        else CardFormat.COMPACT
        if label == "compact"
        else CardFormat.NORMAL,
        finger_position=_position(fields.get(TAG_SUBTYPE, 0)),
        min_minutiae=low,
        max_minutiae=high,
        order=order,
        feature_handling=None if features is None else features[0],
        format_owner=fields[TAG_OWNER],
        format_type=fields[TAG_FORMAT],
    )
