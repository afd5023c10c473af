"""Fingerprint images: decoding, greyscale conversion and resolution.

Every image the engine works on is a :class:`FingerprintImage`: an immutable 2-D ``uint8``
array (0 = black ridge, 255 = white background) together with its resolution in pixels per
inch. :func:`load_image` builds one from a file path, an encoded file in memory, a numpy array
or another :class:`FingerprintImage`.

Decoding goes through Pillow (PNG, BMP, TIFF, JPEG, JPEG 2000, PGM/PPM) and the ``wsq`` Pillow
plugin (WSQ, imported only when a WSQ file is met). Any failure to decode is reported as an
:class:`afis.errors.ImageError` naming the source; no Pillow exception escapes.

The NBIS decoder inside ``wsq`` 0.9 handles truncated WSQ data but can crash its process
(segmentation fault) on corrupted data, e.g. a few flipped bytes in its tables or in the
entropy-coded blocks. WSQ is therefore decoded in a worker process: a crash there becomes an
:class:`~afis.errors.ImageError` here and the worker is replaced.
"""

from __future__ import annotations

import dataclasses
import io
import math
import os
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import numpy as np
from PIL import Image

from afis._native import _core
from afis._wsq_protocol import DECODE, ENCODE, ENCODE_HEADER, ENCODED, ERROR, OK, REQUEST
from afis.constants import (
    DEFAULT_PPI,
    MAX_FILE_PPI,
    MAX_PPI,
    MAX_SIDE,
    MIN_FILE_PPI,
    MIN_PPI,
    MIN_SIDE,
)
from afis.errors import ImageError

__all__ = ["FingerprintImage", "encode_wsq", "load_image"]


#: Pillow formats tried for non-WSQ input (PPM covers PGM).
_PILLOW_FORMATS: tuple[str, ...] = ("PNG", "BMP", "TIFF", "JPEG", "JPEG2000", "PPM")
#: Start-of-image marker that begins every WSQ file.
_WSQ_MAGIC = b"\xff\xa0"


@dataclass(frozen=True, eq=False, repr=False)
class FingerprintImage:
    """A greyscale fingerprint image and its resolution.

    Parameters
    ----------
    pixels : numpy.ndarray
        2-D ``uint8`` array of shape ``(height, width)``; 0 is black (ridge), 255 white.
        It is stored C-contiguous and read-only; a writeable or non-contiguous array is
        copied first, so the caller's array is never modified or aliased.
    ppi : float
        Resolution in pixels per inch, finite and within ``MIN_PPI..MAX_PPI`` (50..5000).

    Raises
    ------
    ImageError
        If ``pixels`` is not a 2-D ``uint8`` array or ``ppi`` is not finite or out of range.
    TypeError
        If ``pixels`` is not a numpy array or ``ppi`` is not a real number.

    Notes
    -----
    Equality and hashing are by identity (comparing pixel arrays element-wise is left to the
    caller: ``np.array_equal(a.pixels, b.pixels)``).
    """

    pixels: np.ndarray
    ppi: float

    def __post_init__(self) -> None:
        pixels = self.pixels
        if not isinstance(pixels, np.ndarray):
            raise TypeError(f"pixels must be a numpy array, got {type(pixels).__name__}")
        if pixels.ndim != 2:
            raise ImageError(f"pixels must be a 2-D array, got shape {pixels.shape}")
        if pixels.dtype != np.uint8:
            raise ImageError(f"pixels must have dtype uint8, got {pixels.dtype}")
        if pixels.flags.writeable or not pixels.flags.c_contiguous:
            pixels = np.array(pixels, dtype=np.uint8, order="C", copy=True)
            pixels.flags.writeable = False
        object.__setattr__(self, "pixels", pixels)
        object.__setattr__(self, "ppi", _check_ppi(self.ppi, "ppi"))

    @property
    def width(self) -> int:
        """Width in pixels (number of columns)."""
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        """Height in pixels (number of rows)."""
        return int(self.pixels.shape[0])

    def __repr__(self) -> str:
        return f"FingerprintImage(width={self.width}, height={self.height}, ppi={self.ppi:g})"


#: What :func:`load_image` accepts.
ImageSource = (
    str | os.PathLike[str] | bytes | bytearray | memoryview | np.ndarray | FingerprintImage
)


def load_image(source: ImageSource, dpi: float | None = None) -> FingerprintImage:
    """Load a fingerprint image as 8-bit greyscale with its resolution.

    Parameters
    ----------
    source : str, os.PathLike, bytes, bytearray, memoryview, numpy.ndarray or FingerprintImage
        A path to an image file; the bytes of an encoded image file (PNG, BMP, TIFF, JPEG,
        JPEG 2000, PGM or WSQ); a 2-D array; or an existing image (returned as is, or with
        its resolution replaced when ``dpi`` is given). Colour, palette, alpha and 16-bit
        images are converted to 8-bit greyscale (alpha is composited over white, 16-bit
        values are shifted right by 8). Of a multi-frame file only the first frame is read.
        Arrays: ``uint8`` is taken as is; ``bool`` becomes 0/255; other integer dtypes must
        lie within 0..255; floating-point arrays must be finite and lie within 0..1 (scaled
        by 255) or else within 0..255 (rounded).
    dpi : float, optional
        Resolution in pixels per inch, 50..5000. When given it overrides whatever the file
        says. When omitted the file's resolution is used if it lies within 250..2000 ppi,
        otherwise (or for arrays) 500 ppi is assumed.

    Returns
    -------
    FingerprintImage
        Read-only C-contiguous ``uint8`` pixels and the resolution.

    Raises
    ------
    ImageError
        If the data cannot be decoded (empty, truncated, corrupt or unsupported), the image
        is smaller than 16 or larger than 16384 pixels on a side (checked from the header,
        before the pixels are decoded), an array has an unusable shape, dtype or values, or
        ``dpi`` is not finite or out of range.
    FileNotFoundError
        If ``source`` is a path to a file that does not exist.
    TypeError
        If ``source`` or ``dpi`` is of an unsupported Python type.

    Examples
    --------
    >>> import numpy as np
    >>> image = load_image(np.full((64, 48), 255, np.uint8))
    >>> image.ppi
    500.0
    >>> (image.height, image.width)
    (64, 48)
    >>> load_image(np.zeros((32, 32)), dpi=1000).ppi
    1000.0
    """
    ppi = None if dpi is None else _check_ppi(dpi, "dpi")
    if isinstance(source, FingerprintImage):
        return source if ppi is None else dataclasses.replace(source, ppi=ppi)
    if isinstance(source, np.ndarray):
        pixels = _sealed(_array_to_uint8(source), source)
        return FingerprintImage(pixels, DEFAULT_PPI if ppi is None else ppi)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source) if not isinstance(source, memoryview) else source.tobytes()
        name = f"<{len(data)} bytes>"
        if not data:
            raise ImageError(f"{name}: empty input, no image data")
        return _decode(io.BytesIO(data), name, ppi)
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        with open(path, "rb") as fp:  # FileNotFoundError etc. propagate unchanged
            if not fp.read(1):
                raise ImageError(f"{path}: file is empty, no image data")
            fp.seek(0)
            return _decode(fp, path, ppi)
    raise TypeError(
        "load_image() expects a path, bytes, a 2-D numpy array or a FingerprintImage, "
        f"got {type(source).__name__}"
    )


def _sealed(pixels: np.ndarray, source: np.ndarray | None = None) -> np.ndarray:
    """``pixels`` as a C-contiguous read-only array that shares no memory with ``source``.

    Copies only when needed: a freshly converted array is sealed in place.
    """
    if not pixels.flags.c_contiguous or (
        source is not None and np.may_share_memory(pixels, source)
    ):
        pixels = np.array(pixels, dtype=np.uint8, order="C", copy=True)
    pixels.flags.writeable = False
    return pixels


def _check_ppi(value: Any, what: str) -> float:
    """Validate a resolution given by the caller and return it as a float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{what} must be a real number, got {type(value).__name__}")
    try:
        ppi = float(value)
    except (TypeError, ValueError) as exc:  # e.g. complex numpy scalars
        raise TypeError(f"{what} must be a real number, got {value!r}") from exc
    if not math.isfinite(ppi) or not MIN_PPI <= ppi <= MAX_PPI:
        raise ImageError(
            f"{what} must be a finite resolution within {MIN_PPI:g}..{MAX_PPI:g} pixels per "
            f"inch, got {value!r}"
        )
    return ppi


def _check_size(width: int, height: int, name: str) -> None:
    """Reject images with a side below MIN_SIDE or above MAX_SIDE pixels."""
    if width < MIN_SIDE or height < MIN_SIDE:
        raise ImageError(
            f"{name}: image is {width}x{height} pixels, smaller than the minimum of "
            f"{MIN_SIDE} pixels per side"
        )
    if width > MAX_SIDE or height > MAX_SIDE:
        raise ImageError(
            f"{name}: image is {width}x{height} pixels, larger than the maximum of "
            f"{MAX_SIDE} pixels per side"
        )


def _check_file_size(width: int, height: int, name: str) -> None:
    """:func:`_check_size`, and no more pixels than Pillow's decompression-bomb limit (files)."""
    _check_size(width, height, name)
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and width * height > limit:
        raise ImageError(
            f"{name}: image is {width}x{height} = {width * height} pixels, more than "
            f"Pillow's decompression-bomb limit of {limit} pixels"
        )


def _array_to_uint8(array: np.ndarray, name: str = "array") -> np.ndarray:
    """Convert a 2-D numeric array to uint8 greyscale by the rules of :func:`load_image`."""
    array = np.asarray(array)
    if array.ndim != 2:
        raise ImageError(f"{name}: expected a 2-D greyscale array, got shape {array.shape}")
    kind = array.dtype.kind
    if kind not in "buif":
        raise ImageError(
            f"{name}: unsupported dtype {array.dtype}; expected uint8, bool, integer or float"
        )
    height, width = array.shape
    _check_size(width, height, f"{name} of shape {array.shape}")
    if array.dtype == np.uint8:
        return array
    if kind == "b":
        return np.where(array, np.uint8(255), np.uint8(0))
    if kind in "ui":
        low, high = int(array.min()), int(array.max())
        if low < 0 or high > 255:
            raise ImageError(
                f"{name}: {array.dtype} values must lie within 0..255, got {low}..{high}"
            )
        return array.astype(np.uint8)
    values = array.astype(np.float64)
    finite = np.isfinite(values)
    if not finite.all():
        bad = "NaN" if np.isnan(values).any() else "infinite"
        raise ImageError(f"{name}: float array contains {bad} values")
    low, high = float(values.min()), float(values.max())
    if low >= 0.0 and high <= 1.0:
        values = values * 255.0
    elif not (low >= 0.0 and high <= 255.0):
        raise ImageError(
            f"{name}: float values must lie within 0..1 or 0..255, got {low:g}..{high:g}"
        )
    return np.rint(values).astype(np.uint8)


def _decode(fp: IO[bytes], name: str, ppi: float | None) -> FingerprintImage:
    """Decode an encoded image from an open binary stream positioned at its start."""
    is_wsq = fp.read(len(_WSQ_MAGIC)) == _WSQ_MAGIC
    fp.seek(0)
    if is_wsq:
        try:  # fail early and clearly here; the decoding itself happens in the worker
            import wsq  # noqa: F401
        except ImportError as exc:
            raise ImageError(
                f"{name}: WSQ support needs the `wsq` package (pip install wsq): {exc}"
            ) from exc
        data = fp.read()
        _check_wsq_frame(data, name)
        pixels, file_ppi = _decode_wsq_isolated(data, name)
        if ppi is None:
            ppi = file_ppi if file_ppi is not None else DEFAULT_PPI
        return FingerprintImage(_sealed(pixels), ppi)
    return _decode_with_pillow(fp, name, ppi, is_wsq=False)


def _decode_with_pillow(
    fp: IO[bytes], name: str, ppi: float | None, *, is_wsq: bool
) -> FingerprintImage:
    """Decode through Pillow (WSQ only inside the isolated worker)."""
    if is_wsq:
        try:
            import wsq  # noqa: F401  (registers the WSQ format with Pillow)
        except ImportError as exc:
            raise ImageError(
                f"{name}: WSQ support needs the `wsq` package (pip install wsq): {exc}"
            ) from exc
        formats: tuple[str, ...] = ("WSQ",)
    else:
        formats = _PILLOW_FORMATS
    try:
        im = Image.open(fp, formats=formats)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(
            f"{name}: image too large: {exc} (the limit is {MAX_SIDE} pixels per side)"
        ) from exc
    except MemoryError:
        raise
    except Exception as exc:  # UnidentifiedImageError, OSError, SyntaxError, plugin bugs ...
        if is_wsq:
            what = f"corrupt or truncated WSQ header ({_describe(exc)})"
        elif isinstance(exc, Image.UnidentifiedImageError):
            what = "not a recognised image format (supported: " + ", ".join(formats) + ")"
        else:
            what = f"corrupt or truncated header ({_describe(exc)})"
        raise ImageError(f"{name}: cannot read image: {what}") from exc
    with im:
        width, height = im.size
        _check_file_size(width, height, name)
        file_ppi = _wsq_ppi(fp) if is_wsq else _pillow_ppi(im.info)
        try:
            im.load()
            pixels = _to_grey(im, name)
        except ImageError:
            raise
        except MemoryError:
            raise
        except Exception as exc:  # OSError("image file is truncated"), codec errors, ...
            raise ImageError(
                f"{name}: cannot decode {im.format} image data: {_describe(exc)}"
            ) from exc
    if pixels.shape != (height, width):  # a decoder disagreeing with its own header
        raise ImageError(
            f"{name}: decoded {pixels.shape[1]}x{pixels.shape[0]} pixels but the header "
            f"says {width}x{height}"
        )
    if ppi is None:
        ppi = file_ppi if file_ppi is not None else DEFAULT_PPI
    return FingerprintImage(_sealed(pixels), ppi)


def _describe(exc: BaseException) -> str:
    """Short text for an exception raised by a decoder."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _plausible_file_ppi(value: Any) -> float | None:
    """Return a header resolution as float if it lies within MIN_FILE_PPI..MAX_FILE_PPI."""
    try:
        ppi = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if math.isfinite(ppi) and MIN_FILE_PPI <= ppi <= MAX_FILE_PPI:
        # headers store dots per metre/centimetre or rationals: 600 dpi reads back as
        # 599.9988 from a PNG; two decimals remove that noise and nothing meaningful
        return round(ppi, 2)
    return None


def _pillow_ppi(info: dict[str, Any]) -> float | None:
    """Horizontal resolution from Pillow's ``info`` (already converted to dots per inch)."""
    dpi = info.get("dpi")
    if isinstance(dpi, (tuple, list)):
        dpi = dpi[0] if dpi else None
    return None if dpi is None else _plausible_file_ppi(dpi)


def _wsq_segments(header: bytes) -> Iterator[tuple[int, int, int]]:
    """``(marker, position, length)`` of a WSQ file's segments up to its start of frame.

    Walks the marker segments after the SOI marker and stops after the start-of-frame (or
    start-of-block) marker, at the first byte that is not a marker, or at the end of
    ``header``.
    """
    pos = 2  # past the SOI marker
    while pos + 4 <= len(header):
        marker = header[pos : pos + 2]
        if marker[0] != 0xFF:
            return
        length = int.from_bytes(header[pos + 2 : pos + 4], "big")
        yield marker[1], pos, length
        if marker[1] in (0xA2, 0xA3):  # SOF / SOB: the image data follows
            return
        pos += 2 + max(length, 2)


def _wsq_ppi(fp: IO[bytes]) -> float | None:
    """Resolution from a WSQ file's ``NIST_COM`` comment (``PPI <n>``), if any.

    The ``wsq`` plugin does not expose the resolution through Pillow.
    """
    position = fp.tell()
    try:
        fp.seek(0)
        header = fp.read(65536)
    finally:
        fp.seek(position)
    for marker, pos, length in _wsq_segments(header):
        if marker == 0xA8:  # COM
            text = header[pos + 4 : pos + 2 + length].decode("latin-1")
            if text.startswith("NIST_COM"):
                for line in text.splitlines():
                    key, _, value = line.partition(" ")
                    if key == "PPI":
                        return _plausible_file_ppi(value.strip())
    return None


def _check_wsq_frame(data: bytes, name: str) -> None:
    """Reject a malformed WSQ file before decoding it.

    The NBIS decoder allocates and decodes the whole frame its header claims and does not
    check that the coded data fills it: an altered frame header decodes, slowly when the
    claimed frame is large, into uninitialised memory. So the frame size is bounded first,
    from the frame header alone (a size fault is reported as such even when the coded data
    is also wrong for that size); then the native scan walks the segments and Huffman-decodes
    the blocks (no wavelet synthesis, a few percent of a decode) and the coefficients they
    hold must be exactly those the frame needs.
    """
    for marker, pos, _ in _wsq_segments(data[:65536]):
        if marker == 0xA2 and pos + 10 <= len(data):  # SOF: L, A, B, then Y (height), X
            height, width = struct.unpack_from(">HH", data, pos + 6)
            try:
                _check_file_size(width, height, name)
            except ImageError as exc:
                raise ImageError(f"{exc} (WSQ frame header)") from None
    try:
        width, height, needed, coded = _core.wsq_scan(data)
    except ValueError as exc:
        raise ImageError(f"{name}: cannot decode WSQ: {exc}") from None
    if coded != needed:
        raise ImageError(
            f"{name}: cannot decode WSQ: its coded data holds {coded:,} of the {needed:,} "
            f"coefficients its {width}x{height} frame needs (truncated or altered)"
        )


def _to_grey(im: Image.Image, name: str) -> np.ndarray:
    """Convert a loaded Pillow image to a 2-D uint8 greyscale array."""
    mode = im.mode
    if mode == "L" and "transparency" not in im.info:
        return np.array(im, dtype=np.uint8)
    if mode.startswith("I;16"):
        return (np.asarray(im).astype(np.uint16) >> 8).astype(np.uint8)
    if mode == "I":
        values = np.asarray(im)
        low, high = int(values.min()), int(values.max())
        if low >= 0 and high <= 255:
            return values.astype(np.uint8)
        if low >= 0 and high <= 65535:  # 16-bit data held in a 32-bit image
            return (values >> 8).astype(np.uint8)
        raise ImageError(f"{name}: 32-bit integer pixel values {low}..{high} out of range")
    if mode == "F":
        return _array_to_uint8(np.asarray(im), name)
    if im.has_transparency_data:
        rgba = im.convert("RGBA")
        la = np.asarray(rgba.convert("LA"), dtype=np.uint16)
        grey, alpha = la[..., 0], la[..., 1]
        # composite over white: g*a/255 + 255*(1 - a/255), rounded
        return ((grey * alpha + 255 * (255 - alpha) + 127) // 255).astype(np.uint8)
    try:
        converted = im.convert("L")
    except ValueError:
        converted = im.convert("RGB").convert("L")
    return np.array(converted, dtype=np.uint8)


# --- WSQ in a worker process ----------------------------------------------------------------
#: Seconds a WSQ decode may take before the worker is considered hung and replaced.
WSQ_DECODE_TIMEOUT: float = 60.0


class _WsqWorker:
    """A persistent ``python -m afis._wsq_worker`` child; replaced whenever it dies.

    The worker runs the codec in a forked child, so a codec crash on corrupt data costs that
    child only and the worker answers with an error and forks the next; the worker is itself
    replaced (with its process group) only if it dies or hangs.
    """

    #: How the worker is started (a list of program arguments).
    command: tuple[str, ...] = (sys.executable, "-m", "afis._wsq_worker")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None

    def _start(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                list(self.command),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,  # the NBIS decoder chatters on stderr
                env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
                start_new_session=True,  # its own process group: killed with its children
            )
        return self._process

    def _read(self, process: subprocess.Popen[bytes], n: int, deadline: float) -> bytes:
        assert process.stdout is not None
        fd = process.stdout.fileno()
        chunks = []
        while n:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise TimeoutError
            chunk = os.read(fd, min(n, 1 << 20))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def _request(
        self, operation: bytes, payload: bytes, name: str
    ) -> tuple[subprocess.Popen[bytes], float]:
        """Send one request to a (re)started worker and read its status byte.

        Returns the process and the deadline for the rest of the answer; raises the
        worker's own ImageError when it reports one.
        """
        process = self._start()
        assert process.stdin is not None
        deadline = time.monotonic() + WSQ_DECODE_TIMEOUT
        process.stdin.write(REQUEST.pack(operation, len(payload)) + payload)
        process.stdin.flush()
        if self._read(process, 1, deadline) == b"E":
            (length,) = ERROR.unpack(self._read(process, ERROR.size, deadline))
            message = self._read(process, length, deadline).decode(errors="replace")
            raise ImageError(f"{name}: {message}")
        return process, deadline

    def _discard(self) -> None:
        """Kill the current worker after a crash or a hang; the next call starts a new one."""
        if self._process is not None:
            try:  # the worker and the child running the codec, which may be the one hanging
                os.killpg(self._process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError, AttributeError):
                self._process.kill()
            self._process.wait()
        self._process = None

    def close(self) -> None:
        """Stop the worker; the next request starts a new one."""
        with self._lock:
            self._discard()

    def decode(self, data: bytes, name: str) -> tuple[np.ndarray, float | None]:
        with self._lock:
            try:
                process, deadline = self._request(DECODE, data, name)
                height, width, ppi = OK.unpack(self._read(process, OK.size, deadline))
                pixels = np.frombuffer(self._read(process, height * width, deadline), np.uint8)
            except (BrokenPipeError, EOFError, TimeoutError, struct.error) as exc:
                self._discard()
                what = "hung" if isinstance(exc, TimeoutError) else "crashed"
                raise ImageError(
                    f"{name}: cannot decode WSQ image data: the decoder {what} on it (corrupt data)"
                ) from exc
        return pixels.reshape(height, width), (None if math.isnan(ppi) else ppi)

    def encode(self, pixels: np.ndarray, bitrate: float, ppi: float, name: str) -> bytes:
        height, width = pixels.shape
        payload = ENCODE_HEADER.pack(height, width, bitrate, ppi) + pixels.tobytes()
        with self._lock:
            try:
                process, deadline = self._request(ENCODE, payload, name)
                (length,) = ENCODED.unpack(self._read(process, ENCODED.size, deadline))
                return self._read(process, length, deadline)
            except (BrokenPipeError, EOFError, TimeoutError, struct.error) as exc:
                self._discard()
                what = "hung" if isinstance(exc, TimeoutError) else "crashed"
                raise ImageError(
                    f"{name}: cannot encode WSQ: the encoder {what} on this image"
                ) from exc


_wsq_worker = _WsqWorker()


def _decode_wsq_isolated(data: bytes, name: str) -> tuple[np.ndarray, float | None]:
    """Decode WSQ in a separate process so a decoder crash cannot take this one down."""
    return _wsq_worker.decode(data, name)


# --- WSQ encoding ---------------------------------------------------------------------------
#: Bit rate (bits per pixel) of :func:`encode_wsq` by default: the FBI's rate for 500 ppi
#: ten-prints, about 15:1 on a typical fingerprint.
WSQ_DEFAULT_BITRATE: float = 0.75
#: Range of bit rates :func:`encode_wsq` accepts.
WSQ_MIN_BITRATE: float = 0.1
WSQ_MAX_BITRATE: float = 6.0


def encode_wsq(image: FingerprintImage | np.ndarray, bitrate: float = WSQ_DEFAULT_BITRATE) -> bytes:
    """Encode a fingerprint image as WSQ (Wavelet Scalar Quantization, FBI IAFIS-IC-0110).

    The encoder is the NBIS one inside the ``wsq`` package. Like decoding, it runs in the
    isolated worker process, so a crash of the C code on some input becomes an
    :class:`~afis.errors.ImageError` here.

    Parameters
    ----------
    image : FingerprintImage or numpy.ndarray
        The image; an array is converted by the rules of :func:`load_image` (and taken as
        500 ppi). The resolution is written, rounded to a whole ppi, into the file's
        ``NIST_COM`` comment, where :func:`load_image` finds it again.
    bitrate : float
        Target bits per pixel, 0.1..6.0 (the NBIS quantiser degrades above about 6.5);
        0.75, the default, is the FBI's rate for 500 ppi images; 2.25 is close to
        visually lossless.

    Returns
    -------
    bytes
        The WSQ file.

    Raises
    ------
    ImageError
        If the array is unusable (see :func:`load_image`), ``bitrate`` is out of range or
        not finite, the ``wsq`` package is missing or the encoder fails.
    TypeError
        If ``image`` is neither a FingerprintImage nor an array, or ``bitrate`` is not a
        real number.

    Examples
    --------
    >>> import numpy as np
    >>> yy, xx = np.mgrid[0:64, 0:80]
    >>> ridges = (128 + 100 * np.sin(xx / 2.0 + yy / 5.0)).astype(np.uint8)
    >>> data = encode_wsq(FingerprintImage(ridges, 1000.0))
    >>> data[:2] == b"\\xff\\xa0"
    True
    >>> decoded = load_image(data)
    >>> decoded.pixels.shape, decoded.ppi
    ((64, 80), 1000.0)
    """
    if isinstance(image, np.ndarray):
        image = load_image(image)
    elif not isinstance(image, FingerprintImage):
        raise TypeError(
            f"encode_wsq() expects a FingerprintImage or a 2-D numpy array, got "
            f"{type(image).__name__}"
        )
    if isinstance(bitrate, (bool, np.bool_)) or not isinstance(bitrate, (int, float, np.number)):
        raise TypeError(f"bitrate must be a real number, got {type(bitrate).__name__}")
    rate = float(bitrate)
    if not math.isfinite(rate) or not WSQ_MIN_BITRATE <= rate <= WSQ_MAX_BITRATE:
        raise ImageError(
            f"bitrate must be a finite number of bits per pixel within "
            f"{WSQ_MIN_BITRATE:g}..{WSQ_MAX_BITRATE:g}, got {bitrate!r}"
        )
    _check_size(image.width, image.height, repr(image))
    try:
        import wsq  # noqa: F401
    except ImportError as exc:
        raise ImageError(f"WSQ support needs the `wsq` package (pip install wsq): {exc}") from exc
    return _wsq_worker.encode(image.pixels, rate, image.ppi, repr(image))
