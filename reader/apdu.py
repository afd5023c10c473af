"""Command and response APDUs (ISO/IEC 7816-4), short and extended lengths.

:func:`parse_command` is what a card or SAM runs on the bytes it receives; it answers garbage
(truncation, lying Lc, trailing bytes) with :class:`afis.errors.FormatError`.
:func:`parse_response` splits a response into data and status word and refuses responses
shorter than a status word or longer than the caller allows.

Examples
--------
>>> from reader.apdu import Command, parse_command, parse_response
>>> cmd = Command(0x00, 0xB0, 0x00, 0x10, le=8)
>>> cmd.to_bytes().hex()
'00b0001008'
>>> parse_command(cmd.to_bytes()) == cmd
True
>>> parse_response(bytes.fromhex("01029000"))
Response(data=b'\\x01\\x02', sw=36864)
"""

from __future__ import annotations

from dataclasses import dataclass

from afis.errors import FormatError
from reader.errors import CardStatusError

__all__ = ["Command", "Response", "parse_command", "parse_response"]

#: Largest response data a short APDU can ask for.
SHORT_LE_MAX = 256
#: Largest data field this layer builds or accepts (extended APDU).
EXTENDED_MAX = 65535


@dataclass(frozen=True)
class Command:
    """A command APDU. ``le`` is None (no response data expected) or 1..65536.

    Examples
    --------
    >>> Command(0x00, 0xA4, 0x02, 0x0C, b"\\x6f\\xf1").to_bytes().hex()
    '00a4020c026ff1'
    """

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None

    def __post_init__(self) -> None:
        for name in ("cla", "ins", "p1", "p2"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value <= 0xFF:
                raise ValueError(f"APDU {name} must be a byte, got {value!r}")
        if not isinstance(self.data, bytes):
            object.__setattr__(self, "data", bytes(self.data))
        if len(self.data) > EXTENDED_MAX:
            raise ValueError(f"APDU data of {len(self.data)} bytes exceeds {EXTENDED_MAX}")
        if self.le is not None and not 1 <= self.le <= EXTENDED_MAX + 1:
            raise ValueError(f"APDU Le {self.le} is outside 1..65536")

    @property
    def extended(self) -> bool:
        """Whether the command needs extended length fields."""
        return len(self.data) > 255 or (self.le is not None and self.le > SHORT_LE_MAX)

    def header(self) -> bytes:
        """CLA INS P1 P2."""
        return bytes([self.cla, self.ins, self.p1, self.p2])

    def to_bytes(self) -> bytes:
        """Encode (case 1..4, short or extended)."""
        out = bytearray(self.header())
        if self.extended:
            if self.data:
                out += b"\x00" + len(self.data).to_bytes(2, "big") + self.data
            if self.le is not None:
                le = self.le & 0xFFFF  # 65536 -> 0000
                out += (b"" if self.data else b"\x00") + le.to_bytes(2, "big")
        else:
            if self.data:
                out += bytes([len(self.data)]) + self.data
            if self.le is not None:
                out.append(self.le & 0xFF)  # 256 -> 00
        return bytes(out)

    def name(self) -> str:
        """A short label for messages and traces (``INS B0`` ...)."""
        return _INS_NAMES.get(self.ins, f"INS {self.ins:02X}")


_INS_NAMES = {
    0xA4: "SELECT",
    0xB0: "READ BINARY",
    0xD6: "UPDATE BINARY",
    0x84: "GET CHALLENGE",
    0x82: "MUTUAL AUTHENTICATE",
    0x44: "ACTIVATE FILE",
    0x20: "VERIFY PIN",
    0xCA: "GET DATA",
}


def parse_command(raw: bytes) -> Command:
    """Decode a command APDU; FormatError on any inconsistency.

    Examples
    --------
    >>> parse_command(bytes.fromhex("00a4020c026ff1")).data.hex()
    '6ff1'
    >>> parse_command(bytes.fromhex("00a4020c056ff1"))
    Traceback (most recent call last):
    ...
    afis.errors.FormatError: command APDU: Lc says 5 data bytes but 2 follow
    """
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise FormatError(f"command APDU: expected bytes, got {type(raw).__name__}")
    raw = bytes(raw)
    n = len(raw)
    if n < 4:
        raise FormatError(f"command APDU: header needs 4 bytes, got {n}")
    cla, ins, p1, p2 = raw[:4]
    body = raw[4:]
    if not body:
        return Command(cla, ins, p1, p2)
    if len(body) == 1:  # case 2 short
        return Command(cla, ins, p1, p2, le=body[0] or 256)
    if body[0] != 0:  # short case 3 or 4
        lc = body[0]
        if len(body) < 1 + lc:
            raise FormatError(f"command APDU: Lc says {lc} data bytes but {len(body) - 1} follow")
        rest = body[1 + lc :]
        if len(rest) > 1:
            raise FormatError(f"command APDU: {len(rest)} bytes after the data, expected 0 or 1")
        le = (rest[0] or 256) if rest else None
        return Command(cla, ins, p1, p2, body[1 : 1 + lc], le)
    # extended: 00 then two bytes
    if len(body) == 3:  # case 2 extended
        le = int.from_bytes(body[1:3], "big") or 65536
        return Command(cla, ins, p1, p2, le=le)
    if len(body) < 3:
        raise FormatError(f"command APDU: extended length field truncated ({len(body)} bytes)")
    lc = int.from_bytes(body[1:3], "big")
    if lc == 0:
        raise FormatError("command APDU: extended Lc of 0 is not allowed")
    if len(body) < 3 + lc:
        raise FormatError(f"command APDU: Lc says {lc} data bytes but {len(body) - 3} follow")
    rest = body[3 + lc :]
    if len(rest) not in (0, 2):
        raise FormatError(f"command APDU: {len(rest)} bytes after extended data, expected 0 or 2")
    le = (int.from_bytes(rest, "big") or 65536) if rest else None
    return Command(cla, ins, p1, p2, body[3 : 3 + lc], le)


@dataclass(frozen=True)
class Response:
    """A response APDU: data and the status word (``0x9000`` for success)."""

    data: bytes
    sw: int

    @property
    def ok(self) -> bool:
        """Whether the status word is 9000."""
        return self.sw == 0x9000

    def to_bytes(self) -> bytes:
        """Data followed by SW1 SW2."""
        return self.data + self.sw.to_bytes(2, "big")

    def check(self, command: str) -> bytes:
        """The data when the status is 9000, else :class:`reader.errors.CardStatusError`.

        Examples
        --------
        >>> Response(b"", 0x6A82).check("READ")
        Traceback (most recent call last):
        ...
        reader.errors.CardStatusError: READ: card answered 6A82 (file or application not found)
        """
        if self.sw != 0x9000:
            raise CardStatusError(self.sw, command)
        return self.data


def parse_response(raw: bytes, max_data: int = EXTENDED_MAX + 1) -> Response:
    """Split a response APDU; FormatError when shorter than SW1 SW2 or longer than
    ``max_data`` data bytes.

    Examples
    --------
    >>> parse_response(b"\\x90")
    Traceback (most recent call last):
    ...
    afis.errors.FormatError: response APDU: needs at least SW1 SW2 (2 bytes), got 1
    """
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise FormatError(f"response APDU: expected bytes, got {type(raw).__name__}")
    raw = bytes(raw)
    if len(raw) < 2:
        raise FormatError(f"response APDU: needs at least SW1 SW2 (2 bytes), got {len(raw)}")
    if len(raw) - 2 > max_data:
        raise FormatError(
            f"response APDU: {len(raw) - 2} data bytes, more than the {max_data} expected"
        )
    return Response(raw[:-2], int.from_bytes(raw[-2:], "big"))
