"""e-KTP card pick-up: 1:1 verification against the chip through PC/SC and a SAM.

Builds on :mod:`afis` (``afis`` never imports this package). The pieces, one job each:
:mod:`reader.transport` (pyscard), :mod:`reader.apdu`, :mod:`reader.tlv`, :mod:`reader.sm`
(secure messaging), :mod:`reader.sam` (the SAM's commands), :mod:`reader.session` (reading a
card), :mod:`reader.profile` (the EFs), :mod:`reader.security_object` (passive
authentication), :mod:`reader.personalise`, :mod:`reader.verify`, :mod:`reader.export`,
:mod:`reader.cli` (``afis-reader``) and :mod:`reader.emulator` (the project's card and SAM
on vsmartcard's vpcd). See ``reader/README.md``.

A pick-up verification::

    from reader import CardLink, SamClient, ImageFileScanner, verify
    sam = SamClient(CardLink("Virtual PCD 00 01", "sam").connect())
    sam.unlock(pin)
    card = CardLink("Virtual PCD 00 00", "card").connect(timeout=30)
    result = verify(card, sam, ImageFileScanner({RIGHT_INDEX: ["r.png"], LEFT_INDEX: ["l.png"]}))
    result.outcome  # "berhasil" or "gagal", result.attempts hold the scores
"""

from reader.errors import ReaderError
from reader.export import append_log, export_card, log_row
from reader.personalise import CardRecord, personalise
from reader.profile import Biodata
from reader.sam import SamClient
from reader.security_object import Issuer
from reader.session import CardData, read_card
from reader.transport import CardLink, list_readers
from reader.verify import ImageFileScanner, Verification, VerifyOptions, match_card, verify

__all__ = [
    "Biodata",
    "CardData",
    "CardLink",
    "CardRecord",
    "ImageFileScanner",
    "Issuer",
    "ReaderError",
    "SamClient",
    "Verification",
    "VerifyOptions",
    "append_log",
    "export_card",
    "list_readers",
    "log_row",
    "match_card",
    "personalise",
    "read_card",
    "verify",
]
