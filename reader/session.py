"""A session with one card through the SAM: select, authenticate, read and write EFs, and
:func:`read_card`, the whole read with its checks.

Flow of :func:`read_card` (the APDU listing in ``reader/README.md`` shows one)::

    card  GET DATA UID, SELECT DF 7F0A, SELECT + READ BINARY EF 6FF0 (plain)
    card  GET CHALLENGE                       -> RND.IC
    sam   AUTHENTICATE INIT (UID, RND.IC)     -> 40-byte cryptogram
    card  MUTUAL AUTHENTICATE (cryptogram)    -> the card's 40-byte answer
    sam   AUTHENTICATE FINISH (answer)        -> session keys, inside the SAM
    for each protected EF: sam WRAP -> card (protected APDU) -> sam UNWRAP
    card  SELECT + READ BINARY EF 6FF2 (photo, plain)
    sam   VERIFY SECURITY OBJECT (EF 6FF6), host: SHA-256 of every EF against it

Examples
--------
>>> from reader.session import Timings
>>> Timings(transport=0.1, sam=0.05).as_dict()["transport"]
0.1
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np
from PIL import Image

from afis.errors import FormatError
from afis.template import FingerPosition, Template
from reader import constants as c
from reader import profile as prof
from reader import security_object, tlv
from reader.apdu import Command, Response, parse_response
from reader.errors import (
    AuthenticationError,
    CardStatusError,
    PassiveAuthenticationError,
    SecureMessagingError,
)
from reader.sam import SamClient
from reader.transport import Link

__all__ = ["CardData", "CardSession", "Timings", "read_card"]


@dataclass
class Timings:
    """Seconds spent per part of a read (and, after verification, of matching)."""

    transport: float = 0.0  #: card APDUs through PC/SC
    sam: float = 0.0  #: SAM APDUs (its cryptography and its transport)
    host_crypto: float = 0.0  #: hashing for passive authentication
    decode: float = 0.0  #: EF decoding (templates, photo, biodata)
    extract: float = 0.0  #: live image decoding and minutiae extraction
    match: float = 0.0  #: comparisons
    total: float = 0.0

    def as_dict(self) -> dict[str, float]:
        """Field name -> seconds."""
        return asdict(self)


@dataclass
class CardData:
    """Everything read from one card, decoded, with the checks it passed."""

    uid: bytes
    reader: str
    control: prof.CardControl
    biodata: prof.Biodata
    photo: Image.Image
    signature: np.ndarray
    fingers: dict[FingerPosition, Template]
    raw: dict[int, bytes]
    checks: dict[str, bool] = field(default_factory=dict)
    timings: Timings = field(default_factory=Timings)


class CardSession:
    """Commands to the card in ``card``, protected through the SAM in ``sam``."""

    def __init__(self, card: Link, sam: SamClient | None) -> None:
        self.card = card
        self.sam = sam
        self.authenticated = False

    # --- plain commands ---
    def _plain(self, cmd: Command, label: str, max_data: int = 256) -> Response:
        raw = self.card.transmit(cmd.to_bytes(), label)
        try:
            return parse_response(raw, max_data=max_data)
        except FormatError as exc:
            raise FormatError(f"response to {label}: {exc}") from None

    def uid(self) -> bytes:
        """The chip's UID (GET DATA FF CA, answered by a contactless reader)."""
        r = self._plain(Command(0xFF, 0xCA, 0x00, 0x00, le=256), "GET DATA UID")
        data = r.check("GET DATA UID")
        if len(data) not in (4, 7, 10):
            raise FormatError(f"card UID of {len(data)} bytes, expected 4, 7 or 10")
        return data

    def select_df(self) -> None:
        """SELECT DF 7F0A."""
        cmd = Command(0x00, 0xA4, 0x01, 0x0C, c.DF_EKTP.to_bytes(2, "big"))
        self._plain(cmd, "SELECT DF 7F0A").check("SELECT DF 7F0A")

    def read_plain(self, fid: int) -> bytes:
        """Read an EF readable without the SAM (6FF0, 6FF2)."""
        label = f"EF {fid:04X}"
        cmd = Command(0x00, 0xA4, 0x02, 0x04, fid.to_bytes(2, "big"), 256)
        size = _fcp_size(self._plain(cmd, f"SELECT {label}").check(f"SELECT {label}"), fid)
        out = bytearray()
        while len(out) < size:
            want = min(c.READ_CHUNK_PLAIN, size - len(out))
            cmd = Command(0x00, 0xB0, len(out) >> 8, len(out) & 0xFF, le=want)
            data = self._plain(cmd, f"READ {label}", max_data=want).check(f"READ BINARY {label}")
            if len(data) != want:
                raise FormatError(f"READ BINARY {label}: {len(data)} bytes, {want} asked")
            out += data
        return bytes(out)

    # --- authentication and protected commands ---
    def authenticate(self, profile_code: int, uid: bytes) -> None:
        """Mutual authentication of card and SAM; opens secure messaging.

        Raises :class:`reader.errors.AuthenticationError` for a cloned or foreign card.
        """
        if self.sam is None:
            raise AuthenticationError("mutual authentication needs a SAM")
        rnd_ic = self._plain(Command(0x00, 0x84, 0, 0, le=8), "GET CHALLENGE").check(
            "GET CHALLENGE"
        )
        if len(rnd_ic) != c.CHALLENGE_LENGTH:
            raise FormatError(f"GET CHALLENGE: {len(rnd_ic)} bytes, expected 8")
        cryptogram = self.sam.auth_init(profile_code, uid, rnd_ic)
        r = self._plain(Command(0x00, 0x82, 0, 0, cryptogram, 40), "MUTUAL AUTHENTICATE")
        if r.sw in (0x6300, 0x6982) or r.sw & 0xFFF0 == 0x63C0:
            raise AuthenticationError(
                "the card refused the SAM's cryptogram: it does not hold the key the issuer "
                "derived for its UID (cloned or foreign card)"
            )
        self.sam.auth_finish(r.check("MUTUAL AUTHENTICATE"))
        self.authenticated = True

    def protected(self, cmd: Command, label: str) -> Response:
        """Send ``cmd`` under secure messaging (wrapped and unwrapped by the SAM)."""
        if self.sam is None or not self.authenticated:
            raise SecureMessagingError(f"{label}: no secure-messaging session")
        raw = self.card.transmit(self.sam.wrap(cmd), label)
        if len(raw) > c.SHORT_RESPONSE:
            raise SecureMessagingError(f"response to {label}: {len(raw)} bytes is oversized")
        if len(raw) < 2:
            raise SecureMessagingError(f"response to {label}: truncated to {len(raw)} bytes")
        if len(raw) == 2 and raw != b"\x90\x00":
            self.authenticated = False  # the card ends the session on an SM error
            raise CardStatusError(int.from_bytes(raw, "big"), label)
        response = self.sam.unwrap(raw)
        if cmd.le is not None and len(response.data) > cmd.le:
            raise SecureMessagingError(f"response to {label}: more data than the {cmd.le} asked")
        return response

    def select_protected(self, fid: int) -> int:
        """SELECT an EF under secure messaging; its size."""
        label = f"SELECT EF {fid:04X}"
        cmd = Command(0x00, 0xA4, 0x02, 0x04, fid.to_bytes(2, "big"), 256)
        return _fcp_size(self.protected(cmd, label).check(label), fid)

    def read_protected(self, fid: int) -> bytes:
        """Read a whole EF under secure messaging."""
        size = self.select_protected(fid)
        out = bytearray()
        label = f"READ EF {fid:04X}"
        while len(out) < size:
            want = min(c.READ_CHUNK_SM, size - len(out))
            cmd = Command(0x00, 0xB0, len(out) >> 8, len(out) & 0xFF, le=want)
            data = self.protected(cmd, label).check(label)
            if len(data) != want:
                raise SecureMessagingError(f"{label}: {len(data)} bytes, {want} asked")
            out += data
        return bytes(out)

    def write_protected(self, fid: int, data: bytes) -> None:
        """Write a whole EF under secure messaging (personalisation)."""
        label = f"UPDATE EF {fid:04X}"
        self.select_protected(fid)
        for offset in range(0, len(data), c.READ_CHUNK_SM):
            chunk = data[offset : offset + c.READ_CHUNK_SM]
            cmd = Command(0x00, 0xD6, offset >> 8, offset & 0xFF, chunk)
            self.protected(cmd, label).check(label)

    def activate(self) -> None:
        """End personalisation: the card's EFs become read-only."""
        self.protected(Command(0x00, 0x44, 0x00, 0x00), "ACTIVATE").check("ACTIVATE FILE")


def _fcp_size(fcp: bytes, fid: int) -> int:
    record = f"FCP of EF {fid:04X}"
    objects = tlv.decode_all(fcp, record)
    if [t for t, _ in objects] != [0x62]:
        raise FormatError(f"{record}: one 62 template expected")
    size = tlv.find(tlv.decode_all(objects[0][1], record), 0x80, record)
    if len(size) != 2:
        raise FormatError(f"{record}: file size (80) must be 2 bytes")
    value = int.from_bytes(size, "big")
    if value > c.MAX_EF_SIZE:
        raise FormatError(f"{record}: size {value} exceeds the {c.MAX_EF_SIZE} bytes an EF holds")
    return value


def read_card(card: Link, sam: SamClient) -> CardData:
    """Read and check a whole card: mutual authentication, every EF, passive authentication.

    Raises
    ------
    reader.errors.AuthenticationError
        Cloned or foreign card.
    reader.errors.PassiveAuthenticationError
        Data altered after signing, or signed by an unknown issuer.
    reader.errors.CardRemovedError, SecureMessagingError, CardStatusError, FormatError
        The card left, a response was garbled, replayed or refused, or data is malformed.
    """
    start = time.perf_counter()
    card_before, sam_before = card.seconds, sam.link.seconds
    timings = Timings()
    session = CardSession(card, sam)
    uid = session.uid()
    session.select_df()
    raw: dict[int, bytes] = {c.EF_CONTROL: session.read_plain(c.EF_CONTROL)}
    control = prof.decode_control(raw[c.EF_CONTROL])
    session.authenticate(control.sm_profile, uid)
    checks = {"mutual_authentication": True}
    for fid in (c.EF_BIODATA, c.EF_SIGNATURE, c.EF_FINGER_1, c.EF_FINGER_2):
        raw[fid] = session.read_protected(fid)
    raw[c.EF_SECURITY_OBJECT] = session.read_protected(c.EF_SECURITY_OBJECT)
    session.select_df()
    raw[c.EF_PHOTO] = session.read_plain(c.EF_PHOTO)
    sam.verify_security_object(raw[c.EF_SECURITY_OBJECT])
    t = time.perf_counter()
    obj = security_object.decode(raw[c.EF_SECURITY_OBJECT])
    security_object.check_hashes(obj, {f: d for f, d in raw.items() if f != c.EF_SECURITY_OBJECT})
    missing = set(c.EFS) - {c.EF_SECURITY_OBJECT} - set(obj.hashes)
    if missing:
        raise PassiveAuthenticationError(
            "security object does not cover EF " + ", ".join(f"{m:04X}" for m in sorted(missing))
        )
    timings.host_crypto = time.perf_counter() - t
    checks["passive_authentication"] = True
    t = time.perf_counter()
    fingers = {}
    for fid, position in zip((c.EF_FINGER_1, c.EF_FINGER_2), control.fingers, strict=True):
        template = prof.decode_finger(raw[fid], fid)
        if int(template.finger_position) != position:
            raise FormatError(
                f"fingerprint (EF {fid:04X}): finger {int(template.finger_position)}, "
                f"the card control data says {position}"
            )
        fingers[template.finger_position] = template
    if len(fingers) != 2:
        raise FormatError("card control (EF 6FF0): the two templates are of the same finger")
    data = CardData(
        uid=uid,
        reader=card.reader,
        control=control,
        biodata=prof.decode_biodata(raw[c.EF_BIODATA]),
        photo=prof.decode_photo(raw[c.EF_PHOTO]),
        signature=prof.decode_signature(raw[c.EF_SIGNATURE]),
        fingers=fingers,
        raw=raw,
        checks=checks,
        timings=timings,
    )
    timings.decode = time.perf_counter() - t
    timings.transport = card.seconds - card_before
    timings.sam = sam.link.seconds - sam_before
    timings.total = time.perf_counter() - start
    return data
