"""The sealed enrolment packet: a transaction and its manifest, signed by the station and
encrypted to the data centre.

Inside (a zip, stored, fixed timestamps): ``transaction.an2`` (:func:`~.transaction.
to_transaction`), ``manifest.json`` (registration id, station, operator, supervisor, the
end-of-day review, exceptions, per-finger quality, attempts and forced flags, chip fingers,
and the SHA-256 of every other part) and ``manifest.sig`` (ECDSA P-256 / SHA-256 by the
station's key over the manifest's bytes). Outside: :data:`~.constants.PACKET_MAGIC`, a JSON
header (registration id, station id, the centre key's id, the ephemeral public key) and the
zip encrypted with AES-256-GCM under a key agreed by ephemeral-static ECDH P-256 and HKDF-SHA256
(ECIES); the header is the cipher's associated data, so no byte of the packet can change
unnoticed.

:func:`open_packet` reverses it at the centre: size and header checked, decrypted (an altered
byte fails here), the station looked up in the centre's list of station keys (an unknown
station is refused), the manifest's signature and every part's hash checked, the header
checked against the manifest. Every refusal is a :class:`PacketError` saying why.

Examples
--------
>>> from cryptography.hazmat.primitives.asymmetric import ec
>>> station, centre = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(
...     ec.SECP256R1())
>>> sealed = seal({"transaction.an2": b"..."}, {"registration_id": "ST01-1", "station_id": "ST01"},
...               station_key=station, centre_key=centre.public_key())
>>> opened = open_packet(sealed, centre_key=centre, station_keys={"ST01": station.public_key()})
>>> opened.manifest["registration_id"], opened.parts["transaction.an2"]
('ST01-1', b'...')
>>> open_packet(sealed[:-1] + bytes([sealed[-1] ^ 1]), centre_key=centre,
...             station_keys={"ST01": station.public_key()})
Traceback (most recent call last):
...
enrollment.packet.sealed.PacketError: packet ST01-1: decryption failed: altered, truncated ...
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import io
import json
import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from afis.errors import AfisError
from enrollment.packet.constants import HKDF_INFO, MAX_HEADER, MAX_PACKET, PACKET_MAGIC

__all__ = [
    "OpenedPacket",
    "PacketError",
    "key_id",
    "open_packet",
    "registration_id",
    "seal",
]

#: Parts a packet holds besides the manifest and its signature.
_MANIFEST, _SIGNATURE = "manifest.json", "manifest.sig"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class PacketError(AfisError, ValueError):
    """A packet cannot be built or is refused (the message says why)."""


def registration_id(station_id: str, at: datetime.datetime, serial: int) -> str:
    """The registration id: station, serial of the station's packets, time (UTC).

    Examples
    --------
    >>> import datetime
    >>> registration_id("ST-01", datetime.datetime(2026, 3, 2, 9, 30,
    ...                 tzinfo=datetime.timezone.utc), 42)
    'ST-01-00042-20260302093000'
    """
    if not isinstance(serial, int) or not 0 <= serial <= 99_999:
        raise PacketError(f"serial must be an int in 0..99999, got {serial!r}")
    if at.tzinfo is None:
        raise PacketError("the registration time must be timezone-aware")
    utc = at.astimezone(datetime.timezone.utc)
    return f"{station_id}-{serial:05d}-{utc:%Y%m%d%H%M%S}"


def key_id(public_key: ec.EllipticCurvePublicKey) -> str:
    """Short id of a public key: the first 16 hex digits of the SHA-256 of its DER form."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()[:16]


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _zip(parts: Mapping[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for name in sorted(parts):
            archive.writestr(zipfile.ZipInfo(name, _ZIP_TIME), parts[name])
    return out.getvalue()


def _content_key(shared: bytes, salt: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=HKDF_INFO).derive(shared)


def seal(
    parts: Mapping[str, bytes],
    manifest: Mapping[str, Any],
    *,
    station_key: ec.EllipticCurvePrivateKey,
    centre_key: ec.EllipticCurvePublicKey,
) -> bytes:
    """Sign and encrypt a packet.

    Parameters
    ----------
    parts : mapping of str to bytes
        The packet's files (not ``manifest.json`` / ``manifest.sig``).
    manifest : mapping
        JSON-able; must hold ``registration_id`` and ``station_id``; the parts' hashes are
        added under ``parts``.
    station_key : EllipticCurvePrivateKey
        The station's P-256 signing key.
    centre_key : EllipticCurvePublicKey
        The data centre's P-256 public key.
    """
    if _MANIFEST in parts or _SIGNATURE in parts:
        raise PacketError(f"{_MANIFEST} and {_SIGNATURE} are written by seal()")
    for name in ("registration_id", "station_id"):
        if not isinstance(manifest.get(name), str) or not manifest[name]:
            raise PacketError(f"the manifest needs a {name}")
    body = dict(manifest)
    body["parts"] = {name: hashlib.sha256(data).hexdigest() for name, data in parts.items()}
    manifest_bytes = _canonical(body)
    signature = station_key.sign(manifest_bytes, ec.ECDSA(hashes.SHA256()))
    inner = _zip({**parts, _MANIFEST: manifest_bytes, _SIGNATURE: signature})
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    ephemeral_public = ephemeral.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    header = _canonical(
        {
            "registration_id": body["registration_id"],
            "station_id": body["station_id"],
            "centre_key": key_id(centre_key),
            "ephemeral": base64.b64encode(ephemeral_public).decode(),
        }
    )
    key = _content_key(ephemeral.exchange(ec.ECDH(), centre_key), ephemeral_public)
    nonce = os.urandom(12)
    ciphertext = AESGCM(key).encrypt(nonce, inner, header)
    return PACKET_MAGIC + len(header).to_bytes(4, "big") + header + nonce + ciphertext


@dataclass(frozen=True)
class OpenedPacket:
    """A packet whose encryption, signature and hashes were checked."""

    registration_id: str
    station_id: str
    manifest: dict[str, Any]
    parts: dict[str, bytes]
    sha256: str  # of the sealed bytes (the centre's key for "received once")


def _header(data: bytes) -> tuple[dict[str, Any], bytes, bytes, bytes]:
    if len(data) > MAX_PACKET:
        raise PacketError(f"packet of {len(data)} bytes is larger than {MAX_PACKET}")
    if not data.startswith(PACKET_MAGIC):
        raise PacketError("not an enrolment packet (wrong magic bytes)")
    start = len(PACKET_MAGIC)
    if len(data) < start + 4:
        raise PacketError("packet truncated in its header")
    size = int.from_bytes(data[start : start + 4], "big")
    if size > MAX_HEADER or len(data) < start + 4 + size + 12 + 16:
        raise PacketError("packet truncated, or its header length is implausible")
    raw = data[start + 4 : start + 4 + size]
    try:
        header = json.loads(raw)
        if not isinstance(header, dict):
            raise ValueError("not an object")
        for name in ("registration_id", "station_id", "centre_key", "ephemeral"):
            if not isinstance(header.get(name), str):
                raise ValueError(f"no {name}")
    except ValueError as exc:
        raise PacketError(f"packet header is malformed ({exc})") from exc
    rest = data[start + 4 + size :]
    return header, raw, rest[:12], rest[12:]


def open_packet(
    data: bytes,
    *,
    centre_key: ec.EllipticCurvePrivateKey,
    station_keys: Mapping[str, ec.EllipticCurvePublicKey],
) -> OpenedPacket:
    """Decrypt and check a sealed packet (see the module docstring).

    Raises
    ------
    PacketError
        Malformed, altered, not for this centre, from an unknown station, badly signed, a
        part that does not match its hash, or a header that contradicts the manifest.
    """
    if not isinstance(data, bytes | bytearray):
        raise PacketError(f"a packet is bytes, got {type(data).__name__}")
    data = bytes(data)
    header, raw, nonce, ciphertext = _header(data)
    name = f"packet {header['registration_id'][:64]}"
    if header["centre_key"] != key_id(centre_key.public_key()):
        raise PacketError(f"{name}: encrypted to another centre key ({header['centre_key']})")
    try:
        ephemeral_public = base64.b64decode(header["ephemeral"], validate=True)
        peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), ephemeral_public)
        key = _content_key(centre_key.exchange(ec.ECDH(), peer), ephemeral_public)
        inner = AESGCM(key).decrypt(nonce, ciphertext, raw)
    except (ValueError, InvalidTag) as exc:
        raise PacketError(
            f"{name}: decryption failed: altered, truncated or not for this centre"
        ) from exc
    station_id = header["station_id"]
    public = station_keys.get(station_id)
    if public is None:
        raise PacketError(f"{name}: signed by unknown station {station_id!r}")
    try:
        with zipfile.ZipFile(io.BytesIO(inner)) as archive:
            parts = {info.filename: archive.read(info) for info in archive.infolist()}
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise PacketError(f"{name}: the packet's content is not a readable zip ({exc})") from exc
    manifest_bytes, signature = parts.pop(_MANIFEST, None), parts.pop(_SIGNATURE, None)
    if manifest_bytes is None or signature is None:
        raise PacketError(f"{name}: no manifest or no signature")
    try:
        public.verify(signature, manifest_bytes, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise PacketError(
            f"{name}: the manifest's signature is not station {station_id}'s"
        ) from None
    manifest = json.loads(manifest_bytes)
    listed = manifest.get("parts", {})
    if sorted(listed) != sorted(parts):
        raise PacketError(
            f"{name}: parts {sorted(parts)} differ from the manifest's {sorted(listed)}"
        )
    for part, content in parts.items():
        if hashlib.sha256(content).hexdigest() != listed[part]:
            raise PacketError(f"{name}: {part} does not match its hash in the manifest")
    for field in ("registration_id", "station_id"):
        if manifest.get(field) != header[field]:
            raise PacketError(f"{name}: the header's {field} differs from the manifest's")
    return OpenedPacket(
        manifest["registration_id"], station_id, manifest, parts, hashlib.sha256(data).hexdigest()
    )
