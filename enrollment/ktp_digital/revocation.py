"""The signed revocation status list: one bit per credential id.

The data centre publishes a :class:`StatusList` signed with an issuer key (COSE_Sign1 over a
CWT: issuer, issued-at, next update as expiry, and the private claim
:data:`~enrollment.constants.KTP_STATUS_CLAIM` holding ``[size, zlib(bits)]``, bit ``i`` of
byte ``i // 8``, least significant first, set when credential ``i`` is revoked). A verifier
refreshes it when online and uses it offline; one past its next update still counts, with a
warning. 10^8 credentials take 12.5 MB uncompressed and compress to almost nothing while few
are revoked.

Examples
--------
>>> from enrollment.ktp_digital.keys import IssuerKey, TrustList, read_limited
>>> key = IssuerKey.generate("ktp-test")
>>> status = StatusList("KEMENDAGRI", 10, revoked=[3], issued_at=0, next_update=86400)
>>> data = status.sign(key)
>>> back = StatusList.from_bytes(data, TrustList([key.public()]))
>>> back.is_revoked(3), back.is_revoked(4), back.size
(True, False, 10)
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from pathlib import Path

import cbor2
import numpy as np

from afis.atomic import atomic_write
from enrollment import constants as C
from enrollment.ktp_digital.credential import VALID, open_signed, sign
from enrollment.ktp_digital.errors import CredentialError
from enrollment.ktp_digital.keys import IssuerKey, TrustList, read_limited

__all__ = ["MAX_STATUS_BITS", "StatusList"]

#: Most credential ids a status list covers (2^31: 256 MiB of bits).
MAX_STATUS_BITS = 1 << 31
_MAX_FILE = 1 << 24


class StatusList:
    """Which credential ids are revoked, as of ``issued_at``.

    Parameters
    ----------
    issuer : str
    size : int
        Credential ids covered: ``0 .. size - 1``.
    revoked : iterable of int
        The revoked ids.
    issued_at, next_update : int
        Seconds since the epoch: when the list was made and when a fresh one is due.
    """

    def __init__(
        self,
        issuer: str,
        size: int,
        revoked: Iterable[int] = (),
        *,
        issued_at: int,
        next_update: int,
        bits: np.ndarray | None = None,
    ) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_STATUS_BITS:
            raise CredentialError(f"status list: size must lie in 0..{MAX_STATUS_BITS}")
        if not isinstance(issuer, str) or not issuer:
            raise CredentialError("status list: issuer must be a non-empty string")
        for name, value in (("issued_at", issued_at), ("next_update", next_update)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise CredentialError(f"status list: {name} must be a non-negative int")
        self.issuer = issuer
        self.size = size
        self.issued_at = issued_at
        self.next_update = next_update
        if bits is None:
            bits = np.zeros((size + 7) // 8, np.uint8)
            ids = np.fromiter((int(i) for i in revoked), np.int64)
            if ids.size and (ids.min() < 0 or ids.max() >= size):
                raise CredentialError(f"status list: revoked ids must lie in 0..{size - 1}")
            np.bitwise_or.at(bits, ids // 8, (1 << (ids % 8)).astype(np.uint8))
        self._bits = bits

    def is_revoked(self, credential_id: int) -> bool:
        """Whether ``credential_id`` is revoked (ids beyond the list are not)."""
        if not 0 <= credential_id < self.size:
            return False
        return bool(self._bits[credential_id // 8] >> (credential_id % 8) & 1)

    def revoked(self) -> list[int]:
        """The revoked ids, ascending."""
        flags = np.unpackbits(self._bits, bitorder="little")[: self.size]
        return np.flatnonzero(flags).tolist()

    def sign(self, key: IssuerKey) -> bytes:
        """The signed list (COSE_Sign1 bytes) to publish."""
        claims = {
            1: self.issuer,
            4: self.next_update,
            6: self.issued_at,
            C.KTP_STATUS_CLAIM: [self.size, zlib.compress(self._bits.tobytes(), 9)],
        }
        return sign(cbor2.dumps(claims), key)

    @classmethod
    def from_bytes(cls, data: bytes, trust: TrustList) -> StatusList:
        """Verify and read a signed list; refuses anything not signed by a trusted key."""
        if not isinstance(data, bytes | bytearray):
            raise CredentialError(f"status list: expected bytes, got {type(data).__name__}")
        status, payload, kid = open_signed(bytes(data), trust)
        if status != VALID:
            raise CredentialError(f"status list: {status.replace('_', ' ')} ({kid})")
        try:
            claims = cbor2.loads(payload)
        except Exception:
            raise CredentialError("status list: its claims are not CBOR") from None
        body = claims.get(C.KTP_STATUS_CLAIM) if isinstance(claims, dict) else None
        if not isinstance(body, list) or len(body) != 2 or not isinstance(body[1], bytes):
            raise CredentialError("status list: no status claim")
        size = body[0]
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_STATUS_BITS:
            raise CredentialError("status list: size out of range")
        want = (size + 7) // 8
        inflater = zlib.decompressobj()
        try:
            raw = inflater.decompress(body[1], want + 1)
        except zlib.error as exc:
            raise CredentialError(f"status list: bits do not inflate ({exc})") from None
        if len(raw) != want or not inflater.eof:
            raise CredentialError(f"status list: {len(raw)} bytes of bits for {size} ids")
        return cls(
            claims.get(1),
            size,
            issued_at=claims.get(6),
            next_update=claims.get(4),
            bits=np.frombuffer(raw, np.uint8).copy(),
        )

    def save(self, path: str | Path, key: IssuerKey) -> Path:
        """Sign and write the list atomically."""
        return atomic_write(Path(path), self.sign(key))

    @classmethod
    def load(cls, path: str | Path, trust: TrustList) -> StatusList:
        """Read and verify a list written by :meth:`save` (or downloaded)."""
        path = Path(path)
        data = read_limited(path, _MAX_FILE, "status list")
        try:
            return cls.from_bytes(data, trust)
        except CredentialError as exc:
            raise CredentialError(f"{path}: {exc}") from None
