"""BER-TLV data objects (ISO/IEC 7816-4), as secure messaging and the card's EFs use them.

Tags of one or two bytes, lengths in the short form or ``81``/``82`` long forms (at most
65,535). Decoding checks every length against the bytes actually there.

Examples
--------
>>> from reader.tlv import encode, decode_all
>>> data = encode(0x87, b"\\x01abc") + encode(0x99, b"\\x90\\x00")
>>> data.hex()
'87040161626399029000'
>>> [(hex(t), v) for t, v in decode_all(data, "example")]
[('0x87', b'\\x01abc'), ('0x99', b'\\x90\\x00')]
"""

from __future__ import annotations

from afis.errors import FormatError

__all__ = ["decode_all", "decode_one", "encode", "encode_length", "find"]


def encode_length(n: int) -> bytes:
    """The BER length field for ``n`` bytes (``0 <= n <= 65535``).

    Examples
    --------
    >>> encode_length(5).hex(), encode_length(200).hex(), encode_length(300).hex()
    ('05', '81c8', '82012c')
    """
    if not 0 <= n <= 0xFFFF:
        raise ValueError(f"TLV length {n} is outside 0..65535")
    if n < 0x80:
        return bytes([n])
    if n <= 0xFF:
        return bytes([0x81, n])
    return bytes([0x82, n >> 8, n & 0xFF])


def encode(tag: int, value: bytes) -> bytes:
    """One data object: tag (1 or 2 bytes), length, value.

    Examples
    --------
    >>> encode(0x5F37, b"\\x01").hex()
    '5f370101'
    """
    if not 0 <= tag <= 0xFFFF:
        raise ValueError(f"TLV tag {tag:#x} is not one or two bytes")
    head = bytes([tag]) if tag <= 0xFF else bytes([tag >> 8, tag & 0xFF])
    return head + encode_length(len(value)) + bytes(value)


def decode_one(data: bytes, offset: int, record: str) -> tuple[int, bytes, int]:
    """Decode the data object at ``offset``: ``(tag, value, next_offset)``.

    Raises :class:`afis.errors.FormatError` naming ``record`` when the object is truncated
    or its length field is malformed.

    Examples
    --------
    >>> decode_one(bytes.fromhex("8e0211227f"), 0, "demo")
    (142, b'\\x11"', 4)
    """
    n = len(data)
    if offset >= n:
        raise FormatError(f"{record}: tag expected at offset {offset}, found end of data")
    tag = data[offset]
    offset += 1
    if tag & 0x1F == 0x1F:  # two-byte tag
        if offset >= n:
            raise FormatError(f"{record}: second tag byte expected at offset {offset}")
        tag = (tag << 8) | data[offset]
        offset += 1
    if offset >= n:
        raise FormatError(f"{record}: length of tag {tag:X} expected at offset {offset}")
    first = data[offset]
    offset += 1
    if first < 0x80:
        length = first
    elif first in (0x81, 0x82):
        width = first - 0x80
        if offset + width > n:
            raise FormatError(f"{record}: length of tag {tag:X} truncated at offset {offset}")
        length = int.from_bytes(data[offset : offset + width], "big")
        offset += width
    else:
        raise FormatError(
            f"{record}: length byte {first:02X} of tag {tag:X} is not 00..7F, 81 or 82"
        )
    if offset + length > n:
        raise FormatError(f"{record}: tag {tag:X} says {length} bytes but only {n - offset} follow")
    return tag, bytes(data[offset : offset + length]), offset + length


def decode_all(data: bytes, record: str) -> list[tuple[int, bytes]]:
    """Every data object of ``data`` in order (the whole buffer must be data objects).

    Examples
    --------
    >>> decode_all(bytes.fromhex("800101810100"), "demo")
    [(128, b'\\x01'), (129, b'\\x00')]
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise FormatError(f"{record}: expected bytes, got {type(data).__name__}")
    data = bytes(data)
    out = []
    offset = 0
    while offset < len(data):
        tag, value, offset = decode_one(data, offset, record)
        out.append((tag, value))
    return out


def find(objects: list[tuple[int, bytes]], tag: int, record: str) -> bytes:
    """The value of the single object with ``tag``; FormatError when absent or repeated.

    Examples
    --------
    >>> find([(0x80, b"a")], 0x80, "demo")
    b'a'
    """
    values = [v for t, v in objects if t == tag]
    if len(values) != 1:
        what = "missing" if not values else f"present {len(values)} times"
        raise FormatError(f"{record}: data object {tag:X} is {what}, expected once")
    return values[0]
