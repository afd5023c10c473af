"""The emulated SAM (Secure Access Module): keys in, only cryptograms out.

Command set (CLA 80 proprietary, in the shape of a real reader SAM; all but VERIFY need the
SAM unlocked by the operator's PIN):

==================================  ==========================================================
``00 20 00 81 Lc PIN``              VERIFY PIN; 63Cx = wrong, x tries left; 6983 = blocked
                                    (after :data:`reader.constants.PIN_TRIES` wrong tries);
                                    without data: the state (9000 unlocked, 63Cx locked)
``80 A0 pp 00 Lc UID||RND.IC 28``   AUTHENTICATE INIT for profile pp (01 AES, 02 3DES): the
                                    SAM derives the card key from its master key and the UID,
                                    answers the 40-byte cryptogram for MUTUAL AUTHENTICATE
``80 A2 00 00 28 answer``           AUTHENTICATE FINISH: checks the card's answer (6300 = the
                                    card does not know its key: a clone), opens the session
``80 A4 00 00 Lc APDU 00``          WRAP: the protected form of a plain command APDU
``80 A6 00 00 Lc response 00``      UNWRAP: the plain response (data || SW) of a protected
                                    one; 6988 = MAC wrong or malformed (the session ends)
``80 A8 00 00 Lc SO`` (chained)     VERIFY SECURITY OBJECT: ECDSA signature against the issuer
                                    certificates the SAM holds (CLA 90 = more blocks follow)
``80 AC 00 00``                     CLOSE SESSION
==================================  ==========================================================

Examples
--------
>>> sam = EmulatedSam({1: bytes(16)}, pin="123456")
>>> sam.process(bytes.fromhex("0020008106") + b"000000").hex()
'63c2'
>>> sam.process(bytes.fromhex("0020008106") + b"123456").hex()
'9000'
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Sequence

from cryptography import x509

from afis.errors import FormatError
from reader import constants as c
from reader import security_object
from reader.apdu import Command, Response, parse_command
from reader.emulator.card import atr
from reader.errors import AuthenticationError, PassiveAuthenticationError, SecureMessagingError
from reader.sm import PROFILES, SecureChannel, diversify, open_cryptogram, seal_cryptogram
from reader.sm import session_keys as _session_keys

__all__ = ["EmulatedSam"]

log = logging.getLogger("reader.emulator.sam")


class EmulatedSam:
    """A SAM holding master keys per secure-messaging profile and trusted issuer certificates.

    Parameters
    ----------
    masters : dict
        Profile code (1 AES, 2 3DES) -> master key. Never readable from outside.
    pin : str
        The operator's PIN (4..12 digits).
    issuer_certificates : sequence of cryptography.x509.Certificate
        Issuers whose security objects the SAM accepts.
    """

    def __init__(
        self,
        masters: dict[int, bytes],
        pin: str,
        issuer_certificates: Sequence[x509.Certificate] = (),
    ) -> None:
        if not pin.isdigit() or not 4 <= len(pin) <= 12:
            raise ValueError("the SAM PIN is 4..12 digits")
        for code, key in masters.items():
            if code not in PROFILES or len(key) != PROFILES[code].key_length:
                raise ValueError(f"master key for profile {code} has the wrong length")
        self._masters = dict(masters)
        self._pin = pin.encode()
        self._certificates = list(issuer_certificates)
        self.tries_left = c.PIN_TRIES
        self.power_on()

    def __repr__(self) -> str:  # never keys or PIN
        return f"EmulatedSam(profiles={sorted(self._masters)}, tries_left={self.tries_left})"

    def to_state(self) -> dict[str, object]:
        """Everything the SAM holds (for an emulator run as a process)."""
        from cryptography.hazmat.primitives import serialization

        return {
            "kind": "ektp-sam",
            "masters": {str(k): v.hex() for k, v in self._masters.items()},
            "pin": self._pin.decode(),
            "tries_left": self.tries_left,
            "certificates": [
                cert.public_bytes(serialization.Encoding.PEM).decode()
                for cert in self._certificates
            ],
        }

    @classmethod
    def from_state(cls, state: dict[str, object]) -> EmulatedSam:
        """The SAM saved by :meth:`to_state`; ValueError when the state is not one."""
        try:
            if state["kind"] != "ektp-sam":
                raise ValueError("not an emulated SAM state")
            masters = state["masters"]
            certificates = state["certificates"]
            assert isinstance(masters, dict) and isinstance(certificates, list)
            sam = cls(
                {int(k): bytes.fromhex(v) for k, v in masters.items()},
                str(state["pin"]),
                [x509.load_pem_x509_certificate(str(p).encode()) for p in certificates],
            )
            sam.tries_left = int(state["tries_left"])  # type: ignore[call-overload]
        except (KeyError, TypeError, AssertionError) as exc:
            raise ValueError(f"emulated SAM state is incomplete or malformed ({exc})") from None
        return sam

    def atr(self) -> bytes:
        """The answer to reset."""
        return atr(c.SAM_HISTORICAL)

    def power_on(self) -> None:
        """Power up or reset: locked again, no pending authentication, no session."""
        self.unlocked = False
        self._pending: tuple | None = None
        self._session: SecureChannel | None = None
        self._chain = bytearray()

    power_off = power_on
    reset = power_on

    def process(self, raw: bytes) -> bytes:
        """Answer one command APDU."""
        try:
            cmd = parse_command(raw)
        except FormatError:
            return Response(b"", 0x6700).to_bytes()
        return self._dispatch(cmd).to_bytes()

    def _dispatch(self, cmd: Command) -> Response:
        if cmd.cla == 0x00 and cmd.ins == 0x20:
            return self._verify_pin(cmd)
        if cmd.cla not in (0x80, 0x90):
            return Response(b"", 0x6E00)
        handler = {
            0xA0: self._auth_init,
            0xA2: self._auth_finish,
            0xA4: self._wrap,
            0xA6: self._unwrap,
            0xA8: self._verify_so,
            0xAC: self._close,
        }.get(cmd.ins)
        if handler is None:
            return Response(b"", 0x6D00)
        if self.tries_left == 0:
            return Response(b"", 0x6983)
        if not self.unlocked:
            return Response(b"", 0x6982)
        return handler(cmd)

    def _verify_pin(self, cmd: Command) -> Response:
        if cmd.p1 != 0x00 or cmd.p2 != 0x81:
            return Response(b"", 0x6A86)
        if self.tries_left == 0:
            return Response(b"", 0x6983)
        if not cmd.data:
            return Response(b"", 0x9000 if self.unlocked else 0x63C0 | self.tries_left)
        if hmac.compare_digest(cmd.data, self._pin):
            self.tries_left = c.PIN_TRIES
            self.unlocked = True
            return Response(b"", 0x9000)
        self.tries_left -= 1
        self.unlocked = False
        log.warning("SAM: wrong PIN, %d tries left", self.tries_left)
        return Response(b"", 0x6983 if self.tries_left == 0 else 0x63C0 | self.tries_left)

    def _auth_init(self, cmd: Command) -> Response:
        profile = PROFILES.get(cmd.p1)
        if profile is None or cmd.p1 not in self._masters:
            return Response(b"", 0x6A86)
        if len(cmd.data) not in (4 + 8, 7 + 8, 10 + 8):
            return Response(b"", 0x6700)
        uid, rnd_ic = cmd.data[:-8], cmd.data[-8:]
        k_enc, k_mac = diversify(self._masters[cmd.p1], uid, profile)
        rnd_ifd, k_ifd = os.urandom(8), os.urandom(16)
        self._session = None
        self._pending = (profile, k_enc, k_mac, rnd_ic, rnd_ifd, k_ifd)
        return Response(seal_cryptogram(profile, k_enc, k_mac, rnd_ifd + rnd_ic + k_ifd), 0x9000)

    def _auth_finish(self, cmd: Command) -> Response:
        pending, self._pending = self._pending, None
        if pending is None:
            return Response(b"", 0x6985)
        profile, k_enc, k_mac, rnd_ic, rnd_ifd, k_ifd = pending
        try:
            r = open_cryptogram(profile, k_enc, k_mac, cmd.data)
        except AuthenticationError:
            log.warning("SAM: the card's authentication answer does not verify")
            return Response(b"", 0x6300)
        if r[:8] != rnd_ic or r[8:16] != rnd_ifd:
            return Response(b"", 0x6300)
        s_enc, s_mac, ssc = _session_keys(profile, k_ifd, r[16:], rnd_ic, rnd_ifd)
        self._session = SecureChannel(profile, s_enc, s_mac, ssc)
        return Response(b"", 0x9000)

    def _wrap(self, cmd: Command) -> Response:
        if self._session is None:
            return Response(b"", 0x6985)
        try:
            plain = parse_command(cmd.data)
        except FormatError:
            return Response(b"", 0x6A80)
        return Response(self._session.wrap_command(plain).to_bytes(), 0x9000)

    def _unwrap(self, cmd: Command) -> Response:
        if self._session is None:
            return Response(b"", 0x6985)
        try:
            plain = self._session.unwrap_response(cmd.data)
        except SecureMessagingError as exc:
            log.warning("SAM: protected response rejected (%s): session closed", exc)
            self._session = None
            return Response(b"", 0x6988)
        return Response(plain.to_bytes(), 0x9000)

    def _verify_so(self, cmd: Command) -> Response:
        if len(self._chain) + len(cmd.data) > c.MAX_SECURITY_OBJECT:
            self._chain.clear()
            return Response(b"", 0x6A84)
        self._chain += cmd.data
        if cmd.cla & 0x10:
            return Response(b"", 0x9000)
        data, self._chain = bytes(self._chain), bytearray()
        try:
            obj = security_object.decode(data)
        except FormatError:
            return Response(b"", 0x6A80)
        for certificate in self._certificates:
            if security_object.key_identifier(certificate) == obj.key_id:
                try:
                    security_object.verify_signature(obj, certificate)
                except PassiveAuthenticationError:
                    return Response(b"", 0x6300)
                return Response(b"", 0x9000)
        return Response(b"", 0x6A88)

    def _close(self, cmd: Command) -> Response:
        self._session = None
        self._pending = None
        return Response(b"", 0x9000)
