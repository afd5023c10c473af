"""QR codes of KTP Digital: drawn with segno (error correction M, PNG and SVG), read from a
camera image with zxing-cpp; and the face thumbnail small enough to travel in one.

Examples
--------
>>> code = make_qr("KTP1:" + "0" * 200)
>>> code.version <= 25, code.error
(True, 'M')
>>> read_qr(png_bytes(code)) == "KTP1:" + "0" * 200
True
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import segno
import zxingcpp
from PIL import Image, ImageOps, UnidentifiedImageError

from afis.atomic import atomic_write
from enrollment import constants as C
from enrollment.ktp_digital.errors import CredentialError

__all__ = ["face_thumbnail", "make_qr", "png_bytes", "read_qr", "save_qr"]

#: Largest camera image accepted (pixels): bigger ones are refused before decoding.
MAX_IMAGE_PIXELS = 40_000_000
_THUMBNAIL_SIZES = ((48, 60), (40, 50), (32, 40))


def make_qr(text: str) -> Any:
    """A QR code of ``text`` at error correction M (the smallest version that holds it)."""
    if not isinstance(text, str) or not text:
        raise CredentialError("a QR code needs non-empty text")
    try:
        return segno.make(text, error="m", micro=False, boost_error=False)
    except segno.DataOverflowError:
        raise CredentialError(f"{len(text)} characters do not fit a QR code") from None


def png_bytes(code: Any, *, scale: int = 4) -> bytes:
    """The QR code as PNG bytes (``scale`` pixels a module, a 4-module quiet zone)."""
    out = io.BytesIO()
    code.save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


def save_qr(text: str, folder: str | Path, stem: str) -> dict[str, Path]:
    """Write ``<stem>.png`` and ``<stem>.svg`` of the QR code of ``text``; returns kind -> path."""
    code = make_qr(text)
    svg = io.BytesIO()
    code.save(svg, kind="svg", scale=4, border=4)
    folder = Path(folder)
    return {
        "png": atomic_write(folder / f"{stem}.png", png_bytes(code)),
        "svg": atomic_write(folder / f"{stem}.svg", svg.getvalue()),
    }


def _image(source: str | Path | bytes | Image.Image | np.ndarray) -> Image.Image | np.ndarray:
    if isinstance(source, np.ndarray):
        if source.ndim not in (2, 3) or source.size > MAX_IMAGE_PIXELS * 4:
            raise CredentialError(f"expected a 2-D or 3-D image array, got shape {source.shape}")
        return np.ascontiguousarray(source, dtype=np.uint8)
    if isinstance(source, Image.Image):
        image = source
    else:
        if isinstance(source, bytes | bytearray):
            opener: Any = io.BytesIO(bytes(source))
        elif isinstance(source, str | Path):
            opener = Path(source)
        else:
            raise CredentialError(
                f"expected an image file, bytes or array, got {type(source).__name__}"
            )
        try:
            image = Image.open(opener)
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise CredentialError(
                    f"image of {image.width}x{image.height} pixels is larger than "
                    f"{MAX_IMAGE_PIXELS} pixels"
                )
            image.load()
        except (OSError, UnidentifiedImageError, Image.DecompressionBombError, ValueError) as exc:
            raise CredentialError(f"not a readable image ({exc})") from None
    if image.width * image.height > MAX_IMAGE_PIXELS:
        raise CredentialError(f"image larger than {MAX_IMAGE_PIXELS} pixels")
    return image.convert("L")


def read_qr(source: str | Path | bytes | Image.Image | np.ndarray) -> str:
    """The text of the QR code in a camera image or a rendered PNG.

    Raises
    ------
    CredentialError
        If the image cannot be read or holds no readable QR code.
    """
    image = _image(source)
    try:
        found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    except (ValueError, RuntimeError, TypeError) as exc:
        raise CredentialError(f"the QR decoder refused the image ({exc})") from None
    texts = [b.text for b in found if b.valid and b.text]
    if not texts:
        raise CredentialError("no readable QR code in the image")
    if len(set(texts)) > 1:
        raise CredentialError(f"{len(set(texts))} different QR codes in the image: show one")
    return texts[0]


def face_thumbnail(photo: bytes | Image.Image, max_bytes: int = C.KTP_THUMBNAIL_BYTES) -> bytes:
    """A greyscale WebP face thumbnail of at most ``max_bytes`` (48 x 60 pixels, smaller and
    coarser only if it does not fit), as MOSIP's Claim 169 carries a face of a few hundred
    bytes.

    Examples
    --------
    >>> from PIL import Image
    >>> len(face_thumbnail(Image.new("RGB", (300, 400), (200, 160, 140)))) <= 500
    True
    """
    if isinstance(photo, bytes | bytearray):
        try:
            image = Image.open(io.BytesIO(bytes(photo)))
            image.load()
        except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
            raise CredentialError(f"the face photo is not a readable image ({exc})") from None
    elif isinstance(photo, Image.Image):
        image = photo
    else:
        raise CredentialError(f"expected a face photo (bytes or image), got {type(photo).__name__}")
    grey = ImageOps.autocontrast(image.convert("L"))
    for size in _THUMBNAIL_SIZES:
        small = ImageOps.fit(grey, size, Image.Resampling.LANCZOS)
        for quality in range(60, 0, -10):
            out = io.BytesIO()
            small.save(out, "WEBP", quality=quality, method=6)
            if out.tell() <= max_bytes:
                return out.getvalue()
    raise CredentialError(f"the face photo does not fit {max_bytes} bytes as a thumbnail")
