"""The project's own card and SAM emulators and their link to vsmartcard's vpcd driver.

:class:`EmulatedCard` plays the e-KTP chip (contactless, DF 7F0A), :class:`EmulatedSam` the
Secure Access Module in the reader's contact slot; :class:`VpcdLink` connects either to a
``vpcd`` slot of a running ``pcscd`` so that PC/SC applications (``pyscard``, ``pcsc_scan``)
see a real reader with a card in it. Run in a thread (:class:`VpcdLink`) or as a process
(``python -m reader.emulator``).

Examples
--------
>>> from reader.emulator import EmulatedCard, EmulatedSam
>>> card = EmulatedCard.manufacture(bytes.fromhex("04a1b2c3d4e5f6"), master_key=bytes(16))
>>> card.process(bytes.fromhex("ffca000000")).hex()
'04a1b2c3d4e5f69000'
"""

from reader.emulator.card import EmulatedCard, atr
from reader.emulator.loopback import LoopbackLink
from reader.emulator.sam import EmulatedSam
from reader.emulator.vpcd import VpcdLink

__all__ = ["EmulatedCard", "EmulatedSam", "LoopbackLink", "VpcdLink", "atr"]
