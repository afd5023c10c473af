"""Enrolment packets of synthetic people, as the packet benchmark and the demo make them.

:func:`capture_records` runs whole capture sessions on synthetic devices at a station (ten
flat fingers, face, signature, irises, re-verification, confirmation, sign-off, the
supervisor's approval). :func:`minutiae_record` turns such a record into another resident's
record whose fingers are :mod:`afis.synth` minutiae (a population that exists only as
templates, as the demo's does): each finger's template is the given one, its Type-14 image a
blank stand-in of the template's size (:func:`stand_in_wsq`), so that the packet must be
built with ``minutiae=True`` and read by a receiver opened with ``minutiae=True``; a
centre that extracts from the images finds no finger in them. :func:`pack` and :func:`pack_and_post`
are one packet's way out of a station: built, signed and sealed
(:func:`~enrollment.packet.build_packet`), written atomically to the outbox folder, and
POSTed to the centre's receiving endpoint as the outbox does (:func:`enrollment.outbox._post`).

Examples
--------
>>> synthetic_registration_id(0), synthetic_registration_id(100_000)
('ST-01-00001-20260302170000', 'ST-01-00002-20260303204640')
>>> stand_in_wsq(388, 374)[:2]
b'\\xff\\xa0'
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric import ec

import afis
from afis.atomic import atomic_write
from afis.image import encode_wsq
from enrollment import constants as C
from enrollment.capture import (
    CaptureRecord,
    Modality,
    OperatorRegister,
    PopulationRegister,
    Resident,
    Role,
    Station,
    SyntheticDevice,
)
from enrollment.capture.record import FingerCapture
from enrollment.capture.synthetic import render_finger
from enrollment.outbox import _post
from enrollment.packet import build_packet, registration_id

__all__ = [
    "PACKET_TIME",
    "capture_records",
    "minutiae_record",
    "pack",
    "pack_and_post",
    "stand_in_wsq",
    "synthetic_registration_id",
]

#: When the synthetic stations capture and seal (fixed: the packets' content is seeded).
PACKET_TIME = datetime.datetime.fromisoformat(C.SYNTHETIC_PACKET_TIME)
#: Device id of the fingers of :func:`minutiae_record`.
MINUTIAE_DEVICE = "SYNTH-MINUTIAE"


def synthetic_registration_id(serial: int, station_id: str = C.SYNTHETIC_STATION) -> str:
    """The registration id of a synthetic station's ``serial``-th packet (0-based): stamped
    ``serial`` seconds after :data:`PACKET_TIME`, so that every serial has its own."""
    at = PACKET_TIME + datetime.timedelta(seconds=serial)
    return registration_id(station_id, at, serial % 99_999 + 1)


def capture_records(folder: Path, count: int, *, register_size: int = 80) -> list[CaptureRecord]:
    """``count`` approved records captured on synthetic devices at a station in ``folder``
    (ten flat fingers, face, signature, irises, re-verification, confirmation), of the
    first adults without KITAP of a seeded synthetic population register."""
    staff = OperatorRegister()
    staff.enrol("op-1", "ANA", Role.OPERATOR, {2: render_finger(9001, 0)})
    staff.enrol("sv-1", "BAYU", Role.SUPERVISOR, {7: render_finger(9002, 0)})
    register = PopulationRegister.synthetic(register_size, seed=11)
    station = Station(C.SYNTHETIC_STATION, folder, register, staff, clock=lambda: PACKET_TIME)
    people = [r for r in register.residents() if r.age_on(PACKET_TIME.date()) >= 17 and not r.kitap]
    ids = []
    for index in range(count):
        resident = people[index]
        login = station.login("op-1", render_finger(9001, 1))
        session = station.start_session(
            resident.nik, resident.family_card, operator=login, issuance="regular"
        )
        kit = {
            name: SyntheticDevice(f"{name}-1", modality, 700 + index)
            for name, modality in (
                ("finger", Modality.FINGER),
                ("face", Modality.FACE),
                ("iris", Modality.IRIS),
                ("pad", Modality.SIGNATURE),
            )
        }
        for position in range(1, 11):
            session.capture_finger(position, kit["finger"])
        session.capture_photo("face", kit["face"])
        session.capture_photo("signature", kit["pad"])
        session.capture_photo("left_iris", kit["iris"])
        session.capture_photo("right_iris", kit["iris"])
        session.reverify(kit["finger"])
        session.confirm(kit["pad"])
        session.sign_off(render_finger(9001, 2))
        ids.append(session.session_id)
    station.end_of_day("sv-1", render_finger(9002, 1), day=PACKET_TIME.date(), approve=ids)
    return [station.record(i) for i in ids]


@functools.cache
def stand_in_wsq(width: int, height: int) -> bytes:
    """A blank (uniform light grey) finger image of ``width`` x ``height`` as WSQ: the
    Type-14 stand-in of a finger that exists only as minutiae."""
    return encode_wsq(afis.FingerprintImage(np.full((height, width), 235, np.uint8), 500.0))


def minutiae_record(
    kit: CaptureRecord,
    resident: Resident,
    templates: Sequence[bytes],
    *,
    session_id: str,
    issuance: Any = None,
) -> CaptureRecord:
    """``kit`` (an approved record, :func:`capture_records`) as ``resident``'s, with the ten
    fingers of ``templates`` (:class:`afis.Template` bytes, right thumb .. left little).

    Each finger keeps its template and image quality; its image is :func:`stand_in_wsq`.
    The face, irises, signatures, staff, re-verification and review are the kit's.
    """
    if len(templates) != 10:
        raise ValueError(f"ten finger templates are needed, got {len(templates)}")
    fingers = []
    for position, data in enumerate(templates, start=1):
        template = afis.Template.from_bytes(data)
        fingers.append(
            FingerCapture(
                position=position,
                image=stand_in_wsq(template.width, template.height),
                template=data,
                quality=int(template.image_quality),
                attempts=1,
                forced=False,
                source="flat",
                device_id=MINUTIAE_DEVICE,
                captured_at=kit.finished_at,
            )
        )
    changes: dict[str, Any] = {
        "session_id": session_id,
        "resident": resident,
        "citizenship": resident.citizenship,
        "kitap": resident.kitap,
        "fingers": tuple(fingers),
    }
    if issuance is not None:
        changes["issuance"] = issuance
    return dataclasses.replace(kit, **changes)


def pack(
    record: CaptureRecord,
    rid: str,
    *,
    station_key: ec.EllipticCurvePrivateKey,
    centre_key: ec.EllipticCurvePublicKey,
    outbox: Path,
    minutiae: bool = False,
) -> bytes:
    """Build, sign and seal ``record``'s packet under ``rid`` and write it atomically to
    ``outbox/<rid>.pkt``; returns the packet."""
    data = build_packet(
        record,
        registration_id=rid,
        station_key=station_key,
        centre_key=centre_key,
        created_at=PACKET_TIME,
        minutiae=minutiae,
    )
    atomic_write(outbox / f"{rid}.pkt", data)
    return data


def pack_and_post(
    record: CaptureRecord,
    rid: str,
    *,
    station_key: ec.EllipticCurvePrivateKey,
    centre_key: ec.EllipticCurvePublicKey,
    outbox: Path,
    url: urllib.parse.SplitResult,
    minutiae: bool = False,
    timeout: float = C.OUTBOX_TIMEOUT,
) -> tuple[int | None, dict[str, Any]]:
    """:func:`pack`, then POST the packet to the centre at ``url`` as the outbox does:
    (HTTP status, JSON answer)."""
    data = pack(
        record,
        rid,
        station_key=station_key,
        centre_key=centre_key,
        outbox=outbox,
        minutiae=minutiae,
    )
    return _post(url, data, rid, timeout)
