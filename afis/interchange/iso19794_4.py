"""ISO/IEC 19794-4 finger image records, either edition.

:func:`decode` reads a record of the 2005 edition (version "010",
:mod:`afis.interchange.iso19794_4_2005`) or of the 2011 edition (version "020",
:mod:`afis.interchange.iso19794_4_2011`), chosen by the version in its header;
:func:`load_finger_images` decodes every image of a record to
:class:`~afis.image.FingerprintImage` at the record's resolution; :func:`encode` writes
images into a record of either edition.
"""

from __future__ import annotations

from collections.abc import Sequence

from afis.errors import FormatError
from afis.image import FingerprintImage
from afis.interchange import iso19794_4_2005, iso19794_4_2011
from afis.interchange.iso19794_4_2005 import FingerImageRecord2005
from afis.interchange.iso19794_4_2011 import FingerImageRecord2011

__all__ = ["FingerImageRecord", "decode", "encode", "load_finger_images"]

FingerImageRecord = FingerImageRecord2005 | FingerImageRecord2011
"""A finger image record of either edition."""


def decode(data: bytes) -> FingerImageRecord:
    """Parse an ISO/IEC 19794-4 record of the 2005 or 2011 edition.

    Image data stays encoded; call ``record.image(i)`` or :func:`load_finger_images`.

    Raises
    ------
    FormatError
        If the data is not a valid record of either edition (the message names the
        record, the field and what was expected).
    TypeError
        If ``data`` is not bytes-like.

    Examples
    --------
    >>> try:
    ...     decode(b"FIR\\x00030\\x00")
    ... except FormatError as error:
    ...     print(str(error)[:40])
    ISO 19794-4 record: version: expected b'
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"decode() expects bytes, got {type(data).__name__}")
    data = bytes(data)
    if data[:4] != b"FIR\x00":
        raise FormatError(
            f"ISO 19794-4 record: format identifier: expected b'FIR\\x00', got {data[:4]!r}"
        )
    version = data[4:8]
    if version == iso19794_4_2005.VERSION:
        return iso19794_4_2005.decode(data)
    if version == iso19794_4_2011.VERSION:
        return iso19794_4_2011.decode(data)
    raise FormatError(
        "ISO 19794-4 record: version: expected b'010\\x00' (2005) or b'020\\x00' (2011), "
        f"got {version!r}"
    )


def load_finger_images(data: bytes) -> list[FingerprintImage]:
    """Decode every image of an ISO/IEC 19794-4 record (either edition).

    Each image carries the record's resolution and is checked against the size the record
    declares.

    Raises
    ------
    FormatError
        If the record or any of its images is invalid.
    """
    record = decode(data)
    count = (
        len(record.views)
        if isinstance(record, FingerImageRecord2005)
        else len(record.representations)
    )
    return [record.image(i) for i in range(count)]


def encode(
    images: Sequence[FingerprintImage],
    *,
    edition: int = 2011,
    codec: str = "png",
    positions: Sequence[int] | None = None,
    **options: object,
) -> bytes:
    """Write ``images`` as an ISO/IEC 19794-4 record of ``edition`` (2005 or 2011).

    ``codec`` is "png", "wsq", "jpeg2000", "jpeg2000-lossless" or "raw"; further keyword
    options go to ``FingerImageRecord2005.from_images`` or
    ``FingerImageRecord2011.from_images``.

    Examples
    --------
    >>> import numpy as np
    >>> yy, xx = np.mgrid[0:64, 0:80]
    >>> image = FingerprintImage((128 + 90 * np.sin(xx / 3.0)).astype(np.uint8), 500.0)
    >>> data = encode([image], edition=2005, codec="raw", positions=[1])
    >>> [im.pixels.shape for im in load_finger_images(data)]
    [(64, 80)]
    """
    if edition == 2005:
        return FingerImageRecord2005.from_images(
            images, codec=codec, positions=positions, **options
        ).to_bytes()
    if edition == 2011:
        return FingerImageRecord2011.from_images(
            images, codec=codec, positions=positions, **options
        ).to_bytes()
    raise ValueError(f"edition must be 2005 or 2011, got {edition!r}")
