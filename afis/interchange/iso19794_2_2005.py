"""ISO/IEC 19794-2:2005 finger minutiae record format: read and write.

Layout (all integers big-endian)::

    record header, 24 bytes
      0   4  format identifier "FMR\\0"
      4   4  version " 20\\0"
      8   4  record length (whole record, bytes)
      12  2  capture equipment: certification (4 bits), capture device type id (12 bits)
      14  2  image width (pixels)       16  2  image height (pixels)
      18  2  x resolution (px/cm)       20  2  y resolution (px/cm)
      22  1  number of finger views     23  1  reserved (0)
    each finger view
      1  finger position (0..10; 11..14 plain multi-finger codes)
      1  view number (4 bits) | impression type (4 bits)
      1  finger quality (0..100)
      1  number of minutiae N
      6N minutiae: type (2 bits) | x (14 bits); reserved (2 bits) | y (14 bits);
         angle (1 byte, 360/256 degree units, counter-clockwise); quality (0..100)
      2  extended data length (bytes, 0 for none), then blocks of
         type (2) | length (2, counting these 4 bytes) | data
         type 1: ridge counts (method byte, then index, index, count triplets)
         type 2: cores then deltas (a count byte each; points x|flags, y, angles when the
                 top bits of x are 01: one angle per core, three per delta)
         other: vendor data, kept as bytes

Conventions and overrides (angles turned by 180 degrees, px/cm <-> ppi, ``resolution`` and
``image_size``) are described in :mod:`afis.interchange.minutiae`.
"""

from __future__ import annotations

from collections.abc import Sequence

from afis.interchange import _fmr
from afis.interchange._binary import Reader, as_buffer
from afis.interchange.minutiae import MAGIC, VERSION_030, VERSION_20, FingerView, MinutiaeRecord
from afis.template import Template

__all__ = ["FORMAT", "RECORD", "decode", "encode"]

#: Format name in :data:`afis.interchange.minutiae.FORMATS`.
FORMAT = "iso19794-2:2005"
#: How error messages name this record.
RECORD = "ISO/IEC 19794-2:2005 record"

HEADER_SIZE = 24
VIEW_HEADER_SIZE = 4
#: Smallest view: its header and an empty extended data length.
MIN_VIEW_SIZE = VIEW_HEADER_SIZE + 2
#: Angle units per full turn.
ANGLE_UNITS = 256


def decode(
    data: bytes | bytearray | memoryview,
    *,
    resolution: float | None = None,
    image_size: tuple[int, int] | None = None,
    strict: bool = True,
) -> MinutiaeRecord:
    """Read an ISO/IEC 19794-2:2005 finger minutiae record.

    Parameters
    ----------
    data : bytes-like
        The record. Zero bytes after its declared length (a padded device buffer) are
        ignored.
    resolution : float, optional
        Resolution in ppi to use instead of the header's px/cm.
    image_size : (int, int), optional
        Real (width, height) of the image; coordinates and directions are scaled onto it
        from the header's image size (see :mod:`afis.interchange.minutiae`).
    strict : bool
        True (default): any inconsistency is a :class:`~afis.errors.FormatError`. False:
        problems confined to the extended data (lengths that disagree with their content,
        blocks that do not parse) and non-zero bytes after the record are skipped and listed
        in ``warnings``; the minutiae themselves are always checked.

    Returns
    -------
    MinutiaeRecord
        One :class:`~afis.interchange.minutiae.FingerView` per finger view.

    Raises
    ------
    FormatError
        Wrong identifier or version, a record length shorter than the header or longer than
        the data, counts that run past the record, minutiae outside the image, reserved
        types, qualities above 100, finger positions above 14, malformed extended data
        (strict), bytes left after the last view (strict).

    Examples
    --------
    >>> t = Template(width=300, height=400, resolution=500.0, source_resolution=500.0,
    ...              x=[10, 200], y=[20, 300], direction=[0.0, 3.0], type=[1, 2],
    ...              quality=[60, 70], image_quality=80)
    >>> record = decode(encode(t))
    >>> record.format, len(record.views), record.views[0].template.resolution
    ('iso19794-2:2005', 1, 500.0)
    >>> decode(b"FMR\\x00 20\\x00\\x00\\x00")
    Traceback (most recent call last):
    ...
    afis.errors.FormatError: ISO/IEC 19794-2:2005 record: record length (offset 8): truncated, needs 4 bytes but only 2 remain
    """  # noqa: E501
    resolution, image_size = _fmr.check_override(resolution, image_size)
    buf = as_buffer(data, RECORD)
    reader = Reader(buf, RECORD)
    _fmr.read_magic(reader, VERSION_20, {VERSION_030: "the 2011 edition (iso19794_2_2011)"})
    length = reader.u32("record length")
    _fmr.check_record_length(reader, length, HEADER_SIZE, "record length")
    problems = _fmr.Problems(strict, RECORD)
    _fmr.check_trailing(buf, length, problems)
    reader.end = length
    equipment = reader.u16("capture equipment")
    header = _fmr.read_image_header(reader, "")
    count_at = reader.pos
    count = reader.u8("number of finger views")
    reserved = reader.u8("reserved byte")
    _fmr.check_count(reader, "number of finger views", count, MIN_VIEW_SIZE, count_at)
    views = [
        read_view(reader, f"view {v}", header, resolution, image_size, problems, ANGLE_UNITS)
        for v in range(count)
    ]
    if reader.remaining:
        problems.report(
            f"{reader.remaining} bytes left after the last finger view", "they are ignored"
        )
    return MinutiaeRecord(
        format=FORMAT,
        views=tuple(views),
        fields=_fmr.frozen(
            {
                "capture_equipment_certification": equipment >> 12,
                "capture_device_type_id": equipment & 0x0FFF,
                **header._asdict(),
                "reserved": reserved,
            }
        ),
        warnings=_fmr.record_warnings(problems, views),
    )


def read_view(
    reader: Reader,
    where: str,
    header: _fmr.ImageHeader,
    resolution: float | None,
    image_size: tuple[int, int] | None,
    problems: _fmr.Problems,
    angle_units: int,
    flavour: str = _fmr.FLAVOUR_ISO,
) -> FingerView:
    """One finger view of the 2005/2004 layout (shared with ANSI INCITS 378-2004)."""
    grid = _fmr.Grid.for_view(reader.record, where, *header, resolution, image_size)
    position = reader.u8(f"{where} finger position")
    _fmr.check_position(reader, where, position)
    packed = reader.u8(f"{where} view number / impression type")
    quality = reader.u8(f"{where} finger quality")
    if quality > 100:
        raise reader.error_last(f"{where} finger quality", f"{quality} (expected 0..100)")
    count = reader.u8(f"{where} number of minutiae")
    minutiae = _fmr.read_minutiae(reader, where, count)
    _fmr.check_minutiae(reader.record, where, minutiae, header.width, header.height, angle_units)
    before = len(problems.warnings)
    extended = _fmr.read_extended(reader, where, flavour, header.width, header.height, problems)
    return _fmr.build_view(
        reader.record,
        where,
        grid,
        minutiae,
        angle_units,
        extended,
        problems.warnings[before:],
        finger_position=position,
        view_number=packed >> 4,
        impression_type=packed & 0x0F,
        finger_quality=quality,
        image_width=header.width,
        image_height=header.height,
        x_resolution=header.x_resolution,
        y_resolution=header.y_resolution,
    )


def encode(
    views: Template | FingerView | Sequence[Template | FingerView],
    *,
    impression_type: int = 0,
    capture_device_id: int = 0,
    certification: int = 0,
) -> bytes:
    """Write an ISO/IEC 19794-2:2005 finger minutiae record.

    Parameters
    ----------
    views : Template, FingerView, or a sequence of them
        One finger view each, all on the same grid (width, height, resolution): the record
        has one image header. A Template gives its finger position and image quality (as the
        finger quality); its view number counts the earlier views of the same finger. A
        FingerView also gives view number, impression type, finger quality and ridge counts.
        Singular points are written as a core/delta block (without angles). Vendor blocks of
        a decoded view are not written back.
    impression_type : int
        Impression type of Template views (0 live-scan plain, 1 live-scan rolled, ...).
    capture_device_id : int
        Capture device type id, 0..4095 (0: unknown).
    certification : int
        Capture equipment certification bits, 0..15 (0: none).

    Returns
    -------
    bytes

    Raises
    ------
    FormatError
        If a view has more than 255 minutiae, coordinates above 16383, more than 63 cores
        or deltas, or views differ in grid.

    Examples
    --------
    >>> t = Template.empty(300, 400)
    >>> encode(t)[:8]
    b'FMR\\x00 20\\x00'
    >>> len(encode([t, t]))   # 24-byte header, two empty 6-byte views
    36
    """
    specs = _fmr.view_specs(views, RECORD, impression_type)
    width, height, px_cm = _fmr.shared_grid(specs, RECORD)
    equipment = _fmr.equipment_field(RECORD, certification, capture_device_id)
    body = b"".join(_fmr.view_bytes(spec, ANGLE_UNITS, _fmr.FLAVOUR_ISO) for spec in specs)
    length = HEADER_SIZE + len(body)
    header = (
        MAGIC
        + VERSION_20
        + length.to_bytes(4, "big")
        + equipment.to_bytes(2, "big")
        + b"".join(v.to_bytes(2, "big") for v in (width, height, px_cm, px_cm))
        + bytes([len(specs), 0])
    )
    return header + body
