"""Exceptions of the card-reader layer.

Every failure a card, a SAM, a reader or a hostile input can cause is a :class:`ReaderError`
(an :class:`afis.errors.AfisError`). Decoders of card data raise
:class:`afis.errors.FormatError` naming the record, the field and what was expected.

Examples
--------
>>> from reader.errors import CardStatusError
>>> str(CardStatusError(0x6A82, "READ BINARY"))
'READ BINARY: card answered 6A82 (file or application not found)'
"""

from __future__ import annotations

from afis.errors import AfisError

__all__ = [
    "AuthenticationError",
    "CaptureError",
    "CardRemovedError",
    "CardStatusError",
    "NoReaderError",
    "PassiveAuthenticationError",
    "ReaderError",
    "SamError",
    "SamLockedError",
    "SecureMessagingError",
    "TransportError",
]

#: Meanings of the ISO/IEC 7816-4 status words the layer names in its messages.
STATUS_WORDS: dict[int, str] = {
    0x6281: "part of returned data may be corrupted",
    0x6282: "end of file reached before Le bytes",
    0x6700: "wrong length",
    0x6882: "secure messaging not supported",
    0x6982: "security status not satisfied",
    0x6983: "authentication method blocked",
    0x6984: "reference data not usable",
    0x6985: "conditions of use not satisfied",
    0x6986: "command not allowed",
    0x6987: "expected secure messaging data objects missing",
    0x6988: "incorrect secure messaging data objects",
    0x6A80: "incorrect parameters in the data field",
    0x6A82: "file or application not found",
    0x6A84: "not enough memory space in the file",
    0x6A86: "incorrect parameters P1-P2",
    0x6A88: "referenced data not found",
    0x6B00: "wrong parameters (offset outside the EF)",
    0x6D00: "instruction code not supported",
    0x6E00: "class not supported",
    0x6F00: "no precise diagnosis",
    0x6300: "verification failed",
}


def describe_status(sw: int) -> str:
    """Words for a status word, e.g. ``6A82`` -> ``file or application not found``.

    Examples
    --------
    >>> describe_status(0x63C1)
    'verification failed, 1 tries left'
    """
    if sw == 0x9000:
        return "success"
    if sw & 0xFFF0 == 0x63C0:
        return f"verification failed, {sw & 0xF} tries left"
    if sw >> 8 == 0x61:
        return f"{sw & 0xFF} more bytes available"
    if sw >> 8 == 0x6C:
        return f"wrong Le, {sw & 0xFF} bytes available"
    return STATUS_WORDS.get(sw, "unknown status")


class ReaderError(AfisError):
    """Base class of the card-reader layer's errors."""


class TransportError(ReaderError):
    """PC/SC failed: no daemon, no reader, the reader refused the connection or a transfer."""


class NoReaderError(TransportError):
    """No reader matches the requested name pattern, or no card arrived in time."""


class CardRemovedError(TransportError):
    """The card (or the SAM) left the reader, or went silent, in the middle of an operation."""


class CardStatusError(ReaderError):
    """A card or SAM answered a command with an error status word."""

    def __init__(self, sw: int, command: str) -> None:
        self.sw = sw
        self.command = command
        super().__init__(f"{command}: card answered {sw:04X} ({describe_status(sw)})")


class SecureMessagingError(ReaderError):
    """A protected response is malformed, truncated, oversized, replayed or its MAC is wrong."""


class AuthenticationError(ReaderError):
    """Mutual authentication of card and reader failed: a cloned or foreign card."""


class PassiveAuthenticationError(ReaderError):
    """The card's data does not match its signed security object, or the signature is bad."""


class SamError(ReaderError):
    """The SAM is missing, refuses a command or gave an unusable answer."""


class SamLockedError(SamError):
    """The SAM's PIN is blocked (three wrong tries) or the SAM is not unlocked."""


class CaptureError(ReaderError):
    """A live capture is unusable: not an image, not a fingerprint, or no minutiae found."""
