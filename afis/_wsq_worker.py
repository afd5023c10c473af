"""WSQ decoding worker process (``python -m afis._wsq_worker``).

The NBIS decoder inside the ``wsq`` package can crash its process on corrupt data, so the
engine decodes WSQ here, in a child process, and turns a crash into an ImageError.

Protocol over stdin/stdout, one request at a time:
request  = u64 length, then that many bytes of WSQ data (length 0 ends the worker);
response = b"K", u32 height, u32 width, f64 ppi (NaN if the file gives none), pixels;
        or b"E", u32 length, UTF-8 message of the ImageError.
"""

from __future__ import annotations

import io
import math
import struct
import sys

REQUEST = struct.Struct("<Q")
OK = struct.Struct("<IId")
ERROR = struct.Struct("<I")


def _read_exact(stream, n: int) -> bytes:
    chunks = []
    while n:
        chunk = stream.read(n)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def serve(stdin, stdout) -> None:
    """Answer decode requests until a zero-length request or end of input."""
    from afis.errors import ImageError
    from afis.image import _decode_with_pillow, _wsq_ppi

    while True:
        try:
            (length,) = REQUEST.unpack(_read_exact(stdin, REQUEST.size))
        except EOFError:
            return
        if length == 0:
            return
        data = _read_exact(stdin, length)
        try:
            image = _decode_with_pillow(io.BytesIO(data), "<wsq>", None, is_wsq=True)
            ppi = _wsq_ppi(io.BytesIO(data))
            height, width = image.pixels.shape
            stdout.write(b"K" + OK.pack(height, width, math.nan if ppi is None else ppi))
            stdout.write(image.pixels.tobytes())
        except ImageError as exc:
            message = str(exc).replace("<wsq>: ", "", 1).encode()
            stdout.write(b"E" + ERROR.pack(len(message)) + message)
        stdout.flush()


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
