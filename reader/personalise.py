"""Personalisation: write a card from a resident's record and the issuer's key, through the
same PC/SC stack and SAM a reader uses (what the issuance office's card writer does).

The chip gets two fingerprints, right and left index by default; when an index is missing
the next choice is the middle finger, then the ring finger, then the thumb
(:func:`choose_fingers`).

Examples
--------
>>> from afis.template import FingerPosition as F, Template
>>> t = {p: Template.empty(300, 300) for p in (F.RIGHT_MIDDLE, F.LEFT_INDEX)}
>>> [p.name for p in choose_fingers(t)]
['RIGHT_MIDDLE', 'LEFT_INDEX']
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from PIL import Image

from afis.template import FingerPosition, Template
from reader import constants as c
from reader import profile as prof
from reader import security_object
from reader.sam import SamClient
from reader.session import CardSession
from reader.sm import AES
from reader.transport import Link

__all__ = ["CardRecord", "build_contents", "choose_fingers", "personalise"]

log = logging.getLogger("reader.personalise")


@dataclass(frozen=True)
class CardRecord:
    """What the card is written from: a record of the store.

    Parameters
    ----------
    biodata : reader.profile.Biodata
    photo : bytes
        The face photo as JPEG.
    signature : PIL.Image.Image or numpy.ndarray
        The signature-pad image (dark = ink), scaled to 168 x 44.
    fingers : mapping of FingerPosition -> Template
        The enrolled fingers; two are chosen by :func:`choose_fingers`.
    issue_date : str
        YYYYMMDD.
    regency : str
        Four-digit code of the issuing regency or city.
    """

    biodata: prof.Biodata
    photo: bytes
    signature: Image.Image | np.ndarray
    fingers: Mapping[FingerPosition, Template]
    issue_date: str = "20260101"
    regency: str = "0000"


def choose_fingers(fingers: Mapping[FingerPosition, Template]) -> tuple[FingerPosition, ...]:
    """Right and left finger for the chip: index, else middle, ring, thumb, per hand."""
    chosen = []
    for hand in ("RIGHT", "LEFT"):
        for finger in prof.FALLBACK_FINGERS:
            position = FingerPosition[f"{hand}_{finger}"]
            template = fingers.get(position)
            if template is not None:
                chosen.append(position)
                break
        else:
            raise ValueError(f"no usable {hand.lower()} finger (index, middle, ring or thumb)")
    return tuple(chosen)


def build_contents(
    record: CardRecord, issuer: security_object.Issuer, sm_profile: int = AES.code
) -> dict[int, bytes]:
    """The content of every EF, the security object signed by ``issuer`` included."""
    prof.decode_photo(record.photo)  # refuse a photo the reader could not show
    positions = choose_fingers(record.fingers)
    templates = []
    for position in positions:
        template = record.fingers[position]
        if template.finger_position != position:
            template = dataclasses.replace(template, finger_position=position)
        templates.append(template)
    control = prof.CardControl(
        sm_profile=sm_profile,
        fingers=(int(positions[0]), int(positions[1])),
        issue_date=record.issue_date,
        regency=record.regency,
    )
    contents = {
        c.EF_CONTROL: control.to_bytes(),
        c.EF_BIODATA: record.biodata.to_bytes(),
        c.EF_PHOTO: bytes(record.photo),
        c.EF_SIGNATURE: prof.encode_signature(record.signature),
        c.EF_FINGER_1: prof.encode_finger(templates[0]),
        c.EF_FINGER_2: prof.encode_finger(templates[1]),
    }
    contents[c.EF_SECURITY_OBJECT] = security_object.sign(contents, issuer)
    total = sum(len(v) for v in contents.values())
    if total > c.CARD_CAPACITY:
        raise ValueError(f"card data of {total} bytes exceeds the chip's {c.CARD_CAPACITY}")
    return contents


def personalise(
    card: Link,
    sam: SamClient,
    record: CardRecord,
    issuer: security_object.Issuer,
    sm_profile: int = AES.code,
) -> dict[int, bytes]:
    """Write ``record`` onto the blank card in ``card`` and end its personalisation.

    The SAM must be unlocked. Returns the EF contents written.
    """
    contents = build_contents(record, issuer, sm_profile)
    session = CardSession(card, sam)
    uid = session.uid()
    session.select_df()
    session.authenticate(sm_profile, uid)
    for fid, data in contents.items():
        session.write_protected(fid, data)
    session.activate()
    log.info("personalised card %s (%d bytes)", uid.hex(), sum(map(len, contents.values())))
    return contents
