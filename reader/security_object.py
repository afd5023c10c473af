"""The signed security object (EF 6FF6): SHA-256 of every EF, ECDSA P-256 by the issuer.

Modelled on the ICAO Doc 9303 document security object, in BER-TLV rather than CMS::

    77  security object
        73  signed content
            80  version (01)
            06  hash algorithm OID (SHA-256, 2.16.840.1.101.3.4.2.1)
            84  issuer key identifier (first 8 bytes of SHA-256 of the issuer's
                SubjectPublicKeyInfo)
            A1  hashes: for each EF  61 { 82 file identifier (2 bytes), 83 SHA-256 (32) }
        5F37  ECDSA P-256 signature (DER) over the whole 73 object

Passive authentication = the signature verifies with the issuer's certificate, and every EF
read hashes to its entry. The issuer's key signs at personalisation (:func:`sign`); readers
check with the certificate only (:func:`verify_signature`, :func:`check_hashes`), and the
SAM does the same with the certificates it was loaded with.

Examples
--------
>>> from reader.security_object import Issuer, sign, decode, verify_signature, check_hashes
>>> issuer = Issuer.from_seed(7)
>>> so = sign({0x6FF1: b"biodata"}, issuer)
>>> obj = decode(so)
>>> verify_signature(obj, issuer.certificate)
>>> check_hashes(obj, {0x6FF1: b"biodata"})
>>> check_hashes(obj, {0x6FF1: b"Biodata"})
Traceback (most recent call last):
...
reader.errors.PassiveAuthenticationError: EF 6FF1 does not match its hash in the security object
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from afis.errors import FormatError
from reader import tlv
from reader.errors import PassiveAuthenticationError

__all__ = [
    "Issuer",
    "SecurityObject",
    "check_hashes",
    "decode",
    "key_identifier",
    "sign",
    "verify_signature",
]

VERSION = 1
SHA256_OID = bytes.fromhex("608648016503040201")
RECORD = "security object (EF 6FF6)"


def key_identifier(certificate: x509.Certificate) -> bytes:
    """First 8 bytes of SHA-256 of the certificate's SubjectPublicKeyInfo."""
    spki = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).digest()[:8]


@dataclass(frozen=True, repr=False)
class Issuer:
    """The issuing authority's signing key and its certificate (issuance office only).

    ``repr`` names the certificate subject, never the key.
    """

    private_key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    def __repr__(self) -> str:
        return f"Issuer({self.certificate.subject.rfc4514_string()})"

    @classmethod
    def from_seed(cls, seed: int, name: str = "Ditjen Dukcapil test issuer") -> Issuer:
        """A deterministic P-256 issuer with a self-signed certificate (tests and demos).

        Examples
        --------
        >>> Issuer.from_seed(1).certificate.subject.rfc4514_string()
        'C=ID,O=nusafis,CN=Ditjen Dukcapil test issuer'
        """
        order = int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16)
        digest = hashlib.sha256(b"nusafis-issuer" + seed.to_bytes(8, "big", signed=True))
        key = ec.derive_private_key(
            int.from_bytes(digest.digest(), "big") % (order - 1) + 1, ec.SECP256R1()
        )
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, name),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "nusafis"),
                x509.NameAttribute(NameOID.COUNTRY_NAME, "ID"),
            ]
        )
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(int.from_bytes(digest.digest()[:8], "big") | 1)
            .not_valid_before(dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc))
            .not_valid_after(dt.datetime(2050, 1, 1, tzinfo=dt.timezone.utc))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        return cls(key, certificate)


@dataclass(frozen=True)
class SecurityObject:
    """A decoded security object: hashes per EF, the signed bytes and the signature."""

    version: int
    key_id: bytes
    hashes: dict[int, bytes]
    signed: bytes
    signature: bytes


def sign(contents: dict[int, bytes], issuer: Issuer) -> bytes:
    """Hash every EF of ``contents`` (file id -> bytes) and sign: the EF 6FF6 content."""
    entries = b"".join(
        tlv.encode(0x61, tlv.encode(0x82, fid.to_bytes(2, "big")) + tlv.encode(0x83, _sha(data)))
        for fid, data in sorted(contents.items())
    )
    content = (
        tlv.encode(0x80, bytes([VERSION]))
        + tlv.encode(0x06, SHA256_OID)
        + tlv.encode(0x84, key_identifier(issuer.certificate))
        + tlv.encode(0xA1, entries)
    )
    signed = tlv.encode(0x73, content)
    signature = issuer.private_key.sign(signed, ec.ECDSA(hashes.SHA256()))
    return tlv.encode(0x77, signed + tlv.encode(0x5F37, signature))


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(bytes(data)).digest()


def decode(data: bytes) -> SecurityObject:
    """Parse EF 6FF6; :class:`afis.errors.FormatError` naming the field on any fault.

    Examples
    --------
    >>> decode(b"\\x77\\x02\\x73\\x00")
    Traceback (most recent call last):
    ...
    afis.errors.FormatError: security object (EF 6FF6): data object 80 is missing, expected once
    """
    top = tlv.decode_all(data, RECORD)
    if [t for t, _ in top] != [0x77]:
        raise FormatError(f"{RECORD}: one data object 77 expected")
    inner = top[0][1]
    tag, content, end = tlv.decode_one(inner, 0, RECORD)
    if tag != 0x73:
        raise FormatError(f"{RECORD}: signed content (73) expected first, found {tag:X}")
    signed = inner[:end]
    rest = tlv.decode_all(inner[end:], RECORD)
    fields = tlv.decode_all(content, RECORD)
    version = tlv.find(fields, 0x80, RECORD)
    if version != bytes([VERSION]):
        raise FormatError(f"{RECORD}: version (80) must be 01, got {version.hex()}")
    if tlv.find(fields, 0x06, RECORD) != SHA256_OID:
        raise FormatError(f"{RECORD}: hash algorithm (06) must be SHA-256")
    key_id = tlv.find(fields, 0x84, RECORD)
    if len(key_id) != 8:
        raise FormatError(f"{RECORD}: issuer key identifier (84) must be 8 bytes")
    entries: dict[int, bytes] = {}
    for etag, evalue in tlv.decode_all(tlv.find(fields, 0xA1, RECORD), RECORD):
        if etag != 0x61:
            raise FormatError(f"{RECORD}: hash entry (61) expected, found {etag:X}")
        parts = tlv.decode_all(evalue, RECORD)
        fid, digest = tlv.find(parts, 0x82, RECORD), tlv.find(parts, 0x83, RECORD)
        if len(fid) != 2 or len(digest) != 32:
            raise FormatError(f"{RECORD}: entry needs a 2-byte file id (82) and 32-byte hash (83)")
        number = int.from_bytes(fid, "big")
        if number in entries:
            raise FormatError(f"{RECORD}: EF {number:04X} is listed twice")
        entries[number] = digest
    signature = tlv.find(rest, 0x5F37, RECORD)
    if not 8 <= len(signature) <= 72:
        raise FormatError(f"{RECORD}: signature (5F37) of {len(signature)} bytes, expected 8..72")
    return SecurityObject(VERSION, key_id, entries, signed, signature)


def verify_signature(obj: SecurityObject, certificate: x509.Certificate) -> None:
    """Check the issuer's ECDSA P-256 signature; PassiveAuthenticationError when wrong."""
    if obj.key_id != key_identifier(certificate):
        raise PassiveAuthenticationError("security object was signed by an unknown issuer key")
    key = certificate.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise PassiveAuthenticationError("issuer certificate does not hold a P-256 key")
    try:
        key.verify(obj.signature, obj.signed, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise PassiveAuthenticationError("security object signature does not verify") from None


def check_hashes(obj: SecurityObject, contents: dict[int, bytes]) -> None:
    """Every EF of ``contents`` must be listed and hash to its entry (constant-time compare)."""
    for fid, data in sorted(contents.items()):
        expected = obj.hashes.get(fid)
        if expected is None:
            raise PassiveAuthenticationError(f"EF {fid:04X} is not covered by the security object")
        if not hmac.compare_digest(expected, _sha(data)):
            raise PassiveAuthenticationError(
                f"EF {fid:04X} does not match its hash in the security object"
            )
