"""The KTP Digital credential: the card's data signed by the data centre, carried in a QR
code and verifiable offline.

Encoding (the stack of MOSIP's Claim 169 and the EU Digital COVID Certificate): a CWT claims
map (issuer 1, expiry 4, not-before 5, issued-at 6, credential id 7 as 8 bytes big-endian,
and the private claim :data:`~enrollment.constants.KTP_CLAIM` holding ``{1: [the 21 biodata
fields], 2: face thumbnail (WebP), 3: {finger position: ISO/IEC 19794-2 compact card
template}}``) in CBOR, signed as COSE_Sign1 with the algorithm and key id in the protected
header, compressed with zlib, Base45-encoded (the QR alphanumeric alphabet), prefixed with
:data:`~enrollment.constants.KTP_PREFIX`.

Decoding trusts nothing before the signature is checked: the text's length, the Base45
alphabet, the inflated size (a decompression bomb stops at
:data:`~enrollment.constants.KTP_MAX_INFLATED` bytes), the COSE structure and the claim types
are each checked, and every failure becomes a :class:`Verification` whose ``status`` and
``message`` say what was wrong; :func:`verify` raises nothing for bad input.

Examples
--------
>>> from enrollment.ktp_digital.keys import IssuerKey, TrustList
>>> key = IssuerKey.generate("ktp-test")
>>> cred = Credential.example()
>>> text = encode(cred, key)
>>> text.startswith("KTP1:")
True
>>> result = verify(text, TrustList([key.public()]), now=cred.issued_at + 60)
>>> result.status, result.credential.biodata["name"]
('valid', 'BUDI SANTOSO')
>>> verify(text[:-3], TrustList([key.public()])).status
'malformed'
"""

from __future__ import annotations

import re
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import base45
import cbor2
from cwt import COSE

from enrollment import constants as C
from enrollment.ktp_digital.errors import CredentialError
from enrollment.ktp_digital.keys import IssuerKey, TrustList

if TYPE_CHECKING:
    from enrollment.ktp_digital.revocation import StatusList

__all__ = [
    "EXPIRED",
    "INVALID_SIGNATURE",
    "MALFORMED",
    "NOT_YET_VALID",
    "REVOKED",
    "UNKNOWN_KEY",
    "VALID",
    "Credential",
    "Verification",
    "encode",
    "verify",
]

VALID = "valid"
MALFORMED = "malformed"
UNKNOWN_KEY = "unknown_key"
INVALID_SIGNATURE = "invalid_signature"
EXPIRED = "expired"
NOT_YET_VALID = "not_yet_valid"
REVOKED = "revoked"

_COSE_ALG = {"ES256": -7, "EdDSA": -8}
_ALG_NAME = {v: k for k, v in _COSE_ALG.items()}
_PRINTABLE = re.compile(r"[ -!#-~]*")  # printable ASCII without the double quote
_MAX_ID = (1 << 63) - 1
_MAX_TIME = 1 << 40


@dataclass(frozen=True)
class Credential:
    """What a KTP Digital QR code carries.

    Parameters
    ----------
    credential_id : int
        The issuer's number of this credential (its bit in the revocation status list).
    issuer : str
        Who signed it.
    biodata : mapping of str to str
        The 21 fields of :data:`~enrollment.constants.KTP_BIODATA_FIELDS`, printable ASCII
        without double quotes, at most 128 characters each; ``nik`` is 16 digits.
    issued_at, not_before, expires : int
        Seconds since the epoch (UTC).
    photo : bytes, optional
        Face thumbnail (WebP, at most :data:`~enrollment.constants.KTP_THUMBNAIL_BYTES`).
    fingers : mapping of int to bytes
        ISO/IEC 19794-2 compact card templates by ISO finger position (optional).
    """

    credential_id: int
    issuer: str
    biodata: Mapping[str, str]
    issued_at: int
    not_before: int
    expires: int
    photo: bytes | None = None
    fingers: Mapping[int, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("credential_id", "issued_at", "not_before", "expires"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise CredentialError(
                    f"credential: {name} must be an int, got {type(value).__name__}"
                )
        if not 0 <= self.credential_id <= _MAX_ID:
            raise CredentialError(f"credential: id must lie in 0..2^63-1, got {self.credential_id}")
        if not 0 <= self.not_before <= self.expires < _MAX_TIME or self.issued_at < 0:
            raise CredentialError("credential: times must satisfy 0 <= not_before <= expires")
        if not isinstance(self.issuer, str) or not 0 < len(self.issuer) <= 64:
            raise CredentialError("credential: issuer must be 1-64 characters")
        if not isinstance(self.biodata, Mapping):
            raise CredentialError("credential: biodata must be a mapping of field -> text")
        if sorted(self.biodata) != sorted(C.KTP_BIODATA_FIELDS):
            missing = sorted(set(C.KTP_BIODATA_FIELDS) - set(self.biodata))
            extra = sorted(set(self.biodata) - set(C.KTP_BIODATA_FIELDS))
            raise CredentialError(f"credential: biodata fields missing {missing}, unknown {extra}")
        for name in C.KTP_BIODATA_FIELDS:
            value = self.biodata[name]
            if (
                not isinstance(value, str)
                or len(value) > C.KTP_MAX_BIODATA_FIELD
                or not _PRINTABLE.fullmatch(value)
            ):
                raise CredentialError(
                    f"credential: biodata field {name} must be at most "
                    f"{C.KTP_MAX_BIODATA_FIELD} printable ASCII characters without double quotes"
                )
        if not re.fullmatch(r"\d{16}", self.biodata["nik"]):
            raise CredentialError("credential: biodata field nik must be 16 digits")
        ordered = {name: self.biodata[name] for name in C.KTP_BIODATA_FIELDS}
        object.__setattr__(self, "biodata", MappingProxyType(ordered))
        if self.photo is not None and (
            not isinstance(self.photo, bytes) or len(self.photo) > C.KTP_THUMBNAIL_BYTES
        ):
            raise CredentialError(
                f"credential: photo must be bytes of at most {C.KTP_THUMBNAIL_BYTES}"
            )
        if not isinstance(self.fingers, Mapping):
            raise CredentialError("credential: fingers must map positions to templates")
        fingers = {}
        for position, template in self.fingers.items():
            if (
                isinstance(position, bool)
                or not isinstance(position, int)
                or not 1 <= position <= 10
            ):
                raise CredentialError(
                    f"credential: finger position must be 1..10, got {position!r}"
                )
            if not isinstance(template, bytes) or not 0 < len(template) <= 1024:
                raise CredentialError(
                    f"credential: finger {position} template must be 1-1024 bytes"
                )
            fingers[int(position)] = template
        object.__setattr__(self, "fingers", MappingProxyType(dict(sorted(fingers.items()))))

    @property
    def nik(self) -> str:
        """The holder's NIK."""
        return self.biodata["nik"]

    @classmethod
    def example(cls, credential_id: int = 1, nik: str = "3171230501900001") -> Credential:
        """A made-up resident's credential (tests, demos), valid for a year from 2026-12-07."""
        values = {name: "-" for name in C.KTP_BIODATA_FIELDS}
        values.update(
            nik=nik,
            name="BUDI SANTOSO",
            address="JL. MERDEKA NO. 17",
            sex="LAKI-LAKI",
            date_of_birth="05-01-1990",
            citizenship="WNI",
        )
        start = 1796601600  # 2026-12-07T00:00:00Z
        return cls(credential_id, "KEMENDAGRI", values, start, start, start + 365 * 86400)


@dataclass(frozen=True)
class Verification:
    """The outcome of checking a QR text.

    Attributes
    ----------
    status : str
        ``valid``, ``malformed``, ``unknown_key``, ``invalid_signature``, ``expired``,
        ``not_yet_valid`` or ``revoked``.
    message : str
        What was found, for a person.
    credential : Credential or None
        The signed data, when the signature verified (also for expired and revoked ones).
    kid : str or None
        The key id the signature names, when it could be read.
    warnings : tuple of str
        What does not invalidate it but a verifier should see (a stale status list).
    """

    status: str
    message: str
    credential: Credential | None = None
    kid: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        """Whether the credential is genuine, in force and not revoked."""
        return self.status == VALID


def encode(credential: Credential, key: IssuerKey) -> str:
    """Sign ``credential`` with ``key`` and encode it as QR text (see the module)."""
    if not isinstance(credential, Credential):
        raise TypeError(f"credential must be a Credential, got {type(credential).__name__}")
    if not isinstance(key, IssuerKey):
        raise TypeError(f"key must be an IssuerKey, got {type(key).__name__}")
    body: dict[int, Any] = {1: [credential.biodata[n] for n in C.KTP_BIODATA_FIELDS]}
    if credential.photo is not None:
        body[2] = credential.photo
    if credential.fingers:
        body[3] = dict(credential.fingers)
    claims = {
        1: credential.issuer,
        4: credential.expires,
        5: credential.not_before,
        6: credential.issued_at,
        7: credential.credential_id.to_bytes(8, "big"),
        C.KTP_CLAIM: body,
    }
    signed = sign(cbor2.dumps(claims), key)
    return C.KTP_PREFIX + base45.b45encode(zlib.compress(signed, 9)).decode("ascii")


def sign(payload: bytes, key: IssuerKey) -> bytes:
    """``payload`` in a COSE_Sign1 by ``key``, algorithm and key id in the protected header."""
    protected = {1: _COSE_ALG[key.alg], 4: key.kid.encode("ascii")}
    return COSE.new().encode_and_sign(payload, key.cose(), protected=protected)


def open_signed(data: bytes, trust: TrustList) -> tuple[str, bytes | None, str]:
    """Check a COSE_Sign1 against the trust list: ``(status, payload, kid)``.

    The status is :data:`VALID` (payload returned), :data:`MALFORMED`, :data:`UNKNOWN_KEY` or
    :data:`INVALID_SIGNATURE`; nothing raises for bad input.
    """
    try:
        message = cbor2.loads(data)
    except Exception:  # cbor2 raises many types (and RecursionError) on hostile input
        return MALFORMED, None, "not CBOR"
    if (
        not isinstance(message, cbor2.CBORTag)
        or message.tag != 18
        or not isinstance(message.value, list)
        or len(message.value) != 4
        or not isinstance(message.value[0], bytes)
        or not isinstance(message.value[2], bytes)
    ):
        return MALFORMED, None, "not a COSE_Sign1 message"
    try:
        protected = cbor2.loads(message.value[0]) if message.value[0] else {}
    except Exception:
        return MALFORMED, None, "its protected header is not CBOR"
    if not isinstance(protected, dict):
        return MALFORMED, None, "its protected header is not a map"
    kid_bytes, alg = protected.get(4), protected.get(1)
    if not isinstance(kid_bytes, bytes) or not isinstance(alg, int) or alg not in _ALG_NAME:
        return MALFORMED, None, "its protected header lacks a key id or a known algorithm"
    kid = kid_bytes.decode("ascii", "replace")
    key = trust.get(kid)
    if key is None:
        return UNKNOWN_KEY, None, kid
    if _ALG_NAME[alg] != trust.alg(kid):
        return INVALID_SIGNATURE, None, kid
    try:
        payload = COSE.new().decode(data, [key])
    except Exception:  # cwt's VerifyError, or its DecodeError / ValueError on odd structure
        return INVALID_SIGNATURE, None, kid
    return VALID, payload, kid


def inflate(text: str | bytes, prefix: str) -> bytes:
    """Base45 text after ``prefix`` -> the zlib-inflated bytes, every limit checked."""
    if isinstance(text, bytes | bytearray | memoryview):
        try:
            text = bytes(text).decode("ascii")
        except UnicodeDecodeError:
            raise CredentialError("the QR text is not ASCII") from None
    if not isinstance(text, str):
        raise CredentialError(f"expected the QR text as str, got {type(text).__name__}")
    if len(text) > C.KTP_MAX_TEXT:
        raise CredentialError(f"the QR text is longer than {C.KTP_MAX_TEXT} characters")
    if not text.startswith(prefix):
        raise CredentialError(f"not a KTP Digital code (it does not start with {prefix!r})")
    try:
        packed = base45.b45decode(text[len(prefix) :])
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise CredentialError(f"the QR text is not Base45 ({exc})") from None
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(packed, C.KTP_MAX_INFLATED)
    except zlib.error as exc:
        raise CredentialError(f"the QR text does not inflate ({exc})") from None
    if inflater.unconsumed_tail:
        raise CredentialError(
            f"the QR text inflates to more than {C.KTP_MAX_INFLATED} bytes (refused)"
        )
    if not inflater.eof:
        raise CredentialError("the QR text is truncated (its zlib stream does not end)")
    if inflater.unused_data:
        raise CredentialError("the QR text has bytes after its zlib stream")
    return data


def _credential(claims: object) -> Credential:
    if not isinstance(claims, dict):
        raise CredentialError("the signed claims are not a map")
    body = claims.get(C.KTP_CLAIM)
    cti = claims.get(7)
    if not isinstance(body, dict) or not isinstance(cti, bytes) or len(cti) != 8:
        raise CredentialError("the signed claims lack the card data or the credential id")
    values = body.get(1)
    if not isinstance(values, list) or len(values) != len(C.KTP_BIODATA_FIELDS):
        raise CredentialError(f"the card data must hold {len(C.KTP_BIODATA_FIELDS)} fields")
    fingers = body.get(3, {})
    if not isinstance(fingers, dict):
        raise CredentialError("the card data's fingers must map positions to templates")
    return Credential(
        credential_id=int.from_bytes(cti, "big"),
        issuer=claims.get(1),  # type: ignore[arg-type]
        biodata=dict(zip(C.KTP_BIODATA_FIELDS, values, strict=True)),
        issued_at=claims.get(6),  # type: ignore[arg-type]
        not_before=claims.get(5),  # type: ignore[arg-type]
        expires=claims.get(4),  # type: ignore[arg-type]
        photo=body.get(2),
        fingers=fingers,
    )


def verify(
    text: str | bytes,
    trust: TrustList,
    *,
    now: float | None = None,
    status_list: StatusList | None = None,
) -> Verification:
    """Check a KTP Digital QR text offline.

    Parameters
    ----------
    text : str or bytes
        The decoded QR content.
    trust : TrustList
        The issuer keys accepted.
    now : float, optional
        The time to judge validity at (seconds since the epoch; default the clock).
    status_list : StatusList, optional
        The issuer's revocation status list, verified beforehand
        (:meth:`~enrollment.ktp_digital.revocation.StatusList.load`).

    Returns
    -------
    Verification
        Never raises for bad input: the status and message say what was wrong.
    """
    if not isinstance(trust, TrustList):
        raise TypeError(f"trust must be a TrustList, got {type(trust).__name__}")
    now = time.time() if now is None else float(now)
    try:
        signed = inflate(text, C.KTP_PREFIX)
    except CredentialError as exc:
        return Verification(MALFORMED, str(exc))
    status, payload, kid = open_signed(signed, trust)
    if status == MALFORMED:
        return Verification(MALFORMED, f"the QR content is {kid}")
    if status == UNKNOWN_KEY:
        return Verification(UNKNOWN_KEY, f"signed with key {kid!r}, which is not trusted", kid=kid)
    if status == INVALID_SIGNATURE:
        return Verification(
            INVALID_SIGNATURE,
            f"the signature does not verify with trusted key {kid!r}: altered or forged",
            kid=kid,
        )
    try:
        credential = _credential(cbor2.loads(payload))
    except CredentialError as exc:
        return Verification(MALFORMED, f"signed but malformed: {exc}", kid=kid)
    except Exception:
        return Verification(MALFORMED, "signed but its claims are not CBOR", kid=kid)
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(credential.expires))
    if now >= credential.expires:
        return Verification(EXPIRED, f"expired on {when}", credential, kid)
    if now < credential.not_before:
        start = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(credential.not_before))
        return Verification(NOT_YET_VALID, f"not valid before {start}", credential, kid)
    warnings: list[str] = []
    if status_list is not None:
        if status_list.issuer != credential.issuer:
            warnings.append(f"the status list is {status_list.issuer}'s, not the credential's")
        elif status_list.is_revoked(credential.credential_id):
            return Verification(
                REVOKED, f"credential {credential.credential_id} has been revoked", credential, kid
            )
        elif credential.credential_id >= status_list.size:
            warnings.append("the status list predates this credential: refresh it")
        if now >= status_list.next_update:
            warnings.append("the status list is out of date: refresh it when online")
    else:
        warnings.append("no revocation status list: revocation not checked")
    return Verification(
        VALID,
        f"genuine, issued by {credential.issuer}, valid until {when}",
        credential,
        kid,
        tuple(warnings),
    )
