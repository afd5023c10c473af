"""The data centre's side of KTP Digital: issue, re-issue and revoke credentials for records
whose card has been handed over (``CARD_ISSUED``), publish the revocation status list, and
activate a holder's wallet after a biometric check.

Every credential issued is a row of the store's ``ktp_credentials`` register (its id is the
credential id, its bit in the status list). Issuing again for a record revokes the record's
earlier credentials in the same transaction: a holder has one credential in force.

The biodata come from the record; fields the record store does not keep yet (RT, RW,
religion, ...) are ``-``, as the card prints an unknown field. Regions are given by their
BPS codes (province ``31``, regency ``3171``, district ``317123``).

Examples
--------
>>> from enrollment import Store
>>> from enrollment.ktp_digital.keys import IssuerKey
>>> issuer = Issuer(Store("sqlite://"), IssuerKey.generate("ktp-test"))
>>> issuer.status_list(now=0).size
1
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any, Protocol

import sqlalchemy as sa
from PIL import Image

from afis.interchange import to_iso_card
from afis.match import compare, threshold_for_fmr
from afis.template import FingerPosition, Template
from enrollment import constants as C
from enrollment.ktp_digital.credential import Credential, encode
from enrollment.ktp_digital.errors import CredentialError, WalletError
from enrollment.ktp_digital.keys import IssuerKey
from enrollment.ktp_digital.qr import face_thumbnail
from enrollment.ktp_digital.revocation import StatusList
from enrollment.status import Status
from enrollment.store import Citizenship, Person, SampleState, Store, ktp_credentials

__all__ = ["ACTIVATION_FMR", "CHIP_FINGERS", "FaceVerifier", "Issuer", "biodata_of", "revoke"]

#: False match rate of the fingerprint check that unlocks a wallet (per finger compared).
ACTIVATION_FMR = 1e-4
#: Fingers carried in a credential when asked for (the chip's: right and left index).
CHIP_FINGERS = (FingerPosition.RIGHT_INDEX, FingerPosition.LEFT_INDEX)


class FaceVerifier(Protocol):
    """A face matcher plugged into activation (the engine matches fingerprints only).

    ``verify(live, record_id)`` returns True when the live face image is the record's holder.
    """

    def verify(self, live: Any, record_id: int) -> bool: ...


def _date(value: datetime.date | None) -> str:
    return "-" if value is None else value.strftime("%d-%m-%Y")


def biodata_of(person: Person, issue_date: datetime.date) -> dict[str, str]:
    """The 21 card fields of a record (unknown ones ``-``).

    Examples
    --------
    >>> import datetime
    >>> from enrollment.store import Person
    >>> p = Person("3171010501900001", "BUDI", "M", datetime.date(1990, 1, 5), "JAKARTA",
    ...            "317101")
    >>> b = biodata_of(p, datetime.date(2026, 12, 7))
    >>> b["sex"], b["date_of_birth"], b["regency"], b["issue_date"]
    ('LAKI-LAKI', '05-01-1990', '3171', '07-12-2026')
    """
    region = person.region or "-"

    def text(value: str) -> str:
        value = value.replace('"', "'").strip()
        return value[: C.KTP_MAX_BIODATA_FIELD] if value.isascii() and value else "-"

    fields = dict.fromkeys(C.KTP_BIODATA_FIELDS, "-")
    fields.update(
        nik=person.nik,
        address=text(person.address),
        place_of_birth=text(person.place_of_birth),
        district=region[:6],
        regency=region[:4],
        province=region[:2],
        sex={"M": "LAKI-LAKI", "F": "PEREMPUAN"}.get(person.sex, "-"),
        name=text(person.name),
        date_of_birth=_date(person.date_of_birth),
        valid_until="SEUMUR HIDUP" if person.citizenship == Citizenship.CITIZEN else "-",
        issue_regency=region[:4],
        issue_date=_date(issue_date),
        family_card=text(person.family_card),
        citizenship="WNI" if person.citizenship == Citizenship.CITIZEN else "WNA",
    )
    return fields


def _utc(seconds: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)


class Issuer:
    """Issues and revokes KTP Digital credentials from a record store.

    Parameters
    ----------
    store : Store
    key : IssuerKey
        The signing key in force (its key id goes into every credential).
    issuer : str
        The issuer's name in the credentials.
    validity_days : int
        How long a credential is valid from its issue.
    face_verifier : FaceVerifier, optional
        The face matcher activation may use instead of a fingerprint.
    """

    def __init__(
        self,
        store: Store,
        key: IssuerKey,
        *,
        issuer: str = "KEMENDAGRI",
        validity_days: int = C.KTP_VALIDITY_DAYS,
        face_verifier: FaceVerifier | None = None,
    ) -> None:
        if not isinstance(store, Store):
            raise TypeError(f"store must be a Store, got {type(store).__name__}")
        if not isinstance(key, IssuerKey):
            raise TypeError(f"key must be an IssuerKey, got {type(key).__name__}")
        if (
            isinstance(validity_days, bool)
            or not isinstance(validity_days, int)
            or validity_days < 1
        ):
            raise ValueError(f"validity_days must be a positive int, got {validity_days!r}")
        self.store = store
        self.key = key
        self.issuer = issuer
        self.validity_days = validity_days
        self.face_verifier = face_verifier

    def _fingers(self, record_id: int) -> dict[int, bytes]:
        out = {}
        for sample in self.store.samples(record_id):
            if sample.position in CHIP_FINGERS and sample.state == SampleState.CAPTURED:
                template = Template.from_bytes(sample.template)
                out[int(sample.position)] = to_iso_card(template, max_minutiae=40, wrap=False)
        return out

    def issue(
        self,
        record_id: int,
        *,
        actor: str,
        photo: bytes | Image.Image | None = None,
        fingers: bool = False,
        now: float | None = None,
    ) -> tuple[Credential, str]:
        """Issue a credential for a record in ``CARD_ISSUED``; earlier ones of the record are
        revoked.

        Parameters
        ----------
        record_id : int
        actor : str
            Who issues it (kept with the revocation of the earlier ones).
        photo : bytes or PIL image, optional
            The holder's face photo; it travels as a thumbnail of at most
            :data:`~enrollment.constants.KTP_THUMBNAIL_BYTES`.
        fingers : bool
            Carry the two chip fingers as ISO compact card templates.
        now : float, optional
            Issue time, seconds since the epoch (default the clock).

        Returns
        -------
        (Credential, str)
            The credential and its QR text.
        """
        if not isinstance(actor, str) or not actor.strip():
            raise ValueError("issuing needs an actor")
        at = datetime.datetime.now(datetime.timezone.utc) if now is None else _utc(now)
        status = self.store.status(record_id)
        if status != Status.CARD_ISSUED:
            raise CredentialError(
                f"record {record_id} is {status.value}: KTP Digital is issued only for a "
                "record whose card has been handed over (CARD_ISSUED)"
            )
        person = self.store.person(record_id)
        thumbnail = None if photo is None else face_thumbnail(photo)
        chip = self._fingers(record_id) if fingers else {}
        expires = at + datetime.timedelta(days=self.validity_days)
        with self.store.begin() as conn:
            conn.execute(
                ktp_credentials.update()
                .where(
                    ktp_credentials.c.record_id == record_id,
                    ktp_credentials.c.revoked_at.is_(None),
                )
                .values(revoked_at=at, revoked_by=actor, revocation_reason="re-issued")
            )
            credential_id = conn.execute(
                ktp_credentials.insert().values(
                    record_id=record_id,
                    kid=self.key.kid,
                    issued_at=at,
                    expires_at=expires,
                )
            ).inserted_primary_key[0]
            credential = Credential(
                credential_id=int(credential_id),
                issuer=self.issuer,
                biodata=biodata_of(person, at.date()),
                issued_at=int(at.timestamp()),
                not_before=int(at.timestamp()),
                expires=int(expires.timestamp()),
                photo=thumbnail,
                fingers=chip,
            )
            text = encode(credential, self.key)
        return credential, text

    def revoke(
        self, credential_id: int, *, actor: str, reason: str, now: float | None = None
    ) -> None:
        """Revoke a credential (:func:`revoke`)."""
        revoke(self.store, credential_id, actor=actor, reason=reason, now=now)

    def credentials(self, record_id: int) -> list[dict[str, Any]]:
        """The register's rows of a record (id, key id, times, revocation), oldest first."""
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                sa.select(ktp_credentials)
                .where(ktp_credentials.c.record_id == record_id)
                .order_by(ktp_credentials.c.id)
            )
            return [dict(r._mapping) for r in rows]

    def status_list(self, *, now: float | None = None, next_update_s: int = 86400) -> StatusList:
        """The revocation status list as of now (sign it with :meth:`StatusList.save`)."""
        at = int(datetime.datetime.now(datetime.timezone.utc).timestamp() if now is None else now)
        with self.store.engine.connect() as conn:
            top = conn.execute(sa.select(sa.func.max(ktp_credentials.c.id))).scalar() or 0
            revoked = conn.execute(
                sa.select(ktp_credentials.c.id).where(ktp_credentials.c.revoked_at.is_not(None))
            ).scalars()
            ids = list(revoked)
        return StatusList(
            self.issuer, int(top) + 1, ids, issued_at=at, next_update=at + next_update_s
        )

    def activate(
        self,
        nik: str,
        *,
        fingerprint: Template | None = None,
        face: Any = None,
        photo: bytes | Image.Image | None = None,
        now: float | None = None,
    ) -> str:
        """Check a holder and issue their credential for a wallet.

        The NIK must name exactly one record in ``CARD_ISSUED``; the live ``fingerprint``
        must match that record's template of the same finger position at
        :data:`ACTIVATION_FMR` (1:1 through the engine), or ``face`` must be accepted by the
        issuer's ``face_verifier``. Returns the new credential's QR text (earlier ones are revoked).

        Raises
        ------
        WalletError
            Unknown NIK, no card issued, or the biometric check failed (the message says
            which, without revealing the record).
        """
        if not isinstance(nik, str) or len(nik) != 16 or not nik.isdigit():
            raise WalletError("a NIK is 16 digits")
        waiting = self.store.records_with_nik(nik, Status.CARD_ISSUED)
        if len(waiting) != 1:
            raise WalletError("no card issued under this NIK: activation needs an e-KTP in hand")
        record_id = waiting[0]
        if not self._biometric(record_id, fingerprint, face):
            raise WalletError("the biometric check failed: try again or visit a service point")
        _, text = self.issue(record_id, actor=f"wallet-activation:{nik[-4:]}", photo=photo, now=now)
        return text

    def _biometric(self, record_id: int, fingerprint: Template | None, face: Any) -> bool:
        face_verifier = self.face_verifier
        if fingerprint is None and (face is None or face_verifier is None):
            raise WalletError("activation needs a live fingerprint, or a face and a face verifier")
        if fingerprint is not None:
            if not isinstance(fingerprint, Template):
                raise TypeError(
                    f"fingerprint must be an afis.Template, got {type(fingerprint).__name__}"
                )
            enrolled = _enrolled(self.store.samples(record_id), fingerprint.finger_position)
            threshold = threshold_for_fmr(ACTIVATION_FMR)
            if any(compare(fingerprint, t) >= threshold for t in enrolled):
                return True
        if face is not None and face_verifier is not None:
            return bool(face_verifier.verify(face, record_id))
        return False


def _enrolled(samples: Sequence[Any], position: FingerPosition) -> list[Template]:
    """The record's templates to compare a live print with: the same finger when the live
    print names its position, else the chip fingers (each comparison at the same FMR)."""
    wanted = (position,) if position != FingerPosition.UNKNOWN else CHIP_FINGERS
    return [
        Template.from_bytes(s.template)
        for s in samples
        if s.state == SampleState.CAPTURED and s.position in wanted
    ]


def revoke(
    store: Store, credential_id: int, *, actor: str, reason: str, now: float | None = None
) -> None:
    """Revoke a credential of the store's register (lost phone, deleted record, a court
    order...); it shows as revoked in the next status list. Needs no signing key."""
    if not isinstance(actor, str) or not actor.strip():
        raise ValueError("revoking needs an actor")
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError("revoking needs a reason")
    at = datetime.datetime.now(datetime.timezone.utc) if now is None else _utc(now)
    with store.begin() as conn:
        row = conn.execute(
            sa.select(ktp_credentials.c.revoked_at).where(ktp_credentials.c.id == credential_id)
        ).first()
        if row is None:
            raise CredentialError(f"no credential {credential_id}")
        if row.revoked_at is not None:
            raise CredentialError(f"credential {credential_id} is already revoked")
        conn.execute(
            ktp_credentials.update()
            .where(ktp_credentials.c.id == credential_id)
            .values(revoked_at=at, revoked_by=actor, revocation_reason=reason)
        )
