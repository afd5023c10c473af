"""ISO/IEC 19794-4:2005 finger image records (format "FIR", version "010").

Layout (all integers big-endian)::

    general header, 32 bytes
      0   4  format identifier b"FIR\\0"
      4   4  version b"010\\0"
      8   6  record length (whole record, header included)
      14  2  capture device ID
      16  2  image acquisition level (10, 20, 30, 31, 35, 40, 41)
      18  1  number of finger/palm images (views), >= 1
      19  1  scale units: 1 pixels per inch, 2 pixels per centimetre
      20  2  horizontal scan resolution     22  2  vertical scan resolution
      24  2  horizontal image resolution    26  2  vertical image resolution
      28  1  pixel depth (bits, 1..16)
      29  1  image compression algorithm: 0 uncompressed, 1 uncompressed bit-packed,
             2 WSQ, 3 JPEG, 4 JPEG 2000, 5 PNG (one for every view of the record)
      30  2  reserved
    then per view: finger image header, 14 bytes, and the image data
      0   4  length of the view (header included)
      4   1  finger/palm position        5   1  count of views of this finger
      6   1  view number                 7   1  finger image quality (0..100, 254/255)
      8   1  impression type             9   2  horizontal line length (width)
      11  2  vertical line length (height)  13  1  reserved

:func:`decode` checks the structure (magic, version, every length, every count, the codes
it interprets) and keeps every value, so ``decode(data).to_bytes() == data`` for a valid
record. Image data is decoded only on request (:meth:`FingerImageRecord2005.image`).
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
    "FingerImageRecord2005",
    "FingerImageView2005",
    "decode",
]

FORMAT_ID: Final = b"FIR\x00"
VERSION: Final = b"010\x00"
HEADER_SIZE: Final = 32
VIEW_HEADER_SIZE: Final = 14
#: Compression algorithm code -> codec name (see :data:`afis.interchange._images.CODECS`).
COMPRESSION_CODES: Final[dict[int, str]] = {
    0: "raw",
    1: "raw-bitpacked",
    2: "wsq",
    3: "jpeg",
    4: "jpeg2000",
    5: "png",
}
_CODEC_TO_CODE: Final = {"raw": 0, "wsq": 2, "jpeg2000": 4, "jpeg2000-lossless": 4, "png": 5}
#: Finger and palm position codes: 0 unknown, 1..10 fingers, 11..15 multi-finger and
#: thumb slaps, 20..38 palm areas.
POSITION_CODES: Final = frozenset([*range(0, 16), *range(20, 39)])
#: Impression types: 0..3 live/non-live plain/rolled, 4..7 latents, 8 swipe, 9 contactless.
IMPRESSION_CODES: Final = frozenset(range(0, 10))
ACQUISITION_LEVELS: Final = frozenset([10, 20, 30, 31, 35, 40, 41])
MAX_RECORD_LENGTH: Final = (1 << 48) - 1
_RECORD = "ISO 19794-4:2005 record"


@dataclass(frozen=True)
class FingerImageView2005:
    """One finger (or palm, or slap) image of a record.

    Parameters
    ----------
    position : int
        Finger/palm position code (0 unknown, 1 right thumb .. 10 left little, 13/14/15
        slaps, 20..38 palms).
    view_count, view_number : int
        Number of views of this position in the record, and this one's number (1-based).
    quality : int
        Image quality 0..100 (254 or 255: not given).
    impression : int
        Impression type (0 live-scan plain, 1 live-scan rolled, 2/3 non-live, 8 swipe ...).
    width, height : int
        Horizontal and vertical line lengths in pixels.
    image_data : bytes
        The image, compressed as the record's compression algorithm says.
    reserved : int
        The reserved byte (0; kept as read).
    """

    position: int
    view_count: int
    view_number: int
    quality: int
    impression: int
    width: int
    height: int
    image_data: bytes = field(repr=False)
    reserved: int = 0


@dataclass(frozen=True)
class FingerImageRecord2005:
    """An ISO/IEC 19794-4:2005 finger image record.

    Examples
    --------
    >>> import numpy as np
    >>> from afis.image import FingerprintImage
    >>> yy, xx = np.mgrid[0:120, 0:100]
    >>> image = FingerprintImage((128 + 90 * np.sin(xx / 3.0)).astype(np.uint8), 500.0)
    >>> record = FingerImageRecord2005.from_images([image], codec="png", positions=[2])
    >>> data = record.to_bytes()
    >>> data[:8]
    b'FIR\\x00010\\x00'
    >>> again = decode(data)
    >>> again == record, again.views[0].position, again.codec
    (True, 2, 'png')
    >>> decoded = again.image(0)
    >>> bool((decoded.pixels == image.pixels).all()), decoded.ppi
    (True, 500.0)
    """

    views: tuple[FingerImageView2005, ...]
    scale_units: int = 1
    scan_resolution: tuple[int, int] = (500, 500)
    image_resolution: tuple[int, int] = (500, 500)
    pixel_depth: int = 8
    compression: int = 5
    device_id: int = 0
    acquisition_level: int = 31
    reserved: int = 0

    @property
    def codec(self) -> str:
        """Codec name of the compression algorithm code ("raw", "wsq", "png" ...)."""
        return COMPRESSION_CODES.get(self.compression, f"unknown ({self.compression})")

    @property
    def ppi(self) -> float:
        """Image resolution in pixels per inch (horizontal; see :meth:`image`)."""
        return ppi_from_units(
            self.image_resolution[0], self.scale_units, _RECORD, "horizontal image resolution"
        )

    def image(self, index: int = 0) -> FingerprintImage:
        """Decode the image of view ``index`` at the record's resolution.

        Raises
        ------
        FormatError
            If the data does not decode to the view's declared size, is not in the
            declared format, or the record's resolution is unusable (zero, out of
            50..5000 ppi, or horizontal and vertical differing by more than 1 %).
        IndexError
            If there is no view ``index``.
        """
        view = self.views[index]
        where = f"{_RECORD}, view {index + 1}"
        ppi = _square_ppi(self.image_resolution, self.scale_units, where)
        return decode_image(
            view.image_data,
            self.codec,
            width=view.width,
            height=view.height,
            ppi=ppi,
            depth=self.pixel_depth,
            record=where,
            depth_field="pixel depth",
        )

    def to_bytes(self) -> bytes:
        """Serialise the record (lengths and counts are computed)."""
        if not self.views:
            raise FormatError(f"{_RECORD}: number of views: expected at least 1, got 0")
        if len(self.views) > 0xFF:
            raise FormatError(f"{_RECORD}: number of views: expected at most 255")
        body = bytearray()
        for i, v in enumerate(self.views):
            where = f"{_RECORD}, view {i + 1}"
            if not isinstance(v.image_data, bytes):
                raise fail(where, "image data", "bytes", type(v.image_data).__name__)
            body += uint(VIEW_HEADER_SIZE + len(v.image_data), 4, where, "view length")
            for name in ("position", "view_count", "view_number", "quality", "impression"):
                body += uint(getattr(v, name), 1, where, name.replace("_", " "))
            body += uint(v.width, 2, where, "width") + uint(v.height, 2, where, "height")
            body += uint(v.reserved, 1, where, "reserved") + v.image_data
        resolutions = (*self.scan_resolution, *self.image_resolution)
        if len(resolutions) != 4:
            raise fail(_RECORD, "resolutions", "(horizontal, vertical) pairs", resolutions)
        header = (
            FORMAT_ID
            + VERSION
            + uint(HEADER_SIZE + len(body), 6, _RECORD, "record length")
            + uint(self.device_id, 2, _RECORD, "capture device ID")
            + uint(self.acquisition_level, 2, _RECORD, "image acquisition level")
            + bytes([len(self.views)])
            + uint(self.scale_units, 1, _RECORD, "scale units")
            + b"".join(uint(r, 2, _RECORD, "resolution") for r in resolutions)
            + uint(self.pixel_depth, 1, _RECORD, "pixel depth")
            + uint(self.compression, 1, _RECORD, "compression algorithm")
            + uint(self.reserved, 2, _RECORD, "reserved")
        )
        return header + bytes(body)

    @classmethod
    def from_images(
        cls,
        images: Sequence[FingerprintImage],
        *,
        codec: str = "png",
        positions: Sequence[int] | None = None,
        impression: int = 0,
        quality: int = 254,
        wsq_bitrate: float = 0.75,
    ) -> FingerImageRecord2005:
        """Build a record holding ``images`` (all of one resolution), compressed with ``codec``.

        Parameters
        ----------
        images : sequence of FingerprintImage or numpy.ndarray
            The views; they must share one resolution (the record has one).
        codec : str
            "png", "wsq", "jpeg2000" (lossy), "jpeg2000-lossless" or "raw".
        positions : sequence of int, optional
            Finger position code of each image (default 0, unknown). View counts and
            numbers are derived: the n-th image of a position is view n.
        impression : int
            Impression type code of every view.
        quality : int
            Image quality of every view, 0..100 (254: not given).
        wsq_bitrate : float
            Bits per pixel for "wsq".
        """
        images = [as_image(i) for i in images]
        if not images:
            raise TypeError("images must be a non-empty sequence of FingerprintImage")
        codec = check_codec(codec)
        if codec not in _CODEC_TO_CODE:
            raise ValueError(f"codec {codec!r} cannot be written into a 2005 record")
        ppis = {i.ppi for i in images}
        if len(ppis) != 1:
            raise ValueError(f"the images have different resolutions {sorted(ppis)}")
        ppi = round(ppis.pop())
        if not 1 <= ppi <= 0xFFFF:
            raise ValueError(f"resolution {ppi} ppi does not fit the record")
        codes = [0] * len(images) if positions is None else [int(p) for p in positions]
        if len(codes) != len(images):
            raise ValueError("positions must have one entry per image")
        for code in codes:
            if code not in POSITION_CODES:
                raise ValueError(f"finger position code {code} is not defined")
        if impression not in IMPRESSION_CODES or not (0 <= quality <= 100 or quality in (254, 255)):
            raise ValueError("impression must be 0..9 and quality 0..100, 254 or 255")
        views = []
        for image, code in zip(images, codes, strict=True):
            count = codes.count(code)
            number = codes[: len(views) + 1].count(code)
            views.append(
                FingerImageView2005(
                    position=code,
                    view_count=count,
                    view_number=number,
                    quality=quality,
                    impression=impression,
                    width=image.width,
                    height=image.height,
                    image_data=encode_image(image, codec, wsq_bitrate=wsq_bitrate),
                )
            )
        return cls(
            views=tuple(views),
            scale_units=1,
            scan_resolution=(ppi, ppi),
            image_resolution=(ppi, ppi),
            pixel_depth=8,
            compression=_CODEC_TO_CODE[codec],
        )


def _square_ppi(resolution: tuple[int, int], units: int, where: str) -> float:
    horizontal = ppi_from_units(resolution[0], units, where, "horizontal image resolution")
    vertical = ppi_from_units(resolution[1], units, where, "vertical image resolution")
    if abs(horizontal - vertical) > 0.01 * horizontal:
        raise fail(
            where,
            "image resolution",
            "square pixels (horizontal and vertical within 1 %)",
            f"{resolution[0]} x {resolution[1]}",
        )
    return horizontal


def decode(data: bytes) -> FingerImageRecord2005:
    """Parse an ISO/IEC 19794-4:2005 finger image record (image data is not decoded).

    Raises
    ------
    FormatError
        On a wrong magic or version, a record length other than the data's length, a view
        length that overruns the record or is shorter than its header, no views, or an
        undefined scale unit, pixel depth, compression, position, impression or quality.
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
    length = r.uint(6, "record length")
    if length != len(data):
        raise fail(_RECORD, "record length", f"the data's length {len(data)}", length)
    device_id = r.u16("capture device ID")
    level = r.u16("image acquisition level")
    if level not in ACQUISITION_LEVELS:
        raise fail(_RECORD, "image acquisition level", sorted(ACQUISITION_LEVELS), level)
    count = r.u8("number of views")
    if count < 1:
        raise fail(_RECORD, "number of views", "at least 1", count)
    units = r.u8("scale units")
    if units not in (1, 2):
        raise fail(_RECORD, "scale units", "1 (pixels per inch) or 2 (per centimetre)", units)
    scan = (r.u16("horizontal scan resolution"), r.u16("vertical scan resolution"))
    image_res = (r.u16("horizontal image resolution"), r.u16("vertical image resolution"))
    depth = r.u8("pixel depth")
    if not 1 <= depth <= 16:
        raise fail(_RECORD, "pixel depth", "1..16 bits", depth)
    compression = r.u8("image compression algorithm")
    if compression not in COMPRESSION_CODES:
        raise fail(_RECORD, "image compression algorithm", "a code 0..5", compression)
    reserved = r.u16("reserved")
    views = []
    for i in range(count):
        where = f"{_RECORD}, view {i + 1}"
        start = r.pos
        view_length = r.u32(f"view {i + 1} length")
        if view_length < VIEW_HEADER_SIZE or view_length > len(data) - start:
            raise fail(
                where,
                "view length",
                f"{VIEW_HEADER_SIZE}..{len(data) - start} (header to end of record)",
                view_length,
            )
        vr = Reader(data, where, r.pos, start + view_length)
        position = vr.u8("finger position")
        if position not in POSITION_CODES:
            raise fail(where, "finger position", "a code 0..15 or 20..38", position)
        view_count = vr.u8("count of views")
        view_number = vr.u8("view number")
        quality = vr.u8("finger image quality")
        if not (quality <= 100 or quality in (254, 255)):
            raise fail(where, "finger image quality", "0..100, 254 or 255", quality)
        impression = vr.u8("impression type")
        if impression not in IMPRESSION_CODES:
            raise fail(where, "impression type", "a code 0..9", impression)
        width = vr.u16("horizontal line length")
        height = vr.u16("vertical line length")
        if width < 1 or height < 1:
            raise fail(where, "line lengths", "a width and height of at least 1", (width, height))
        view_reserved = vr.u8("reserved")
        image_data = vr.take(vr.remaining, "image data")
        r.pos = start + view_length
        views.append(
            FingerImageView2005(
                position=position,
                view_count=view_count,
                view_number=view_number,
                quality=quality,
                impression=impression,
                width=width,
                height=height,
                image_data=image_data,
                reserved=view_reserved,
            )
        )
    if r.remaining:
        raise fail(
            _RECORD, "views", f"{count} views filling the record", f"{r.remaining} bytes left"
        )
    return FingerImageRecord2005(
        views=tuple(views),
        scale_units=units,
        scan_resolution=scan,
        image_resolution=image_res,
        pixel_depth=depth,
        compression=compression,
        device_id=device_id,
        acquisition_level=level,
        reserved=reserved,
    )
