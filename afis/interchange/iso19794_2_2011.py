"""ISO/IEC 19794-2:2011 finger minutiae record format: read.

The 2011 edition follows the general header of ISO/IEC 19794-1:2011; image size and
resolution move into each finger representation (view), which also gains a capture date,
device identifiers, quality blocks and, when the record says so, certification blocks.
Layout (big-endian)::

    general header, 15 bytes
      0   4  format identifier "FMR\\0"      4  4  version "030\\0"
      8   4  record length                  12  2  number of finger representations
      14  1  certification flag (0 or 1)
    each representation
      4  representation length (bytes, counting this field)
      9  capture date and time: year (2), month, day, hour, minute, second (1 each),
         millisecond (2); all-ones bytes mean "not given"
      1  capture device technology id    2  capture device vendor id
      2  capture device type id
      1  number of quality blocks, then 5 bytes each: score (0..100, 255 failed),
         algorithm vendor id (2), algorithm id (2)
      [1  number of certification blocks, then 3 bytes each: authority id (2), scheme id (1)]
         -- present only when the certification flag is 1
      1  finger position                 1  representation number (view)
      2  x resolution (px/cm)            2  y resolution (px/cm)
      1  impression type                 2  image width     2  image height
      1  minutia field length (high 4 bits: 5 without quality, 6 with) | ridge ending
         type (low 4 bits: 0 valley skeleton bifurcation point, 1 ridge skeleton end point)
      1  number of minutiae N, then N minutiae of 5 or 6 bytes as in 2005 (angle 360/256
         degree units; quality 0..100, 254 not reported, 255 failed)
      2  extended data length, then blocks as in 2005 (core/delta: ISO per-point flags)

The finger quality of a view is the score of its first quality block (0 without one).
Conventions and overrides are described in :mod:`afis.interchange.minutiae`.
"""

from __future__ import annotations

from afis.interchange import _fmr
from afis.interchange._binary import Reader, as_buffer
from afis.interchange.minutiae import VERSION_030, VERSION_20, FingerView, MinutiaeRecord

__all__ = ["FORMAT", "RECORD", "decode"]

#: Format name in :data:`afis.interchange.minutiae.FORMATS`.
FORMAT = "iso19794-2:2011"
#: How error messages name this record.
RECORD = "ISO/IEC 19794-2:2011 record"

HEADER_SIZE = 15
#: Smallest representation: every fixed field, no quality or certification blocks, no
#: minutiae, an empty extended data area.
MIN_REPRESENTATION_SIZE = 4 + 9 + 1 + 2 + 2 + 1 + 1 + 1 + 2 + 2 + 1 + 2 + 2 + 1 + 1 + 2
ANGLE_UNITS = 256
QUALITY_BLOCK_SIZE = 5
CERTIFICATION_BLOCK_SIZE = 3
_DATE_FIELDS = ("month", "day", "hour", "minute", "second")


def decode(
    data: bytes | bytearray | memoryview,
    *,
    resolution: float | None = None,
    image_size: tuple[int, int] | None = None,
    strict: bool = True,
) -> MinutiaeRecord:
    """Read an ISO/IEC 19794-2:2011 finger minutiae record.

    Parameters
    ----------
    data : bytes-like
    resolution, image_size, strict
        As :func:`afis.interchange.iso19794_2_2005.decode`; ``image_size`` applies to every
        representation.

    Returns
    -------
    MinutiaeRecord
        ``fields`` of each view hold the capture date/time, device ids, quality and
        certification blocks, and the ridge ending type.

    Raises
    ------
    FormatError
        As in 2005, and: a representation length that disagrees with its content, a
        certification flag other than 0 or 1, a minutia field length other than 5 or 6.

    Examples
    --------
    >>> decode(b"FMR\\x00 20\\x00" + bytes(16))
    Traceback (most recent call last):
    ...
    afis.errors.FormatError: ISO/IEC 19794-2:2011 record: version (offset 4): b' 20\\x00' (expected b'030\\x00'); b' 20\\x00' is the 2005 edition (iso19794_2_2005)
    """  # noqa: E501
    resolution, image_size = _fmr.check_override(resolution, image_size)
    buf = as_buffer(data, RECORD)
    reader = Reader(buf, RECORD)
    _fmr.read_magic(reader, VERSION_030, {VERSION_20: "the 2005 edition (iso19794_2_2005)"})
    length = reader.u32("record length")
    _fmr.check_record_length(reader, length, HEADER_SIZE, "record length")
    problems = _fmr.Problems(strict, RECORD)
    _fmr.check_trailing(buf, length, problems)
    reader.end = length
    count_at = reader.pos
    count = reader.u16("number of finger representations")
    certified = reader.u8("certification flag")
    if certified > 1:
        raise reader.error_last("certification flag", f"{certified} (expected 0 or 1)")
    _fmr.check_count(
        reader, "number of finger representations", count, MIN_REPRESENTATION_SIZE, count_at
    )
    views = []
    for v in range(count):
        where = f"representation {v}"
        start = reader.pos
        size = reader.u32(f"{where} length")
        if size < MIN_REPRESENTATION_SIZE:
            raise reader.error_last(
                f"{where} length", f"{size} (expected at least {MIN_REPRESENTATION_SIZE})"
            )
        reader.pos = start
        body = reader.sub(size, f"{where} ({size} bytes declared)")
        body.skip(4, f"{where} length")
        views.append(
            _read_representation(body, where, bool(certified), resolution, image_size, problems)
        )
    if reader.remaining:
        problems.report(
            f"{reader.remaining} bytes left after the last representation", "they are ignored"
        )
    return MinutiaeRecord(
        format=FORMAT,
        views=tuple(views),
        fields=_fmr.frozen({"certification_flag": certified}),
        warnings=_fmr.record_warnings(problems, views),
    )


def _read_representation(
    reader: Reader,
    where: str,
    certified: bool,
    resolution: float | None,
    image_size: tuple[int, int] | None,
    problems: _fmr.Problems,
) -> FingerView:
    capture = (
        reader.u16(f"{where} capture year"),
        *(reader.u8(f"{where} capture {name}") for name in _DATE_FIELDS),
        reader.u16(f"{where} capture millisecond"),
    )
    technology = reader.u8(f"{where} capture device technology id")
    vendor = reader.u16(f"{where} capture device vendor id")
    device = reader.u16(f"{where} capture device type id")
    n_quality = reader.u8(f"{where} number of quality blocks")
    _fmr.check_count(reader, f"{where} number of quality blocks", n_quality, QUALITY_BLOCK_SIZE)
    qualities = tuple(
        (
            reader.u8(f"{where} quality score"),
            reader.u16(f"{where} quality algorithm vendor id"),
            reader.u16(f"{where} quality algorithm id"),
        )
        for _ in range(n_quality)
    )
    certifications: tuple[tuple[int, int], ...] = ()
    if certified:
        n_cert = reader.u8(f"{where} number of certification blocks")
        _fmr.check_count(
            reader, f"{where} number of certification blocks", n_cert, CERTIFICATION_BLOCK_SIZE
        )
        certifications = tuple(
            (reader.u16(f"{where} certification authority id"), reader.u8(f"{where} scheme id"))
            for _ in range(n_cert)
        )
    position = reader.u8(f"{where} finger position")
    _fmr.check_position(reader, where, position)
    number = reader.u8(f"{where} representation number")
    x_res = reader.u16(f"{where} x resolution")
    y_res = reader.u16(f"{where} y resolution")
    impression = reader.u8(f"{where} impression type")
    width = reader.u16(f"{where} image width")
    height = reader.u16(f"{where} image height")
    header = _fmr.ImageHeader(width, height, x_res, y_res)
    flags = reader.u8(f"{where} minutia field length / ridge ending type")
    field_length = flags >> 4
    if field_length not in (5, 6):
        raise reader.error_last(
            f"{where} minutia field length", f"{field_length} (expected 5 or 6)"
        )
    count = reader.u8(f"{where} number of minutiae")
    minutiae = _fmr.read_minutiae(reader, where, count, with_quality=field_length == 6)
    _fmr.check_minutiae(
        reader.record, where, minutiae, width, height, ANGLE_UNITS, extended_quality=True
    )
    grid = _fmr.Grid.for_view(reader.record, where, *header, resolution, image_size)
    before = len(problems.warnings)
    extended = _fmr.read_extended(reader, where, _fmr.FLAVOUR_ISO, width, height, problems)
    if reader.remaining:
        problems.report(
            f"{where}: {reader.remaining} bytes left after its extended data", "they are ignored"
        )
    finger_quality = qualities[0][0] if qualities else 0
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
        finger_quality=finger_quality,
        image_width=width,
        image_height=height,
        x_resolution=x_res,
        y_resolution=y_res,
        extra={
            "capture_datetime": capture,
            "capture_device_technology_id": technology,
            "capture_device_vendor_id": vendor,
            "capture_device_type_id": device,
            "quality_blocks": qualities,
            "certification_blocks": certifications,
            "minutia_field_length": field_length,
            "ridge_ending_type": flags & 0x0F,
        },
    )
