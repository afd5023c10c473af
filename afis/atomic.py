"""Files written whole or not at all, for every layer: a temporary file in the target's
folder, flushed and fsynced, renamed over the target with :func:`os.replace`, then the folder
fsynced, so that a crash at any point leaves either the old file or the new one.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> atomic_write(folder / "a.txt", b"hello").read_bytes()
b'hello'
>>> atomic_write(folder / "a.txt", lambda f: f.write(b"again")).read_bytes()
b'again'
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_write", "fsync_folder"]


def fsync_folder(path: str | os.PathLike[str]) -> None:
    """Make the folder's entries (a new or renamed file) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(
    path: str | os.PathLike[str],
    data: bytes | Callable[[BinaryIO], object],
    *,
    mode: int = 0o644,
) -> Path:
    """Write ``path`` atomically and durably; returns it.

    Parameters
    ----------
    path : path-like
        The file to write (its folder is created if needed).
    data : bytes or callable
        The content, or a function that writes it to the binary file object it is given
        (e.g. ``image.save``-style writers).
    mode : int
        Permission bits of the new file (``0o600`` for secrets).

    Raises
    ------
    TypeError
        If ``data`` is neither bytes nor callable.
    OSError
        If the file cannot be written; the old file, if any, is left as it was and no
        temporary file stays behind.
    """
    if not isinstance(data, bytes | bytearray | memoryview) and not callable(data):
        raise TypeError(f"data must be bytes or a writer function, got {type(data).__name__}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(data):
                data(f)
            else:
                f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)
    return path
