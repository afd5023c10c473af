"""Shared internals of the finger minutiae record codecs (private).

Reading: the 6-byte minutia records, the extended data area (ridge counts, core/delta,
vendor blocks) with its strict and lenient handling, and the conversion of a decoded view
into an engine :class:`~afis.template.Template`. Writing: normalising the ``views`` argument
of an encoder and the byte layouts both record families share.
"""

from __future__ import annotations

import math
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from afis.errors import FormatError, TemplateError
from afis.interchange._binary import Reader
from afis.interchange.minutiae import (
    CM_PER_INCH,
    EXT_CORE_DELTA,
    EXT_RIDGE_COUNT,
    MAGIC,
    MAX_COORDINATE,
    MAX_FINGER_POSITION,
    MAX_SINGULAR_POINTS,
    MAX_VIEW_MINUTIAE,
    TWO_PI,
    CorePoint,
    DeltaPoint,
    ExtendedBlock,
    FingerView,
    RidgeCount,
)
from afis.template import FingerPosition, MinutiaType, SingularType, Template

#: numpy layout of the 6-byte minutia record of every edition (5 bytes without quality).
MINUTIA_DTYPE = np.dtype([("tx", ">u2"), ("ry", ">u2"), ("angle", "u1"), ("quality", "u1")])
MINUTIA_DTYPE_NO_QUALITY = np.dtype([("tx", ">u2"), ("ry", ">u2"), ("angle", "u1")])

#: Core/delta layouts: ISO marks angle presence per point (top bits of x), ANSI per block
#: (top bits of the count byte).
FLAVOUR_ISO = "iso"
FLAVOUR_ANSI = "ansi"


def frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    """A read-only copy of ``mapping``."""
    return types.MappingProxyType(dict(mapping))


def ppi_from_px_cm(px_cm: int) -> float:
    """Pixels per centimetre as recorded -> whole pixels per inch.

    Of the whole ppi values that round to ``px_cm`` (two or three, 2.54 apart), a multiple
    of 50 wins when there is one (197 -> 500, 394 -> 1000, 98 -> 250, 236 -> 600); otherwise
    the nearest (224 -> 569, FVC2002 DB2).
    """
    low = math.ceil((px_cm - 0.5) * CM_PER_INCH)
    candidates = [p for p in range(low, low + 4) if round(p / CM_PER_INCH) == px_cm]
    round_values = [p for p in candidates if p % 50 == 0]
    if round_values:
        return float(round_values[0])
    return float(round(px_cm * CM_PER_INCH))


def px_cm_from_ppi(ppi: float, record: str) -> int:
    """Template resolution (ppi) -> the records' pixels per centimetre (500 -> 197)."""
    value = round(ppi / CM_PER_INCH)
    if not 1 <= value <= 0xFFFF:
        raise FormatError(
            f"{record}: resolution {ppi:g} ppi is {ppi / CM_PER_INCH:.2f} px/cm, outside the "
            "16-bit field (expected 1..65535 px/cm)"
        )
    return value


def direction_from_units(codes: np.ndarray, units_per_turn: int) -> np.ndarray:
    """Record angle codes -> engine directions (radians, +180 degrees, in [0, 2 pi))."""
    turn = codes.astype(np.float64) * (TWO_PI / units_per_turn)
    return np.mod(turn + math.pi, TWO_PI)


def units_from_direction(direction: np.ndarray, units_per_turn: int) -> np.ndarray:
    """Engine directions -> record angle codes (nearest unit, 180 degrees turned)."""
    turned = np.mod(direction.astype(np.float64) + math.pi, TWO_PI)
    return np.mod(np.rint(turned * (units_per_turn / TWO_PI)), units_per_turn).astype(np.int64)


@dataclass(frozen=True)
class Grid:
    """How a view's record coordinates map onto the template grid."""

    width: int
    height: int
    ppi: float
    sx: float
    sy: float

    @classmethod
    def for_view(
        cls,
        record: str,
        where: str,
        width: int,
        height: int,
        x_px_cm: int,
        y_px_cm: int,
        resolution: float | None,
        image_size: tuple[int, int] | None,
    ) -> Grid:
        if width < 1 or height < 1:
            raise FormatError(
                f"{record}: {where}: image size {width} x {height} (expected at least 1 x 1)"
            )
        if resolution is not None:
            ppi = float(resolution)
            aspect = 1.0
        else:
            if x_px_cm < 1 or y_px_cm < 1:
                raise FormatError(
                    f"{record}: {where}: resolution {x_px_cm} x {y_px_cm} px/cm (expected "
                    "positive values; pass resolution= to override)"
                )
            ppi = ppi_from_px_cm(x_px_cm)
            aspect = x_px_cm / y_px_cm
        if image_size is not None:
            out_w, out_h = image_size
            sx, sy = out_w / width, out_h / height
        else:
            out_w, out_h = width, max(1, round(height * aspect))
            sx, sy = 1.0, out_h / height if aspect != 1.0 else 1.0
        if not (1 <= out_w <= 0xFFFF and 1 <= out_h <= 0xFFFF):
            raise FormatError(
                f"{record}: {where}: image grid {out_w} x {out_h} does not fit a template "
                "(expected sides of 1..65535 pixels)"
            )
        return cls(out_w, out_h, ppi, sx, sy)

    def xy(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        gx = np.clip(np.rint(x.astype(np.float64) * self.sx), 0, self.width - 1)
        gy = np.clip(np.rint(y.astype(np.float64) * self.sy), 0, self.height - 1)
        return gx.astype(np.int64), gy.astype(np.int64)

    def direction(self, direction: np.ndarray) -> np.ndarray:
        if self.sx == self.sy:
            return direction
        turned = np.arctan2(self.sy * np.sin(direction), self.sx * np.cos(direction))
        return np.mod(turned, TWO_PI)


def check_override(resolution: Any, image_size: Any) -> tuple[float | None, tuple[int, int] | None]:
    """Validate the ``resolution`` and ``image_size`` overrides of a decoder."""
    if resolution is not None:
        if isinstance(resolution, bool) or not isinstance(resolution, int | float | np.number):
            raise TypeError(f"resolution must be a number (ppi), got {type(resolution).__name__}")
        if not (math.isfinite(float(resolution)) and float(resolution) > 0):
            raise ValueError(f"resolution must be a positive ppi, got {resolution!r}")
        resolution = float(resolution)
    if image_size is not None:
        try:
            w, h = image_size
        except (TypeError, ValueError):
            raise TypeError(f"image_size must be (width, height), got {image_size!r}") from None
        for v in (w, h):
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or not 1 <= v <= 0xFFFF:
                raise ValueError(f"image_size must hold two ints in 1..65535, got {image_size!r}")
        image_size = (int(w), int(h))
    return resolution, image_size


def make_template(
    record: str,
    where: str,
    grid: Grid,
    x: np.ndarray,
    y: np.ndarray,
    direction: np.ndarray,
    kind: np.ndarray,
    quality: np.ndarray,
    finger_position: int,
    image_quality: int,
    cores: Sequence[CorePoint],
    deltas: Sequence[DeltaPoint],
) -> Template:
    """The engine template of one decoded view (directions already in engine convention)."""
    gx, gy = grid.xy(x, y)
    sx_list = [c.x for c in cores] + [d.x for d in deltas]
    sy_list = [c.y for c in cores] + [d.y for d in deltas]
    s_type = [int(SingularType.CORE)] * len(cores) + [int(SingularType.DELTA)] * len(deltas)
    sgx, sgy = grid.xy(np.asarray(sx_list, np.int64), np.asarray(sy_list, np.int64))
    position = finger_position if finger_position <= max(FingerPosition) else 0
    try:
        return Template(
            width=grid.width,
            height=grid.height,
            resolution=grid.ppi,
            source_resolution=grid.ppi,
            x=gx,
            y=gy,
            direction=grid.direction(direction),
            type=kind,
            quality=np.where(quality <= 100, quality, 0),
            image_quality=image_quality if 0 <= image_quality <= 100 else 0,
            finger_position=position,
            singular_x=sgx,
            singular_y=sgy,
            singular_type=np.asarray(s_type, np.uint8),
        )
    except TemplateError as exc:
        raise FormatError(f"{record}: {where}: {exc}") from None


def check_minutiae(
    record: str,
    where: str,
    minutiae: Mapping[str, np.ndarray],
    width: int,
    height: int,
    angle_units: int,
    extended_quality: bool = False,
) -> None:
    """Type, coordinate, angle and quality checks of decoded minutiae, naming the first
    offender. ``extended_quality`` also admits 254 (not reported) and 255 (failed)."""
    quality = minutiae["quality"]
    bad_quality = quality > 100
    if extended_quality:
        bad_quality &= quality < 254
    checks = (
        (
            "type",
            minutiae["type"] > int(MinutiaType.BIFURCATION),
            "0 (other), 1 (ending) or 2 (bifurcation)",
        ),
        ("x coordinate", minutiae["x"] >= width, f"0..{width - 1}, the image width is {width}"),
        ("y coordinate", minutiae["y"] >= height, f"0..{height - 1}, the image height is {height}"),
        ("angle", minutiae["angle"] >= angle_units, f"0..{angle_units - 1}"),
        ("quality", bad_quality, "0..100" + (", 254 or 255" if extended_quality else "")),
    )
    source = {
        "type": "type",
        "x coordinate": "x",
        "y coordinate": "y",
        "angle": "angle",
        "quality": "quality",
    }
    for name, bad, expected in checks:
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            value = int(minutiae[source[name]][i])
            raise FormatError(
                f"{record}: {where} minutia {i}: {name} {value} (expected {expected})"
            )


class ImageHeader(NamedTuple):
    """Image size (pixels) and resolution (px/cm) a record declares."""

    width: int
    height: int
    x_resolution: int
    y_resolution: int


def read_image_header(reader: Reader, where: str) -> ImageHeader:
    prefix = f"{where} " if where else ""
    return ImageHeader(
        reader.u16(f"{prefix}image width"),
        reader.u16(f"{prefix}image height"),
        reader.u16(f"{prefix}x resolution"),
        reader.u16(f"{prefix}y resolution"),
    )


def read_magic(reader: Reader, version: bytes, others: Mapping[bytes, str]) -> None:
    """Format identifier and version; ``others`` names the codecs of sibling versions."""
    magic = bytes(reader.take(4, "format identifier"))
    if magic != MAGIC:
        raise reader.error_last("format identifier", f"{magic!r} (expected {MAGIC!r})")
    found = bytes(reader.take(4, "version"))
    if found != version:
        hint = f"; {found!r} is {others[found]}" if found in others else ""
        raise reader.error_last("version", f"{found!r} (expected {version!r}){hint}")


def check_count(
    reader: Reader, field: str, count: int, minimum_size: int, offset: int | None = None
) -> None:
    """A declared number of items against the bytes that remain (each needs at least
    ``minimum_size``): lying counts fail here, before anything is read. ``offset``: where
    the count was read (default: the last read)."""
    if count * minimum_size > reader.remaining:
        raise reader.error_at(
            reader.last if offset is None else offset,
            field,
            f"{count} declared, needing at least {count * minimum_size} bytes, but only "
            f"{reader.remaining} remain in the record",
        )


def record_warnings(problems: Problems, views: Sequence[FingerView]) -> tuple[str, ...]:
    """The warnings that belong to the record rather than to one of its views."""
    in_views = {w for view in views for w in view.warnings}
    return tuple(w for w in problems.warnings if w not in in_views)


def equipment_field(record: str, certification: int, device_id: int) -> int:
    """The 2-byte capture equipment field: 4 bits of certification/compliance, 12 of id."""
    if not 0 <= certification <= 0xF:
        raise FormatError(f"{record}: certification {certification} (expected 0..15)")
    if not 0 <= device_id <= 0xFFF:
        raise FormatError(f"{record}: capture device id {device_id} (expected 0..4095)")
    return (certification << 12) | device_id


def view_bytes(spec: ViewSpec, angle_units: int, flavour: str) -> bytes:
    """One finger view of the 2005/2004 layout: header, minutiae, extended data."""
    t = spec.template
    head = bytes(
        [
            spec.finger_position,
            (spec.view_number << 4) | spec.impression_type,
            spec.finger_quality,
            len(t),
        ]
    )
    return head + minutiae_bytes(t, angle_units) + extended_data(spec, core_delta_bytes(t, flavour))


# ----------------------------------------------------------------------------- writing


@dataclass(frozen=True)
class ViewSpec:
    """What an encoder writes for one view (built from a Template or a FingerView)."""

    template: Template
    finger_position: int
    view_number: int
    impression_type: int
    finger_quality: int
    ridge_count_method: int | None
    ridge_counts: tuple[RidgeCount, ...]


def view_specs(
    views: Template | FingerView | Sequence[Template | FingerView],
    record: str,
    impression_type: int,
) -> list[ViewSpec]:
    """Normalise an encoder's ``views`` argument (view numbers counted per finger)."""
    items = [views] if isinstance(views, Template | FingerView) else list(views)
    if not items:
        raise FormatError(f"{record}: nothing to write (expected at least one template)")
    if len(items) > 0xFF:
        raise FormatError(f"{record}: {len(items)} views (expected at most 255)")
    if not 0 <= impression_type <= 15:
        raise FormatError(f"{record}: impression type {impression_type} (expected 0..15)")
    seen: dict[int, int] = {}
    specs = []
    for i, item in enumerate(items):
        if isinstance(item, FingerView):
            position = item.finger_position
            spec = ViewSpec(
                item.template,
                position,
                item.view_number,
                item.impression_type,
                item.finger_quality if item.finger_quality <= 100 else 0,
                item.ridge_count_method,
                item.ridge_counts,
            )
        elif isinstance(item, Template):
            position = int(item.finger_position)
            spec = ViewSpec(
                item,
                position,
                seen.get(position, 0),
                impression_type,
                item.image_quality,
                None,
                (),
            )
        else:
            raise TypeError(
                f"{record}: view {i} must be a Template or FingerView, got {type(item).__name__}"
            )
        seen[position] = seen.get(position, 0) + 1
        if not 0 <= spec.view_number <= 15:
            raise FormatError(
                f"{record}: view {i}: view number {spec.view_number} (expected 0..15)"
            )
        n = len(spec.template)
        if n > MAX_VIEW_MINUTIAE:
            raise FormatError(
                f"{record}: view {i}: {n} minutiae, a view holds at most {MAX_VIEW_MINUTIAE} "
                "(reduce with afis.interchange.minutiae.keep_best)"
            )
        t = spec.template
        if len(t) and (int(t.x.max()) > MAX_COORDINATE or int(t.y.max()) > MAX_COORDINATE):
            raise FormatError(
                f"{record}: view {i}: coordinates above {MAX_COORDINATE} do not fit 14 bits"
            )
        singular = np.bincount(t.singular_type, minlength=3)
        if singular[1] > MAX_SINGULAR_POINTS or singular[2] > MAX_SINGULAR_POINTS:
            raise FormatError(
                f"{record}: view {i}: more than {MAX_SINGULAR_POINTS} cores or deltas"
            )
        specs.append(spec)
    return specs


def shared_grid(specs: Sequence[ViewSpec], record: str) -> tuple[int, int, int]:
    """Width, height and px/cm common to every view (records with one header for all)."""
    first = specs[0].template
    for i, spec in enumerate(specs[1:], 1):
        t = spec.template
        if (t.width, t.height, t.resolution) != (first.width, first.height, first.resolution):
            raise FormatError(
                f"{record}: view {i} is {t.width} x {t.height} at {t.resolution:g} ppi but view 0 "
                f"is {first.width} x {first.height} at {first.resolution:g} ppi; this format has "
                "one image size and resolution for all views"
            )
    return first.width, first.height, px_cm_from_ppi(first.resolution, record)


def minutiae_bytes(template: Template, units_per_turn: int) -> bytes:
    """The 6-byte minutia records of a view: type|x, y, angle, quality (big-endian)."""
    out = np.empty(len(template), dtype=[("tx", ">u2"), ("y", ">u2"), ("a", "u1"), ("q", "u1")])
    out["tx"] = (template.type.astype(np.uint16) << 14) | template.x
    out["y"] = template.y
    out["a"] = units_from_direction(template.direction, units_per_turn)
    out["q"] = template.quality
    return out.tobytes()


def extended_data(spec: ViewSpec, core_delta: bytes) -> bytes:
    """Extended data area of a view: ridge counts (if any) then core/delta (if any)."""
    blocks = b""
    if spec.ridge_count_method is not None and spec.ridge_counts:
        body = bytes([spec.ridge_count_method]) + b"".join(
            bytes([r.index_a, r.index_b, r.count]) for r in spec.ridge_counts
        )
        blocks += EXT_RIDGE_COUNT.to_bytes(2, "big") + (len(body) + 4).to_bytes(2, "big") + body
    if core_delta:
        blocks += EXT_CORE_DELTA.to_bytes(2, "big") + (len(core_delta) + 4).to_bytes(2, "big")
        blocks += core_delta
    if len(blocks) > 0xFFFF:
        raise FormatError(f"extended data of {len(blocks)} bytes exceeds 65535")
    return len(blocks).to_bytes(2, "big") + blocks


def singular_points(template: Template) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the template's cores and deltas."""
    return (
        np.flatnonzero(template.singular_type == SingularType.CORE),
        np.flatnonzero(template.singular_type == SingularType.DELTA),
    )


# ----------------------------------------------------------------------------- reading


@dataclass
class Extended:
    """What the extended data area of one view held."""

    ridge_count_method: int | None = None
    ridge_counts: tuple[RidgeCount, ...] = ()
    cores: tuple[CorePoint, ...] = ()
    deltas: tuple[DeltaPoint, ...] = ()
    blocks: tuple[ExtendedBlock, ...] = ()


class Problems:
    """Strict reads raise at the first problem; lenient reads collect it as a warning."""

    def __init__(self, strict: bool, record: str) -> None:
        self.strict = strict
        self.record = record
        self.warnings: list[str] = []

    def report(self, message: str, action: str) -> None:
        """``message``: what is wrong; ``action``: what a lenient read does about it."""
        if self.strict:
            raise FormatError(f"{self.record}: {message} (with strict=False {action})")
        self.warnings.append(f"{message}; {action}")


def read_minutiae(
    reader: Reader, where: str, count: int, with_quality: bool = True
) -> dict[str, np.ndarray]:
    """``count`` minutia records as arrays: type, x, y, angle, quality (int64)."""
    dtype = MINUTIA_DTYPE if with_quality else MINUTIA_DTYPE_NO_QUALITY
    block = reader.take(count * dtype.itemsize, f"{where} minutiae ({count} declared)")
    raw = np.frombuffer(block, dtype=dtype, count=count)
    tx = raw["tx"].astype(np.int64)
    ry = raw["ry"].astype(np.int64)
    return {
        "type": tx >> 14,
        "x": tx & MAX_COORDINATE,
        "y": ry & MAX_COORDINATE,
        "angle": raw["angle"].astype(np.int64),
        "quality": raw["quality"].astype(np.int64) if with_quality else np.zeros(count, np.int64),
    }


def read_extended(
    reader: Reader,
    where: str,
    flavour: str,
    width: int,
    height: int,
    problems: Problems,
) -> Extended:
    """The extended data area of a view (its 2-byte length, then blocks).

    Block lengths count their own 4-byte header (type, length), as the NIST sample records
    and ridge-count blocks of every vendor seen show. Strict reads reject any inconsistency;
    lenient ones keep the blocks that parse, clamp lengths that run past the record, and say
    so in ``problems.warnings``.
    """
    total = reader.u16(f"{where} extended data length")
    if total > reader.remaining:
        problems.report(
            f"{where}: extended data length {total} runs past the {reader.remaining} bytes left "
            "in the record",
            "it is read up to the record end",
        )
        total = reader.remaining
    area = reader.sub(total, f"{where} extended data")
    out = Extended()
    rcounts: list[RidgeCount] = []
    blocks: list[ExtendedBlock] = []
    index = 0
    while area.remaining:
        label = f"{where} extended data block {index}"
        if area.remaining < 4:
            problems.report(
                f"{label}: {area.remaining} stray bytes (expected a 4-byte header)",
                "they are skipped",
            )
            break
        type_id = area.u16(f"{label} type")
        length = area.u16(f"{label} length")
        if length < 4:
            problems.report(
                f"{label}: length {length} (expected at least 4, its own header)",
                "the rest of the extended data is skipped",
            )
            break
        if length - 4 > area.remaining:
            problems.report(
                f"{label} (type {type_id:#06x}): length {length} runs past the "
                f"{area.remaining + 4} bytes left in the extended data",
                "the block is read up to the end of the extended data",
            )
            length = area.remaining + 4
        body = area.sub(length - 4, f"{label} data")
        try:
            if type_id == EXT_RIDGE_COUNT:
                method, items = _ridge_counts(body, label)
                out.ridge_count_method = method
                rcounts.extend(items)
            elif type_id == EXT_CORE_DELTA:
                cores, deltas = _core_delta(body, label, flavour, width, height)
                out.cores += cores
                out.deltas += deltas
            else:
                blocks.append(ExtendedBlock(type_id, bytes(body.take(body.remaining, label))))
        except FormatError as exc:
            problems.report(str(exc).removeprefix(f"{reader.record}: "), "the block is skipped")
        index += 1
    out.ridge_counts = tuple(rcounts)
    out.blocks = tuple(blocks)
    return out


def _ridge_counts(body: Reader, label: str) -> tuple[int, list[RidgeCount]]:
    method = body.u8(f"{label} ridge count extraction method")
    if body.remaining % 3:
        raise body.error(
            f"{label} ridge counts", f"{body.remaining} bytes (expected 3 bytes per ridge count)"
        )
    raw = body.take(body.remaining, f"{label} ridge counts")
    items = [RidgeCount(raw[i], raw[i + 1], raw[i + 2]) for i in range(0, len(raw), 3)]
    return method, items


def _core_delta(
    body: Reader, label: str, flavour: str, width: int, height: int
) -> tuple[tuple[CorePoint, ...], tuple[DeltaPoint, ...]]:
    points: dict[str, list[Any]] = {"core": [], "delta": []}
    for kind, angles in (("core", 1), ("delta", 3)):
        head = body.u8(f"{label} number of {kind}s")
        count = head & 0x3F
        block_angular = flavour == FLAVOUR_ANSI and head >> 6 == 1
        for i in range(count):
            field = f"{label} {kind} {i}"
            xw = body.u16(f"{field} x")
            y = body.u16(f"{field} y") & MAX_COORDINATE
            x = xw & MAX_COORDINATE
            angular = block_angular if flavour == FLAVOUR_ANSI else xw >> 14 == 1
            values = tuple(body.u8(f"{field} angle") for _ in range(angles)) if angular else None
            if x >= width or y >= height:
                raise body.error(field, f"position ({x}, {y}) outside the {width} x {height} image")
            if kind == "core":
                points[kind].append(CorePoint(x, y, values[0] if values else None))
            else:
                points[kind].append(DeltaPoint(x, y, values))  # type: ignore[arg-type]
    if body.remaining:
        raise body.error(f"{label} core/delta data", f"{body.remaining} bytes after the last delta")
    return tuple(points["core"]), tuple(points["delta"])


def build_view(
    record: str,
    where: str,
    grid: Grid,
    minutiae: Mapping[str, np.ndarray],
    units_per_turn: int,
    extended: Extended,
    warnings: Sequence[str],
    **fields: Any,
) -> FingerView:
    """A FingerView from decoded parts (``fields``: the FingerView attributes and
    ``extra`` for the raw-field mapping)."""
    extra = fields.pop("extra", {})
    template = make_template(
        record,
        where,
        grid,
        minutiae["x"],
        minutiae["y"],
        direction_from_units(minutiae["angle"], units_per_turn),
        minutiae["type"],
        minutiae["quality"],
        fields["finger_position"],
        fields["finger_quality"],
        extended.cores,
        extended.deltas,
    )
    return FingerView(
        template=template,
        ridge_count_method=extended.ridge_count_method,
        ridge_counts=extended.ridge_counts,
        cores=extended.cores,
        deltas=extended.deltas,
        extended_blocks=extended.blocks,
        fields=frozen(extra),
        warnings=tuple(warnings),
        **fields,
    )


def check_trailing(buf: memoryview, length: int, problems: Problems) -> None:
    """Bytes after the record's declared length: zero padding passes, anything else is a
    problem (a device buffer padded with zeros is common, junk is not)."""
    tail = buf[length:]
    if len(tail) and any(tail):
        problems.report(
            f"{len(tail)} bytes after the record's declared length of {length} are not zero "
            "padding",
            "they are ignored",
        )


def check_record_length(reader: Reader, length: int, minimum: int, field: str) -> None:
    """The record length field against the minimum header size and the data given."""
    if length < minimum:
        raise reader.error_last(field, f"{length} (expected at least {minimum}, the header size)")
    if length > len(reader.buf):
        raise FormatError(
            f"{reader.record}: {field}: {length} bytes declared but only {len(reader.buf)} "
            "given (truncated record)"
        )


def check_position(reader: Reader, where: str, code: int) -> None:
    if code > MAX_FINGER_POSITION:
        raise reader.error_last(
            f"{where} finger position", f"{code} (expected 0..{MAX_FINGER_POSITION})"
        )


# ----------------------------------------------------------------------------- writing


def core_delta_bytes(template: Template, flavour: str) -> bytes:
    """The core/delta block body of a template's singular points (no angles), or b""."""
    cores, deltas = singular_points(template)
    if not len(cores) and not len(deltas):
        return b""
    out = bytearray()
    for idx in (cores, deltas):
        out.append(len(idx))  # angle flags 0: non-angular, in both flavours
        for i in idx:
            out += int(template.singular_x[i]).to_bytes(2, "big")
            out += int(template.singular_y[i]).to_bytes(2, "big")
    return bytes(out)
