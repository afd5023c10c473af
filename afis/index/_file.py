"""The on-disk layout of a saved index: a folder with our header beside faiss's own file.

``header.json`` holds the magic, the format version, the index parameters and, for each data
file, its length and SHA-256; ``faiss.index`` is faiss's binary-index file (memory-mappable
by faiss); ``slots.npy`` holds the per-finger arrays. Loading checks every length and digest
before anything is handed to faiss, so a truncated or altered file is rejected with
:class:`afis.errors.IndexFileError` instead of reaching faiss's reader.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from afis.errors import IndexFileError

MAGIC = "nusafis-candidate-index"
#: Format version of a saved candidate index folder.
FORMAT_VERSION = 1
HEADER_NAME = "header.json"
#: Largest header accepted (it holds a few parameters and digests).
MAX_HEADER_BYTES = 1 << 16
_CHUNK = 1 << 22


def digest(path: Path) -> tuple[int, str]:
    """Length and SHA-256 (hex) of a file."""
    sha = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            sha.update(chunk)
            size += len(chunk)
    return size, sha.hexdigest()


def write_header(folder: Path, kind: str, params: dict[str, Any], files: list[str]) -> None:
    """Write ``header.json`` describing ``files`` (already written in ``folder``)."""
    entries = {}
    for name in files:
        size, sha = digest(folder / name)
        entries[name] = {"bytes": size, "sha256": sha}
    header = {
        "magic": MAGIC,
        "version": FORMAT_VERSION,
        "kind": kind,
        "params": params,
        "files": entries,
    }
    tmp = folder / (HEADER_NAME + ".tmp")
    tmp.write_text(json.dumps(header, indent=1, sort_keys=True))
    os.replace(tmp, folder / HEADER_NAME)


def decode_header(raw: bytes, *, where: str = "index header") -> dict[str, Any]:
    """Parse and check the structure of ``header.json`` bytes (any kind of index).

    Examples
    --------
    >>> decode_header(b'{"magic": "faiss"}')
    Traceback (most recent call last):
    ...
    afis.errors.IndexFileError: index header: not an nusafis index header (magic ...)
    """
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise TypeError(f"header must be bytes, got {type(raw).__name__}")
    if len(raw) > MAX_HEADER_BYTES:
        raise IndexFileError(f"{where}: header larger than {MAX_HEADER_BYTES} bytes")
    try:
        header = json.loads(bytes(raw).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise IndexFileError(f"{where}: header is not valid JSON ({exc})") from exc
    if not isinstance(header, dict) or header.get("magic") != MAGIC:
        raise IndexFileError(f"{where}: not an nusafis index header (magic {MAGIC!r} expected)")
    if header.get("version") != FORMAT_VERSION:
        raise IndexFileError(
            f"{where}: unsupported index format version {header.get('version')!r} "
            f"(this engine reads version {FORMAT_VERSION})"
        )
    if not isinstance(header.get("kind"), str):
        raise IndexFileError(f"{where}: header 'kind' must be a string")
    entries = header.get("files")
    if not isinstance(entries, dict) or not isinstance(header.get("params"), dict):
        raise IndexFileError(f"{where}: header lacks its 'files' or 'params' table")
    return header


def read_header(folder: Path, kind: str, files: list[str], *, verify: bool) -> dict[str, Any]:
    """Read and check ``header.json``; verify the data files' lengths (and digests)."""
    path = folder / HEADER_NAME
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_HEADER_BYTES + 1)
    except OSError as exc:
        raise IndexFileError(f"{folder}: not a saved index ({exc.strerror or exc})") from exc
    header = decode_header(raw, where=str(path))
    if header["kind"] != kind:
        raise IndexFileError(f"{path}: holds a {header['kind']!r}, expected a {kind!r}")
    entries = header["files"]
    for name in files:
        entry = entries.get(name)
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("bytes"), int)
            or not isinstance(entry.get("sha256"), str)
        ):
            raise IndexFileError(f"{path}: header has no valid entry for {name}")
        data = folder / name
        try:
            size = data.stat().st_size
        except OSError as exc:
            raise IndexFileError(f"{data}: missing ({exc.strerror or exc})") from exc
        if size != entry["bytes"]:
            raise IndexFileError(
                f"{data}: {size} bytes, the header says {entry['bytes']} (truncated or altered)"
            )
        if verify and digest(data)[1] != entry["sha256"]:
            raise IndexFileError(f"{data}: checksum mismatch (the file was altered)")
    return header
