"""The card profile: what each EF of DF 7F0A holds, and its codecs.

============  =====================================================================
EF            content
============  =====================================================================
6FF0          card control data: 80 version, 81 secure-messaging profile (01 AES,
              02 3DES), 82 finger positions of 6FF4 and 6FF5 (ISO/IEC 19794-2
              codes), 83 issue date (YYYYMMDD), 84 issuing regency code (4 digits)
6FF1          biodata: 21 printable ASCII fields joined by ``","`` (:class:`Biodata`)
6FF2          face photo, JPEG (readable without the SAM)
6FF3          signature, 168 x 44 pixels, 1 bit per pixel (1 = ink), rows top down,
              most significant bit leftmost: 924 bytes
6FF4, 6FF5    fingerprint: a 7F60 biometric information template (finger position
              inside) then the 7F2E template in the ISO/IEC 19794-2 compact card format
6FF6          signed security object (:mod:`reader.security_object`)
============  =====================================================================

Every decoder answers malformed content with :class:`afis.errors.FormatError`.

Examples
--------
>>> from reader.profile import Biodata, decode_biodata
>>> b = Biodata.example()
>>> decode_biodata(b.to_bytes()) == b
True
>>> b.to_bytes()[:24]
b'3171230501900001","JL. M'
"""

from __future__ import annotations

import dataclasses
import io
import re
from dataclasses import dataclass, fields

import numpy as np
from PIL import Image

from afis.errors import FormatError
from afis.interchange import iso19794_2_card
from afis.template import FingerPosition, Template
from reader import tlv
from reader.constants import (
    BIODATA_FIELDS,
    BIODATA_MAX_FIELD,
    BIODATA_SEPARATOR,
    SIGNATURE_HEIGHT,
    SIGNATURE_WIDTH,
)
from reader.sm import PROFILES

__all__ = [
    "FALLBACK_FINGERS",
    "Biodata",
    "CardControl",
    "decode_biodata",
    "decode_control",
    "decode_finger",
    "decode_photo",
    "decode_signature",
    "encode_finger",
    "encode_signature",
]

SEPARATOR = BIODATA_SEPARATOR
MAX_FIELD = BIODATA_MAX_FIELD
#: Fingers tried for the chip, per hand, when the index cannot be recorded.
FALLBACK_FINGERS = ("INDEX", "MIDDLE", "RING", "THUMB")
_PRINTABLE = re.compile(r"[ -!#-~]*")  # printable ASCII without the double quote


@dataclass(frozen=True)
class Biodata:
    """The 21 biodata fields of EF 6FF1, in card order. All strings of printable ASCII
    without double quotes; ``nik`` is 16 digits."""

    nik: str
    address: str
    rt: str
    rw: str
    place_of_birth: str
    district: str
    village: str
    regency: str
    sex: str
    blood_type: str
    religion: str
    marital_status: str
    occupation: str
    name: str
    date_of_birth: str
    province: str
    valid_until: str
    issue_regency: str
    issue_date: str
    family_card: str
    citizenship: str

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, str):
                raise FormatError(f"biodata (EF 6FF1): field {f.name} must be text")
            if len(value) > MAX_FIELD or not _PRINTABLE.fullmatch(value):
                raise FormatError(
                    f"biodata (EF 6FF1): field {f.name} must be at most {MAX_FIELD} printable "
                    "ASCII characters without double quotes"
                )
        if not re.fullmatch(r"\d{16}", self.nik):
            raise FormatError("biodata (EF 6FF1): field nik must be 16 digits")

    def to_bytes(self) -> bytes:
        """The EF 6FF1 content."""
        return SEPARATOR.join(dataclasses.astuple(self)).encode("ascii")

    def as_dict(self) -> dict[str, str]:
        """Field name -> value, in card order."""
        return dataclasses.asdict(self)

    @classmethod
    def example(cls, nik: str = "3171230501900001", name: str = "BUDI SANTOSO") -> Biodata:
        """A made-up resident (tests, demos)."""
        return cls(
            nik=nik,
            address="JL. MERDEKA NO. 17",
            rt="005",
            rw="011",
            place_of_birth="JAKARTA",
            district="GAMBIR",
            village="GAMBIR",
            regency="JAKARTA PUSAT",
            sex="LAKI-LAKI",
            blood_type="O",
            religion="ISLAM",
            marital_status="KAWIN",
            occupation="KARYAWAN SWASTA",
            name=name,
            date_of_birth="05-01-1990",
            province="DKI JAKARTA",
            valid_until="SEUMUR HIDUP",
            issue_regency="JAKARTA PUSAT",
            issue_date="23-11-2026",
            family_card="3171230101080042",
            citizenship="WNI",
        )


def decode_biodata(data: bytes) -> Biodata:
    """Parse EF 6FF1.

    Examples
    --------
    >>> decode_biodata(b'1","2')
    Traceback (most recent call last):
    ...
    afis.errors.FormatError: biodata (EF 6FF1): 2 fields, expected 21 joined by '","'
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise FormatError(f"biodata (EF 6FF1): expected bytes, got {type(data).__name__}")
    try:
        text = bytes(data).decode("ascii")
    except UnicodeDecodeError:
        raise FormatError("biodata (EF 6FF1): not ASCII text") from None
    parts = text.split(SEPARATOR)
    if len(parts) != BIODATA_FIELDS:
        raise FormatError(
            f"biodata (EF 6FF1): {len(parts)} fields, expected {BIODATA_FIELDS} joined by "
            f"'{SEPARATOR}'"
        )
    return Biodata(*parts)


@dataclass(frozen=True)
class CardControl:
    """EF 6FF0: profile version, secure-messaging profile, finger positions, issue data.

    Examples
    --------
    >>> c = CardControl(sm_profile=1, fingers=(2, 7), issue_date="20261123", regency="3171")
    >>> decode_control(c.to_bytes()) == c
    True
    """

    sm_profile: int = 1
    fingers: tuple[int, int] = (int(FingerPosition.RIGHT_INDEX), int(FingerPosition.LEFT_INDEX))
    issue_date: str = "20260101"
    regency: str = "0000"
    version: int = 1

    def __post_init__(self) -> None:
        if self.sm_profile not in PROFILES:
            raise FormatError(
                f"card control (EF 6FF0): secure-messaging profile {self.sm_profile} is not "
                f"one of {sorted(PROFILES)}"
            )
        if len(self.fingers) != 2 or any(not 1 <= int(f) <= 10 for f in self.fingers):
            raise FormatError("card control (EF 6FF0): two finger positions 1..10 expected")
        object.__setattr__(self, "fingers", tuple(int(f) for f in self.fingers))
        if not re.fullmatch(r"\d{8}", self.issue_date) or not re.fullmatch(r"\d{4}", self.regency):
            raise FormatError("card control (EF 6FF0): issue date YYYYMMDD and 4-digit regency")
        if self.version != 1:
            raise FormatError(f"card control (EF 6FF0): version {self.version}, expected 1")

    def to_bytes(self) -> bytes:
        """The EF 6FF0 content."""
        return (
            tlv.encode(0x80, bytes([self.version]))
            + tlv.encode(0x81, bytes([self.sm_profile]))
            + tlv.encode(0x82, bytes(self.fingers))
            + tlv.encode(0x83, self.issue_date.encode())
            + tlv.encode(0x84, self.regency.encode())
        )


def decode_control(data: bytes) -> CardControl:
    """Parse EF 6FF0."""
    record = "card control (EF 6FF0)"
    objects = tlv.decode_all(data, record)
    version = tlv.find(objects, 0x80, record)
    profile = tlv.find(objects, 0x81, record)
    fingers = tlv.find(objects, 0x82, record)
    if len(version) != 1 or len(profile) != 1 or len(fingers) != 2:
        raise FormatError(f"{record}: version and profile 1 byte, finger positions 2 bytes")
    try:
        date = tlv.find(objects, 0x83, record).decode("ascii")
        regency = tlv.find(objects, 0x84, record).decode("ascii")
    except UnicodeDecodeError:
        raise FormatError(f"{record}: issue date and regency must be ASCII digits") from None
    return CardControl(profile[0], (fingers[0], fingers[1]), date, regency, version[0])


def encode_signature(image: Image.Image | np.ndarray) -> bytes:
    """Pack a signature (any image; dark = ink) into 168 x 44, 1 bit per pixel.

    Examples
    --------
    >>> ink = np.zeros((44, 168), bool); ink[20, :] = True
    >>> data = encode_signature(ink)
    >>> len(data), bool((decode_signature(data) == ink).all())
    (924, True)
    """
    if isinstance(image, np.ndarray) and image.dtype == bool:
        if image.shape != (SIGNATURE_HEIGHT, SIGNATURE_WIDTH):
            raise ValueError(f"signature must be {SIGNATURE_HEIGHT}x{SIGNATURE_WIDTH}")
        ink = image
    else:
        pil = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image))
        grey = pil.convert("L").resize((SIGNATURE_WIDTH, SIGNATURE_HEIGHT))
        ink = np.asarray(grey) < 128
    return np.packbits(ink, axis=1).tobytes()


def decode_signature(data: bytes) -> np.ndarray:
    """Unpack EF 6FF3 into a (44, 168) boolean array (True = ink)."""
    expected = SIGNATURE_WIDTH * SIGNATURE_HEIGHT // 8
    if not isinstance(data, bytes | bytearray | memoryview) or len(data) != expected:
        got = len(data) if isinstance(data, bytes | bytearray | memoryview) else type(data)
        raise FormatError(f"signature (EF 6FF3): {expected} bytes expected, got {got}")
    packed = np.frombuffer(bytes(data), np.uint8).reshape(SIGNATURE_HEIGHT, SIGNATURE_WIDTH // 8)
    return np.unpackbits(packed, axis=1).astype(bool)


def decode_photo(data: bytes) -> Image.Image:
    """Decode EF 6FF2 (JPEG) fully; FormatError when it is not a readable JPEG."""
    if not isinstance(data, bytes | bytearray | memoryview) or bytes(data[:3]) != b"\xff\xd8\xff":
        raise FormatError("photo (EF 6FF2): JPEG start marker FF D8 FF expected")
    try:
        with Image.open(io.BytesIO(bytes(data))) as im:
            if im.format != "JPEG" or im.width * im.height > 4_000_000:
                raise FormatError("photo (EF 6FF2): a JPEG of at most 4 megapixels expected")
            im.load()
            return im.copy()
    except FormatError:
        raise
    except Exception as exc:  # Pillow raises many kinds on corrupt data
        raise FormatError(f"photo (EF 6FF2): unreadable JPEG ({exc})") from None


def encode_finger(template: Template, max_minutiae: int = 60) -> bytes:
    """EF 6FF4/6FF5 content: BIT with the finger position, then the compact-card 7F2E."""
    if template.finger_position == FingerPosition.UNKNOWN:
        raise ValueError("the chip template needs a finger position")
    bit = iso19794_2_card.BiometricInformationTemplate(
        finger_position=template.finger_position, max_minutiae=max_minutiae
    )
    return bit.to_bytes() + iso19794_2_card.encode(template, max_minutiae=max_minutiae)


def decode_finger(data: bytes, ef: int) -> Template:
    """Parse EF 6FF4/6FF5 into a template carrying its finger position."""
    record = f"fingerprint (EF {ef:04X})"
    objects = tlv.decode_all(data, record)
    if [t for t, _ in objects] != [0x7F60, 0x7F2E]:
        raise FormatError(f"{record}: a 7F60 biometric information template then 7F2E expected")
    bit = iso19794_2_card.decode_bit(tlv.encode(0x7F60, objects[0][1]))
    if bit.finger_position == FingerPosition.UNKNOWN:
        raise FormatError(f"{record}: the biometric information template names no finger")
    return iso19794_2_card.decode(
        tlv.encode(0x7F2E, objects[1][1]), compact=True, finger_position=bit.finger_position
    )
