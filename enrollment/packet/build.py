"""From a capture record to a sealed packet, and back to what the centre needs.

:func:`build_packet` refuses a record the supervisor has not approved at the end of the day,
writes the ANSI/NIST-ITL transaction (:func:`~.transaction.to_transaction`) and the manifest
(:func:`manifest_of`) and seals them (:func:`~.sealed.seal`).

Examples
--------
>>> sorted(MANIFEST_KEYS)[:4]
['chip_fingers', 'citizenship', 'confirmed_sha256', 'created_at']
"""

from __future__ import annotations

import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from enrollment.capture.record import CaptureRecord
from enrollment.packet.sealed import PacketError, seal
from enrollment.packet.transaction import to_transaction

__all__ = ["MANIFEST_KEYS", "TRANSACTION_PART", "build_packet", "manifest_of"]

#: Name of the transaction inside a packet.
TRANSACTION_PART = "transaction.an2"
#: Keys of a packet manifest (besides ``parts``, which :func:`~.sealed.seal` adds).
MANIFEST_KEYS = frozenset(
    {
        "format",
        "registration_id",
        "session_id",
        "station_id",
        "nik",
        "region",
        "issuance",
        "citizenship",
        "operator_id",
        "supervisor_id",
        "review",
        "started_at",
        "finished_at",
        "created_at",
        "exempt",
        "exceptions",
        "fingers",
        "chip_fingers",
        "confirmed_sha256",
    }
)


def manifest_of(
    record: CaptureRecord, registration_id: str, created_at: datetime.datetime
) -> dict[str, Any]:
    """The manifest of a record's packet: who, where, when, and how each finger was taken."""
    review = record.review
    return {
        "format": "nusafis-ektp-packet/1",
        "registration_id": registration_id,
        "session_id": record.session_id,
        "station_id": record.station_id,
        "nik": record.nik,
        "region": record.resident.region,
        "issuance": record.issuance.value,
        "citizenship": record.citizenship.value,
        "operator_id": record.operator_id,
        "supervisor_id": record.supervisor_id,
        "review": None
        if review is None
        else {
            "approved": review.approved,
            "supervisor_id": review.supervisor_id,
            "reason": review.reason,
            "at": review.at.isoformat(),
        },
        "started_at": record.started_at.isoformat(),
        "finished_at": record.finished_at.isoformat(),
        "created_at": created_at.isoformat(),
        "exempt": record.exempt,
        "exceptions": [
            {"position": int(e.position), "kind": e.kind.value, "reason": e.reason}
            for e in record.exceptions
        ],
        "fingers": [
            {
                "position": int(f.position),
                "source": f.source,
                "quality": f.quality,
                "attempts": f.attempts,
                "forced": f.forced,
                "device_id": f.device_id,
            }
            for f in record.fingers
        ],
        "chip_fingers": {h: (int(p) if p else None) for h, p in record.chip_fingers.items()},
        "confirmed_sha256": record.confirmed_sha256,
    }


def build_packet(
    record: CaptureRecord,
    *,
    registration_id: str,
    station_key: ec.EllipticCurvePrivateKey,
    centre_key: ec.EllipticCurvePublicKey,
    created_at: datetime.datetime,
    minutiae: bool = False,
) -> bytes:
    """The sealed packet of an approved record.

    Raises
    ------
    PacketError
        The record was not approved at the end of the day (or was rejected).
    """
    if record.review is None or not record.review.approved:
        state = "rejected" if record.review else "not yet reviewed"
        raise PacketError(
            f"session {record.session_id} is {state} at the end of the day; only approved "
            "records are packed"
        )
    transaction = to_transaction(record, registration_id, minutiae=minutiae)
    return seal(
        {TRANSACTION_PART: transaction},
        manifest_of(record, registration_id, created_at),
        station_key=station_key,
        centre_key=centre_key,
    )
