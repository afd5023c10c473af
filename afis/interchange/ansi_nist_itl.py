"""ANSI/NIST-ITL 1-2011 transactions, traditional encoding (also reads the 2000/2007 files).

A transaction (an ``.an2``/``.eft``/``.nist`` file) is a sequence of *records*. The first is
the Type-1 transaction information record, whose field 1.003 (CNT, content) lists the type
and IDC (information designation character) of every other record in order. Two encodings
of records exist:

* **tagged** records (types 1, 2, 9, 10, 13..17, 18..22, 98, 99): ASCII fields ``T.NNN:value``
  separated by GS (0x1D) and ended by FS (0x1C); the first field, ``T.001`` (LEN), gives the
  record's length in bytes. A field value is made of *subfields* separated by RS (0x1E),
  each made of *items* separated by US (0x1F). Field ``T.999`` holds binary data (an image)
  and runs to the end of the record.
* **binary** records (types 3..8): a fixed layout of big-endian integers starting with a
  4-byte record length. Their type is known only from 1.003.

Model: a :class:`Transaction` holds :class:`TaggedRecord` (a tuple of :class:`Field`),
:class:`BinaryImageRecord` (types 3, 4, 5, 6: the 18-byte header of fingerprint images),
:class:`SignatureRecord` (type 8) and :class:`OpaqueRecord` (type 7, or any other binary
record: kept as bytes). Every field keeps its tag as written (``1.01`` or ``1.001``) and its
value as bytes, so reading a file and writing it back gives identical bytes when the input
is canonical (correct lengths, written as plain decimal numbers).

Character encoding: Type-1 is 7-bit ASCII. Other text fields are ASCII unless field 1.015
(DCS) declares another encoding (index 1 Latin-1, 2 UTF-16, 3 UTF-8, 4 UTF-32); within a
field, text between STX (0x02) followed by a three-digit character set index and ETX (0x03)
is in that character set. Values are kept as bytes; :meth:`Transaction.text` decodes them.

Units of the Type-9 standard ("legacy IAFIS") minutiae, fields 9.005..9.012: coordinates
in units of 0.01 mm from the *lower-left* corner of the image, y up; angle ``TTT`` in whole
degrees counter-clockwise from the x axis, pointing the opposite way of the ISO/IEC
19794-2 and INCITS 378 angle (NIST's own converters flip it by 180 degrees, as
:meth:`Transaction.template` does). See :meth:`Transaction.template` and
:func:`type9_record` for the exact conversions.

Decoding (:func:`decode`) checks structure only and never decodes image data; images are
decoded on request (:meth:`Transaction.image`). Every malformed input raises
:class:`~afis.errors.FormatError` naming the record, the field and what was expected.
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Union

import numpy as np

from afis.constants import DEFAULT_PPI
from afis.errors import AfisError, FormatError
from afis.image import FingerprintImage
from afis.interchange._images import (
    as_image,
    decode_image,
    encode_image,
    encode_pil,
    encoded_header,
    fail,
    uint,
)
from afis.template import FingerPosition, MinutiaType, SingularType, Template

__all__ = [
    "BINARY_RECORD_TYPES",
    "BinaryImageRecord",
    "Field",
    "OpaqueRecord",
    "Record",
    "SignatureRecord",
    "TaggedRecord",
    "Transaction",
    "decode",
    "decode_text",
    "encode_text",
    "type2_record",
    "type4_record",
    "type8_record",
    "type9_record",
    "type10_record",
    "type14_record",
    "type17_record",
    "validate",
]

# --------------------------------------------------------------------------- constants

FS: Final = 0x1C  # file separator: ends a tagged record
GS: Final = 0x1D  # group separator: between fields
RS: Final = 0x1E  # record separator: between subfields
US: Final = 0x1F  # unit separator: between items
STX: Final = 0x02  # start of text in another character set
ETX: Final = 0x03  # end of that text

#: Record types stored in the binary layout (length from their first 4 bytes).
BINARY_RECORD_TYPES: Final = frozenset({3, 4, 5, 6, 7, 8})
#: Binary fingerprint image records sharing the 18-byte header (LEN, IDC, IMP, FGP x 6,
#: ISR, HLL, VLL, compression).
BINARY_IMAGE_TYPES: Final = frozenset({3, 4, 5, 6})
BINARY_IMAGE_HEADER: Final = 18
SIGNATURE_HEADER: Final = 12
OPAQUE_HEADER: Final = 5  # LEN and IDC
_BINARY_HEADER_SIZES: Final = {
    **dict.fromkeys(BINARY_IMAGE_TYPES, BINARY_IMAGE_HEADER),
    8: SIGNATURE_HEADER,
}
#: Field number of the binary data field of tagged image records.
DATA_FIELD: Final = 999
#: Longest LEN value accepted (digits): 12 digits is far beyond any real file.
MAX_LEN_DIGITS: Final = 12
#: Longest tag accepted, ``TT.NNN`` as a rule; room for leading zeros.
MAX_TAG_LENGTH: Final = 16
_TAG = re.compile(rb"([0-9]{1,3})\.([0-9]{1,9})\Z")
_DIGITS = re.compile(rb"[0-9]{1,12}\Z")
_TEXT_DATA_FIELD = re.compile(rb"[0-9]{0,12}\x1d([0-9]{1,3})\.[0-9]{1,9}:")
_DECIMAL = re.compile(rb"[0-9]{1,4}(\.[0-9]{0,4})?\Z")

#: Compression codes of the binary image records (GCA, Type-3/4) and the names of the
#: tagged records' CGA field -> codec names of :mod:`afis.interchange._images`.
BINARY_COMPRESSION: Final[dict[int, str]] = {
    0: "raw",
    1: "wsq",
    2: "jpeg",
    3: "jpeg-lossless",
    4: "jpeg2000",
    5: "jpeg2000-lossless",
    6: "png",
}
TAGGED_COMPRESSION: Final[dict[str, str]] = {
    "NONE": "raw",
    "WSQ": "wsq",
    "WSQ20": "wsq",
    "JPEGB": "jpeg",
    "JPEGL": "jpeg-lossless",
    "JP2": "jpeg2000",
    "JP2L": "jpeg2000-lossless",
    "PNG": "png",
}
_CODEC_TO_CGA: Final = {
    "raw": "NONE",
    "wsq": "WSQ20",
    "jpeg2000": "JP2",
    "jpeg2000-lossless": "JP2L",
    "png": "PNG",
}
_CODEC_TO_GCA: Final = {v: k for k, v in BINARY_COMPRESSION.items()}
#: Character set index of field 1.015 -> Python codec.
CHARACTER_SETS: Final[dict[int, str]] = {
    0: "ascii",
    1: "latin-1",
    2: "utf-16-be",
    3: "utf-8",
    4: "utf-32-be",
}
#: Tagged records whose images :meth:`Transaction.image` decodes (finger, latent, palm).
FRICTION_RIDGE_IMAGE_TYPES: Final = frozenset({13, 14, 15})
#: Millimetres per inch.
MM_PER_INCH: Final = 25.4
#: Resolution of "minimum scanning resolution" Type-4 images (ISR 0): 19.69 ppmm.
MINIMUM_RESOLUTION_PPMM: Final = 19.69
#: Units of the Type-9 standard minutiae coordinates, in millimetres.
TYPE9_UNIT_MM: Final = 0.01


def _record_name(index: int, record_type: int | None) -> str:
    kind = f", Type-{record_type}" if record_type is not None else ""
    return f"ANSI/NIST-ITL record {index + 1}{kind}"


# ------------------------------------------------------------------------------- Field


@dataclass(frozen=True)
class Field:
    """One field of a tagged record: its tag as written and its raw value.

    Parameters
    ----------
    tag : str
        ``"<record type>.<field number>"`` as written in the file, e.g. ``"2.018"`` (older
        files write ``"1.01"``; the text is kept so the file round-trips).
    value : bytes
        The value without its separators. Text values are subfields separated by RS, each
        of items separated by US; the value of field 999 is binary.

    Examples
    --------
    >>> f = Field.from_items(9, 7, [["T", "UC"]])
    >>> f.tag, f.value, f.number
    ('9.007', b'T\\x1fUC', 7)
    >>> f.items()
    [['T', 'UC']]
    """

    tag: str
    value: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.tag, str) or not _TAG.match(self.tag.encode("ascii", "replace")):
            raise FormatError(f"field tag: expected 'T.NNN' (digits), got {self.tag!r}")
        if not isinstance(self.value, bytes):
            raise TypeError(f"field value must be bytes, got {type(self.value).__name__}")

    @property
    def record_type(self) -> int:
        """Record type number of the tag (``2`` for ``"2.018"``)."""
        return int(self.tag.split(".", 1)[0])

    @property
    def number(self) -> int:
        """Field number of the tag (``18`` for ``"2.018"``)."""
        return int(self.tag.split(".", 1)[1])

    def subfields(self) -> list[list[bytes]]:
        """The value split into subfields (RS) and items (US), as bytes."""
        return [s.split(bytes([US])) for s in self.value.split(bytes([RS]))]

    def items(self, encoding: str = "ascii") -> list[list[str]]:
        """The value split into subfields and items, decoded as text (see :func:`decode_text`).

        Raises
        ------
        FormatError
            If the bytes are not valid text in ``encoding``.
        """
        return [[decode_text(item, encoding, self.tag) for item in sub] for sub in self.subfields()]

    def text(self, encoding: str = "ascii") -> str:
        """The whole value as text (separators included as characters)."""
        return decode_text(self.value, encoding, self.tag)

    @classmethod
    def from_items(
        cls,
        record_type: int,
        number: int,
        items: str | Sequence[Sequence[str]],
        encoding: str = "ascii",
    ) -> Field:
        """A field ``record_type.number`` (3-digit number) from text or subfields of items.

        Raises
        ------
        FormatError
            If a text contains a separator or cannot be encoded.
        """
        if isinstance(items, str):
            items = [[items]]
        subfields = []
        for sub in items:
            if isinstance(sub, str):
                raise TypeError("items must be a str or a sequence of sequences of str")
            subfields.append(bytes([US]).join(encode_text(i, encoding, number) for i in sub))
        return cls(f"{record_type}.{number:03d}", bytes([RS]).join(subfields))


def decode_text(value: bytes, encoding: str, where: str = "") -> str:
    """Decode a field value: ``encoding`` outside STX..ETX runs, the named set inside.

    An STX (0x02) is followed by the three-digit index of a character set of
    :data:`CHARACTER_SETS`; the text up to the next ETX (0x03) is in that set.

    Raises
    ------
    FormatError
        If the bytes are not valid in their character set, or an STX run is malformed.
    """
    parts = []
    pos = 0
    while True:
        start = value.find(bytes([STX]), pos)
        chunk = value[pos:] if start < 0 else value[pos:start]
        parts.append(_decode_chunk(chunk, encoding, where))
        if start < 0:
            return "".join(parts)
        index_text = value[start + 1 : start + 4]
        end = value.find(bytes([ETX]), start + 4)
        if not re.fullmatch(rb"[0-9]{3}", index_text) or end < 0:
            raise FormatError(
                f"field {where}: expected STX, a 3-digit character set index, text and ETX, "
                f"got {value[start : start + 8]!r}"
            )
        codec = CHARACTER_SETS.get(int(index_text))
        if codec is None:
            raise FormatError(
                f"field {where}: character set index {int(index_text)} is user-defined or "
                f"reserved; expected one of {sorted(CHARACTER_SETS)}"
            )
        parts.append(_decode_chunk(value[start + 4 : end], codec, where))
        pos = end + 1


def _decode_chunk(chunk: bytes, encoding: str, where: str) -> str:
    try:
        return chunk.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise FormatError(f"field {where}: expected {encoding} text, got {chunk[:16]!r}") from exc


def encode_text(text: str, encoding: str = "ascii", number: int = 0) -> bytes:
    """Encode one item of text; separators and STX/ETX are refused.

    Raises
    ------
    FormatError
        If ``text`` holds a reserved control character or cannot be encoded.
    """
    if not isinstance(text, str):
        raise TypeError(f"item text must be str, got {type(text).__name__}")
    bad = {FS, GS, RS, US, STX, ETX} & {ord(c) for c in text if ord(c) < 0x20}
    if bad:
        raise FormatError(
            f"field {number}: text {text[:20]!r} holds reserved control character "
            f"0x{min(bad):02X}; expected no FS, GS, RS, US, STX or ETX"
        )
    try:
        return text.encode(encoding)
    except (UnicodeEncodeError, LookupError) as exc:
        raise FormatError(f"field {number}: {text[:20]!r} cannot be encoded as {encoding}") from exc


# ----------------------------------------------------------------------------- records


@dataclass(frozen=True)
class TaggedRecord:
    """A tagged record: its type and its fields in order (LEN first).

    The LEN field's value is recomputed by :meth:`to_bytes`; every other field is written
    as it is. Lookups are by field number (the tag's record-type part is kept as written).
    """

    type: int
    fields: tuple[Field, ...]

    def get(self, number: int) -> Field | None:
        """The first field with this field number, or None."""
        for f in self.fields:
            if f.number == number:
                return f
        return None

    def __iter__(self) -> Iterator[Field]:
        return iter(self.fields)

    @property
    def idc(self) -> int:
        """Information designation character (field 2; for Type-1 this is the version)."""
        f = self.get(2)
        if f is None or not _DIGITS.match(f.value):
            raise FormatError(
                f"Type-{self.type} record: field {self.type}.002 (IDC): expected digits, "
                f"got {None if f is None else f.value[:12]!r}"
            )
        return int(f.value)

    def to_bytes(self) -> bytes:
        """Serialise; the LEN field (first field) gets the record's length."""
        if not self.fields or self.fields[0].number != 1:
            raise FormatError(
                f"Type-{self.type} record: first field: expected {self.type}.001 (LEN)"
            )
        body = bytearray()
        for f in self.fields[1:]:
            body += bytes([GS]) + f.tag.encode("ascii") + b":" + f.value
        body += bytes([FS])
        prefix = self.fields[0].tag.encode("ascii") + b":"
        fixed = len(prefix) + len(body)
        digits = len(str(fixed + 1))
        while len(str(fixed + digits)) != digits:
            digits += 1
        return prefix + str(fixed + digits).encode("ascii") + bytes(body)


@dataclass(frozen=True)
class BinaryImageRecord:
    """A binary fingerprint image record: Type-4 (also 3, 5 and 6, same header).

    Parameters
    ----------
    type : int
        3 (low-resolution grey), 4 (high-resolution grey), 5 / 6 (binary images).
    idc : int
        Information designation character.
    impression : int
        Impression type (0 live-scan plain, 1 live-scan rolled, 2 non-live plain ...).
    positions : tuple of 6 int
        Finger positions (possible ones; 255 fills unused entries).
    isr : int
        Image scanning resolution: 0 minimum/nominal (1.012), 1 native (1.011).
    width, height : int
        Horizontal and vertical line lengths in pixels.
    compression : int
        GCA code for types 3/4 (0 none, 1 WSQ, 2 JPEGB, 3 JPEGL, 4 JP2, 5 JP2L, 6 PNG); the
        binary compression code for types 5/6.
    data : bytes
        The image data.
    """

    type: int
    idc: int
    impression: int
    positions: tuple[int, int, int, int, int, int]
    isr: int
    width: int
    height: int
    compression: int
    data: bytes = field(repr=False)

    @property
    def codec(self) -> str:
        """Codec name of the compression code (types 3 and 4)."""
        return BINARY_COMPRESSION.get(self.compression, f"unknown ({self.compression})")

    def to_bytes(self) -> bytes:
        where = f"Type-{self.type} record"
        if len(self.positions) != 6:
            raise fail(where, "FGP", "6 finger positions", len(self.positions))
        return (
            uint(BINARY_IMAGE_HEADER + len(self.data), 4, where, "LEN")
            + uint(self.idc, 1, where, "IDC")
            + uint(self.impression, 1, where, "IMP")
            + b"".join(uint(p, 1, where, "FGP") for p in self.positions)
            + uint(self.isr, 1, where, "ISR")
            + uint(self.width, 2, where, "HLL")
            + uint(self.height, 2, where, "VLL")
            + uint(self.compression, 1, where, "compression")
            + self.data
        )


@dataclass(frozen=True)
class SignatureRecord:
    """A Type-8 signature record.

    Parameters
    ----------
    idc : int
        Information designation character.
    signature_type : int
        0 subject's signature, 1 official's signature.
    representation : int
        0 scanned and uncompressed, 1 scanned and compressed, 2 vectors.
    isr : int
        Image scanning resolution flag (0 minimum, 1 native).
    width, height : int
        Image size in pixels (0 for vectors).
    data : bytes
        Pixels, compressed image, or vectors (5 bytes each: x, y (2 bytes, 0.0254 mm units)
        and pressure (1 byte)).
    """

    idc: int
    signature_type: int
    representation: int
    isr: int
    width: int
    height: int
    data: bytes = field(repr=False)

    type = 8

    def to_bytes(self) -> bytes:
        where = "Type-8 record"
        return (
            uint(SIGNATURE_HEADER + len(self.data), 4, where, "LEN")
            + uint(self.idc, 1, where, "IDC")
            + uint(self.signature_type, 1, where, "SIG")
            + uint(self.representation, 1, where, "SRT")
            + uint(self.isr, 1, where, "ISR")
            + uint(self.width, 2, where, "HLL")
            + uint(self.height, 2, where, "VLL")
            + self.data
        )

    def vectors(self) -> np.ndarray:
        """Vector data as an (N, 3) array of x, y, pressure (representation 2)."""
        if self.representation != 2 or len(self.data) % 5:
            raise FormatError(
                "Type-8 record: signature data: expected vectors (SRT 2, 5 bytes each), "
                f"got SRT {self.representation} with {len(self.data)} bytes"
            )
        raw = np.frombuffer(self.data, np.uint8).reshape(-1, 5).astype(np.int64)
        return np.stack([raw[:, 0] * 256 + raw[:, 1], raw[:, 2] * 256 + raw[:, 3], raw[:, 4]], 1)


@dataclass(frozen=True)
class OpaqueRecord:
    """A binary record kept as bytes (Type-7, user-defined): ``body`` follows the length."""

    type: int
    body: bytes = field(repr=False)

    @property
    def idc(self) -> int:
        return self.body[0]

    def to_bytes(self) -> bytes:
        where = f"Type-{self.type} record"
        if not self.body:
            raise fail(where, "body", "at least the IDC byte", "nothing")
        return uint(4 + len(self.body), 4, where, "LEN") + self.body


Record = Union[TaggedRecord, BinaryImageRecord, SignatureRecord, OpaqueRecord]  # noqa: UP007


def _record_idc(record: Record) -> int:
    return record.idc


# -------------------------------------------------------------------------------- parse


def _parse_tag(data: bytes, pos: int, end: int, where: str) -> tuple[str, int, int, int]:
    """Parse ``T.NNN:`` at ``pos``; return tag, record type, field number, value start."""
    colon = data.find(b":", pos, min(end, pos + MAX_TAG_LENGTH + 1))
    tag = data[pos : colon if colon >= 0 else min(end, pos + MAX_TAG_LENGTH)]
    match = _TAG.match(tag) if colon >= 0 else None
    if match is None:
        raise fail(
            where, f"field tag at offset {pos}", "'T.NNN:' (digits, dot, digits, colon)", repr(tag)
        )
    return tag.decode("ascii"), int(match.group(1)), int(match.group(2)), colon + 1


def _text_data_field(data: bytes, start: int, rtype: int) -> bool:
    """True when a field 999 starting at ``start`` holds digits and another field follows.

    Field 999 is binary and last by the standard. Some NBIS test files carry an extra
    ``T.999:<digits>`` field before the real one; it is read as a text field so that the
    image field after it is found (the file still round-trips byte for byte).
    """
    match = _TEXT_DATA_FIELD.match(data, start)
    return match is not None and int(match.group(1)) == rtype


def _parse_tagged(
    data: bytes, pos: int, index: int, expected_type: int | None
) -> tuple[TaggedRecord, int]:
    where = _record_name(index, expected_type)
    tag, rtype, number, value_start = _parse_tag(data, pos, len(data), where)
    if number != 1:
        raise fail(where, "first field", f"the record length field {rtype}.001 (LEN)", repr(tag))
    if expected_type is not None and rtype != expected_type:
        raise fail(
            where,
            "first field",
            f"tag {expected_type}.001 (1.003 lists Type-{expected_type})",
            repr(tag),
        )
    where = _record_name(index, rtype)
    limit = min(len(data), value_start + MAX_LEN_DIGITS + 1)
    stop = value_start
    while stop < limit and data[stop] not in (GS, FS):
        stop += 1
    text = data[value_start:stop]
    if not _DIGITS.match(text) or stop >= len(data) or data[stop] not in (GS, FS):
        raise fail(
            where, f"field {tag} (LEN)", "1..12 digits followed by GS or FS", repr(text[:16])
        )
    length = int(text)
    minimum = stop + 1 - pos
    if length < minimum or length > len(data) - pos:
        raise fail(
            where,
            f"field {tag} (LEN)",
            f"a record length within {minimum}..{len(data) - pos}",
            length,
        )
    end = pos + length
    if data[end - 1] != FS:
        raise fail(
            where,
            f"field {tag} (LEN)",
            f"the record to end with FS at offset {end - 1}",
            f"0x{data[end - 1]:02X}",
        )
    fields = [Field(tag, text)]
    cursor = stop + 1
    if data[stop] == FS:
        if stop != end - 1:
            raise fail(
                where, f"field {tag} (LEN)", "GS after the length (more fields follow)", "FS"
            )
        return TaggedRecord(rtype, tuple(fields)), end
    body_end = end - 1  # the FS
    while True:
        ftag, _, fnumber, vstart = _parse_tag(data, cursor, body_end, where)
        if fnumber == DATA_FIELD and rtype >= 10 and not _text_data_field(data, vstart, rtype):
            fields.append(Field(ftag, data[vstart:body_end]))
            break
        gs = data.find(bytes([GS]), vstart, body_end)
        vend = body_end if gs < 0 else gs
        value = data[vstart:vend]
        if FS in value:
            raise fail(
                where,
                f"field {ftag}",
                "a value without FS (records end with FS)",
                f"FS at offset {vstart + value.index(FS)}",
            )
        fields.append(Field(ftag, value))
        if gs < 0:
            break
        cursor = gs + 1
        if cursor >= body_end:
            raise fail(
                where, f"after field {ftag}", "another field after GS", "the end of the record"
            )
    return TaggedRecord(rtype, tuple(fields)), end


def _parse_binary(data: bytes, pos: int, index: int, rtype: int) -> tuple[Record, int]:
    where = _record_name(index, rtype)
    header = _BINARY_HEADER_SIZES.get(rtype, OPAQUE_HEADER)
    if len(data) - pos < 4:
        raise fail(
            where, "record length (LEN, 4 bytes)", "4 bytes", f"{len(data) - pos} left (truncated)"
        )
    length = int.from_bytes(data[pos : pos + 4], "big")
    if length < header or length > len(data) - pos:
        raise fail(where, "record length (LEN, 4 bytes)", f"{header}..{len(data) - pos}", length)
    end = pos + length
    b = data[pos:end]
    if rtype in BINARY_IMAGE_TYPES:
        record: Record = BinaryImageRecord(
            type=rtype,
            idc=b[4],
            impression=b[5],
            positions=tuple(b[6:12]),  # type: ignore[arg-type]
            isr=b[12],
            width=int.from_bytes(b[13:15], "big"),
            height=int.from_bytes(b[15:17], "big"),
            compression=b[17],
            data=b[18:],
        )
    elif rtype == 8:
        record = SignatureRecord(
            idc=b[4],
            signature_type=b[5],
            representation=b[6],
            isr=b[7],
            width=int.from_bytes(b[8:10], "big"),
            height=int.from_bytes(b[10:12], "big"),
            data=b[12:],
        )
    else:
        record = OpaqueRecord(rtype, b[4:])
    return record, end


def _content(record: TaggedRecord, where: str) -> list[tuple[int, int]]:
    """Parse 1.003 (CNT): the (type, IDC) of each record after Type-1."""
    cnt = record.get(3)
    if cnt is None:
        raise fail(where, "field 1.003 (CNT)", "a content field listing the records", "none")
    entries = []
    for i, sub in enumerate(cnt.subfields()):
        widths = (3, 6) if i == 0 else (3, 3)  # '1 US <count>', then 'type US IDC'
        if len(sub) != 2 or not all(
            _DIGITS.match(x) and len(x) <= w for x, w in zip(sub, widths, strict=True)
        ):
            raise fail(
                where,
                f"field 1.003 (CNT) subfield {i + 1}",
                "two numbers 'type US IDC'",
                repr(bytes([US]).join(sub)[:20]),
            )
        entries.append((int(sub[0]), int(sub[1])))
    first, records = entries[0], entries[1:]
    if first[0] != 1:
        raise fail(where, "field 1.003 (CNT) subfield 1", "'1 US <count of other records>'", first)
    if first[1] != len(records):
        raise fail(
            where,
            "field 1.003 (CNT)",
            f"a count equal to the {len(records)} records listed",
            first[1],
        )
    for i, (rtype, idc) in enumerate(records):
        if not 2 <= rtype <= 99:
            raise fail(where, f"field 1.003 (CNT) subfield {i + 2}", "a record type 2..99", rtype)
        if idc > 255:
            raise fail(where, f"field 1.003 (CNT) subfield {i + 2}", "an IDC 0..255", idc)
    return records


def decode(data: bytes) -> Transaction:
    """Parse an ANSI/NIST-ITL transaction (traditional encoding); images stay encoded.

    Raises
    ------
    FormatError
        If the data is not a well-formed transaction: the message names the record, the
        field and what was expected.
    TypeError
        If ``data`` is not bytes-like.

    Examples
    --------
    >>> t = Transaction.build([type2_record(0, {18: "DOE,JOHN"})], destination="DEST",
    ...                       originator="ORIG", control_number="TCN1",
    ...                       date=datetime.date(2024, 1, 31))
    >>> data = t.to_bytes()
    >>> data[:36]
    b'1.001:118\\x1d1.002:0500\\x1d1.003:1\\x1f1\\x1e2\\x1f00\\x1d'
    >>> again = decode(data)
    >>> again.to_bytes() == data, [r.type for r in again.records]
    (True, [1, 2])
    >>> again.text(again.records[1], 18)
    'DOE,JOHN'
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"decode() expects bytes, got {type(data).__name__}")
    data = bytes(data)
    if not data.startswith(b"1."):
        raise fail(
            _record_name(0, 1), "first field", "the Type-1 tag '1.001:' (LEN)", repr(data[:8])
        )
    type1, pos = _parse_tagged(data, 0, 0, 1)
    where = _record_name(0, 1)
    version = type1.get(2)
    if version is None or not re.fullmatch(rb"[0-9]{4}", version.value):
        raise fail(
            where,
            "field 1.002 (VER)",
            "4 digits (0500 for 1-2011)",
            None if version is None else repr(version.value[:8]),
        )
    entries = _content(type1, where)
    records: list[Record] = [type1]
    for i, (rtype, _listed_idc) in enumerate(entries, start=1):
        if pos >= len(data):
            raise fail(
                _record_name(i, rtype),
                "record",
                f"the {len(entries) + 1} records 1.003 lists",
                f"the end of the data after {i} records",
            )
        if rtype in BINARY_RECORD_TYPES:
            record, pos = _parse_binary(data, pos, i, rtype)
        else:
            record, pos = _parse_tagged(data, pos, i, rtype)
            idc = record.get(2)
            if idc is None or not _DIGITS.match(idc.value):
                raise fail(
                    _record_name(i, rtype),
                    f"field {rtype}.002 (IDC)",
                    "a number",
                    "none" if idc is None else repr(idc.value[:12]),
                )
        records.append(record)
    if pos != len(data):
        raise fail(
            "ANSI/NIST-ITL transaction",
            "end of data",
            f"the end after the {len(records)} records 1.003 lists",
            f"{len(data) - pos} more bytes",
        )
    return Transaction(tuple(records))


# --------------------------------------------------------------------------- Transaction


@dataclass(frozen=True)
class Transaction:
    """An ANSI/NIST-ITL transaction: the Type-1 record, then the records it lists.

    :meth:`to_bytes` writes 1.003 (CNT) as read when it still lists the records in order,
    and regenerates it from the records otherwise; record lengths are always recomputed.
    """

    records: tuple[Record, ...]

    def __post_init__(self) -> None:
        if not self.records or not isinstance(self.records[0], TaggedRecord):
            raise FormatError("ANSI/NIST-ITL transaction: expected a Type-1 record first")
        if self.records[0].type != 1 or any(r.type == 1 for r in self.records[1:]):
            raise FormatError(
                "ANSI/NIST-ITL transaction: expected exactly one Type-1 record, the first"
            )

    def _index(self, record: Record) -> int:
        for i, r in enumerate(self.records):
            if r is record:
                return i
        raise ValueError("the record is not one of this transaction's records")

    @property
    def type1(self) -> TaggedRecord:
        """The Type-1 transaction information record."""
        return self.records[0]  # type: ignore[return-value]

    @property
    def version(self) -> str:
        """Field 1.002 (VER), e.g. "0500" for ANSI/NIST-ITL 1-2011."""
        f = self.type1.get(2)
        return "" if f is None else f.value.decode("ascii", "replace")

    @property
    def encoding(self) -> str:
        """Python codec of the text fields outside Type-1 (from 1.015 DCS; default ASCII)."""
        dcs = self.type1.get(15)
        if dcs is None:
            return "ascii"
        first = dcs.subfields()[0][0]
        if not _DIGITS.match(first) or int(first) not in CHARACTER_SETS:
            raise fail(
                _record_name(0, 1),
                "field 1.015 (DCS)",
                f"a character set index among {sorted(CHARACTER_SETS)}",
                repr(first[:8]),
            )
        return CHARACTER_SETS[int(first)]

    def text(self, record: Record, number: int) -> str | None:
        """Text of field ``number`` of a tagged record, decoded by the transaction's rules.

        Returns None when the record has no such field.
        """
        if not isinstance(record, TaggedRecord):
            raise TypeError("text() needs a tagged record")
        f = record.get(number)
        if f is None:
            return None
        return f.text("ascii" if record.type == 1 else self.encoding)

    def of_type(self, *types: int) -> list[Record]:
        """The records of the given types, in order."""
        return [r for r in self.records if r.type in types]

    def content(self) -> list[tuple[int, int]]:
        """(type, IDC) of every record after Type-1, as 1.003 must list them."""
        return [(r.type, _record_idc(r)) for r in self.records[1:]]

    def to_bytes(self) -> bytes:
        """Serialise the transaction."""
        type1 = self.type1
        wanted = self.content()
        try:
            current = _content(type1, _record_name(0, 1))
        except FormatError:
            current = None
        # 1.003 is kept as written while it lists the records' types in order, even where
        # an IDC there differs from the record's own (libbiomeval's type9-15.an2k does).
        if current is None or [t for t, _ in current] != [t for t, _ in wanted]:
            cnt = Field.from_items(
                1, 3, [["1", str(len(wanted))]] + [[str(t), f"{i:02d}"] for t, i in wanted]
            )
            fields = list(type1.fields)
            index = next((k for k, f in enumerate(fields) if f.number == 3), None)
            if index is None:
                fields.insert(min(2, len(fields)), cnt)
            else:
                fields[index] = Field(fields[index].tag, cnt.value)
            type1 = TaggedRecord(1, tuple(fields))
        return type1.to_bytes() + b"".join(r.to_bytes() for r in self.records[1:])

    # ----------------------------------------------------------------- resolution, images

    def _ppmm(self, number: int) -> float:
        f = self.type1.get(number)
        if f is None or not _DECIMAL.match(f.value):
            return 0.0
        return float(f.value)

    def image_ppi(self, record: Record) -> float:
        """Resolution (pixels per inch) of the image in a finger image record.

        Type-3/4: ISR 0 takes the nominal transmitting resolution (1.012, in pixels per
        mm), ISR 1 the native scanning resolution (1.011); a missing or zero 1.012 means
        the standard's minimum, 19.69 ppmm. Tagged records: SLC 1 gives THPS in pixels per
        inch, SLC 2 in pixels per centimetre; SLC 0 (no scale) falls back to 1.012.
        Millimetre and centimetre resolutions are converted to the nearest whole ppi
        (19.69 ppmm -> 500 ppi, 20.00 ppmm -> 508 ppi).

        Raises
        ------
        FormatError
            If the record has no usable resolution.
        """
        where = _record_name(self._index(record), record.type)
        if isinstance(record, BinaryImageRecord):
            if record.isr == 1:
                ppmm = self._ppmm(11)
                if ppmm <= 0:
                    raise fail(where, "ISR", "a native resolution in 1.011 (ISR is 1)", "none")
            else:
                ppmm = self._ppmm(12) or MINIMUM_RESOLUTION_PPMM
            return _ppi_from_ppmm(ppmm, where)
        if isinstance(record, TaggedRecord):
            slc = _int_field(record, 8, where, "SLC")
            hps = _int_field(record, 9, where, "horizontal pixel scale")
            vps = _int_field(record, 10, where, "vertical pixel scale")
            if slc == 0 or (slc in (1, 2) and hps == 0 and vps == 0):  # no scale given
                return _ppi_from_ppmm(self._ppmm(12) or MINIMUM_RESOLUTION_PPMM, where)
            if hps <= 0 or abs(hps - vps) > 0.01 * hps:
                raise fail(
                    where,
                    f"fields {record.type}.009/010",
                    "equal pixel scales (square pixels)",
                    (hps, vps),
                )
            if slc == 1:
                ppi = float(hps)
            elif slc == 2:
                ppi = float(round(hps * 2.54))
            else:
                raise fail(where, f"field {record.type}.008 (SLC)", "0, 1 or 2", slc)
            if not 50 <= ppi <= 5000:
                raise fail(where, f"field {record.type}.009 (scale)", "50..5000 ppi", ppi)
            return ppi
        raise fail(where, "record", "a finger image record", f"Type-{record.type}")

    def image(self, record: Record) -> FingerprintImage:
        """Decode the greyscale friction-ridge image of a Type-3/4/13/14/15 record.

        The image gets the record's resolution (:meth:`image_ppi`) and must decode to the
        size the record declares.

        Raises
        ------
        FormatError
            If the record is of another type, or its image cannot be decoded, is not in the
            declared format, or has another size.
        """
        index = self._index(record)
        where = _record_name(index, record.type)
        if isinstance(record, BinaryImageRecord) and record.type in (3, 4):
            return decode_image(
                record.data,
                record.codec,
                width=record.width,
                height=record.height,
                ppi=self.image_ppi(record),
                record=where,
            )
        if isinstance(record, TaggedRecord) and record.type in FRICTION_RIDGE_IMAGE_TYPES:
            width = _int_field(record, 6, where, "HLL")
            height = _int_field(record, 7, where, "VLL")
            cga = record.get(11)
            name = b"" if cga is None else cga.value
            codec = TAGGED_COMPRESSION.get(name.decode("ascii", "replace").upper())
            if codec is None:
                raise fail(
                    where,
                    f"field {record.type}.011 (CGA)",
                    "/".join(TAGGED_COMPRESSION),
                    repr(name[:12]),
                )
            depth = 8 if record.get(12) is None else _int_field(record, 12, where, "BPX")
            data = next((f for f in reversed(record.fields) if f.number == DATA_FIELD), None)
            if data is None:
                raise fail(where, f"field {record.type}.999 (DATA)", "image data", "none")
            return decode_image(
                data.value,
                codec,
                width=width,
                height=height,
                ppi=self.image_ppi(record),
                depth=depth,
                record=where,
            )
        raise fail(
            where,
            "record",
            "a Type-3, 4, 13, 14 or 15 greyscale image record",
            f"Type-{record.type}",
        )

    def finger_images(self) -> list[tuple[Record, FingerprintImage]]:
        """Every Type-4, Type-13 and Type-14 image, decoded, with its record."""
        return [(r, self.image(r)) for r in self.records if r.type in (4, 13, 14)]

    # ------------------------------------------------------------------------ minutiae

    def template(
        self,
        record: Record,
        *,
        width: int | None = None,
        height: int | None = None,
        resolution: float | None = None,
    ) -> Template:
        """Minutiae of a Type-9 record's standard block (9.005..9.012) as a Template.

        The grid is that of the finger image record with the same IDC (Type-4, 13 or 14)
        when there is one; otherwise ``width``, ``height`` (pixels) and ``resolution``
        (ppi; default 1.012 or 500) must be given. Conversions, with ``r`` the resolution
        in pixels per 0.01 mm (ppi / 2540) and ``H`` the height:

        * x = round(X * r); y = (H - 1) - round(Y * r) (9.012 counts Y up from the bottom);
        * direction = (TTT + 180) degrees, in radians (the ISO/IEC 19794-2 angle);
        * type: A ending, B bifurcation, C (compound) and D (undetermined) other;
        * quality: 0 (manually encoded) -> 100, 1 (no quality) -> 0, 2..63 (decreasing
          confidence) -> 100..1 linearly;
        * cores (9.008) and deltas (9.009) become singular points;
        * finger position: 9.006, when it is a single finger 0..10.

        Raises
        ------
        FormatError
            If the record is not a Type-9 with standard minutiae (9.004 "S"), a field is
            malformed, the minutiae count differs from 9.010, the grid is unknown, or a
            minutia lies more than a pixel outside it.
        """
        index = self._index(record)
        where = _record_name(index, record.type)
        if not isinstance(record, TaggedRecord) or record.type != 9:
            raise fail(where, "record", "a Type-9 minutiae record", f"Type-{record.type}")
        fmt = record.get(4)
        if fmt is None or fmt.value != b"S":
            raise fail(
                where,
                "field 9.004 (FMT)",
                "'S' (standard minutiae in 9.005..9.012)",
                None if fmt is None else repr(fmt.value[:8]),
            )
        image_record = next(
            (
                r
                for r in self.records
                if r.type in (4, 13, 14) and r is not record and _record_idc(r) == record.idc
            ),
            None,
        )
        if image_record is not None:
            iw, ih, ppi = self._image_grid(image_record)
            width = width or iw
            height = height or ih
            resolution = resolution or ppi
        if width is None or height is None:
            raise fail(
                where,
                "image size",
                "a finger image record with the same IDC, or width and height",
                "neither",
            )
        if resolution is None:
            ntr = self._ppmm(12)
            resolution = _ppi_from_ppmm(ntr, where) if ntr > 0 else 500.0
        return _type9_to_template(record, where, int(width), int(height), float(resolution))

    def _image_grid(self, record: Record) -> tuple[int, int, float]:
        where = _record_name(self._index(record), record.type)
        if isinstance(record, BinaryImageRecord):
            return record.width, record.height, self.image_ppi(record)
        assert isinstance(record, TaggedRecord)
        return (
            _int_field(record, 6, where, "HLL"),
            _int_field(record, 7, where, "VLL"),
            self.image_ppi(record),
        )

    # ------------------------------------------------------------------------ building

    @classmethod
    def build(
        cls,
        records: Sequence[Record],
        *,
        transaction_type: str = "CAR",
        destination: str = "",
        originator: str = "",
        control_number: str = "",
        version: str = "0500",
        date: datetime.date | None = None,
        native_resolution: float = MINIMUM_RESOLUTION_PPMM,
        nominal_resolution: float = MINIMUM_RESOLUTION_PPMM,
        domain: tuple[str, str] | None = None,
        character_set: int | None = None,
    ) -> Transaction:
        """A transaction of ``records`` with a generated Type-1 record.

        Parameters
        ----------
        records : sequence of Record
            The records after Type-1 (see :func:`type2_record`, :func:`type14_record` ...).
        transaction_type, destination, originator, control_number : str
            Fields 1.004 (TOT), 1.007 (DAI), 1.008 (ORI) and 1.009 (TCN), ASCII.
        version : str
            1.002 (VER); "0500" is ANSI/NIST-ITL 1-2011.
        date : datetime.date, optional
            1.005 (DAT); today (UTC) by default.
        native_resolution, nominal_resolution : float
            1.011 (NSR) and 1.012 (NTR) in pixels per millimetre; Type-4 images with ISR 0
            are at the nominal resolution.
        domain : tuple of str, optional
            1.013 (DOM): domain name and version.
        character_set : int, optional
            1.015 (DCS) character set index for the other records' text (3 for UTF-8).
        """
        if date is None:
            date = datetime.datetime.now(datetime.timezone.utc).date()
        fields = [
            Field("1.001", b"0"),
            Field.from_items(1, 2, version),
            Field("1.003", b""),  # regenerated by to_bytes
            Field.from_items(1, 4, transaction_type),
            Field.from_items(1, 5, date.strftime("%Y%m%d")),
            Field.from_items(1, 7, destination),
            Field.from_items(1, 8, originator),
            Field.from_items(1, 9, control_number),
            Field.from_items(1, 11, f"{native_resolution:05.2f}"),
            Field.from_items(1, 12, f"{nominal_resolution:05.2f}"),
        ]
        if domain is not None:
            fields.append(Field.from_items(1, 13, [list(domain)]))
        if character_set is not None:
            name = {1: "ISO 8859-1", 2: "UTF-16", 3: "UTF-8", 4: "UTF-32"}.get(character_set)
            if name is None:
                raise ValueError(f"character_set must be 1..4, got {character_set!r}")
            fields.append(Field.from_items(1, 15, [[f"{character_set:03d}", name]]))
        type1 = TaggedRecord(1, tuple(fields))
        transaction = cls((type1, *records))
        return decode(transaction.to_bytes())


def _ppi_from_ppmm(ppmm: float, where: str) -> float:
    ppi = float(round(ppmm * MM_PER_INCH))
    if not 50 <= ppi <= 5000:
        raise fail(where, "resolution", "50..5000 pixels per inch", f"{ppmm} pixels per mm")
    return ppi


def _int_field(record: TaggedRecord, number: int, where: str, name: str) -> int:
    f = record.get(number)
    if f is None or not _DIGITS.match(f.value):
        raise fail(
            where,
            f"field {record.type}.{number:03d} ({name})",
            "a number",
            "none" if f is None else repr(f.value[:12]),
        )
    return int(f.value)


_TYPE9_KIND = {
    b"A": MinutiaType.ENDING,
    b"B": MinutiaType.BIFURCATION,
    b"C": MinutiaType.OTHER,
    b"D": MinutiaType.OTHER,
}


def _quality_from_type9(q: int) -> int:
    if q == 0:
        return 100
    if q == 1:
        return 0
    return round(100 - (q - 2) * 99 / 61)


def _quality_to_type9(quality: int) -> int:
    if quality <= 0:
        return 1
    return 2 + round((100 - quality) * 61 / 99)


def _to_pixels(value: int, scale: float, limit: int, where: str, what: str) -> int:
    p = round(value * scale)
    if p < -1 or p > limit:
        raise fail(
            where, what, f"a position within the {limit}-pixel image", f"{value} (pixel {p})"
        )
    return min(max(p, 0), limit - 1)


def _points(
    record: TaggedRecord, number: int, where: str, width: int, height: int, scale: float
) -> list[tuple[int, int]]:
    f = record.get(number)
    if f is None:
        return []
    out = []
    for sub in f.subfields():
        text = sub[0]
        if not re.fullmatch(rb"[0-9]{8}", text):
            raise fail(where, f"field 9.{number:03d}", "XXXXYYYY (8 digits)", repr(text[:12]))
        x = _to_pixels(int(text[:4]), scale, width, where, f"field 9.{number:03d} X")
        y = height - 1 - _to_pixels(int(text[4:]), scale, height, where, f"field 9.{number:03d} Y")
        out.append((x, y))
    return out


def _type9_to_template(
    record: TaggedRecord, where: str, width: int, height: int, ppi: float
) -> Template:
    scale = ppi / (MM_PER_INCH / TYPE9_UNIT_MM)  # pixels per 0.01 mm
    count = _int_field(record, 10, where, "MIN")
    mrc = record.get(12)
    subs = [] if mrc is None or not mrc.value else mrc.subfields()
    if len(subs) != count:
        raise fail(where, "field 9.012 (MRC)", f"{count} minutiae as 9.010 says", len(subs))
    xs, ys, dirs, kinds, quals = [], [], [], [], []
    for i, items in enumerate(subs):
        label = f"field 9.012 (MRC) minutia {i + 1}"
        if len(items) < 4 or not re.fullmatch(rb"[0-9]{11}", items[1]):
            raise fail(
                where,
                label,
                "index, XXXXYYYYTTT (11 digits), quality and type",
                repr(bytes([US]).join(items)[:30]),
            )
        xyt = items[1]
        theta = int(xyt[8:])
        if theta >= 360:
            raise fail(where, label, "an angle TTT of 0..359 degrees", theta)
        if not re.fullmatch(rb"[0-9]{1,2}", items[2]) or int(items[2]) > 63:
            raise fail(where, label, "a quality 0..63", repr(items[2][:8]))
        kind = _TYPE9_KIND.get(items[3])
        if kind is None:
            raise fail(where, label, "a minutia type A, B, C or D", repr(items[3][:8]))
        xs.append(_to_pixels(int(xyt[:4]), scale, width, where, f"{label} X"))
        ys.append(height - 1 - _to_pixels(int(xyt[4:8]), scale, height, where, f"{label} Y"))
        dirs.append(math.radians((theta + 180) % 360))
        kinds.append(int(kind))
        quals.append(_quality_from_type9(int(items[2])))
    cores = _points(record, 8, where, width, height, scale)
    deltas = _points(record, 9, where, width, height, scale)
    singular = cores + deltas
    fgp = record.get(6)
    position = FingerPosition.UNKNOWN
    if fgp is not None and _DIGITS.match(fgp.subfields()[0][0]):
        code = int(fgp.subfields()[0][0])
        if code <= 10:
            position = FingerPosition(code)
    try:
        return Template(
            width=width,
            height=height,
            resolution=ppi,
            source_resolution=ppi,
            x=xs,
            y=ys,
            direction=dirs,
            type=kinds,
            quality=quals,
            image_quality=0,
            finger_position=position,
            singular_x=[p[0] for p in singular],
            singular_y=[p[1] for p in singular],
            singular_type=[int(SingularType.CORE)] * len(cores)
            + [int(SingularType.DELTA)] * len(deltas),
        )
    except AfisError as exc:
        raise FormatError(f"{where}: minutiae: {exc}") from exc


# ------------------------------------------------------------------------------ builders


def _tagged(record_type: int, idc: int, fields: Sequence[Field]) -> TaggedRecord:
    if not 0 <= idc <= 99:
        raise ValueError(f"idc must be 0..99, got {idc!r}")
    return TaggedRecord(
        record_type,
        (
            Field(f"{record_type}.001", b"0"),
            Field.from_items(record_type, 2, f"{idc:02d}"),
            *fields,
        ),
    )


def type2_record(
    idc: int, fields: Mapping[int, str | Sequence[Sequence[str]]], encoding: str = "ascii"
) -> TaggedRecord:
    """A Type-2 (user-defined descriptive text) record with ``fields`` (number -> value).

    Values are text or subfields of items; numbers 3..999, written in increasing order.
    """
    out = []
    for number in sorted(fields):
        if not 3 <= number <= 999:
            raise ValueError(f"Type-2 field numbers are 3..999, got {number}")
        out.append(Field.from_items(2, number, fields[number], encoding))
    return _tagged(2, idc, out)


def type4_record(
    image: FingerprintImage | np.ndarray,
    *,
    idc: int,
    position: int,
    impression: int = 0,
    codec: str = "wsq",
    native: bool = False,
    wsq_bitrate: float = 0.75,
) -> BinaryImageRecord:
    """A Type-4 high-resolution greyscale fingerprint record (binary layout).

    The image must be at the transaction's nominal transmitting resolution (1.012, 19.69
    ppmm = 500 ppi by default) unless ``native`` is set (ISR 1: at 1.011).
    """
    image = as_image(image)
    if codec not in _CODEC_TO_GCA or codec in ("jpeg", "jpeg-lossless"):
        raise ValueError(
            f"codec must be raw, wsq, jpeg2000, jpeg2000-lossless or png, got {codec!r}"
        )
    if not 0 <= position <= 255 or not 0 <= impression <= 255 or not 0 <= idc <= 255:
        raise ValueError("idc, position and impression must be 0..255")
    return BinaryImageRecord(
        type=4,
        idc=idc,
        impression=impression,
        positions=(position, 255, 255, 255, 255, 255),
        isr=1 if native else 0,
        width=image.width,
        height=image.height,
        compression=_CODEC_TO_GCA[codec],
        data=encode_image(image, codec, wsq_bitrate=wsq_bitrate),
    )


def _image_fields(
    record_type: int,
    size: tuple[int, int, float],
    codec: str,
    source: str,
    date: datetime.date | None,
    bits: int,
) -> list[Field]:
    if date is None:
        date = datetime.datetime.now(datetime.timezone.utc).date()
    width, height, resolution = size
    ppi = round(resolution)
    t = record_type
    return [
        Field.from_items(t, 4, source),
        Field.from_items(t, 5, date.strftime("%Y%m%d")),
        Field.from_items(t, 6, str(width)),
        Field.from_items(t, 7, str(height)),
        Field.from_items(t, 8, "1"),
        Field.from_items(t, 9, str(ppi)),
        Field.from_items(t, 10, str(ppi)),
        Field.from_items(t, 11, _CODEC_TO_CGA[codec]),
        Field.from_items(t, 12, str(bits)),
    ]


def type14_record(
    image: FingerprintImage | np.ndarray | bytes,
    *,
    idc: int,
    position: int,
    impression: int = 0,
    codec: str = "wsq",
    source: str = "NUSAFIS",
    date: datetime.date | None = None,
    wsq_bitrate: float = 0.75,
) -> TaggedRecord:
    """A Type-14 variable-resolution fingerprint image record (SLC 1: resolution in ppi).

    ``image`` given as ``bytes`` is image data encoded already (WSQ, PNG or JPEG 2000, e.g.
    compressed once at capture time): it is stored unchanged, its codec, size and
    resolution read from its header (500 ppi when it states none); ``codec`` and
    ``wsq_bitrate`` are then ignored.

    Examples
    --------
    >>> from afis.interchange._images import encode_pil
    >>> png, *_ = encode_pil(np.full((64, 48), 200, np.uint8), "png")
    >>> record = type14_record(png, idc=1, position=2)
    >>> record.get(11).value, record.get(6).value, record.get(999).value == png
    (b'PNG', b'48', True)
    """
    if isinstance(image, bytes | bytearray):
        header = encoded_header(bytes(image), "Type-14 image")
        if header.codec == "jpeg" or header.colour != "GRAY":
            raise ValueError("a Type-14 image must be greyscale WSQ, PNG or JPEG 2000 data")
        codec, data = header.codec, bytes(image)
        size = (header.width, header.height, header.ppi or DEFAULT_PPI)
    else:
        image = as_image(image)
        if codec not in _CODEC_TO_CGA:
            raise ValueError(f"codec must be one of {', '.join(_CODEC_TO_CGA)}, got {codec!r}")
        data = encode_image(image, codec, wsq_bitrate=wsq_bitrate)
        size = (image.width, image.height, image.ppi)
    fields = [
        Field.from_items(14, 3, str(impression)),
        *_image_fields(14, size, codec, source, date, 8),
        Field.from_items(14, 13, str(position)),
        Field("14.999", data),
    ]
    fields.sort(key=lambda f: f.number)
    return _tagged(14, idc, fields)


def type9_record(
    template: Template,
    *,
    idc: int,
    impression: int = 0,
    originator: str = "NUSAFIS",
) -> TaggedRecord:
    """A Type-9 record with ``template``'s minutiae in the standard fields 9.005..9.012.

    The inverse of :meth:`Transaction.template`: X = round(x / r), Y = round((H - 1 - y)
    / r) with ``r`` pixels per 0.01 mm, TTT = round(degrees(direction)) + 180 mod 360,
    quality 0 -> 1 (none), 1..100 -> 63..2. No ridge counts (9.011 is 0).

    Raises
    ------
    FormatError
        If the template is larger than 99.99 mm on a side (4-digit coordinates).
    """
    where = "Type-9 record"
    scale = template.resolution / (MM_PER_INCH / TYPE9_UNIT_MM)
    minutiae = []
    for i in range(len(template)):
        x = round(int(template.x[i]) / scale)
        y = round((template.height - 1 - int(template.y[i])) / scale)
        if x > 9999 or y > 9999:
            raise fail(where, f"minutia {i + 1}", "coordinates within 99.99 mm", (x, y))
        theta = (round(math.degrees(float(template.direction[i]))) + 180) % 360
        kind = {MinutiaType.ENDING: "A", MinutiaType.BIFURCATION: "B"}.get(
            MinutiaType(int(template.type[i])), "D"
        )
        q = _quality_to_type9(int(template.quality[i]))
        minutiae.append([f"{i + 1:03d}", f"{x:04d}{y:04d}{theta:03d}", str(q), kind])
    fields = [
        Field.from_items(9, 3, str(impression)),
        Field.from_items(9, 4, "S"),
        Field.from_items(9, 5, [[originator, "A"]]),
        Field.from_items(9, 6, f"{int(template.finger_position):02d}"),
        Field.from_items(9, 7, [["T", "UC"]]),
    ]
    for number, kind in ((8, SingularType.CORE), (9, SingularType.DELTA)):
        points = [
            f"{round(int(sx) / scale):04d}{round((template.height - 1 - int(sy)) / scale):04d}"
            for sx, sy, st in zip(
                template.singular_x, template.singular_y, template.singular_type, strict=True
            )
            if int(st) == kind
        ]
        if points:
            fields.append(Field.from_items(9, number, [[p] for p in points]))
    fields += [
        Field.from_items(9, 10, str(len(template))),
        Field.from_items(9, 11, "0"),
    ]
    if minutiae:
        fields.append(Field.from_items(9, 12, minutiae))
    return _tagged(9, idc, fields)


def _encoded_or_pixels(
    pixels: np.ndarray | bytes, codec: str, what: str
) -> tuple[bytes, int, int, str, str]:
    """Data, width, height, colour space and codec of a Type-10/17 image: already encoded
    data (PNG, JPEG, JPEG 2000) unchanged, or ``pixels`` encoded with ``codec``."""
    if isinstance(pixels, bytes | bytearray):
        header = encoded_header(bytes(pixels), what)
        if header.codec == "wsq":
            raise ValueError(f"{what}: WSQ is for fingerprints; give PNG, JPEG or JPEG 2000")
        return bytes(pixels), header.width, header.height, header.colour, header.codec
    data, width, height, space = encode_pil(pixels, codec)
    return data, width, height, space, codec


def type10_record(
    pixels: np.ndarray | bytes,
    *,
    idc: int,
    codec: str = "png",
    ppi: float | None = None,
    image_type: str = "FACE",
    source: str = "NUSAFIS",
    date: datetime.date | None = None,
) -> TaggedRecord:
    """A Type-10 (face, other body part) image record from a greyscale or RGB array.

    ``codec`` is "png", "jpeg" (JPEGB) or "jpeg2000" (JP2). Without ``ppi`` the scale is
    given as aspect ratio only (SLC 0, 1:1). ``pixels`` given as ``bytes`` is PNG, JPEG or
    JPEG 2000 data (a camera's own file), stored unchanged (``codec`` is then ignored).

    Examples
    --------
    >>> from afis.interchange._images import encode_pil
    >>> jpeg, *_ = encode_pil(np.zeros((40, 30, 3), np.uint8), "jpeg")
    >>> record = type10_record(jpeg, idc=1)
    >>> record.get(11).value, record.get(12).value, record.get(999).value == jpeg
    (b'JPEGB', b'SRGB', True)
    """
    data, width, height, space, codec = _encoded_or_pixels(pixels, codec, "Type-10 image")
    cga = {"png": "PNG", "jpeg": "JPEGB", "jpeg2000": "JP2"}[codec]
    scale = ("0", "1", "1") if ppi is None else ("1", str(round(ppi)), str(round(ppi)))
    if date is None:
        date = datetime.datetime.now(datetime.timezone.utc).date()
    fields = [
        Field.from_items(10, 3, image_type),
        Field.from_items(10, 4, source),
        Field.from_items(10, 5, date.strftime("%Y%m%d")),
        Field.from_items(10, 6, str(width)),
        Field.from_items(10, 7, str(height)),
        Field.from_items(10, 8, scale[0]),
        Field.from_items(10, 9, scale[1]),
        Field.from_items(10, 10, scale[2]),
        Field.from_items(10, 11, cga),
        Field.from_items(10, 12, space),
        Field("10.999", data),
    ]
    return _tagged(10, idc, fields)


def type17_record(
    pixels: np.ndarray | bytes,
    *,
    idc: int,
    eye: int,
    ppi: float,
    codec: str = "png",
    source: str = "NUSAFIS",
    date: datetime.date | None = None,
) -> TaggedRecord:
    """A Type-17 iris image record (eye 0 undefined, 1 right, 2 left) from a grey array,
    or from PNG, JPEG or JPEG 2000 data given as ``bytes`` (stored unchanged)."""
    if eye not in (0, 1, 2):
        raise ValueError(f"eye must be 0, 1 or 2, got {eye!r}")
    data, width, height, space, codec = _encoded_or_pixels(pixels, codec, "Type-17 image")
    cga = {"png": "PNG", "jpeg": "JPEGB", "jpeg2000": "JP2"}[codec]
    if date is None:
        date = datetime.datetime.now(datetime.timezone.utc).date()
    depth = "8" if space == "GRAY" else "24"
    fields = [
        Field.from_items(17, 3, str(eye)),
        Field.from_items(17, 4, source),
        Field.from_items(17, 5, date.strftime("%Y%m%d")),
        Field.from_items(17, 6, str(width)),
        Field.from_items(17, 7, str(height)),
        Field.from_items(17, 8, "1"),
        Field.from_items(17, 9, str(round(ppi))),
        Field.from_items(17, 10, str(round(ppi))),
        Field.from_items(17, 11, cga),
        Field.from_items(17, 12, depth),
        Field.from_items(17, 13, space),
        Field("17.999", data),
    ]
    return _tagged(17, idc, fields)


def type8_record(
    *,
    idc: int,
    pixels: np.ndarray | None = None,
    vectors: Sequence[tuple[int, int, int]] | None = None,
    signature_type: int = 0,
) -> SignatureRecord:
    """A Type-8 signature record: scanned uncompressed ``pixels`` or pen ``vectors``.

    Vectors are (x, y, pressure) with x, y in 0.0254 mm units (0..65535) and pressure
    0..255.
    """
    if (pixels is None) == (vectors is None):
        raise ValueError("give exactly one of pixels and vectors")
    if pixels is not None:
        array = np.asarray(pixels)
        if array.ndim != 2 or array.dtype != np.uint8 or max(array.shape) > 0xFFFF:
            raise ValueError("pixels must be a 2-D uint8 array of at most 65535 per side")
        return SignatureRecord(
            idc,
            signature_type,
            0,
            0,
            array.shape[1],
            array.shape[0],
            np.ascontiguousarray(array).tobytes(),
        )
    points = np.asarray(vectors, dtype=np.int64).reshape(-1, 3)
    if points.size and (
        points.min() < 0 or points[:, :2].max() > 0xFFFF or points[:, 2].max() > 255
    ):
        raise ValueError("vectors must be (x, y) in 0..65535 and pressure in 0..255")
    data = b"".join(
        int(x).to_bytes(2, "big") + int(y).to_bytes(2, "big") + bytes([int(p)])
        for x, y, p in points
    )
    return SignatureRecord(idc, signature_type, 2, 0, 0, 0, data)


def validate(data: bytes) -> Transaction:
    """Decode a transaction and everything in it that this module interprets.

    Beyond :func:`decode`: every Type-3/4/13/14/15 image is decoded and checked against its
    declared size, every Type-9 record with standard minutiae whose image size is known
    (a finger image record with its IDC) is converted to a Template, text fields are
    decoded by the character encoding rules, and the transaction is re-encoded.

    Raises
    ------
    FormatError
        On the first problem found.
    """
    transaction = decode(data)
    for record in transaction.records:
        if isinstance(record, TaggedRecord):
            encoding = "ascii" if record.type == 1 else transaction.encoding
            for f in record.fields:
                if f.number != DATA_FIELD or record.type < 10:
                    f.text(encoding)
        if record.type in (3, 4, *FRICTION_RIDGE_IMAGE_TYPES):
            transaction.image(record)
        elif record.type == 9 and isinstance(record, TaggedRecord):
            fmt = record.get(4)
            has_grid = any(
                r.type in (4, 13, 14) and _record_idc(r) == record.idc for r in transaction.records
            )
            if fmt is not None and fmt.value == b"S" and has_grid:
                transaction.template(record)
    transaction.to_bytes()
    return transaction
