"""PC/SC transport through pyscard: find readers, wait for a card, exchange APDUs.

Works the same with a physical reader (a contactless reader for the e-KTP, a contact slot
for the SAM) and with the project's emulators plugged into vsmartcard's ``vpcd`` slots.
Readers are picked by a regular expression on their PC/SC name, searched case-insensitively
(``"Virtual PCD 00 00"``, ``"ACS ACR1281U.*PICC"``, ``"SAM"``).

Every exchange can be recorded in :attr:`CardLink.trace` (what the note's APDU listing is
made of); commands marked sensitive (the PIN) are recorded with their data replaced by
``*``. Time spent in :meth:`CardLink.transmit` is summed in :attr:`CardLink.seconds`.

Examples
--------
>>> import re
>>> bool(re.search("virtual pcd 00 00", "Virtual PCD 00 00", re.I))
True
>>> TraceEntry("card", "GET CHALLENGE", "0084000008", "0102030405060708 9000", 0.0002).line()
'card  GET CHALLENGE        > 0084000008  < 0102030405060708 9000'
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Protocol

from afis.errors import FormatError
from reader.errors import CardRemovedError, NoReaderError, TransportError

__all__ = [
    "CardLink",
    "Link",
    "TraceEntry",
    "card_present",
    "find_reader",
    "list_readers",
    "pcsc_available",
    "wait_for_removal",
]


def _pcsc():
    try:
        from smartcard import System
        from smartcard.Exceptions import CardConnectionException, NoCardException
    except ImportError as exc:
        raise TransportError(
            f"pyscard is not installed ({exc}): pip install 'nusafis[reader]' (it builds with "
            "swig and libpcsclite-dev, which tools/install-pcsc.sh installs)"
        ) from None
    return System, CardConnectionException, NoCardException


def list_readers() -> list[str]:
    """Names of the PC/SC readers; TransportError when pcscd cannot be reached."""
    system, _, _ = _pcsc()
    try:
        return [str(r) for r in system.readers()]
    except Exception as exc:  # pyscard raises its own kinds for a missing daemon
        raise TransportError(f"PC/SC is not available (is pcscd running?): {exc}") from None


def pcsc_available() -> bool:
    """Whether pcscd answers and lists at least one reader."""
    try:
        return bool(list_readers())
    except TransportError:
        return False


def find_reader(pattern: str) -> str:
    """The one reader whose name matches ``pattern`` (regular expression, any case)."""
    names = list_readers()
    try:
        regex = re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise NoReaderError(
            f"reader pattern {pattern!r} is not a regular expression: {exc}"
        ) from None
    matches = [n for n in names if regex.search(n)]
    if len(matches) != 1:
        what = "no reader" if not matches else f"{len(matches)} readers ({', '.join(matches)})"
        raise NoReaderError(
            f"{what} match {pattern!r}; readers present: {', '.join(names) or 'none'}"
        )
    return matches[0]


def card_present(pattern: str) -> bool:
    """Whether pcscd sees a card in the reader matching ``pattern`` (its own view, which
    follows a removal within its polling interval)."""
    from smartcard import scard

    name = find_reader(pattern)
    result, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if result != scard.SCARD_S_SUCCESS:
        raise TransportError(f"PC/SC context: {scard.SCardGetErrorMessage(result)}")
    try:
        result, states = scard.SCardGetStatusChange(context, 0, [(name, scard.SCARD_STATE_UNAWARE)])
        if result != scard.SCARD_S_SUCCESS:
            raise TransportError(f"PC/SC status of {name}: {scard.SCardGetErrorMessage(result)}")
        return bool(states[0][1] & scard.SCARD_STATE_PRESENT)
    finally:
        scard.SCardReleaseContext(context)


def wait_for_removal(pattern: str, timeout: float = 5.0) -> None:
    """Wait until the card has left the reader matching ``pattern``; NoReaderError when it
    is still there after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while card_present(pattern):
        if time.monotonic() > deadline:
            raise NoReaderError(f"the card is still in {pattern!r} after {timeout:.1f} s")
        time.sleep(0.02)


class Link(Protocol):
    """What the layer needs of a connection to a card or SAM (:class:`CardLink` on PC/SC,
    :class:`reader.emulator.LoopbackLink` straight to an emulator)."""

    device: str
    reader: str
    seconds: float
    trace: list[TraceEntry]

    def transmit(self, raw: bytes, label: str = "", sensitive: bool = False) -> bytes: ...


@dataclass(frozen=True)
class TraceEntry:
    """One recorded exchange."""

    device: str
    label: str
    command: str
    response: str
    seconds: float

    def line(self) -> str:
        """One line of an APDU listing."""
        return f"{self.device:5} {self.label:20} > {self.command}  < {self.response}"


class CardLink:
    """A connection to the card (or SAM) in one reader.

    Parameters
    ----------
    pattern : str
        Regular expression picking the reader by name.
    device : str
        Short name in traces and messages (``card``, ``sam``).
    trace : bool or list
        Record every exchange in :attr:`trace`; a list given here is appended to (one list
        shared by the card's and the SAM's link keeps their exchanges in order).
    """

    def __init__(
        self, pattern: str, device: str = "card", trace: bool | list[TraceEntry] = False
    ) -> None:
        self.pattern = pattern
        self.device = device
        self.reader = ""
        self.recording = trace is not False
        self.trace: list[TraceEntry] = trace if isinstance(trace, list) else []
        self.seconds = 0.0
        self.exchanges = 0
        self._connection = None

    def __repr__(self) -> str:
        return f"CardLink({self.device} in {self.reader or self.pattern!r})"

    def connect(self, timeout: float = 5.0) -> CardLink:
        """Wait up to ``timeout`` seconds for a card in the reader and connect to it."""
        from smartcard import scard

        system, connection_error, no_card = _pcsc()
        self.reader = find_reader(self.pattern)
        reader = next(r for r in system.readers() if str(r) == self.reader)
        deadline = time.monotonic() + timeout
        last = ""
        while True:
            connection = reader.createConnection()
            try:
                # leave the card as it is on disconnect: a late disconnect (or the garbage
                # collector's) must not reset a card inserted since
                connection.connect(disposition=scard.SCARD_LEAVE_CARD)
                self._connection = connection
                return self
            except (no_card, connection_error) as exc:
                last = str(exc)
            if time.monotonic() > deadline:
                raise NoReaderError(
                    f"no {self.device} in reader {self.reader!r} after {timeout:.1f} s ({last})"
                )
            time.sleep(0.02)

    def atr(self) -> bytes:
        """The card's answer to reset."""
        if self._connection is None:
            raise TransportError(f"{self.device}: not connected")
        return bytes(self._connection.getATR())

    def transmit(self, raw: bytes, label: str = "", sensitive: bool = False) -> bytes:
        """Send one command APDU, return the whole response (data and SW1 SW2).

        Raises :class:`reader.errors.CardRemovedError` when the card is gone.
        """
        if self._connection is None:
            raise TransportError(f"{self.device}: not connected")
        from smartcard import scard

        component = getattr(self._connection, "component", self._connection)
        pci = scard.SCARD_PCI_T1 if component.getProtocol() == 2 else scard.SCARD_PCI_T0
        what = label or "a command"
        start = time.perf_counter()
        # SCardTransmit itself, not pyscard's wrapper: a card gone from vpcd answers with
        # nothing, a malformed one with a single byte, and the two must be told apart
        hresult, data = scard.SCardTransmit(component.hcard, pci, list(raw))
        if hresult != scard.SCARD_S_SUCCESS:
            message = scard.SCardGetErrorMessage(hresult)
            if hresult in _REMOVED:
                self._connection = None
                raise CardRemovedError(
                    f"{self.device} left reader {self.reader!r} during {what} ({message})"
                )
            raise TransportError(f"{self.device}: transfer of {what} failed ({message})")
        if not data:
            self._connection = None
            raise CardRemovedError(
                f"{self.device} left reader {self.reader!r} or stopped answering during {what}"
            )
        if len(data) < 2:
            raise FormatError(f"response to {what}: {len(data)} byte, shorter than SW1 SW2")
        response = bytes(data)
        elapsed = time.perf_counter() - start
        self.seconds += elapsed
        self.exchanges += 1
        if self.recording:
            shown = raw[:5].hex() + "*" * (2 * len(raw[5:])) if sensitive else raw.hex()
            if len(shown) > 56:
                shown = f"{shown[:48]}..({len(raw)} bytes)"
            self.trace.append(TraceEntry(self.device, label, shown, _short(response), elapsed))
        return response

    def close(self) -> None:
        """Disconnect (the card stays in the reader)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.disconnect()
            except Exception:  # already gone
                pass

    def __enter__(self) -> CardLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _removed_codes() -> frozenset[int]:
    try:
        from smartcard import scard
    except ImportError:  # pragma: no cover
        return frozenset()
    names = (
        "SCARD_W_REMOVED_CARD",
        "SCARD_E_NO_SMARTCARD",
        "SCARD_W_RESET_CARD",
        "SCARD_W_UNPOWERED_CARD",
        "SCARD_W_UNRESPONSIVE_CARD",
        "SCARD_E_NOT_TRANSACTED",
        "SCARD_E_READER_UNAVAILABLE",
    )
    return frozenset(getattr(scard, n) for n in names)


_REMOVED = _removed_codes()


def _short(response: bytes) -> str:
    body, sw = response[:-2].hex(), response[-2:].hex()
    if len(body) > 40:
        body = f"{body[:32]}..({len(response) - 2} bytes)"
    return f"{body} {sw}".strip()
