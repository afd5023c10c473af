"""The emulated e-KTP chip: file system of DF 7F0A, mutual authentication, secure messaging.

Command set (ISO/IEC 7816-4 unless noted):

==========================  ===================================================================
``FF CA 00 00 00``          GET DATA UID (the PC/SC pseudo-APDU a contactless reader answers)
``00 A4 01|02 0C|04 02 id``  SELECT the DF 7F0A (P1 01) or one of its EFs (P1 02); P2 04 returns
                            an FCP with the size (80) and file id (83)
``00 84 00 00 08``          GET CHALLENGE: RND.IC
``00 82 00 00 28 .. 28``     MUTUAL AUTHENTICATE: E(S) || MAC, S = RND.IFD || RND.IC || K.IFD;
                            answers RND.IC || RND.IFD || K.IC sealed the same way
``00 B0 off off Le``        READ BINARY of the selected EF (6FF0 and 6FF2 in plain, the others
                            only in secure messaging)
``0C D6 off off ..``         UPDATE BINARY (secure messaging, personalisation state only)
``0C 44 00 00``             ACTIVATE FILE: ends personalisation, the EFs become read-only
==========================  ===================================================================

A protected command that fails its MAC ends the session (6988). The card's keys are derived
at manufacture from the issuer's master key and the UID (:func:`reader.sm.diversify`).

Fault injection for tests: :attr:`EmulatedCard.response_hook` sees every answer and may
change it (garble, truncate, replay, oversize) or return None, which the vpcd link turns into
a removed card.

Examples
--------
>>> card = EmulatedCard.manufacture(bytes(7), master_key=bytes(16))
>>> card.process(bytes.fromhex("00a4010c027f0a")).hex()
'9000'
>>> card.process(bytes.fromhex("00a4020c026ff1")).hex()
'9000'
>>> card.process(bytes.fromhex("00b0000010")).hex()  # biodata needs secure messaging
'6982'
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from afis.errors import FormatError
from reader import constants as c
from reader.apdu import Command, Response, parse_command
from reader.errors import AuthenticationError, SecureMessagingError
from reader.sm import AES, Profile, SecureChannel, diversify, open_cryptogram, seal_cryptogram
from reader.sm import session_keys as _session_keys

__all__ = ["EmulatedCard", "atr"]

log = logging.getLogger("reader.emulator.card")

PERSONALISATION = "personalisation"
OPERATIONAL = "operational"


def atr(historical: bytes) -> bytes:
    """A T=1 answer to reset with the given historical bytes (TCK computed).

    Examples
    --------
    >>> atr(b"AB").hex()
    '3b828001414200'
    """
    if len(historical) > 15:
        raise ValueError("at most 15 historical bytes")
    body = bytes([0x80 | len(historical), 0x80, 0x01]) + historical
    tck = 0
    for b in body:
        tck ^= b
    return b"\x3b" + body + bytes([tck])


ResponseHook = Callable[[Command | None, bytes], bytes | None]


class EmulatedCard:
    """An e-KTP chip. Build with :meth:`manufacture` (keys from the master key and UID).

    Parameters
    ----------
    uid : bytes
        The chip's UID (4, 7 or 10 bytes).
    k_enc, k_mac : bytes
        The card's own authentication keys.
    profile : reader.sm.Profile
        Secure-messaging profile (:data:`reader.sm.AES` or :data:`reader.sm.TDES`).
    capacity : int
        Bytes of EF content the chip holds.
    """

    def __init__(
        self,
        uid: bytes,
        k_enc: bytes,
        k_mac: bytes,
        profile: Profile = AES,
        capacity: int = c.CARD_CAPACITY,
    ) -> None:
        if len(uid) not in (4, 7, 10):
            raise ValueError("a UID is 4, 7 or 10 bytes")
        self.uid = bytes(uid)
        self.profile = profile
        self._k_enc = bytes(k_enc)
        self._k_mac = bytes(k_mac)
        self.capacity = capacity
        self.files: dict[int, bytearray] = {fid: bytearray() for fid in c.EFS}
        self.lifecycle = PERSONALISATION
        self.response_hook: ResponseHook | None = None
        self._last_response = b""
        self.commands = 0
        self.power_on()

    def __repr__(self) -> str:
        return f"EmulatedCard(uid={self.uid.hex()}, {self.profile.name}, {self.lifecycle})"

    @classmethod
    def manufacture(
        cls, uid: bytes, master_key: bytes, profile: Profile = AES, **kwargs: int
    ) -> EmulatedCard:
        """A blank chip whose keys are diversified from ``master_key`` and ``uid``."""
        k_enc, k_mac = diversify(master_key, uid, profile)
        return cls(uid, k_enc, k_mac, profile, **kwargs)

    def clone(self, uid: bytes | None = None, master_key: bytes | None = None) -> EmulatedCard:
        """A copy of the data on a chip with other keys (what a cloner can make: the data
        is readable, the keys are not). Default: a random key, same UID."""
        uid = self.uid if uid is None else uid
        if master_key is None:
            other = EmulatedCard(
                uid,
                os.urandom(self.profile.key_length),
                os.urandom(self.profile.key_length),
                self.profile,
            )
        else:
            other = EmulatedCard.manufacture(uid, master_key, self.profile)
        other.files = {fid: bytearray(data) for fid, data in self.files.items()}
        other.lifecycle = self.lifecycle
        return other

    # --- the chip's memory, for an emulator run as a process ---
    def to_state(self) -> dict[str, object]:
        """Everything the chip holds (its keys too: this is the chip's memory, not a log)."""
        return {
            "kind": "ektp-card",
            "uid": self.uid.hex(),
            "profile": self.profile.code,
            "k_enc": self._k_enc.hex(),
            "k_mac": self._k_mac.hex(),
            "lifecycle": self.lifecycle,
            "files": {f"{fid:04X}": bytes(d).hex() for fid, d in self.files.items()},
        }

    @classmethod
    def from_state(cls, state: dict[str, object]) -> EmulatedCard:
        """The chip saved by :meth:`to_state`; ValueError when the state is not one."""
        from reader.sm import PROFILES

        try:
            if state["kind"] != "ektp-card":
                raise ValueError("not an emulated e-KTP card state")
            card = cls(
                bytes.fromhex(str(state["uid"])),
                bytes.fromhex(str(state["k_enc"])),
                bytes.fromhex(str(state["k_mac"])),
                PROFILES[int(state["profile"])],  # type: ignore[call-overload]
            )
            files = state["files"]
            assert isinstance(files, dict)
            for name, hexdata in files.items():
                fid = int(name, 16)
                if fid not in card.files:
                    raise ValueError(f"unknown EF {name}")
                card.files[fid] = bytearray.fromhex(hexdata)
            if state["lifecycle"] not in (PERSONALISATION, OPERATIONAL):
                raise ValueError("unknown lifecycle state")
            card.lifecycle = str(state["lifecycle"])
        except (KeyError, TypeError, AssertionError) as exc:
            raise ValueError(f"emulated card state is incomplete or malformed ({exc})") from None
        return card

    # --- power ---
    def atr(self) -> bytes:
        """The answer to reset."""
        return atr(c.CARD_HISTORICAL)

    def power_on(self) -> None:
        """Power up or reset: nothing selected, no challenge, no session."""
        self._df = False
        self._ef: int | None = None
        self._challenge: bytes | None = None
        self._session: SecureChannel | None = None

    power_off = power_on
    reset = power_on

    # --- commands ---
    def process(self, raw: bytes) -> bytes | None:
        """Answer one command APDU (bytes in, response bytes out; None = gone silent)."""
        self.commands += 1
        try:
            command: Command | None = parse_command(raw)
        except FormatError:
            command = None
            answer = Response(b"", 0x6700).to_bytes()
        else:
            answer = self._dispatch(command)
        if self.response_hook is not None:
            hooked = self.response_hook(command, answer)
            self._last_response = answer
            return hooked
        self._last_response = answer
        return answer

    @property
    def last_response(self) -> bytes:
        """The previous genuine answer (what a replaying attacker would send again)."""
        return self._last_response

    def _dispatch(self, command: Command) -> bytes:
        if command.cla == 0xFF and command.ins == 0xCA:
            return Response(self.uid, 0x9000).to_bytes()
        if command.cla & 0x0C == 0x0C:
            if self._session is None:
                return Response(b"", 0x6982).to_bytes()
            try:
                inner = self._session.unwrap_command(command)
            except SecureMessagingError:
                log.info("protected command failed its checks: session closed")
                self._session = None
                return Response(b"", 0x6988).to_bytes()
            response = self._execute(inner, protected=True)
            return self._session.wrap_response(response) if self._session else response.to_bytes()
        if command.cla != 0x00:
            return Response(b"", 0x6E00).to_bytes()
        return self._execute(command, protected=False).to_bytes()

    def _execute(self, cmd: Command, protected: bool) -> Response:
        handler = {
            0xA4: self._select,
            0x84: self._get_challenge,
            0x82: self._mutual_authenticate,
            0xB0: self._read_binary,
            0xD6: self._update_binary,
            0x44: self._activate,
        }.get(cmd.ins)
        if handler is None:
            return Response(b"", 0x6D00)
        return handler(cmd, protected)

    def _select(self, cmd: Command, protected: bool) -> Response:
        if len(cmd.data) != 2 or cmd.p2 not in (0x0C, 0x04):
            return Response(b"", 0x6A86)
        fid = int.from_bytes(cmd.data, "big")
        if cmd.p1 in (0x00, 0x01) and fid == c.DF_EKTP:
            self._df, self._ef = True, None
            return Response(b"", 0x9000)
        if cmd.p1 in (0x00, 0x02) and self._df and fid in self.files:
            self._ef = fid
            if cmd.p2 == 0x0C:
                return Response(b"", 0x9000)
            size = len(self.files[fid]).to_bytes(2, "big")
            fcp = b"\x80\x02" + size + b"\x83\x02" + cmd.data
            return Response(b"\x62" + bytes([len(fcp)]) + fcp, 0x9000)
        return Response(b"", 0x6A82)

    def _get_challenge(self, cmd: Command, protected: bool) -> Response:
        if cmd.le != c.CHALLENGE_LENGTH:
            return Response(b"", 0x6700)
        self._challenge = os.urandom(c.CHALLENGE_LENGTH)
        self._session = None
        return Response(self._challenge, 0x9000)

    def _mutual_authenticate(self, cmd: Command, protected: bool) -> Response:
        challenge, self._challenge = self._challenge, None
        if challenge is None:
            return Response(b"", 0x6985)
        if len(cmd.data) != c.AUTH_CRYPTOGRAM_LENGTH:
            return Response(b"", 0x6700)
        try:
            s = open_cryptogram(self.profile, self._k_enc, self._k_mac, cmd.data)
        except AuthenticationError:
            log.info("mutual authentication: the reader's cryptogram does not verify")
            return Response(b"", 0x6300)
        rnd_ifd, rnd_ic, k_ifd = s[:8], s[8:16], s[16:]
        if rnd_ic != challenge:
            return Response(b"", 0x6300)
        k_ic = os.urandom(16)
        answer = seal_cryptogram(self.profile, self._k_enc, self._k_mac, rnd_ic + rnd_ifd + k_ic)
        k_enc, k_mac, ssc = _session_keys(self.profile, k_ifd, k_ic, rnd_ic, rnd_ifd)
        self._session = SecureChannel(self.profile, k_enc, k_mac, ssc)
        return Response(answer, 0x9000)

    def _read_binary(self, cmd: Command, protected: bool) -> Response:
        if self._ef is None:
            return Response(b"", 0x6986)
        if not protected and self._ef not in c.PLAIN_READABLE:
            return Response(b"", 0x6982)
        if cmd.p1 & 0x80:
            return Response(b"", 0x6A86)
        offset = (cmd.p1 << 8) | cmd.p2
        data = self.files[self._ef]
        if offset > len(data):
            return Response(b"", 0x6B00)
        want = cmd.le or 256
        chunk = bytes(data[offset : offset + want])
        return Response(chunk, 0x9000 if len(chunk) == want else 0x6282)

    def _update_binary(self, cmd: Command, protected: bool) -> Response:
        if not protected:
            return Response(b"", 0x6982)
        if self.lifecycle != PERSONALISATION:
            return Response(b"", 0x6986)
        if self._ef is None:
            return Response(b"", 0x6986)
        offset = ((cmd.p1 & 0x7F) << 8) | cmd.p2
        data = self.files[self._ef]
        if offset > len(data):
            return Response(b"", 0x6B00)
        end = offset + len(cmd.data)
        used = sum(len(d) for d in self.files.values()) - len(data) + max(end, len(data))
        if end > c.MAX_EF_SIZE or used > self.capacity:
            return Response(b"", 0x6A84)
        data[offset:end] = cmd.data
        return Response(b"", 0x9000)

    def _activate(self, cmd: Command, protected: bool) -> Response:
        if not protected:
            return Response(b"", 0x6982)
        if self.lifecycle != PERSONALISATION:
            return Response(b"", 0x6986)
        self.lifecycle = OPERATIONAL
        return Response(b"", 0x9000)
