"""A capture record as an ANSI/NIST-ITL 1-2011 transaction (traditional encoding).

Records, in order: Type-1 (generated: TOT ``EKTP-ENROL``, the station as originator, the
registration id as control number, UTF-8 text), Type-2 (the demographics and the packet's
items, :data:`~.constants.TYPE2_FIELDS`), one Type-14 per captured finger (the flat
capture where there is one, else the finger cut from its slap; WSQ at 0.75 bit per pixel)
and one per whole slap (FGP 13/14/15), Type-9 minutiae of each finger (optional), Type-10
face (and the hand photos of the exemption path, IMT ``HAND``), Type-17 irises, Type-8 the
resident's signatures (the card's, then the confirmation). IDCs count from 1 in that order.

Nothing is encoded twice: fingers and slaps carry the WSQ the station made once at capture
time (or the device's own WSQ), faces and irises the camera's PNG or JPEG; only the
signatures are decoded (Type-8 holds raw pixels). A packet therefore costs about a
millisecond of image work instead of some 150 ms.

Examples
--------
>>> from afis.interchange import ansi_nist_itl as an
>>> type2 = an.type2_record(1, {3: "3171014501900001", 5: "SITI AMINAH"}, encoding="utf-8")
>>> data = an.Transaction.build([type2], character_set=3).to_bytes()
>>> demographics(data)
{'nik': '3171014501900001', 'name': 'SITI AMINAH'}
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image

import afis
from afis.interchange import ansi_nist_itl as an
from enrollment.capture.record import CaptureRecord, PhotoKind, image_format
from enrollment.packet.constants import (
    SLAP_FGP,
    TRANSACTION_DESTINATION,
    TRANSACTION_TYPE,
    TYPE2_FIELDS,
)

__all__ = ["TYPE2_FIELDS", "demographics", "to_transaction"]

#: Image formats of faces, hands and irises written into the transaction unchanged.
_PASS_THROUGH = frozenset({"png", "jpeg", "jp2"})


def _pixels(data: bytes, mode: str) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert(mode))


def _finger_data(data: bytes) -> bytes | afis.FingerprintImage:
    """WSQ bytes go into the transaction unchanged (compressed at capture time, or captured
    as WSQ); anything else (a record from before WSQ was kept at capture) is decoded, to be
    compressed here."""
    return data if image_format(data) == "wsq" else afis.load_image(data)


def _photo_data(data: bytes, mode: str) -> bytes | np.ndarray:
    """A camera's PNG, JPEG or JPEG 2000 unchanged; other formats (BMP, TIFF) as pixels."""
    return data if image_format(data) in _PASS_THROUGH else _pixels(data, mode)


def _type2_values(record: CaptureRecord, registration_id: str) -> dict[str, str]:
    values = record.resident.to_dict()
    values.update(
        issuance=record.issuance.value,
        call_letter=record.call_letter,
        home_visit_reason=record.home_visit_reason,
        chip_finger_right=str(int(record.chip_fingers["right"] or 0)),
        chip_finger_left=str(int(record.chip_fingers["left"] or 0)),
        registration_id=registration_id,
    )
    return values


def to_transaction(record: CaptureRecord, registration_id: str, *, minutiae: bool = False) -> bytes:
    """The record as ANSI/NIST-ITL 1-2011 bytes (see the module docstring).

    Parameters
    ----------
    record : CaptureRecord
    registration_id : str
        Written to 1.009 (TCN) and to Type-2.
    minutiae : bool
        Add a Type-9 record (standard minutiae) per finger.
    """
    values = _type2_values(record, registration_id)
    records: list[Any] = [
        an.type2_record(
            1,
            {n: values[name] for n, name in TYPE2_FIELDS.items() if values.get(name)},
            encoding="utf-8",
        )
    ]
    idc = 2
    date = record.finished_at.date()
    for position in range(1, 11):
        finger = record.finger(position)
        if finger is None:
            continue
        records.append(
            an.type14_record(_finger_data(finger.compressed), idc=idc, position=position, date=date)
        )
        if minutiae:
            records.append(an.type9_record(afis.Template.from_bytes(finger.template), idc=idc))
        idc += 1
    for slap in sorted(record.slaps, key=lambda s: SLAP_FGP[s.slap]):
        records.append(
            an.type14_record(
                _finger_data(slap.compressed), idc=idc, position=SLAP_FGP[slap.slap], date=date
            )
        )
        idc += 1
    for kind, image_type in (
        (PhotoKind.FACE, "FACE"),
        (PhotoKind.LEFT_HAND, "HAND"),
        (PhotoKind.RIGHT_HAND, "HAND"),
    ):
        photo = record.photo(kind)
        if photo is not None:
            records.append(
                an.type10_record(
                    _photo_data(photo.image, "RGB"), idc=idc, image_type=image_type, date=date
                )
            )
            idc += 1
    for kind, eye in ((PhotoKind.RIGHT_IRIS, 1), (PhotoKind.LEFT_IRIS, 2)):
        photo = record.photo(kind)
        if photo is not None:
            records.append(
                an.type17_record(
                    _photo_data(photo.image, "L"), idc=idc, eye=eye, ppi=500, date=date
                )
            )
            idc += 1
    for kind in (PhotoKind.SIGNATURE, PhotoKind.CONFIRMATION):
        photo = record.photo(kind)
        if photo is not None:
            records.append(an.type8_record(idc=idc, pixels=_pixels(photo.image, "L")))
            idc += 1
    transaction = an.Transaction.build(
        records,
        transaction_type=TRANSACTION_TYPE,
        destination=TRANSACTION_DESTINATION,
        originator=record.station_id,
        control_number=registration_id,
        date=date,
        domain=("NUSAFIS-EKTP", "1.0"),
        character_set=3,
    )
    return transaction.to_bytes()


def demographics(data: bytes) -> dict[str, str]:
    """The Type-2 items of a transaction made by :func:`to_transaction`, by name.

    Raises
    ------
    afis.errors.FormatError
        When the transaction is malformed or has no Type-2 record.
    """
    transaction = an.decode(data)
    found = transaction.of_type(2)
    if not found:
        raise afis.FormatError("the transaction has no Type-2 (demographic) record")
    out = {}
    for number, name in TYPE2_FIELDS.items():
        text = transaction.text(found[0], number)
        if text is not None:
            out[name] = text
    return out
