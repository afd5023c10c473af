"""The holder's wallet: the library a phone app mirrors.

It holds one credential (its QR text), encrypted at rest with AES-256-GCM under a key derived
from the holder's six-digit PIN with scrypt (memory-hard:
:data:`~enrollment.constants.KTP_WALLET_SCRYPT`, 32 MiB a try, so a stolen file does not give
up its PIN to a fast guesser). :data:`~enrollment.constants.KTP_PIN_ATTEMPTS` wrong PINs in
a row lock it: the credential is erased and the holder activates again (NIK + PIN + a
biometric check at the issuer). Every change of the file (credential, PIN, failed attempts)
is written whole or not at all (:func:`afis.atomic.atomic_write`), and a
wrong PIN is counted on disk before the answer comes back.

Examples
--------
>>> import tempfile
>>> from enrollment.ktp_digital import Credential, IssuerKey, TrustList, encode
>>> key = IssuerKey.generate("ktp-test")
>>> cred = Credential.example()
>>> trust = TrustList([key.public()])
>>> wallet = Wallet(tempfile.mkdtemp())
>>> wallet.store(encode(cred, key), "123456", trust, now=cred.issued_at)
>>> wallet.credential("123456", trust, now=cred.issued_at).nik
'3171230501900001'
"""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from afis.atomic import atomic_write
from enrollment import constants as C
from enrollment.ktp_digital.credential import Credential, verify
from enrollment.ktp_digital.errors import WalletError, WalletLocked
from enrollment.ktp_digital.keys import TrustList
from enrollment.ktp_digital.qr import make_qr, png_bytes

__all__ = ["ActivationService", "Wallet"]

_FILE = "wallet.json"
_FORMAT = "ktp-digital-wallet"
_PIN = re.compile(r"\d{6}")
_MAX_FILE = 1 << 16


class ActivationService(Protocol):
    """The issuer's activation endpoint (:meth:`enrollment.ktp_digital.issuance.Issuer.activate`
    in-process; an HTTPS call in a real app)."""

    def activate(self, nik: str, *, fingerprint: Any = None, face: Any = None) -> str: ...


def _check_pin(pin: object) -> str:
    if not isinstance(pin, str) or not _PIN.fullmatch(pin):
        raise WalletError("a PIN is six digits")
    return pin


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _key(pin: str, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=32, **C.KTP_WALLET_SCRYPT).derive(pin.encode("ascii"))


class Wallet:
    """A wallet in ``folder`` (created empty if it holds none).

    Raises
    ------
    WalletError
        If the folder holds a wallet file that is not one (named in the message).
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self.path = self.folder / _FILE
        self._state = self._read()

    def _read(self) -> dict[str, Any]:
        if not self.path.exists():
            return {"format": _FORMAT, "version": 1, "attempts": 0, "locked": False}
        try:
            with self.path.open("rb") as f:
                data = f.read(_MAX_FILE + 1)
            state = json.loads(data)
        except (OSError, ValueError) as exc:
            raise WalletError(f"{self.path}: not a readable wallet ({exc})") from None
        if (
            len(data) > _MAX_FILE
            or not isinstance(state, dict)
            or state.get("format") != _FORMAT
            or state.get("version") != 1
            or not isinstance(state.get("attempts"), int)
            or not isinstance(state.get("locked"), bool)
        ):
            raise WalletError(f"{self.path}: not a KTP Digital wallet file")
        return state

    def _write(self) -> None:
        atomic_write(self.path, json.dumps(self._state).encode(), mode=0o600)

    @property
    def locked(self) -> bool:
        """Locked after too many wrong PINs (activate again)."""
        return bool(self._state["locked"])

    @property
    def empty(self) -> bool:
        """No credential held."""
        return "ciphertext" not in self._state

    @property
    def attempts_left(self) -> int:
        """Wrong PINs left before the wallet locks."""
        return max(0, C.KTP_PIN_ATTEMPTS - int(self._state["attempts"]))

    def activate(
        self,
        nik: str,
        pin: str,
        service: ActivationService,
        trust: TrustList,
        *,
        fingerprint: Any = None,
        face: Any = None,
        now: float | None = None,
    ) -> Credential:
        """Activate with NIK + PIN + a biometric check at the issuer; stores the credential
        it issues (replacing any held, and unlocking a locked wallet)."""
        _check_pin(pin)
        text = service.activate(nik, fingerprint=fingerprint, face=face)
        credential = self._accept(text, trust, now, nik=nik)
        self._seal(text, pin)
        return credential

    def store(self, text: str, pin: str, trust: TrustList, *, now: float | None = None) -> None:
        """Keep a credential issued for this holder (first activation done elsewhere)."""
        _check_pin(pin)
        self._accept(text, trust, now)
        self._seal(text, pin)

    def replace(self, text: str, pin: str, trust: TrustList, *, now: float | None = None) -> None:
        """Re-issuance: a new credential for the same NIK replaces the one held."""
        old = self.credential(pin, trust, now=now, check=False)
        self._accept(text, trust, now, nik=old.nik)
        self._seal(text, pin)

    def _accept(
        self, text: str, trust: TrustList, now: float | None, nik: str | None = None
    ) -> Credential:
        result = verify(text, trust, now=now)
        if result.credential is None or result.status not in ("valid",):
            raise WalletError(f"the issuer's credential does not verify: {result.message}")
        if nik is not None and result.credential.nik != nik:
            raise WalletError("the credential is for another NIK")
        return result.credential

    def _seal(self, text: str, pin: str) -> None:
        salt, nonce = os.urandom(16), os.urandom(12)
        header = {"format": _FORMAT, "version": 1, "salt": _b64(salt), "nonce": _b64(nonce)}
        aad = json.dumps(header, sort_keys=True).encode()
        ciphertext = AESGCM(_key(pin, salt)).encrypt(nonce, text.encode("ascii"), aad)
        self._state = {**header, "ciphertext": _b64(ciphertext), "attempts": 0, "locked": False}
        self._write()

    def unlock(self, pin: str) -> str:
        """The credential's QR text. A wrong PIN is counted (on disk) and refused; the
        :data:`~enrollment.constants.KTP_PIN_ATTEMPTS`-th in a row erases the credential."""
        _check_pin(pin)
        if self.locked:
            raise WalletLocked("the wallet is locked after too many wrong PINs: activate again")
        if self.empty:
            raise WalletError("the wallet holds no credential: activate it")
        state = self._state
        try:
            salt = base64.b64decode(state["salt"], validate=True)
            nonce = base64.b64decode(state["nonce"], validate=True)
            ciphertext = base64.b64decode(state["ciphertext"], validate=True)
        except (KeyError, ValueError, TypeError):
            raise WalletError(f"{self.path}: the wallet file is damaged") from None
        header = {k: state[k] for k in ("format", "version", "salt", "nonce")}
        aad = json.dumps(header, sort_keys=True).encode()
        try:
            text = AESGCM(_key(pin, salt)).decrypt(nonce, ciphertext, aad).decode("ascii")
        except (InvalidTag, ValueError):
            state["attempts"] = int(state["attempts"]) + 1
            if state["attempts"] >= C.KTP_PIN_ATTEMPTS:
                self._state = {"format": _FORMAT, "version": 1, "attempts": 0, "locked": True}
                self._write()
                raise WalletLocked(
                    f"{C.KTP_PIN_ATTEMPTS} wrong PINs: the wallet is locked and its credential "
                    "erased; activate again with NIK, PIN and a biometric check"
                ) from None
            self._write()
            raise WalletError(f"wrong PIN ({self.attempts_left} attempts left)") from None
        if state["attempts"]:
            state["attempts"] = 0
            self._write()
        return text

    def credential(
        self, pin: str, trust: TrustList, *, now: float | None = None, check: bool = True
    ) -> Credential:
        """The credential held, verified (``check``) against the trust list."""
        text = self.unlock(pin)
        result = verify(text, trust, now=now)
        if result.credential is None or (check and result.status != "valid"):
            raise WalletError(f"the credential held does not verify: {result.message}")
        return result.credential

    def qr_png(self, pin: str) -> bytes:
        """The QR code to show, as PNG."""
        return png_bytes(make_qr(self.unlock(pin)))

    def change_pin(self, old: str, new: str) -> None:
        """Re-encrypt the credential under a new PIN."""
        _check_pin(new)
        text = self.unlock(old)
        self._seal(text, new)
