"""Issuer keys and the verifier's trust list.

The data centre signs credentials and revocation lists with an :class:`IssuerKey` (ES256 on
P-256, or Ed25519), named by a key id (``kid``) that every signature carries in its
protected header, so keys can rotate: a verifier keeps a :class:`TrustList` of the public
keys by key id and accepts a signature only by the key its ``kid`` names.

Examples
--------
>>> key = IssuerKey.generate("ktp-2026-01")
>>> trust = TrustList([key.public()])
>>> trust.kids()
['ktp-2026-01']
>>> TrustList.from_json(trust.to_json()).kids()
['ktp-2026-01']
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cwt import COSEKey

from afis.atomic import atomic_write
from enrollment.ktp_digital.errors import CredentialError

__all__ = ["ALGORITHMS", "IssuerKey", "PublicKey", "TrustList"]

#: Signature algorithms an issuer key may use (COSE names).
ALGORITHMS = ("ES256", "EdDSA")
_KID = re.compile(r"[A-Za-z0-9._-]{1,32}")
_MAX_TRUST_FILE = 1 << 20
_MAX_KEY_FILE = 1 << 16


def read_limited(path: Path, limit: int, what: str) -> bytes:
    """A file of at most ``limit`` bytes, refused (naming the file and ``what`` it should
    be) when it is larger or cannot be read; never more than ``limit + 1`` bytes are read."""
    try:
        with path.open("rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise CredentialError(f"{path}: cannot read the {what} ({exc})") from None
    if len(data) > limit:
        raise CredentialError(f"{path}: {what} larger than {limit} bytes")
    return data


def _check_kid(kid: object) -> str:
    if not isinstance(kid, str) or not _KID.fullmatch(kid):
        raise CredentialError(
            f"a key id must be 1-32 characters of letters, digits, '.', '_' or '-', got {kid!r}"
        )
    return kid


def _check_alg(alg: object) -> str:
    if alg not in ALGORITHMS:
        raise CredentialError(f"algorithm must be one of {', '.join(ALGORITHMS)}, got {alg!r}")
    return str(alg)


@dataclass(frozen=True)
class PublicKey:
    """A public issuer key as a verifier trusts it: key id, algorithm, SubjectPublicKeyInfo
    PEM."""

    kid: str
    alg: str
    pem: bytes

    def __post_init__(self) -> None:
        _check_kid(self.kid)
        _check_alg(self.alg)
        self.cose()  # refuses a PEM that is not a public key of the algorithm

    def cose(self) -> COSEKey:
        """The key as the COSE library takes it."""
        try:
            key = serialization.load_pem_public_key(self.pem)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise CredentialError(f"key {self.kid}: not a PEM public key ({exc})") from None
        wanted = ec.EllipticCurvePublicKey if self.alg == "ES256" else ed25519.Ed25519PublicKey
        if not isinstance(key, wanted) or (
            self.alg == "ES256" and not isinstance(key.curve, ec.SECP256R1)  # type: ignore[union-attr]
        ):
            raise CredentialError(f"key {self.kid}: not a {self.alg} public key")
        return COSEKey.from_pem(self.pem, alg=self.alg, kid=self.kid)


class IssuerKey:
    """A private signing key of the issuer, with its key id.

    Parameters
    ----------
    kid : str
        Key id, 1-32 characters of letters, digits, ``.``, ``_``, ``-``.
    private_pem : bytes
        PKCS#8 PEM of a P-256 (``ES256``) or Ed25519 (``EdDSA``) private key.
    """

    def __init__(self, kid: str, private_pem: bytes) -> None:
        self.kid = _check_kid(kid)
        try:
            key = serialization.load_pem_private_key(private_pem, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise CredentialError(
                f"key {kid}: not an unencrypted PEM private key ({exc})"
            ) from None
        if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
            self.alg = "ES256"
        elif isinstance(key, ed25519.Ed25519PrivateKey):
            self.alg = "EdDSA"
        else:
            raise CredentialError(f"key {kid}: only P-256 and Ed25519 keys are supported")
        self._key = key
        self._pem = bytes(private_pem)

    @classmethod
    def generate(cls, kid: str, alg: str = "ES256") -> IssuerKey:
        """A new random key."""
        _check_alg(alg)
        key = (
            ec.generate_private_key(ec.SECP256R1())
            if alg == "ES256"
            else ed25519.Ed25519PrivateKey.generate()
        )
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return cls(kid, pem)

    def public(self) -> PublicKey:
        """The public half, for the trust list."""
        pem = self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return PublicKey(self.kid, self.alg, pem)

    def cose(self) -> COSEKey:
        """The key as the COSE library takes it."""
        return COSEKey.from_pem(self._pem, alg=self.alg, kid=self.kid)

    def save(self, path: str | Path) -> Path:
        """Write the key (PEM, with its key id in a header line), readable by the owner only."""
        text = f"# kid: {self.kid}\n".encode() + self._pem
        return atomic_write(Path(path), text, mode=0o600)

    @classmethod
    def load(cls, path: str | Path) -> IssuerKey:
        """Read a key written by :meth:`save`."""
        path = Path(path)
        data = read_limited(path, _MAX_KEY_FILE, "issuer key")
        first, _, pem = data.partition(b"\n")
        if not first.startswith(b"# kid: "):
            raise CredentialError(f"{path}: not an issuer key file (no '# kid:' line)")
        try:
            kid = first[7:].decode("ascii").strip()
        except UnicodeDecodeError:
            raise CredentialError(f"{path}: the key id is not ASCII") from None
        try:
            return cls(kid, pem)
        except CredentialError as exc:
            raise CredentialError(f"{path}: {exc}") from None


class TrustList:
    """The issuer public keys a verifier accepts, by key id.

    Examples
    --------
    >>> TrustList([]).get("nope") is None
    True
    """

    def __init__(self, keys: Iterable[PublicKey]) -> None:
        self._keys: dict[str, PublicKey] = {}
        for key in keys:
            if not isinstance(key, PublicKey):
                raise TypeError(f"trust list entries must be PublicKey, got {type(key).__name__}")
            if key.kid in self._keys:
                raise CredentialError(f"trust list: key id {key.kid} given twice")
            self._keys[key.kid] = key
        self._cose = {kid: key.cose() for kid, key in self._keys.items()}

    def kids(self) -> list[str]:
        """The trusted key ids, sorted."""
        return sorted(self._keys)

    def keys(self) -> list[PublicKey]:
        """The trusted keys, by key id."""
        return [self._keys[k] for k in self.kids()]

    def alg(self, kid: str) -> str | None:
        """The algorithm of ``kid``'s key, or None if it is not trusted."""
        key = self._keys.get(kid)
        return None if key is None else key.alg

    def get(self, kid: str) -> COSEKey | None:
        """The COSE key of ``kid``, or None if it is not trusted."""
        return self._cose.get(kid)

    def to_json(self) -> str:
        """The trust list as JSON (key id, algorithm, PEM)."""
        keys = [
            {"kid": k.kid, "alg": k.alg, "public_key": k.pem.decode("ascii")}
            for k in self._keys.values()
        ]
        return json.dumps(
            {"format": "ktp-digital-trust-list", "version": 1, "keys": keys}, indent=1
        )

    @classmethod
    def from_json(cls, text: str) -> TrustList:
        """Parse :meth:`to_json`'s output; anything else is refused with the reason."""
        try:
            doc = json.loads(text)
        except (ValueError, TypeError) as exc:
            raise CredentialError(f"trust list: not JSON ({exc})") from None
        if not isinstance(doc, dict) or doc.get("format") != "ktp-digital-trust-list":
            raise CredentialError("trust list: not a KTP Digital trust list")
        if doc.get("version") != 1:
            raise CredentialError(f"trust list: unsupported version {doc.get('version')!r}")
        entries = doc.get("keys")
        if not isinstance(entries, list):
            raise CredentialError("trust list: 'keys' must be a list")
        keys = []
        for n, entry in enumerate(entries):
            if not isinstance(entry, dict) or not isinstance(entry.get("public_key"), str):
                raise CredentialError(f"trust list: key {n} must have kid, alg and public_key")
            keys.append(PublicKey(entry.get("kid"), entry.get("alg"), entry["public_key"].encode()))
        return cls(keys)

    def save(self, path: str | Path) -> Path:
        """Write :meth:`to_json` atomically."""
        return atomic_write(Path(path), self.to_json().encode())

    @classmethod
    def load(cls, path: str | Path) -> TrustList:
        """Read a trust list file."""
        path = Path(path)
        data = read_limited(path, _MAX_TRUST_FILE, "trust list")
        try:
            return cls.from_json(data.decode("utf-8"))
        except (CredentialError, UnicodeDecodeError) as exc:
            raise CredentialError(f"{path}: {exc}") from None
