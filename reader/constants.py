"""Every fixed number of the card-reader layer, in one place.

File identifiers and sizes of the card profile, instruction codes of the card and of the
SAM, vpcd ports, limits that keep hostile input bounded.

Examples
--------
>>> from reader import constants as c
>>> f"{c.DF_EKTP:04X} {c.EF_BIODATA:04X}"
'7F0A 6FF1'
"""

from __future__ import annotations

__all__ = [
    "AUTH_CRYPTOGRAM_LENGTH",
    "BIODATA_FIELDS",
    "BIODATA_MAX_FIELD",
    "BIODATA_SEPARATOR",
    "CARD_CAPACITY",
    "CARD_FAR_RANGE",
    "CARD_HISTORICAL",
    "CHALLENGE_LENGTH",
    "DEFAULT_CARD_FAR",
    "DEFAULT_FMR",
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_POLICY",
    "DF_EKTP",
    "EFS",
    "EF_BIODATA",
    "EF_CONTROL",
    "EF_FINGER_1",
    "EF_FINGER_2",
    "EF_PHOTO",
    "EF_SECURITY_OBJECT",
    "EF_SIGNATURE",
    "MAC_LENGTH",
    "MAX_EF_SIZE",
    "MAX_SECURITY_OBJECT",
    "MIN_LIVE_MINUTIAE",
    "MIN_LIVE_QUALITY",
    "PIN_TRIES",
    "PLAIN_READABLE",
    "POLICIES",
    "READ_CHUNK_PLAIN",
    "READ_CHUNK_SM",
    "SAM_HISTORICAL",
    "SHORT_RESPONSE",
    "SIGNATURE_HEIGHT",
    "SIGNATURE_WIDTH",
    "SO_BLOCK",
    "VPCD_PORT_CARD",
    "VPCD_PORT_SAM",
]

# --- the card profile (DF 7F0A), modelled on the public shape of e-KTP ---
DF_EKTP = 0x7F0A
EF_CONTROL = 0x6FF0  #: card control data (plain readable)
EF_BIODATA = 0x6FF1  #: 21 ASCII fields
EF_PHOTO = 0x6FF2  #: face photo, JPEG (plain readable)
EF_SIGNATURE = 0x6FF3  #: 168 x 44, 1 bit per pixel
EF_FINGER_1 = 0x6FF4  #: first fingerprint template (ISO/IEC 19794-2 compact card)
EF_FINGER_2 = 0x6FF5  #: second fingerprint template
EF_SECURITY_OBJECT = 0x6FF6  #: SHA-256 of every EF, ECDSA P-256 signature
EFS = (
    EF_CONTROL,
    EF_BIODATA,
    EF_PHOTO,
    EF_SIGNATURE,
    EF_FINGER_1,
    EF_FINGER_2,
    EF_SECURITY_OBJECT,
)
PLAIN_READABLE = frozenset({EF_CONTROL, EF_PHOTO})  #: readable without SAM and session
CARD_CAPACITY = 8192  #: bytes of EF content the chip holds
MAX_EF_SIZE = 6144  #: largest single EF (the photo)
SIGNATURE_WIDTH = 168
SIGNATURE_HEIGHT = 44
BIODATA_FIELDS = 21

# --- transfers ---
READ_CHUNK_PLAIN = 0xF0  #: bytes per plain READ BINARY
READ_CHUNK_SM = 0xD0  #: bytes per protected READ BINARY (fits a short response once wrapped)
CHALLENGE_LENGTH = 8
AUTH_CRYPTOGRAM_LENGTH = 40  #: 32 bytes encrypted + 8 bytes MAC

BIODATA_SEPARATOR = '","'  #: what joins the biodata fields
BIODATA_MAX_FIELD = 128  #: characters a biodata field may have
MAC_LENGTH = 8  #: bytes of a secure-messaging MAC (DO 8E)
SHORT_RESPONSE = 256 + 2  #: the longest response a short APDU may bring (data and SW)

# --- the SAM ---
PIN_TRIES = 3
SO_BLOCK = 240  #: security-object bytes per chained VERIFY SECURITY OBJECT command
MAX_SECURITY_OBJECT = 4096  #: largest security object the SAM accepts

# --- verification ---
MIN_LIVE_MINUTIAE = 8  #: a live capture with fewer minutiae is not a usable fingerprint
MIN_LIVE_QUALITY = 30  #: nor one below this image quality (0..100)
DEFAULT_FMR = 1e-4  #: false match rate of each finger's threshold (policies "both", "either")
#: Policies of the pick-up decision: the chip fingers' evidence fused into one decision
#: ("fused"), every finger over its threshold ("both"), or any one finger ("either").
POLICIES = ("fused", "both", "either")
DEFAULT_POLICY = "fused"
#: False acceptance rate per card and attempt of the fused decision: the rate of "both" at
#: DEFAULT_FMR for two independent fingers (1e-4 squared), so the default is as safe as the
#: two separate thresholds it replaces.
DEFAULT_CARD_FAR = 1e-8
CARD_FAR_RANGE = (1e-12, 1e-2)  #: card FAR targets accepted
DEFAULT_MAX_ATTEMPTS = 4  #: captures before "gagal"

# --- answers to reset (pseudo-ATR shape: TS T0 TD1 TD2 historical TCK, T=1) ---
CARD_HISTORICAL = b"EKTP-EMU"  #: historical bytes of the emulated card's ATR
SAM_HISTORICAL = b"EKTP-SAM"  #: historical bytes of the emulated SAM's ATR

# --- vsmartcard vpcd (first DEVICENAME: slot 0 on 0x8C7B, slot 1 on 0x8C7C) ---
VPCD_PORT_CARD = 35963
VPCD_PORT_SAM = 35964
