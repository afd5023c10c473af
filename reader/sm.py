"""ISO/IEC 7816-4 secure messaging and the mutual-authentication cryptograms.

Two profiles, both in the shape of ICAO Doc 9303 part 11 secure messaging:

``AES`` (default)
    AES-128-CBC with IV = E(K_enc, SSC), AES-CMAC truncated to 8 bytes, 16-byte SSC.
``3DES``
    three-key 3DES-CBC with a zero IV, the ISO/IEC 9797-1 algorithm 3 "retail" MAC (DES with
    the first two key parts), 8-byte SSC: the real card's algorithm family.

Both pad with ISO/IEC 9797-1 method 2 (``80 00 ...``). A protected command carries data
objects 87 (padding indicator 01 and the cryptogram), 97 (Le) and 8E (the MAC); a protected
response carries 87, 99 (the status word) and 8E. The send sequence counter (SSC) goes up by
one before every command and every response, so a replayed response carries a MAC over an
old counter and fails. MACs are compared in constant time (:func:`hmac.compare_digest`).

Both ends use :class:`SecureChannel`: the SAM wraps commands and unwraps responses, the card
unwraps commands and wraps responses. Keys stay inside the objects that hold them and never
appear in ``repr`` or in messages.

Examples
--------
>>> from reader.apdu import Command, Response
>>> from reader.sm import AES, SecureChannel
>>> reader_side = SecureChannel(AES, bytes(16), bytes(range(16)), bytes(16))
>>> card_side = SecureChannel(AES, bytes(16), bytes(range(16)), bytes(16))
>>> protected = reader_side.wrap_command(Command(0x00, 0xB0, 0, 0, le=4))
>>> card_side.unwrap_command(protected)
Command(cla=0, ins=176, p1=0, p2=0, data=b'', le=4)
>>> reader_side.unwrap_response(card_side.wrap_response(Response(b"abcd", 0x9000)))
Response(data=b'abcd', sw=36864)
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

from afis.errors import FormatError
from reader import tlv
from reader.apdu import Command, Response, parse_response
from reader.constants import MAC_LENGTH
from reader.errors import AuthenticationError, SecureMessagingError

__all__ = [
    "AES",
    "PROFILES",
    "TDES",
    "Profile",
    "SecureChannel",
    "derive_key",
    "diversify",
    "open_cryptogram",
    "pad",
    "seal_cryptogram",
    "session_keys",
    "unpad",
]


@dataclass(frozen=True)
class Profile:
    """A secure-messaging algorithm family.

    Examples
    --------
    >>> AES.block, AES.key_length, TDES.block, TDES.key_length
    (16, 16, 8, 24)
    """

    name: str
    code: int  #: the byte that names the profile in the card control EF
    block: int
    key_length: int
    ssc_length: int

    def encrypt(self, key: bytes, iv: bytes, data: bytes) -> bytes:
        """CBC encryption of block-aligned ``data``."""
        return _cipher(self, key, iv).encryptor().update(data)

    def decrypt(self, key: bytes, iv: bytes, data: bytes) -> bytes:
        """CBC decryption of block-aligned ``data``."""
        return _cipher(self, key, iv).decryptor().update(data)

    def iv(self, key_enc: bytes, ssc: bytes) -> bytes:
        """The CBC IV for secure messaging: E(K_enc, SSC) for AES, zero for 3DES."""
        if self.name == "AES":
            return _ecb(self, key_enc).encryptor().update(ssc)
        return bytes(self.block)

    def mac(self, key: bytes, data: bytes) -> bytes:
        """The 8-byte MAC of already padded ``data``."""
        if self.name == "AES":
            c = CMAC(algorithms.AES(key))
            c.update(data)
            return c.finalize()[:MAC_LENGTH]
        k1, k2 = key[:8] * 3, key[8:16] * 3  # single DES as 3DES with K1 = K2 = K3
        h = Cipher(TripleDES(k1), modes.CBC(bytes(8))).encryptor().update(data)[-8:]
        h = Cipher(TripleDES(k2), modes.ECB()).decryptor().update(h)
        return Cipher(TripleDES(k1), modes.ECB()).encryptor().update(h)


AES = Profile("AES", 0x01, 16, 16, 16)
TDES = Profile("3DES", 0x02, 8, 24, 8)
PROFILES = {p.code: p for p in (AES, TDES)}


def _cipher(profile: Profile, key: bytes, iv: bytes) -> Cipher:
    alg = algorithms.AES(key) if profile.name == "AES" else TripleDES(key)
    return Cipher(alg, modes.CBC(iv))


def _ecb(profile: Profile, key: bytes) -> Cipher:
    alg = algorithms.AES(key) if profile.name == "AES" else TripleDES(key)
    return Cipher(alg, modes.ECB())


def pad(data: bytes, block: int) -> bytes:
    """ISO/IEC 9797-1 padding method 2.

    Examples
    --------
    >>> pad(b"ab", 8).hex()
    '6162800000000000'
    """
    data = bytes(data) + b"\x80"
    return data + bytes(-len(data) % block)


def unpad(data: bytes, record: str = "padded data") -> bytes:
    """Remove method-2 padding; FormatError when there is none.

    Examples
    --------
    >>> unpad(bytes.fromhex("6162800000000000"))
    b'ab'
    """
    stripped = bytes(data).rstrip(b"\x00")
    if not stripped or stripped[-1] != 0x80:
        raise FormatError(f"{record}: ISO/IEC 9797-1 padding (80 00 ...) expected at the end")
    return stripped[:-1]


def derive_key(seed: bytes, counter: int, profile: Profile) -> bytes:
    """A key from a seed: the first ``key_length`` bytes of SHA-256(seed || counter).

    Counter 1 gives the encryption key, 2 the MAC key (as ICAO Doc 9303's KDF).

    Examples
    --------
    >>> len(derive_key(b"seed", 1, AES)), len(derive_key(b"seed", 2, TDES))
    (16, 24)
    """
    return hashlib.sha256(bytes(seed) + counter.to_bytes(4, "big")).digest()[: profile.key_length]


def diversify(master: bytes, uid: bytes, profile: Profile) -> tuple[bytes, bytes]:
    """The card's own (encryption, MAC) keys from the master key and the card's UID.

    Examples
    --------
    >>> k_enc, k_mac = diversify(bytes(16), bytes.fromhex("04a1b2c3d4e5f6"), AES)
    >>> k_enc != k_mac and len(k_enc) == 16
    True
    """
    seed = bytes(master) + b"EKTP-CARD-KEY" + bytes(uid)
    return derive_key(seed, 1, profile), derive_key(seed, 2, profile)


def seal_cryptogram(profile: Profile, k_enc: bytes, k_mac: bytes, plain: bytes) -> bytes:
    """Encrypt 32 bytes (zero IV) and append the MAC of the cryptogram: 40 bytes.

    Examples
    --------
    >>> c = seal_cryptogram(AES, bytes(16), bytes(16), bytes(32))
    >>> len(c), open_cryptogram(AES, bytes(16), bytes(16), c) == bytes(32)
    (40, True)
    """
    if len(plain) != 32:
        raise ValueError("the authentication plaintext is 32 bytes")
    enc = profile.encrypt(k_enc, bytes(profile.block), plain)
    return enc + profile.mac(k_mac, pad(enc, profile.block))


def open_cryptogram(profile: Profile, k_enc: bytes, k_mac: bytes, data: bytes) -> bytes:
    """Check the MAC (constant time) and decrypt a 40-byte cryptogram.

    Raises :class:`reader.errors.AuthenticationError` when the length or the MAC is wrong.
    """
    if len(data) != 40:
        raise AuthenticationError(f"authentication cryptogram of {len(data)} bytes, expected 40")
    enc, mac = data[:32], data[32:]
    if not hmac.compare_digest(mac, profile.mac(k_mac, pad(enc, profile.block))):
        raise AuthenticationError("authentication cryptogram MAC is wrong (foreign key)")
    return profile.decrypt(k_enc, bytes(profile.block), enc)


def session_keys(
    profile: Profile, k_ifd: bytes, k_ic: bytes, rnd_ic: bytes, rnd_ifd: bytes
) -> tuple[bytes, bytes, bytes]:
    """Session (encryption, MAC) keys and the initial SSC after mutual authentication.

    The seed is K.IFD xor K.IC; the SSC is the last four bytes of each challenge, left-padded
    with zeros to the profile's SSC length.

    Examples
    --------
    >>> k_enc, k_mac, ssc = session_keys(AES, bytes(16), bytes(16), bytes(8), bytes(8))
    >>> len(ssc)
    16
    """
    seed = bytes(a ^ b for a, b in zip(k_ifd, k_ic, strict=True))
    ssc = bytes(profile.ssc_length - 8) + rnd_ic[-4:] + rnd_ifd[-4:]
    return derive_key(seed, 1, profile), derive_key(seed, 2, profile), ssc


class SecureChannel:
    """One end of a secure-messaging session (keys and send sequence counter).

    Parameters
    ----------
    profile : Profile
        :data:`AES` or :data:`TDES`.
    k_enc, k_mac : bytes
        Session keys.
    ssc : bytes
        Initial send sequence counter.
    """

    def __init__(self, profile: Profile, k_enc: bytes, k_mac: bytes, ssc: bytes) -> None:
        if len(k_enc) != profile.key_length or len(k_mac) != profile.key_length:
            raise ValueError(f"{profile.name} session keys are {profile.key_length} bytes")
        if len(ssc) != profile.ssc_length:
            raise ValueError(f"{profile.name} SSC is {profile.ssc_length} bytes")
        self.profile = profile
        self._k_enc = bytes(k_enc)
        self._k_mac = bytes(k_mac)
        self._ssc = int.from_bytes(ssc, "big")

    def __repr__(self) -> str:  # never the keys
        return f"SecureChannel({self.profile.name})"

    def _next_ssc(self) -> bytes:
        self._ssc = (self._ssc + 1) % (1 << (8 * self.profile.ssc_length))
        return self._ssc.to_bytes(self.profile.ssc_length, "big")

    def _mac(self, ssc: bytes, data: bytes) -> bytes:
        return self.profile.mac(self._k_mac, pad(ssc + data, self.profile.block))

    def _encrypt(self, ssc: bytes, data: bytes) -> bytes:
        iv = self.profile.iv(self._k_enc, ssc)
        return self.profile.encrypt(self._k_enc, iv, pad(data, self.profile.block))

    def _decrypt(self, ssc: bytes, data: bytes, record: str) -> bytes:
        if not data or len(data) % self.profile.block:
            raise FormatError(f"{record}: cryptogram of {len(data)} bytes is not whole blocks")
        iv = self.profile.iv(self._k_enc, ssc)
        return unpad(self.profile.decrypt(self._k_enc, iv, data), record)

    def _open_do87(self, ssc: bytes, value: bytes, what: str) -> bytes:
        """Plain data of a DO 87 (padding indicator 01, then the cryptogram)."""
        if not value or value[0] != 0x01:
            raise SecureMessagingError(f"{what}: DO 87 padding indicator not 01")
        try:
            return self._decrypt(ssc, value[1:], f"{what} DO 87")
        except FormatError as exc:
            raise SecureMessagingError(str(exc)) from None

    # --- reader side (run by the SAM) ---
    def wrap_command(self, command: Command) -> Command:
        """Protect a plain command: data encrypted in DO 87, Le in DO 97, MAC in DO 8E."""
        ssc = self._next_ssc()
        cla = command.cla | 0x0C
        header = pad(bytes([cla, command.ins, command.p1, command.p2]), self.profile.block)
        do87 = tlv.encode(0x87, b"\x01" + self._encrypt(ssc, command.data)) if command.data else b""
        do97 = b""
        if command.le is not None:
            le = command.le
            do97 = tlv.encode(
                0x97,
                (le & 0xFF).to_bytes(1, "big") if le <= 256 else (le & 0xFFFF).to_bytes(2, "big"),
            )
        mac = self._mac(ssc, header + do87 + do97)
        body = do87 + do97 + tlv.encode(0x8E, mac)
        return Command(cla, command.ins, command.p1, command.p2, body, 256)

    def unwrap_response(self, raw: bytes) -> Response:
        """Check and decrypt a protected response (bytes with SW1 SW2).

        Raises :class:`reader.errors.SecureMessagingError` when the data objects are
        malformed or missing, or the MAC is wrong (garbled, truncated or replayed).
        """
        ssc = self._next_ssc()
        try:
            response = parse_response(raw)
            if not response.data:
                if response.ok:
                    raise FormatError("protected response: 9000 without data objects")
                return response  # an error the card gave without secure messaging
            objects = tlv.decode_all(response.data, "protected response")
            tags = [t for t, _ in objects]
            if tags not in ([0x87, 0x99, 0x8E], [0x99, 0x8E]):
                raise FormatError(
                    "protected response: data objects "
                    + " ".join(f"{t:X}" for t in tags)
                    + ", expected [87] 99 8E"
                )
            do99 = tlv.find(objects, 0x99, "protected response")
            mac = tlv.find(objects, 0x8E, "protected response")
            if len(do99) != 2 or len(mac) != MAC_LENGTH:
                raise FormatError("protected response: DO 99 must be 2 bytes and DO 8E 8 bytes")
        except FormatError as exc:
            raise SecureMessagingError(str(exc)) from None
        signed = response.data[: -(2 + MAC_LENGTH)]  # DO 8E is last and 8 bytes
        if not hmac.compare_digest(mac, self._mac(ssc, signed)):
            raise SecureMessagingError(
                "protected response: MAC is wrong (garbled, truncated or replayed response)"
            )
        data = b""
        if objects[0][0] == 0x87:
            data = self._open_do87(ssc, objects[0][1], "protected response")
        return Response(data, int.from_bytes(do99, "big"))

    # --- card side ---
    def unwrap_command(self, command: Command) -> Command:
        """Check and decrypt a protected command (card side); SecureMessagingError on fault."""
        ssc = self._next_ssc()
        try:
            if command.cla & 0x0C != 0x0C:
                raise FormatError("protected command: CLA does not announce secure messaging")
            objects = tlv.decode_all(command.data, "protected command")
            tags = [t for t, _ in objects]
            if tags[-1:] != [0x8E] or any(t not in (0x87, 0x97, 0x8E) for t in tags):
                raise FormatError("protected command: data objects must be [87] [97] 8E")
            mac = tlv.find(objects, 0x8E, "protected command")
        except FormatError as exc:
            raise SecureMessagingError(str(exc)) from None
        if len(mac) != MAC_LENGTH:
            raise SecureMessagingError("protected command: DO 8E must be 8 bytes")
        header = pad(bytes([command.cla, command.ins, command.p1, command.p2]), self.profile.block)
        signed = command.data[: -(2 + MAC_LENGTH)]  # DO 8E is last and 8 bytes
        if not hmac.compare_digest(mac, self._mac(ssc, header + signed)):
            raise SecureMessagingError("protected command: MAC is wrong")
        data, le = b"", None
        for tag, value in objects:
            if tag == 0x87:
                data = self._open_do87(ssc, value, "protected command")
            elif tag == 0x97:
                if len(value) not in (1, 2):
                    raise SecureMessagingError("protected command: DO 97 must be 1 or 2 bytes")
                le = int.from_bytes(value, "big") or (256 if len(value) == 1 else 65536)
        return Command(command.cla & ~0x0C & 0xFF, command.ins, command.p1, command.p2, data, le)

    def wrap_response(self, response: Response) -> bytes:
        """Protect a plain response (card side): DO 87 (when data), 99, 8E, then SW."""
        ssc = self._next_ssc()
        do87 = (
            tlv.encode(0x87, b"\x01" + self._encrypt(ssc, response.data)) if response.data else b""
        )
        do99 = tlv.encode(0x99, response.sw.to_bytes(2, "big"))
        mac = self._mac(ssc, do87 + do99)
        return do87 + do99 + tlv.encode(0x8E, mac) + response.sw.to_bytes(2, "big")
