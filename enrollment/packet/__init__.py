"""The enrolment packet (issue 22, part 7): a capture record as an ANSI/NIST-ITL 1-2011
transaction with a manifest, signed by the station (ECDSA P-256) and encrypted to the data
centre (ECDH P-256 + HKDF + AES-256-GCM).

Modules: :mod:`~enrollment.packet.transaction` (the transaction),
:mod:`~enrollment.packet.sealed` (sign, encrypt, open and check),
:mod:`~enrollment.packet.build` (record -> packet), :mod:`~enrollment.packet.constants`.

Examples
--------
>>> from enrollment.packet import registration_id
>>> import datetime
>>> registration_id("ST-01", datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc), 1)
'ST-01-00001-20260101000000'
"""

from enrollment.packet.build import TRANSACTION_PART, build_packet, manifest_of
from enrollment.packet.sealed import (
    OpenedPacket,
    PacketError,
    key_id,
    open_packet,
    registration_id,
    seal,
)
from enrollment.packet.transaction import demographics, to_transaction

__all__ = [
    "TRANSACTION_PART",
    "OpenedPacket",
    "PacketError",
    "build_packet",
    "demographics",
    "key_id",
    "manifest_of",
    "open_packet",
    "registration_id",
    "seal",
    "to_transaction",
]
