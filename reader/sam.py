"""The host's side of the SAM: its command set as Python calls (see
:mod:`reader.emulator.sam` for the APDUs). The SAM keeps every key; the host only ever holds
cryptograms, protected APDUs and plain card data.

Examples
--------
>>> from reader.sam import sam_status_error
>>> str(sam_status_error(0x6983, "VERIFY PIN"))
'SAM is locked: the PIN was wrong 3 times (VERIFY PIN)'
"""

from __future__ import annotations

from afis.errors import FormatError
from reader import constants as c
from reader.apdu import Command, Response, parse_command, parse_response
from reader.errors import (
    AuthenticationError,
    PassiveAuthenticationError,
    ReaderError,
    SamError,
    SamLockedError,
    SecureMessagingError,
    describe_status,
)
from reader.transport import Link

__all__ = ["SamClient", "sam_status_error"]


def sam_status_error(sw: int, command: str) -> ReaderError:
    """The exception for a SAM's error status word."""
    if sw == 0x6983:
        return SamLockedError(f"SAM is locked: the PIN was wrong {c.PIN_TRIES} times ({command})")
    if sw == 0x6982:
        return SamLockedError(f"SAM is not unlocked: give the operator's PIN first ({command})")
    if sw & 0xFFF0 == 0x63C0:
        return SamError(f"wrong SAM PIN, {sw & 0xF} tries left ({command})")
    return SamError(f"{command}: SAM answered {sw:04X} ({describe_status(sw)})")


class SamClient:
    """Commands to the SAM in ``link``."""

    def __init__(self, link: Link) -> None:
        self.link = link

    def _send(self, cmd: Command, label: str, sensitive: bool = False) -> Response:
        raw = self.link.transmit(cmd.to_bytes(), f"SAM {label}", sensitive=sensitive)
        try:
            return parse_response(raw, max_data=256)
        except FormatError as exc:
            raise SamError(f"SAM {label}: {exc}") from None

    def unlock(self, pin: str) -> None:
        """VERIFY the operator's PIN (the SAM blocks after three wrong ones)."""
        if not isinstance(pin, str) or not pin.isdigit() or not 4 <= len(pin) <= 12:
            raise SamError("the SAM PIN is 4..12 digits")
        r = self._send(Command(0x00, 0x20, 0x00, 0x81, pin.encode()), "VERIFY PIN", True)
        if not r.ok:
            raise sam_status_error(r.sw, "VERIFY PIN")

    def tries_left(self) -> int:
        """PIN tries left (3 when unlocked, 0 when blocked)."""
        r = self._send(Command(0x00, 0x20, 0x00, 0x81), "VERIFY PIN status")
        if r.ok:
            return c.PIN_TRIES
        if r.sw == 0x6983:
            return 0
        if r.sw & 0xFFF0 == 0x63C0:
            return r.sw & 0xF
        raise sam_status_error(r.sw, "VERIFY PIN status")

    def auth_init(self, profile: int, uid: bytes, rnd_ic: bytes) -> bytes:
        """The 40-byte cryptogram for the card's MUTUAL AUTHENTICATE."""
        r = self._send(Command(0x80, 0xA0, profile, 0x00, uid + rnd_ic, 40), "AUTH INIT")
        if not r.ok:
            raise sam_status_error(r.sw, "AUTHENTICATE INIT")
        if len(r.data) != c.AUTH_CRYPTOGRAM_LENGTH:
            raise SamError(f"SAM AUTHENTICATE INIT: {len(r.data)} bytes, expected 40")
        return r.data

    def auth_finish(self, answer: bytes) -> None:
        """Check the card's answer; opens the secure-messaging session inside the SAM."""
        if len(answer) != c.AUTH_CRYPTOGRAM_LENGTH:
            raise AuthenticationError(
                f"card's authentication answer has {len(answer)} bytes, expected 40"
            )
        r = self._send(Command(0x80, 0xA2, 0x00, 0x00, answer), "AUTH FINISH")
        if r.sw == 0x6300:
            raise AuthenticationError(
                "the card's authentication answer does not verify: cloned or foreign card"
            )
        if not r.ok:
            raise sam_status_error(r.sw, "AUTHENTICATE FINISH")

    def wrap(self, cmd: Command) -> bytes:
        """The protected form of ``cmd``."""
        r = self._send(Command(0x80, 0xA4, 0x00, 0x00, cmd.to_bytes(), 256), "WRAP")
        if not r.ok:
            raise sam_status_error(r.sw, "WRAP")
        try:
            parse_command(r.data)
        except FormatError as exc:
            raise SamError(f"SAM WRAP gave no command APDU: {exc}") from None
        return r.data

    def unwrap(self, raw: bytes) -> Response:
        """The plain response of a protected one; SecureMessagingError when it fails."""
        if len(raw) > 255:
            raise SecureMessagingError(f"protected response of {len(raw)} bytes is oversized")
        r = self._send(Command(0x80, 0xA6, 0x00, 0x00, raw, 256), "UNWRAP")
        if r.sw == 0x6988:
            raise SecureMessagingError(
                "protected response rejected by the SAM (MAC wrong or data objects malformed: "
                "garbled, truncated or replayed); session closed"
            )
        if not r.ok:
            raise sam_status_error(r.sw, "UNWRAP")
        try:
            return parse_response(r.data)
        except FormatError as exc:
            raise SamError(f"SAM UNWRAP: {exc}") from None

    def verify_security_object(self, data: bytes) -> None:
        """Let the SAM check the issuer's signature on EF 6FF6 (chained commands)."""
        blocks = [data[i : i + c.SO_BLOCK] for i in range(0, len(data), c.SO_BLOCK)] or [b""]
        for i, block in enumerate(blocks):
            last = i == len(blocks) - 1
            cmd = Command(0x80 if last else 0x90, 0xA8, 0x00, 0x00, block)
            r = self._send(cmd, "VERIFY SO")
            if r.ok:
                continue
            if r.sw == 0x6300:
                raise PassiveAuthenticationError("security object signature does not verify")
            if r.sw == 0x6A88:
                raise PassiveAuthenticationError("security object signed by an unknown issuer")
            if r.sw == 0x6A80:
                raise PassiveAuthenticationError("security object is malformed")
            raise sam_status_error(r.sw, "VERIFY SECURITY OBJECT")

    def close_session(self) -> None:
        """End the secure-messaging session."""
        r = self._send(Command(0x80, 0xAC, 0x00, 0x00), "CLOSE")
        if not r.ok:
            raise sam_status_error(r.sw, "CLOSE SESSION")
