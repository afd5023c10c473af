"""ANSI INCITS 378-2009 finger minutiae record format (version "030"): read.

Image size and resolution move from the record header into each finger view, which also
gains a quality algorithm identifier. Layout (big-endian), as the NIST sample
``fmr.ansi2007`` of libbiomeval has it::

    record header, 20 bytes
      0   4  format identifier "FMR\\0"       4  4  version "030\\0"
      8   4  record length
      12  4  CBEFF product identifier: owner (2), type (2)
      16  2  capture equipment: compliance (4 bits), capture equipment id (12 bits)
      18  1  number of finger views         19  1  reserved (0)
    each finger view
      1  finger position     1  view number     1  impression type
      1  finger quality (0..100, 254 not reported, 255 failed)
      2  quality algorithm vendor id          2  quality algorithm id
      2  image width   2  image height   2  x resolution   2  y resolution (px/cm)
      1  number of minutiae N, then N 6-byte minutiae as in 2004 (angle in 2-degree units,
         quality 0..100, 254, 255)
      2  extended data length, then blocks as in 2004 (core/delta: ANSI block flags)

Other readers (FingerprintIO) put a 1-byte certification flag and a 2-byte sensor id where
this layout has the 2-byte capture equipment field: a 21-byte header. The only real record
at hand (NIST's) has the 20-byte header, so that is what is read.

Conventions and overrides are described in :mod:`afis.interchange.minutiae`.
"""

from __future__ import annotations

from afis.interchange import _fmr
from afis.interchange._binary import Reader, as_buffer
from afis.interchange.minutiae import VERSION_030, VERSION_20, FingerView, MinutiaeRecord

__all__ = ["FORMAT", "RECORD", "decode"]

#: Format name in :data:`afis.interchange.minutiae.FORMATS`.
FORMAT = "ansi378:2009"
#: How error messages name this record.
RECORD = "ANSI INCITS 378-2009 record"

HEADER_SIZE = 20
VIEW_HEADER_SIZE = 17
MIN_VIEW_SIZE = VIEW_HEADER_SIZE + 2
ANGLE_UNITS = 180


def decode(
    data: bytes | bytearray | memoryview,
    *,
    resolution: float | None = None,
    image_size: tuple[int, int] | None = None,
    strict: bool = True,
) -> MinutiaeRecord:
    """Read an ANSI INCITS 378-2009 finger minutiae record.

    Parameters and behaviour as :func:`afis.interchange.iso19794_2_2005.decode`. Minutia
    and finger qualities 254 (not reported) and 255 (failed) are accepted and read as 0.

    Examples
    --------
    >>> decode(b"FMR\\x00030\\x00" + (20).to_bytes(4, "big") + bytes(8)).views
    ()
    """
    resolution, image_size = _fmr.check_override(resolution, image_size)
    buf = as_buffer(data, RECORD)
    reader = Reader(buf, RECORD)
    _fmr.read_magic(reader, VERSION_030, {VERSION_20: "ANSI INCITS 378-2004 (ansi378_2004)"})
    length = reader.u32("record length")
    _fmr.check_record_length(reader, length, HEADER_SIZE, "record length")
    problems = _fmr.Problems(strict, RECORD)
    _fmr.check_trailing(buf, length, problems)
    reader.end = length
    owner = reader.u16("CBEFF product owner")
    product = reader.u16("CBEFF product type")
    equipment = reader.u16("capture equipment")
    count_at = reader.pos
    count = reader.u8("number of finger views")
    reserved = reader.u8("reserved byte")
    _fmr.check_count(reader, "number of finger views", count, MIN_VIEW_SIZE, count_at)
    views = [
        _read_view(reader, f"view {v}", resolution, image_size, problems) for v in range(count)
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
                "cbeff_product_owner": owner,
                "cbeff_product_type": product,
                "capture_equipment_compliance": equipment >> 12,
                "capture_equipment_id": equipment & 0x0FFF,
                "reserved": reserved,
            }
        ),
        warnings=_fmr.record_warnings(problems, views),
    )


def _read_view(
    reader: Reader,
    where: str,
    resolution: float | None,
    image_size: tuple[int, int] | None,
    problems: _fmr.Problems,
) -> FingerView:
    position = reader.u8(f"{where} finger position")
    _fmr.check_position(reader, where, position)
    number = reader.u8(f"{where} view number")
    impression = reader.u8(f"{where} impression type")
    quality = reader.u8(f"{where} finger quality")
    if 100 < quality < 254:
        raise reader.error_last(
            f"{where} finger quality", f"{quality} (expected 0..100, 254 or 255)"
        )
    algorithm_vendor = reader.u16(f"{where} quality algorithm vendor id")
    algorithm = reader.u16(f"{where} quality algorithm id")
    header = _fmr.read_image_header(reader, where)
    grid = _fmr.Grid.for_view(reader.record, where, *header, resolution, image_size)
    count = reader.u8(f"{where} number of minutiae")
    minutiae = _fmr.read_minutiae(reader, where, count)
    _fmr.check_minutiae(
        reader.record, where, minutiae, header.width, header.height, ANGLE_UNITS, True
    )
    before = len(problems.warnings)
    extended = _fmr.read_extended(
        reader, where, _fmr.FLAVOUR_ANSI, header.width, header.height, problems
    )
    return _fmr.build_view(
        reader.record,
        where,
        grid,
        minutiae,
        ANGLE_UNITS,
        extended,
        problems.warnings[before:],
        finger_position=position,
        view_number=number,
        impression_type=impression,
        finger_quality=quality,
        image_width=header.width,
        image_height=header.height,
        x_resolution=header.x_resolution,
        y_resolution=header.y_resolution,
        extra={"quality_algorithm_vendor_id": algorithm_vendor, "quality_algorithm_id": algorithm},
    )
