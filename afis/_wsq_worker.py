"""WSQ worker process (``python -m afis._wsq_worker``): decoding and encoding.

The NBIS codec inside the ``wsq`` package can crash its process on corrupt data, so the
engine runs it here, in a child process, and turns a crash into an ImageError. Where the
platform can fork, this worker itself never runs the codec: it imports it once and forks a
child that serves the requests; a crash costs that child only, the worker answers for it and
forks the next (already warm), so the next request is answered at full speed, however many
crash in a row.

Protocol over stdin/stdout, one request at a time:
request  = u8 operation, u64 length, then that many bytes of payload;
           operation b"D": payload is WSQ data to decode;
           operation b"E": payload is ENCODE_HEADER (height, width, bit rate, ppi) followed by
           height * width pixels to encode;
           operation b"Q" (or end of input): the worker exits.
response = b"K", u32 height, u32 width, f64 ppi (NaN if the file gives none), pixels (decode);
        or b"K", u32 length, the WSQ bytes (encode);
        or b"E", u32 length, UTF-8 message of the ImageError.
"""

from __future__ import annotations

import ctypes
import functools
import io
import math
import os
import signal
import sys

from afis._wsq_protocol import (
    DECODE,
    ENCODE,
    ENCODE_HEADER,
    ENCODED,
    ERROR,
    OK,
    QUIT,
    REQUEST,
)
from afis.errors import ImageError
from afis.image import _decode_with_pillow, _wsq_ppi


def _read_exact(stream, n: int) -> bytes:
    chunks = []
    while n:
        chunk = stream.read(n)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


@functools.cache
def _encoder():
    """``wsq_encode_mem`` of the NBIS library inside the ``wsq`` package, or None.

    ``_wsq.compress`` (the package's Python entry point) ignores its rate argument and
    always writes 0.75 bit/pixel and "PPI 500"; the C function it wraps takes both, and
    the extension module exports it.
    """
    import _wsq

    try:
        lib = ctypes.CDLL(_wsq.__file__)
        function = lib.wsq_encode_mem
    except (OSError, AttributeError):
        return None
    function.restype = ctypes.c_int
    function.argtypes = [
        ctypes.POINTER(ctypes.POINTER(ctypes.c_ubyte)),  # output buffer (malloc'ed)
        ctypes.POINTER(ctypes.c_int),  # output length
        ctypes.c_float,  # bit rate
        ctypes.c_char_p,  # pixels
        ctypes.c_int,  # width
        ctypes.c_int,  # height
        ctypes.c_int,  # depth
        ctypes.c_int,  # ppi
        ctypes.c_char_p,  # comment text
    ]
    return function


def encode(pixels: bytes, height: int, width: int, bitrate: float, ppi: float) -> bytes:
    """WSQ-encode 8-bit pixels (runs inside the worker). Raises ImageError on failure."""

    function = _encoder()
    if function is None:  # an old wheel without the symbol: only its fixed settings
        import _wsq

        if bitrate != 0.75 or round(ppi) != 500:
            raise ImageError(
                "this build of the wsq package encodes only at 0.75 bit/pixel and 500 ppi"
            )
        return bytes(_wsq.compress(pixels, height, width, 0.75))
    libc = ctypes.CDLL(None)
    libc.free.argtypes = [ctypes.c_void_p]
    libc.free.restype = None
    output = ctypes.POINTER(ctypes.c_ubyte)()
    length = ctypes.c_int(0)
    buffer = ctypes.create_string_buffer(pixels, len(pixels))
    status = function(
        ctypes.byref(output),
        ctypes.byref(length),
        bitrate,
        buffer,
        width,
        height,
        8,
        round(ppi),
        None,
    )
    if status != 0 or not output or length.value <= 0:
        raise ImageError(f"the WSQ encoder failed (NBIS status {status})")
    try:
        return ctypes.string_at(output, length.value)
    finally:
        libc.free(output)


def _answer(operation: bytes, payload: bytes, stdout) -> None:
    """Run one request and write its whole answer (ImageError included) to ``stdout``."""

    try:
        if operation == DECODE:
            image = _decode_with_pillow(io.BytesIO(payload), "<wsq>", None, is_wsq=True)
            ppi = _wsq_ppi(io.BytesIO(payload))
            height, width = image.pixels.shape
            answer = b"K" + OK.pack(height, width, math.nan if ppi is None else ppi)
            stdout.write(answer + image.pixels.tobytes())
        elif operation == ENCODE:
            height, width, bitrate, ppi = ENCODE_HEADER.unpack_from(payload)
            pixels = payload[ENCODE_HEADER.size :]
            if len(pixels) != height * width:
                raise ImageError("encode request: pixel count does not match the size")
            data = encode(pixels, height, width, bitrate, ppi)
            stdout.write(b"K" + ENCODED.pack(len(data)) + data)
        else:
            raise ImageError(f"unknown worker operation {operation!r}")
    except ImageError as exc:
        _error(stdout, str(exc).replace("<wsq>: ", "", 1))
    stdout.flush()


def _error(stdout, message: str) -> None:
    data = message.encode()
    stdout.write(b"E" + ERROR.pack(len(data)) + data)


def _crash_message(operation: bytes, status: int) -> str:
    """The ImageError text for a child that died instead of answering."""
    if os.WIFSIGNALED(status):
        how = f"signal {signal.Signals(os.WTERMSIG(status)).name}"
    else:
        how = f"exit status {os.WEXITSTATUS(status)}"
    if operation == ENCODE:
        return f"cannot encode WSQ: the encoder crashed on this image ({how})"
    return f"cannot decode WSQ image data: the decoder crashed on it ({how}; corrupt data)"


#: Exit status of a codec child that read a quit request or the end of the input.
_QUIT_STATUS = 3


def _codec_child(stdin, stdout, busy) -> int:
    """Answer requests (in the forked codec child); return the exit status at the end.

    While the codec runs, ``busy`` (one byte of memory shared with the parent) holds the
    operation, so a parent whose child died knows what to answer for it. An answer is
    written only once the codec has returned: a child that crashes has written nothing.
    """
    while True:
        try:
            operation, length = REQUEST.unpack(_read_exact(stdin, REQUEST.size))
        except EOFError:
            return _QUIT_STATUS
        if operation == QUIT:
            return _QUIT_STATUS
        payload = _read_exact(stdin, length)
        busy[0] = operation[0]
        _answer(operation, payload, stdout)
        busy[0] = 0


def _serve_forking(stdin, stdout) -> None:
    """Run the codec in a forked child and stand in for it when it crashes.

    Requests go straight to the child and answers straight back, so a request costs no
    extra hand-over. When the child dies in the middle of a request, this process writes
    the error for it and forks the next child (a few milliseconds, already warm: no new
    interpreter, no imports), so however many inputs crash in a row, each is answered at
    once.
    """
    import mmap

    busy = mmap.mmap(-1, 1)  # anonymous and shared: the child's writes are seen here
    while True:
        busy[0] = 0
        pid = os.fork()
        if pid == 0:  # the child: serve, then leave without running any cleanup
            code = 70
            try:
                code = _codec_child(stdin, stdout, busy)
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == _QUIT_STATUS:
            return
        if busy[0]:
            _error(stdout, _crash_message(bytes([busy[0]]), status))
            stdout.flush()


def serve(stdin, stdout) -> None:
    """Answer requests until a quit request or end of input."""
    import wsq  # noqa: F401  (load the codec once: every forked child starts warm)

    if hasattr(os, "fork"):
        _serve_forking(stdin, stdout)
    else:  # no fork (Windows): the codec runs here; a crash ends this worker
        _codec_child(stdin, stdout, bytearray(1))


if __name__ == "__main__":
    # Unbuffered input: a child must not read ahead into the next request.
    serve(sys.stdin.buffer.raw, sys.stdout.buffer)
