"""The P-256 keys of the packet: a station's signing key, the centre's decryption key.

Private keys are PKCS#8 PEM files written atomically with mode 0600; public keys travel as
SubjectPublicKeyInfo PEM text (a station's goes into the centre's station register, the
centre's to every station).

Examples
--------
>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "station.pem"
>>> key = new_key()
>>> write_private_key(path, key)
>>> read_private_key(path).private_numbers() == key.private_numbers()
True
>>> read_public_key(public_pem(key)) == key.public_key()
True
>>> read_public_key("not a key")
Traceback (most recent call last):
...
enrollment.packet.sealed.PacketError: not a PEM P-256 public key (...)
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from afis.atomic import atomic_write
from enrollment.packet.sealed import PacketError

__all__ = ["new_key", "public_pem", "read_private_key", "read_public_key", "write_private_key"]


def new_key() -> ec.EllipticCurvePrivateKey:
    """A new P-256 private key."""
    return ec.generate_private_key(ec.SECP256R1())


def write_private_key(path: str | os.PathLike[str], key: ec.EllipticCurvePrivateKey) -> None:
    """Write ``key`` as unencrypted PKCS#8 PEM, atomically, readable by the owner only."""
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, data)
    os.chmod(path, 0o600)


def read_private_key(path: str | os.PathLike[str]) -> ec.EllipticCurvePrivateKey:
    """A P-256 private key from a PEM file.

    Raises
    ------
    PacketError
        Unreadable, not PEM, encrypted, or another kind of key.
    """
    try:
        data = Path(path).read_bytes()
        key = serialization.load_pem_private_key(data, password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise PacketError(f"{path}: not a readable, unencrypted PEM private key ({exc})") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise PacketError(f"{path}: not a P-256 private key")
    return key


def public_pem(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> str:
    """The public half of ``key`` as PEM text."""
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def read_public_key(pem: str | bytes) -> ec.EllipticCurvePublicKey:
    """A P-256 public key from PEM text.

    Raises
    ------
    PacketError
        Not PEM, or another kind of key.
    """
    data = pem.encode("ascii", "replace") if isinstance(pem, str) else bytes(pem)
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise PacketError(f"not a PEM P-256 public key ({exc})") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise PacketError("not a PEM P-256 public key (another kind of key)")
    return key
