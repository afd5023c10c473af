"""ISO/IEC 19794-4:2011 finger image records (format "FIR", version "020").

Layout (all integers big-endian)::

    general header, 16 bytes
      0   4  format identifier b"FIR\\0"
      4   4  version b"020\\0"
      8   4  record length (whole record, header included)
      12  2  number of finger/palm representations, >= 1
      14  1  certification flag (0 or 1: representations carry certification blocks)
      15  1  number of distinct finger/palm positions
    then per representation: representation header and body
      4  representation length (header included)
      9  capture date and time: year (2), month, day, hour, minute, second (1 each),
         millisecond (2); 0xFF.. where not given
      1  capture device technology    2  capture device vendor    2  capture device type
      1  number of quality blocks Q, then Q x 5 bytes: quality score (1; 0..100, 255 failed),
         quality algorithm vendor (2), quality algorithm (2)
      only if the certification flag is 1: number of certification blocks C, then
         C x 3 bytes: certification authority (2), certification scheme (1)
      1  finger/palm position         1  representation number     1  scale units (1 ppi, 2 ppcm)
      2+2 capture device spatial sampling rate (horizontal, vertical)
      2+2 image spatial sampling rate (horizontal, vertical)
      1  bit depth    1  compression algorithm: 0 uncompressed, 1 bit-packed, 2 WSQ,
         3 JPEG, 4 JPEG 2000 lossy, 5 JPEG 2000 lossless, 6 PNG
      1  impression type    2  horizontal line length    2  vertical line length
      4  image data length L, then L bytes of image data
      extended data blocks up to the representation length: type (2), length (2, the
         block's 4-byte header included), data (segmentation 1, annotation 2, comment 3+)

:func:`decode` checks the structure and keeps every value (extended data blocks as raw
bytes), so ``decode(data).to_bytes() == data`` for a valid record. Image data is decoded
only on request (:meth:`FingerImageRecord2011.image`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from afis.errors import FormatError
from afis.image import FingerprintImage
from afis.interchange._images import (
    Reader,
    as_image,
    check_codec,
    decode_image,
    encode_image,
    fail,
    ppi_from_units,
    uint,
)

__all__ = [
    "COMPRESSION_CODES",
    "CaptureDateTime",
    "CertificationBlock",
    "ExtendedDataBlock",
    "FingerImageRecord2011",
    "FingerImageRepresentation2011",
    "QualityBlock",
    "decode",
]

FORMAT_ID: Final = b"FIR\x00"
VERSION: Final = b"020\x00"
HEADER_SIZE: Final = 16
#: Representation header bytes without quality and certification blocks.
REPRESENTATION_FIXED_SIZE: Final = 46
#: Compression algorithm code -> codec name (see :data:`afis.interchange._images.CODECS`).
COMPRESSION_CODES: Final[dict[int, str]] = {
    0: "raw",
    1: "raw-bitpacked",
    2: "wsq",
    3: "jpeg",
    4: "jpeg2000",
    5: "jpeg2000-lossless",
    6: "png",
}
_CODEC_TO_CODE: Final = {v: k for k, v in COMPRESSION_CODES.items() if v != "raw-bitpacked"}
#: Finger and palm position codes: 0 unknown, 1..10 fingers, 11..15 multi-finger and thumb
#: slaps, 20..38 palm areas, 40..50 finger combinations.
POSITION_CODES: Final = frozenset([*range(0, 16), *range(20, 39), *range(40, 51)])
#: Impression types 0..15 and 20..29 (29: unknown).
IMPRESSION_CODES: Final = frozenset([*range(0, 16), *range(20, 30)])
_RECORD = "ISO 19794-4:2011 record"


@dataclass(frozen=True)
class CaptureDateTime:
    """Capture date and time as stored (UTC); 0xFF / 0xFFFF mark fields not given."""

    year: int = 0xFFFF
    month: int = 0xFF
    day: int = 0xFF
    hour: int = 0xFF
    minute: int = 0xFF
    second: int = 0xFF
    millisecond: int = 0xFFFF

    def to_bytes(self) -> bytes:
        return (
            self.year.to_bytes(2, "big")
            + bytes([self.month, self.day, self.hour, self.minute, self.second])
            + self.millisecond.to_bytes(2, "big")
        )


@dataclass(frozen=True)
class QualityBlock:
    """A quality score (0..100; 255: computation failed) and the algorithm that made it."""

    score: int
    vendor: int = 0
    algorithm: int = 0


@dataclass(frozen=True)
class CertificationBlock:
    """A certification authority and scheme."""

    authority: int
    scheme: int


@dataclass(frozen=True)
class ExtendedDataBlock:
    """An extended data block (1 segmentation, 2 annotation, 3+ comment), kept as bytes."""

    type: int
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class FingerImageRepresentation2011:
    """One finger (or palm, or slap) image of a 2011 record.

    Parameters
    ----------
    position : int
        Finger/palm position code (0 unknown, 1 right thumb .. 10 left little ...).
    width, height : int
        Horizontal and vertical line lengths in pixels.
    image_data : bytes
        The image, compressed as ``compression`` says.
    compression : int
        Compression algorithm code (see :data:`COMPRESSION_CODES`).
    image_resolution, capture_resolution : tuple of int
        Horizontal and vertical spatial sampling rates in ``scale_units``.
    scale_units : int
        1 pixels per inch, 2 pixels per centimetre.
    bit_depth : int
        Bits per pixel (8 for greyscale).
    impression : int
        Impression type (0 live-scan plain, 1 live-scan rolled, ..., 29 unknown).
    representation_number : int
        Number of this representation in the record.
    quality_blocks, certification_blocks, extended_data : tuple
        Optional blocks, kept as read.
    capture_time : CaptureDateTime
        When the image was captured.
    device_technology, device_vendor, device_type : int
        Capture device identification (0: not given).
    """

    position: int
    width: int
    height: int
    image_data: bytes = field(repr=False)
    compression: int = 6
    image_resolution: tuple[int, int] = (500, 500)
    capture_resolution: tuple[int, int] = (500, 500)
    scale_units: int = 1
    bit_depth: int = 8
    impression: int = 29
    representation_number: int = 0
    quality_blocks: tuple[QualityBlock, ...] = ()
    certification_blocks: tuple[CertificationBlock, ...] = ()
    extended_data: tuple[ExtendedDataBlock, ...] = ()
    capture_time: CaptureDateTime = CaptureDateTime()
    device_technology: int = 0
    device_vendor: int = 0
    device_type: int = 0

    @property
    def codec(self) -> str:
        """Codec name of the compression code ("wsq", "jpeg2000-lossless", "png" ...)."""
        return COMPRESSION_CODES.get(self.compression, f"unknown ({self.compression})")

    @property
    def ppi(self) -> float:
        """Horizontal image resolution in pixels per inch."""
        return ppi_from_units(
            self.image_resolution[0], self.scale_units, _RECORD, "image spatial sampling rate"
        )

    def to_bytes(self, certification_flag: int, where: str = _RECORD) -> bytes:
        """Serialise this representation (its length and image data length computed)."""
        if not isinstance(self.image_data, bytes):
            raise fail(where, "image data", "bytes", type(self.image_data).__name__)
        t = self.capture_time
        head = bytearray(uint(t.year, 2, where, "capture year"))
        for name in ("month", "day", "hour", "minute", "second"):
            head += uint(getattr(t, name), 1, where, f"capture {name}")
        head += uint(t.millisecond, 2, where, "capture millisecond")
        head += uint(self.device_technology, 1, where, "capture device technology")
        head += uint(self.device_vendor, 2, where, "capture device vendor")
        head += uint(self.device_type, 2, where, "capture device type")
        head += uint(len(self.quality_blocks), 1, where, "number of quality blocks")
        for q in self.quality_blocks:
            head += uint(q.score, 1, where, "quality score")
            head += uint(q.vendor, 2, where, "quality vendor")
            head += uint(q.algorithm, 2, where, "quality algorithm")
        if certification_flag:
            head += uint(len(self.certification_blocks), 1, where, "certification blocks")
            for c in self.certification_blocks:
                head += uint(c.authority, 2, where, "certification authority")
                head += uint(c.scheme, 1, where, "certification scheme")
        elif self.certification_blocks:
            raise fail(
                where,
                "certification blocks",
                "none when the certification flag is 0",
                len(self.certification_blocks),
            )
        head += uint(self.position, 1, where, "finger position")
        head += uint(self.representation_number, 1, where, "representation number")
        head += uint(self.scale_units, 1, where, "scale units")
        rates = (*self.capture_resolution, *self.image_resolution)
        if len(rates) != 4:
            raise fail(where, "sampling rates", "(horizontal, vertical) pairs", rates)
        for value in rates:
            head += uint(value, 2, where, "spatial sampling rate")
        head += uint(self.bit_depth, 1, where, "bit depth")
        head += uint(self.compression, 1, where, "compression algorithm")
        head += uint(self.impression, 1, where, "impression type")
        head += uint(self.width, 2, where, "width") + uint(self.height, 2, where, "height")
        head += uint(len(self.image_data), 4, where, "image data length")
        tail = bytearray()
        for i, block in enumerate(self.extended_data):
            label = f"extended data block {i + 1}"
            if not isinstance(block.data, bytes):
                raise fail(where, label, "bytes", type(block.data).__name__)
            tail += uint(block.type, 2, where, f"{label} type")
            tail += uint(4 + len(block.data), 2, where, f"{label} length") + block.data
        total = 4 + len(head) + len(self.image_data) + len(tail)
        return uint(total, 4, where, "representation length") + head + self.image_data + tail


@dataclass(frozen=True)
class FingerImageRecord2011:
    """An ISO/IEC 19794-4:2011 finger image record.

    Examples
    --------
    >>> import numpy as np
    >>> from afis.image import FingerprintImage
    >>> yy, xx = np.mgrid[0:120, 0:100]
    >>> image = FingerprintImage((128 + 90 * np.sin(xx / 3.0)).astype(np.uint8), 500.0)
    >>> record = FingerImageRecord2011.from_images(
    ...     [image], codec="jpeg2000-lossless", positions=[7], quality=80)
    >>> data = record.to_bytes()
    >>> data[:8]
    b'FIR\\x00020\\x00'
    >>> again = decode(data)
    >>> again == record, again.representations[0].position
    (True, 7)
    >>> bool((again.image(0).pixels == image.pixels).all())
    True
    """

    representations: tuple[FingerImageRepresentation2011, ...]
    certification_flag: int = 0
    position_count: int | None = None
    """Number of distinct positions in the header; computed from the representations
    when None."""

    def __post_init__(self) -> None:
        if self.position_count is None:  # computed from the representations
            object.__setattr__(
                self, "position_count", len({r.position for r in self.representations}) % 256
            )

    def image(self, index: int = 0) -> FingerprintImage:
        """Decode the image of representation ``index`` at its resolution.

        Raises
        ------
        FormatError
            If the data does not decode to the declared size or format, or the
            resolution is unusable (out of 50..5000 ppi, or non-square pixels).
        IndexError
            If there is no representation ``index``.
        """
        rep = self.representations[index]
        where = f"{_RECORD}, representation {index + 1}"
        horizontal = ppi_from_units(
            rep.image_resolution[0], rep.scale_units, where, "horizontal image sampling rate"
        )
        vertical = ppi_from_units(
            rep.image_resolution[1], rep.scale_units, where, "vertical image sampling rate"
        )
        if abs(horizontal - vertical) > 0.01 * horizontal:
            raise fail(
                where,
                "image spatial sampling rate",
                "square pixels (horizontal and vertical within 1 %)",
                rep.image_resolution,
            )
        return decode_image(
            rep.image_data,
            rep.codec,
            width=rep.width,
            height=rep.height,
            ppi=horizontal,
            depth=rep.bit_depth,
            record=where,
            depth_field="bit depth",
        )

    def to_bytes(self) -> bytes:
        """Serialise the record (record and representation lengths computed)."""
        if not self.representations:
            raise FormatError(f"{_RECORD}: number of representations: expected at least 1")
        if len(self.representations) > 0xFFFF:
            raise FormatError(f"{_RECORD}: number of representations: expected at most 65535")
        if self.certification_flag not in (0, 1):
            raise fail(_RECORD, "certification flag", "0 or 1", self.certification_flag)
        body = b"".join(
            r.to_bytes(self.certification_flag, f"{_RECORD}, representation {i + 1}")
            for i, r in enumerate(self.representations)
        )
        total = HEADER_SIZE + len(body)
        if total > 0xFFFFFFFF:
            raise FormatError(f"{_RECORD}: record length: {total} does not fit 4 bytes")
        return (
            FORMAT_ID
            + VERSION
            + total.to_bytes(4, "big")
            + len(self.representations).to_bytes(2, "big")
            + bytes([self.certification_flag])
            + uint(self.position_count, 1, _RECORD, "number of distinct positions")
            + body
        )

    @classmethod
    def from_images(
        cls,
        images: Sequence[FingerprintImage],
        *,
        codec: str = "png",
        positions: Sequence[int] | None = None,
        impression: int = 29,
        quality: int | None = None,
        wsq_bitrate: float = 0.75,
        jpeg2000_ratio: float = 15.0,
    ) -> FingerImageRecord2011:
        """Build a record holding ``images``, each compressed with ``codec``.

        Parameters
        ----------
        images : sequence of FingerprintImage or numpy.ndarray
            One representation each, at its own resolution (rounded to a whole ppi).
        codec : str
            "png", "wsq", "jpeg2000" (lossy), "jpeg2000-lossless" or "raw".
        positions : sequence of int, optional
            Finger position code of each image (default 0, unknown).
        impression : int
            Impression type of every representation (default 29, unknown).
        quality : int, optional
            A quality score 0..100 stored in one quality block (vendor and algorithm 0).
        wsq_bitrate, jpeg2000_ratio : float
            Settings of the lossy codecs.
        """
        images = [as_image(i) for i in images]
        if not images:
            raise TypeError("images must be a non-empty sequence of FingerprintImage")
        codec = check_codec(codec)
        if codec not in _CODEC_TO_CODE or codec == "jpeg":
            raise ValueError(f"codec {codec!r} cannot be written (png, wsq, jpeg2000, raw)")
        codes = [0] * len(images) if positions is None else [int(p) for p in positions]
        if len(codes) != len(images):
            raise ValueError("positions must have one entry per image")
        for code in codes:
            if code not in POSITION_CODES:
                raise ValueError(f"finger position code {code} is not defined")
        if impression not in IMPRESSION_CODES:
            raise ValueError(f"impression type {impression} is not defined")
        blocks: tuple[QualityBlock, ...] = ()
        if quality is not None:
            if not 0 <= quality <= 100:
                raise ValueError(f"quality must be within 0..100, got {quality}")
            blocks = (QualityBlock(score=quality),)
        reps = []
        for number, (image, code) in enumerate(zip(images, codes, strict=True)):
            ppi = round(image.ppi)
            reps.append(
                FingerImageRepresentation2011(
                    position=code,
                    width=image.width,
                    height=image.height,
                    image_data=encode_image(
                        image, codec, wsq_bitrate=wsq_bitrate, jpeg2000_ratio=jpeg2000_ratio
                    ),
                    compression=_CODEC_TO_CODE[codec],
                    image_resolution=(ppi, ppi),
                    capture_resolution=(ppi, ppi),
                    impression=impression,
                    representation_number=number % 256,
                    quality_blocks=blocks,
                )
            )
        return cls(representations=tuple(reps))


def _representation(r: Reader, index: int, certification_flag: int, end_of_record: int):
    where = f"{_RECORD}, representation {index + 1}"
    start = r.pos
    length = r.u32(f"representation {index + 1} length")
    if length < REPRESENTATION_FIXED_SIZE or length > end_of_record - start:
        raise fail(
            where,
            "representation length",
            f"{REPRESENTATION_FIXED_SIZE}..{end_of_record - start} (header to end of record)",
            length,
        )
    rr = Reader(r.data, where, r.pos, start + length)
    when = CaptureDateTime(
        year=rr.u16("capture year"),
        month=rr.u8("capture month"),
        day=rr.u8("capture day"),
        hour=rr.u8("capture hour"),
        minute=rr.u8("capture minute"),
        second=rr.u8("capture second"),
        millisecond=rr.u16("capture millisecond"),
    )
    technology = rr.u8("capture device technology")
    vendor = rr.u16("capture device vendor")
    device_type = rr.u16("capture device type")
    n_quality = rr.u8("number of quality blocks")
    rr.need(5 * n_quality, f"{n_quality} quality blocks")
    quality = []
    for i in range(n_quality):
        score = rr.u8(f"quality block {i + 1} score")
        if score > 100 and score != 255:
            raise fail(where, f"quality block {i + 1} score", "0..100 or 255", score)
        quality.append(QualityBlock(score, rr.u16("quality vendor"), rr.u16("quality algorithm")))
    certification = []
    if certification_flag:
        n_cert = rr.u8("number of certification blocks")
        rr.need(3 * n_cert, f"{n_cert} certification blocks")
        for _ in range(n_cert):
            certification.append(
                CertificationBlock(rr.u16("certification authority"), rr.u8("scheme"))
            )
    position = rr.u8("finger position")
    if position not in POSITION_CODES:
        raise fail(where, "finger position", "a code 0..15, 20..38 or 40..50", position)
    number = rr.u8("representation number")
    units = rr.u8("scale units")
    if units not in (1, 2):
        raise fail(where, "scale units", "1 (pixels per inch) or 2 (per centimetre)", units)
    capture_res = (
        rr.u16("horizontal capture sampling rate"),
        rr.u16("vertical capture sampling rate"),
    )
    image_res = (rr.u16("horizontal image sampling rate"), rr.u16("vertical image sampling rate"))
    depth = rr.u8("bit depth")
    if not 1 <= depth <= 16:
        raise fail(where, "bit depth", "1..16 bits", depth)
    compression = rr.u8("compression algorithm")
    if compression not in COMPRESSION_CODES:
        raise fail(where, "compression algorithm", "a code 0..6", compression)
    impression = rr.u8("impression type")
    if impression not in IMPRESSION_CODES:
        raise fail(where, "impression type", "a code 0..15 or 20..29", impression)
    width = rr.u16("horizontal line length")
    height = rr.u16("vertical line length")
    if width < 1 or height < 1:
        raise fail(where, "line lengths", "a width and height of at least 1", (width, height))
    image_length = rr.u32("image data length")
    if image_length > rr.remaining:
        raise fail(
            where, "image data length", f"at most the {rr.remaining} bytes left", image_length
        )
    image_data = rr.take(image_length, "image data")
    extended = []
    while rr.remaining:
        block_type = rr.u16("extended data block type")
        block_length = rr.u16("extended data block length")
        if block_type == 0 or block_length < 4 or block_length - 4 > rr.remaining:
            raise fail(
                where,
                f"extended data block {len(extended) + 1}",
                f"a nonzero type and a length of 4..{rr.remaining + 4} after the image data",
                f"type {block_type}, length {block_length}",
            )
        extended.append(ExtendedDataBlock(block_type, rr.take(block_length - 4, "block data")))
    r.pos = start + length
    return FingerImageRepresentation2011(
        position=position,
        width=width,
        height=height,
        image_data=image_data,
        compression=compression,
        image_resolution=image_res,
        capture_resolution=capture_res,
        scale_units=units,
        bit_depth=depth,
        impression=impression,
        representation_number=number,
        quality_blocks=tuple(quality),
        certification_blocks=tuple(certification),
        extended_data=tuple(extended),
        capture_time=when,
        device_technology=technology,
        device_vendor=vendor,
        device_type=device_type,
    )


def decode(data: bytes) -> FingerImageRecord2011:
    """Parse an ISO/IEC 19794-4:2011 finger image record (image data is not decoded).

    Raises
    ------
    FormatError
        On a wrong magic or version, a record length other than the data's length, a
        representation or block length that overruns its container, no representations,
        a certification flag other than 0/1, or an undefined code in a field it reads.
    TypeError
        If ``data`` is not bytes-like.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"decode() expects bytes, got {type(data).__name__}")
    data = bytes(data)
    if data[:4] != FORMAT_ID:
        raise fail(_RECORD, "format identifier", repr(FORMAT_ID), repr(data[:4]))
    r = Reader(data, _RECORD, 4)
    version = r.take(4, "version")
    if version != VERSION:
        raise fail(_RECORD, "version", repr(VERSION), repr(version))
    length = r.u32("record length")
    if length != len(data):
        raise fail(_RECORD, "record length", f"the data's length {len(data)}", length)
    count = r.u16("number of representations")
    if count < 1:
        raise fail(_RECORD, "number of representations", "at least 1", count)
    flag = r.u8("certification flag")
    if flag not in (0, 1):
        raise fail(_RECORD, "certification flag", "0 or 1", flag)
    positions = r.u8("number of distinct positions")
    reps = []
    for i in range(count):
        if not r.remaining:
            raise fail(
                _RECORD, "number of representations", f"{count} representations", f"only {i}"
            )
        reps.append(_representation(r, i, flag, len(data)))
    if r.remaining:
        raise fail(
            _RECORD,
            "representations",
            f"{count} representations filling the record",
            f"{r.remaining} bytes left",
        )
    return FingerImageRecord2011(
        representations=tuple(reps), certification_flag=flag, position_count=positions
    )
