"""KTP Digital: the identity card as a signed credential on the phone, shown as a QR code that
anyone can verify offline, unlocked with NIK + PIN + a biometric check.

- :mod:`~enrollment.ktp_digital.credential`: the signed credential, its QR text and the
  offline check (:func:`verify`);
- :mod:`~enrollment.ktp_digital.keys`: issuer keys (ES256 or Ed25519, by key id) and the
  verifier's trust list;
- :mod:`~enrollment.ktp_digital.revocation`: the signed revocation status list;
- :mod:`~enrollment.ktp_digital.qr`: QR codes (PNG, SVG; read from a camera image) and the
  face thumbnail;
- :mod:`~enrollment.ktp_digital.issuance`: the data centre's side (records in CARD_ISSUED,
  the credential register, revocation, activation);
- :mod:`~enrollment.ktp_digital.wallet`: the holder's wallet (encrypted at rest under the PIN);
- :mod:`~enrollment.ktp_digital.verifier`: the offline verifier's API and exports.

The credential, keys, QR, wallet and verifier import no SQL toolkit; only the issuance side
needs the record store.

Examples
--------
>>> from enrollment.ktp_digital import Credential, IssuerKey, TrustList, encode, verify
>>> key = IssuerKey.generate("ktp-2026-01")
>>> cred = Credential.example()
>>> verify(encode(cred, key), TrustList([key.public()]), now=cred.issued_at).valid
True
"""

from enrollment.ktp_digital.credential import Credential, Verification, encode, verify
from enrollment.ktp_digital.errors import CredentialError, WalletError, WalletLocked
from enrollment.ktp_digital.keys import IssuerKey, PublicKey, TrustList
from enrollment.ktp_digital.revocation import StatusList

__all__ = [
    "Credential",
    "CredentialError",
    "IssuerKey",
    "PublicKey",
    "StatusList",
    "TrustList",
    "Verification",
    "WalletError",
    "WalletLocked",
    "encode",
    "verify",
]
