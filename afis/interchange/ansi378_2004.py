"""ANSI INCITS 378-2004 finger minutiae record format: read and write.

The layout of ISO/IEC 19794-2:2005 with these differences (big-endian throughout)::

    record header, 26 bytes (30 with the long length form)
      0   4  format identifier "FMR\\0"
      4   4  version " 20\\0"
      8   2  record length; 0 means the next 4 bytes hold it (records over 65535 bytes)
      10  4  CBEFF product identifier: owner (2), type (2)
      14  2  capture equipment: compliance (4 bits), capture equipment id (12 bits)
      16  8  image width, height (pixels), x and y resolution (px/cm), 2 bytes each
      24  1  number of finger views    25  1  reserved (0)
    finger views as in ISO/IEC 19794-2:2005, except
      angle    1 byte in units of 2 degrees, 0..179
      core/delta block: the count byte holds the angle flag (top 2 bits, 01: the points
               carry angles) and the count (low 6 bits); points are x, y (14 bits each)

Conventions and overrides are described in :mod:`afis.interchange.minutiae`.
"""

from __future__ import annotations

from collections.abc import Sequence

from afis.errors import FormatError
from afis.interchange import _fmr
from afis.interchange._binary import Reader, as_buffer
from afis.interchange.iso19794_2_2005 import read_view
from afis.interchange.minutiae import VERSION_030, VERSION_20, FingerView, MinutiaeRecord
from afis.template import Template

__all__ = ["FORMAT", "RECORD", "decode", "encode"]

#: Format name in :data:`afis.interchange.minutiae.FORMATS`.
FORMAT = "ansi378:2004"
#: How error messages name this record.
RECORD = "ANSI INCITS 378-2004 record"

HEADER_SIZE = 26
LONG_HEADER_SIZE = 30
MIN_VIEW_SIZE = 6
#: Angle units per full turn (2 degrees each).
ANGLE_UNITS = 180


def decode(
    data: bytes | bytearray | memoryview,
    *,
    resolution: float | None = None,
    image_size: tuple[int, int] | None = None,
    strict: bool = True,
) -> MinutiaeRecord:
    """Read an ANSI INCITS 378-2004 finger minutiae record.

    Parameters and behaviour as :func:`afis.interchange.iso19794_2_2005.decode`; angles
    above 179 (2-degree units) are rejected. ``fields`` adds ``cbeff_product_owner``,
    ``cbeff_product_type``, ``capture_equipment_compliance`` and ``capture_equipment_id``.

    Examples
    --------
    >>> t = Template(width=256, height=360, resolution=500.0, source_resolution=500.0,
    ...              x=[12, 100], y=[30, 300], direction=[0.5, 4.0], type=[1, 2],
    ...              quality=[50, 90], image_quality=77)
    >>> back = decode(encode(t)).views[0].template
    >>> [int(v) for v in back.x], [int(v) for v in back.y]
    ([12, 100], [30, 300])
    >>> decode(b"FMR\\x00 20\\x00" + bytes(24))
    Traceback (most recent call last):
    ...
    afis.errors.FormatError: ANSI INCITS 378-2004 record: record length (offset 10): 0 (expected at least 30, the header size)
    """  # noqa: E501
    resolution, image_size = _fmr.check_override(resolution, image_size)
    buf = as_buffer(data, RECORD)
    reader = Reader(buf, RECORD)
    _fmr.read_magic(reader, VERSION_20, {VERSION_030: "ANSI INCITS 378-2009 (ansi378_2009)"})
    length = reader.u16("record length")
    minimum = HEADER_SIZE
    if length == 0:
        length = reader.u32("record length")
        minimum = LONG_HEADER_SIZE
    _fmr.check_record_length(reader, length, minimum, "record length")
    problems = _fmr.Problems(strict, RECORD)
    _fmr.check_trailing(buf, length, problems)
    reader.end = length
    owner = reader.u16("CBEFF product owner")
    product = reader.u16("CBEFF product type")
    equipment = reader.u16("capture equipment")
    header = _fmr.read_image_header(reader, "")
    count_at = reader.pos
    count = reader.u8("number of finger views")
    reserved = reader.u8("reserved byte")
    _fmr.check_count(reader, "number of finger views", count, MIN_VIEW_SIZE, count_at)
    views = [
        read_view(
            reader,
            f"view {v}",
            header,
            resolution,
            image_size,
            problems,
            ANGLE_UNITS,
            _fmr.FLAVOUR_ANSI,
        )
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
                "cbeff_product_owner": owner,
                "cbeff_product_type": product,
                "capture_equipment_compliance": equipment >> 12,
                "capture_equipment_id": equipment & 0x0FFF,
                **header._asdict(),
                "reserved": reserved,
            }
        ),
        warnings=_fmr.record_warnings(problems, views),
    )


def encode(
    views: Template | FingerView | Sequence[Template | FingerView],
    *,
    impression_type: int = 0,
    product_owner: int = 0,
    product_type: int = 0,
    capture_equipment_id: int = 0,
    compliance: int = 0,
) -> bytes:
    """Write an ANSI INCITS 378-2004 finger minutiae record.

    Parameters
    ----------
    views, impression_type
        As :func:`afis.interchange.iso19794_2_2005.encode`.
    product_owner, product_type : int
        CBEFF product identifier (IBIA-registered owner and its product type), 0..65535;
        0 when unregistered.
    capture_equipment_id : int
        0..4095 (0: unknown).
    compliance : int
        Capture equipment compliance bits, 0..15 (bit 3: Appendix F certified).

    Returns
    -------
    bytes
        With the 2-byte length form when the record fits 65535 bytes, else the 6-byte form.

    Examples
    --------
    >>> record = encode(Template.empty(300, 400), product_owner=0x0042)
    >>> record[:8], len(record), int.from_bytes(record[8:10], "big")
    (b'FMR\\x00 20\\x00', 32, 32)
    """
    specs = _fmr.view_specs(views, RECORD, impression_type)
    width, height, px_cm = _fmr.shared_grid(specs, RECORD)
    for name, value in (("product owner", product_owner), ("product type", product_type)):
        if not 0 <= value <= 0xFFFF:
            raise FormatError(f"{RECORD}: CBEFF {name} {value} (expected 0..65535)")
    equipment = _fmr.equipment_field(RECORD, compliance, capture_equipment_id)
    body = b"".join(_fmr.view_bytes(spec, ANGLE_UNITS, _fmr.FLAVOUR_ANSI) for spec in specs)
    rest = (
        product_owner.to_bytes(2, "big")
        + product_type.to_bytes(2, "big")
        + equipment.to_bytes(2, "big")
        + b"".join(v.to_bytes(2, "big") for v in (width, height, px_cm, px_cm))
        + bytes([len(specs), 0])
        + body
    )
    length = HEADER_SIZE + len(body)
    if length <= 0xFFFF:
        size = length.to_bytes(2, "big")
    else:
        size = b"\x00\x00" + (LONG_HEADER_SIZE + len(body)).to_bytes(4, "big")
    return _fmr.MAGIC + VERSION_20 + size + rest
