"""Bounded big-endian reading and BER-TLV for the interchange codecs (private).

Every read checks the bytes that remain before it touches the buffer and raises
:class:`afis.errors.FormatError` naming the record, the field, the offset and what was
expected. Nothing here allocates in proportion to a length field: slices are views of the
input.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from afis.errors import FormatError

__all__ = ["Reader", "Tlv", "as_buffer", "ber_length", "ber_tlv", "iter_tlv"]

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")

#: Longest BER-TLV tag this reader accepts, in bytes (ISO/IEC 7816-4 uses at most 3).
_MAX_TAG_BYTES = 3
#: Longest BER-TLV length field (0x83 + 3 bytes: values up to 16 MiB).
_MAX_LENGTH_BYTES = 3


def as_buffer(data: Any, record: str) -> memoryview:
    """A flat, read-only byte view of a bytes-like ``data``.

    Raises
    ------
    FormatError
        If ``data`` is not bytes-like (``str``, ``None``, numbers, ...): the message names the
        record that was expected.
    """
    if isinstance(data, str) or not _is_buffer(data):
        raise FormatError(f"{record}: expected a bytes-like object, got {type(data).__name__}")
    view = memoryview(data)
    if view.ndim != 1 or view.itemsize != 1 or not view.c_contiguous:
        view = memoryview(view.tobytes())
    return view.cast("B") if view.format != "B" else view


def _is_buffer(data: Any) -> bool:
    try:
        memoryview(data)
    except TypeError:
        return False
    return True


class Reader:
    """Sequential big-endian reads within ``buf[start:end]``, each one bounds-checked.

    Parameters
    ----------
    buf : memoryview
        The whole input (offsets in messages are offsets into it).
    record : str
        Name of the record for error messages, e.g. ``"ISO/IEC 19794-2:2005 record"``.
    start, end : int
        The window this reader may read; ``end`` defaults to the end of ``buf``.
    """

    __slots__ = ("buf", "end", "last", "pos", "record")

    def __init__(self, buf: memoryview, record: str, start: int = 0, end: int | None = None):
        self.buf = buf
        self.record = record
        self.pos = start
        self.last = start
        self.end = len(buf) if end is None else end

    @property
    def remaining(self) -> int:
        """Bytes left in the window."""
        return self.end - self.pos

    def error(self, field: str, expected: str) -> FormatError:
        """A FormatError for ``field`` at the current offset."""
        return FormatError(f"{self.record}: {field} (offset {self.pos}): {expected}")

    def error_last(self, field: str, expected: str) -> FormatError:
        """A FormatError for the value read last (at the offset where it started)."""
        return self.error_at(self.last, field, expected)

    def error_at(self, offset: int, field: str, expected: str) -> FormatError:
        """A FormatError for the field at ``offset``."""
        return FormatError(f"{self.record}: {field} (offset {offset}): {expected}")

    def need(self, n: int, field: str) -> None:
        """Raise unless ``n`` more bytes are available (and mark where the read starts)."""
        self.last = self.pos
        if n > self.end - self.pos:
            raise FormatError(
                f"{self.record}: {field} (offset {self.pos}): truncated, needs {n} bytes but "
                f"only {self.end - self.pos} remain"
            )

    def u8(self, field: str) -> int:
        self.need(1, field)
        value = self.buf[self.pos]
        self.pos += 1
        return value

    def u16(self, field: str) -> int:
        self.need(2, field)
        (value,) = _U16.unpack_from(self.buf, self.pos)
        self.pos += 2
        return value

    def u32(self, field: str) -> int:
        self.need(4, field)
        (value,) = _U32.unpack_from(self.buf, self.pos)
        self.pos += 4
        return value

    def take(self, n: int, field: str) -> memoryview:
        """The next ``n`` bytes as a view."""
        self.need(n, field)
        view = self.buf[self.pos : self.pos + n]
        self.pos += n
        return view

    def skip(self, n: int, field: str) -> None:
        self.need(n, field)
        self.pos += n

    def sub(self, n: int, field: str, record: str | None = None) -> Reader:
        """A reader over the next ``n`` bytes (which this reader skips)."""
        self.need(n, field)
        child = Reader(self.buf, record or self.record, self.pos, self.pos + n)
        self.pos += n
        return child


# ----------------------------------------------------------------------------- BER-TLV


@dataclass(frozen=True)
class Tlv:
    """One BER-TLV data object: its tag (as an int, e.g. 0x7F60), value, and whether the
    tag is constructed (its value holds further data objects)."""

    tag: int
    value: memoryview
    constructed: bool
    offset: int


def _read_tag(reader: Reader) -> tuple[int, bool]:
    first = reader.u8("BER-TLV tag")
    constructed = bool(first & 0x20)
    tag = first
    if first & 0x1F == 0x1F:  # multi-byte tag: continuation bytes have bit 8 set
        for _ in range(_MAX_TAG_BYTES - 1):
            byte = reader.u8("BER-TLV tag")
            tag = (tag << 8) | byte
            if not byte & 0x80:
                break
        else:
            raise reader.error("BER-TLV tag", f"a tag of at most {_MAX_TAG_BYTES} bytes")
    return tag, constructed


def _read_length(reader: Reader, tag: int) -> int:
    field = f"length of data object {tag:02X}"
    first = reader.u8(field)
    if first < 0x80:
        return first
    count = first & 0x7F
    if count == 0 or count > _MAX_LENGTH_BYTES:
        raise reader.error(
            field,
            f"length form {first:#04x} (expected a short length or 0x81..0x8{_MAX_LENGTH_BYTES})",
        )
    value = 0
    for _ in range(count):
        value = (value << 8) | reader.u8(field)
    return value


def iter_tlv(buf: memoryview, record: str, start: int = 0, end: int | None = None) -> Iterator[Tlv]:
    """The data objects that fill ``buf[start:end]`` exactly, in order.

    Raises
    ------
    FormatError
        If a tag or length is malformed or a value runs past ``end``.
    """
    reader = Reader(buf, record, start, end)
    while reader.remaining:
        offset = reader.pos
        tag, constructed = _read_tag(reader)
        length = _read_length(reader, tag)
        value = reader.take(length, f"value of data object {tag:02X}")
        yield Tlv(tag, value, constructed, offset)


def ber_length(n: int) -> bytes:
    """The BER encoding of a length (short form below 128)."""
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    if len(raw) > _MAX_LENGTH_BYTES:
        raise ValueError(f"BER-TLV value of {n} bytes is too long to encode")
    return bytes([0x80 | len(raw)]) + raw


def ber_tlv(tag: int, value: bytes) -> bytes:
    """One BER-TLV data object."""
    tag_bytes = tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big")
    return tag_bytes + ber_length(len(value)) + value
