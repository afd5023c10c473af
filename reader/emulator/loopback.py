"""An emulated card or SAM without PC/SC: :class:`LoopbackLink` hands APDUs straight to it.

It offers what the rest of the layer uses of :class:`reader.transport.CardLink`
(``transmit``, ``reader``, ``device``, ``seconds``, ``trace``), so sessions, personalisation
and verification run where no ``pcscd`` is available (documentation, quick experiments,
tests on machines without the stack). The real stack is :class:`reader.emulator.VpcdLink`.

Examples
--------
>>> from reader.emulator import EmulatedCard
>>> from reader.session import CardSession
>>> card = EmulatedCard.manufacture(bytes.fromhex("04a1b2c3d4e5f6"), master_key=bytes(16))
>>> CardSession(LoopbackLink(card), None).uid().hex()
'04a1b2c3d4e5f6'
"""

from __future__ import annotations

import time

from afis.errors import FormatError
from reader.emulator.vpcd import Chip
from reader.errors import CardRemovedError
from reader.transport import TraceEntry

__all__ = ["LoopbackLink"]


class LoopbackLink:
    """A link straight to ``chip``; ``device`` names it in traces and messages."""

    def __init__(self, chip: Chip, device: str = "card", trace: bool = False) -> None:
        self.chip = chip
        self.device = device
        self.reader = f"loopback {device}"
        self.recording = trace
        self.trace: list[TraceEntry] = []
        self.seconds = 0.0
        self.exchanges = 0

    def transmit(self, raw: bytes, label: str = "", sensitive: bool = False) -> bytes:
        """Send one command APDU to the chip; CardRemovedError when it goes silent."""
        start = time.perf_counter()
        answer = self.chip.process(bytes(raw))
        if answer is None:
            raise CardRemovedError(f"{self.device} went silent during {label or 'a command'}")
        if len(answer) < 2:
            raise FormatError(f"response to {label or 'a command'}: shorter than SW1 SW2")
        elapsed = time.perf_counter() - start
        self.seconds += elapsed
        self.exchanges += 1
        if self.recording:
            shown = raw[:5].hex() + "*" * (2 * len(raw[5:])) if sensitive else raw.hex()
            self.trace.append(TraceEntry(self.device, label, shown, answer.hex(), elapsed))
        return answer

    def close(self) -> None:
        """Nothing to release."""
