"""Shared pieces of the image-bearing interchange codecs (ISO/IEC 19794-4, ANSI/NIST-ITL).

* :class:`Reader`: bounds-checked big-endian reads from a byte string; every failure is a
  :class:`~afis.errors.FormatError` naming the record, the field and what was expected.
* :func:`decode_image` / :func:`encode_image`: image payloads to and from
  :class:`~afis.image.FingerprintImage`, by codec name. Decoding goes through
  :func:`afis.load_image` (WSQ in its isolated worker process) and checks that the decoded
  size is the one the record declares.
"""

from __future__ import annotations

import io
import math
import struct
from dataclasses import dataclass
from typing import Final

import numpy as np

from afis.errors import AfisError, FormatError, ImageError
from afis.image import (
    FingerprintImage,
    _check_file_size,
    _check_wsq_frame,
    _pillow_ppi,
    _wsq_ppi,
    _wsq_segments,
    encode_wsq,
    load_image,
)

__all__ = [
    "CODECS",
    "JPEG2000_DEFAULT_RATIO",
    "EncodedHeader",
    "Reader",
    "as_image",
    "check_codec",
    "decode_image",
    "encode_image",
    "encode_pil",
    "encoded_header",
    "fail",
    "ppi_from_units",
    "uint",
]

#: Codec names understood by :func:`encode_image` and :func:`decode_image`. "raw" is
#: uncompressed 8-bit (or 16-bit big-endian) greyscale, row by row, top row first.
CODECS: Final = ("raw", "wsq", "jpeg", "jpeg-lossless", "jpeg2000", "jpeg2000-lossless", "png")
#: Compression ratio of lossy JPEG 2000 written by :func:`encode_image` (15:1 as WSQ at
#: 0.75 bit/pixel; MOSIP's limit for authentication images).
JPEG2000_DEFAULT_RATIO: Final = 15.0

#: First bytes of each compressed format (JPEG 2000: JP2 box or bare codestream).
_SIGNATURES: Final[dict[str, tuple[bytes, ...]]] = {
    "wsq": (b"\xff\xa0",),
    "jpeg": (b"\xff\xd8",),
    "jpeg-lossless": (b"\xff\xd8",),
    "jpeg2000": (b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51"),
    "jpeg2000-lossless": (b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51"),
    "png": (b"\x89PNG\r\n\x1a\n",),
}


@dataclass(frozen=True)
class EncodedHeader:
    """What the header of already-encoded image data says (:func:`encoded_header`)."""

    codec: str  # "wsq", "png", "jpeg" or "jpeg2000"
    width: int
    height: int
    ppi: float | None  # None when the header states no plausible resolution
    colour: str  # ANSI/NIST-ITL colour space: "GRAY" or "SRGB"


def encoded_header(data: bytes, name: str = "encoded image") -> EncodedHeader:
    """Codec, size, resolution and colour space of WSQ, PNG, JPEG or JPEG 2000 data, read
    from its header without decoding the pixels (a WSQ frame is also checked to hold the
    coefficients its header declares).

    The interchange writers use it to store image data captured (or compressed once at
    capture time) unchanged instead of decoding and encoding it again.

    Raises
    ------
    afis.errors.ImageError
        Data of another format, or a corrupt or implausible header.

    Examples
    --------
    >>> import numpy as np
    >>> png, *_ = encode_pil(np.zeros((20, 30), np.uint8), "png")
    >>> encoded_header(png)
    EncodedHeader(codec='png', width=30, height=20, ppi=None, colour='GRAY')
    """
    from PIL import Image

    if not isinstance(data, bytes | bytearray):
        raise TypeError(f"{name}: expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if data.startswith(_SIGNATURES["wsq"]):
        _check_wsq_frame(data, name)
        for marker, pos, _ in _wsq_segments(data[:65536]):
            if marker == 0xA2 and pos + 10 <= len(data):
                height, width = struct.unpack_from(">HH", data, pos + 6)
                return EncodedHeader("wsq", width, height, _wsq_ppi(io.BytesIO(data)), "GRAY")
        raise ImageError(f"{name}: WSQ data without a frame header")
    codec = next((c for c in ("png", "jpeg", "jpeg2000") if data.startswith(_SIGNATURES[c])), None)
    if codec is None:
        raise ImageError(f"{name}: not WSQ, PNG, JPEG or JPEG 2000 data (starts {data[:8]!r})")
    formats = {"png": ["PNG"], "jpeg": ["JPEG"], "jpeg2000": ["JPEG2000"]}[codec]
    try:
        with Image.open(io.BytesIO(data), formats=formats) as image:
            width, height = image.size
            mode, ppi = image.mode, _pillow_ppi(image.info)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageError(f"{name}: corrupt or truncated {codec} header ({exc})") from exc
    _check_file_size(width, height, name)
    if mode in ("L", "1", "I;16", "I;16B"):
        colour = "GRAY"
    elif mode in ("RGB", "YCbCr"):
        colour = "SRGB"
    else:
        raise ImageError(f"{name}: {codec} in colour mode {mode} (greyscale or RGB needed)")
    return EncodedHeader(codec, width, height, ppi, colour)


def fail(record: str, field: str, expected: str, got: object) -> FormatError:
    """The error for ``field`` of ``record``: expected this, got that."""
    return FormatError(f"{record}: {field}: expected {expected}, got {got}")


class Reader:
    """Big-endian reads from ``data`` that never pass its end.

    Parameters
    ----------
    data : bytes
        The buffer.
    record : str
        Name of the record being read, used in error messages.
    start, end : int
        The window of ``data`` this reader may read.
    """

    __slots__ = ("data", "end", "pos", "record")

    def __init__(self, data: bytes, record: str, start: int = 0, end: int | None = None) -> None:
        self.data = data
        self.record = record
        self.pos = start
        self.end = len(data) if end is None else end

    @property
    def remaining(self) -> int:
        """Bytes left before the end of the window."""
        return self.end - self.pos

    def need(self, n: int, field: str) -> None:
        """Raise unless ``n`` more bytes are available for ``field``."""
        if n > self.end - self.pos:
            raise fail(
                self.record,
                field,
                f"{n} bytes at offset {self.pos}",
                f"only {max(self.end - self.pos, 0)} left (truncated)",
            )

    def take(self, n: int, field: str) -> bytes:
        """The next ``n`` bytes."""
        self.need(n, field)
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def uint(self, size: int, field: str) -> int:
        """An unsigned big-endian integer of ``size`` bytes."""
        return int.from_bytes(self.take(size, field), "big")

    def u8(self, field: str) -> int:
        return self.uint(1, field)

    def u16(self, field: str) -> int:
        return self.uint(2, field)

    def u32(self, field: str) -> int:
        return self.uint(4, field)


def ppi_from_units(value: float, units: int, record: str, field: str) -> float:
    """A resolution in pixels per inch (units 1) or per centimetre (units 2) -> ppi.

    Centimetre values are multiplied by 2.54 and rounded to a whole ppi (197 ppcm -> 500
    ppi): a whole number of pixels per centimetre is only precise to 2.54 ppi anyway.
    """
    if units == 1:
        ppi = float(value)
    elif units == 2:
        ppi = float(round(value * 2.54))
    else:
        raise fail(record, "scale units", "1 (pixels per inch) or 2 (per centimetre)", units)
    if not math.isfinite(ppi) or not 50.0 <= ppi <= 5000.0:
        raise fail(record, field, "a resolution within 50..5000 pixels per inch", value)
    return ppi


def check_codec(codec: str) -> str:
    """Validate a codec name given by a caller."""
    if not isinstance(codec, str) or codec not in CODECS:
        raise ValueError(f"codec must be one of {', '.join(CODECS)}, got {codec!r}")
    return codec


def decode_image(
    data: bytes,
    codec: str,
    *,
    width: int,
    height: int,
    ppi: float,
    depth: int = 8,
    record: str,
    depth_field: str = "bit depth",
) -> FingerprintImage:
    """Decode an image payload whose record declares ``width`` x ``height`` pixels.

    ``codec`` ``"raw-bitpacked"`` is read as uncompressed data when ``depth`` is 8 (the
    only bit-packed depth read). ``depth_field`` is the record's name for the depth.
    Raises :class:`~afis.errors.FormatError` (naming ``record``) when the payload is not of
    the declared format, cannot be decoded, or decodes to another size.
    """
    if width < 1 or height < 1:
        raise fail(record, "image size", "a width and a height of at least 1", f"{width}x{height}")
    if codec == "raw-bitpacked":
        if depth != 8:
            raise fail(
                record, depth_field, "8 bits (bit-packed data of other depths is not read)", depth
            )
        codec = "raw"
    if codec == "raw":
        if depth == 8:
            expected = width * height
        elif depth == 16:
            expected = 2 * width * height
        else:
            raise fail(record, depth_field, "8 or 16 bits for uncompressed data", depth)
        if len(data) != expected:
            raise fail(
                record,
                "image data",
                f"{expected} bytes of uncompressed {depth}-bit {width}x{height} pixels",
                f"{len(data)} bytes",
            )
        if depth == 8:
            pixels = np.frombuffer(data, np.uint8).reshape(height, width)
        else:
            pixels = (np.frombuffer(data, ">u2").reshape(height, width) >> 8).astype(np.uint8)
        try:
            return load_image(pixels, dpi=ppi)
        except AfisError as exc:
            raise FormatError(f"{record}: image data: {exc}") from exc
    signatures = _SIGNATURES.get(codec)
    if signatures is None:
        raise fail(record, "compression", f"one of {', '.join(CODECS)}", codec)
    if not data.startswith(signatures):
        raise fail(record, "image data", f"{codec.upper()} data", f"data starting {data[:8]!r}")
    try:
        image = load_image(data, dpi=ppi)
    except AfisError as exc:
        raise FormatError(f"{record}: image data: {exc}") from exc
    if (image.width, image.height) != (width, height):
        raise fail(
            record,
            "image data",
            f"an image of the declared {width}x{height} pixels",
            f"{image.width}x{image.height}",
        )
    return image


def encode_image(
    image: FingerprintImage,
    codec: str,
    *,
    wsq_bitrate: float = 0.75,
    jpeg2000_ratio: float = JPEG2000_DEFAULT_RATIO,
) -> bytes:
    """Encode ``image`` with ``codec`` (one of :data:`CODECS` except the JPEG ones)."""
    from PIL import Image

    check_codec(codec)
    if codec == "raw":
        return image.pixels.tobytes()
    if codec == "wsq":
        return encode_wsq(image, wsq_bitrate)
    buffer = io.BytesIO()
    pil = Image.fromarray(image.pixels)
    if codec == "png":
        pil.save(buffer, format="PNG", dpi=(image.ppi, image.ppi))
    elif codec == "jpeg2000-lossless":
        pil.save(buffer, format="JPEG2000", irreversible=False, no_jp2=False)
    elif codec == "jpeg2000":
        ratio = float(jpeg2000_ratio)
        if not math.isfinite(ratio) or not 1.0 < ratio <= 1000.0:
            raise ValueError(f"jpeg2000_ratio must be within 1..1000, got {jpeg2000_ratio!r}")
        pil.save(
            buffer,
            format="JPEG2000",
            irreversible=True,
            quality_mode="rates",
            quality_layers=[ratio],
            no_jp2=False,
        )
    else:
        raise ValueError(f"writing {codec} is not supported (use png, wsq, jpeg2000 or raw)")
    return buffer.getvalue()


def encode_pil(pixels: np.ndarray, codec: str) -> tuple[bytes, int, int, str]:
    """Encode a greyscale (H, W) or RGB (H, W, 3) uint8 array as PNG, JPEG or JPEG 2000.

    Returns the data, the width, the height and the colour space name of ANSI/NIST-ITL
    ("GRAY" or "SRGB").
    """
    from PIL import Image

    array = np.asarray(pixels)
    if array.dtype != np.uint8 or not (
        array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 3)
    ):
        raise ValueError(f"pixels must be a uint8 (H, W) or (H, W, 3) array, got {array.shape}")
    height, width = array.shape[:2]
    if not (1 <= width <= 0xFFFF and 1 <= height <= 0xFFFF):
        raise ValueError(f"image size {width}x{height} is out of range")
    formats = {"png": "PNG", "jpeg": "JPEG", "jpeg2000": "JPEG2000"}
    if codec not in formats:
        raise ValueError(f"codec must be png, jpeg or jpeg2000, got {codec!r}")
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(buffer, format=formats[codec])
    return buffer.getvalue(), width, height, "GRAY" if array.ndim == 2 else "SRGB"


def uint(value: object, size: int, record: str, field: str) -> bytes:
    """``value`` as a big-endian unsigned integer of ``size`` bytes, for writers.

    Raises :class:`~afis.errors.FormatError` naming the field when the value is not an
    integer or does not fit.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise fail(record, field, f"an integer of {size} bytes", repr(value))
    top = (1 << (8 * size)) - 1
    if not 0 <= int(value) <= top:
        raise fail(record, field, f"0..{top}", value)
    return int(value).to_bytes(size, "big")


def as_image(image: object) -> FingerprintImage:
    """A FingerprintImage as is; a 2-D array through :func:`afis.load_image` (500 ppi)."""
    if isinstance(image, FingerprintImage):
        return image
    if isinstance(image, np.ndarray):
        return load_image(image)
    raise TypeError(f"expected a FingerprintImage or a 2-D numpy array, got {type(image).__name__}")
