"""Constants of the enrolment packet (one place).

Examples
--------
>>> TYPE2_FIELDS[3], PACKET_MAGIC
('nik', b'NSPK1\\n')
"""

from __future__ import annotations

from types import MappingProxyType

__all__ = [
    "HKDF_INFO",
    "MAX_HEADER",
    "MAX_PACKET",
    "PACKET_MAGIC",
    "SLAP_FGP",
    "TRANSACTION_DESTINATION",
    "TRANSACTION_TYPE",
    "TYPE2_FIELDS",
]

#: First bytes of a sealed packet (format version 1).
PACKET_MAGIC = b"NSPK1\n"
#: HKDF ``info`` of the packet's content key (binds the key to this format).
HKDF_INFO = b"nusafis enrolment packet v1"
#: Largest sealed packet read (bytes): ten WSQ fingers, three slaps, face, hands, irises and
#: signatures are well below 4 MiB.
MAX_PACKET = 32 * 1024 * 1024
#: Largest clear header of a sealed packet (bytes).
MAX_HEADER = 4096

#: Type of transaction (1.004) and destination agency (1.007) of an enrolment.
TRANSACTION_TYPE = "EKTP-ENROL"
TRANSACTION_DESTINATION = "DUKCAPIL-PUSAT"

#: ANSI/NIST-ITL finger positions of the plain slaps (Type-14 FGP): right four, left four,
#: both thumbs.
SLAP_FGP = MappingProxyType({"right_slap": 13, "left_slap": 14, "two_thumbs": 15})

#: User-defined Type-2 fields of the demographic record (number -> resident attribute or
#: packet item), in the order of the card's biodata where they overlap.
TYPE2_FIELDS = MappingProxyType(
    {
        3: "nik",
        4: "family_card",
        5: "name",
        6: "sex",
        7: "date_of_birth",
        8: "place_of_birth",
        9: "address",
        10: "rt",
        11: "rw",
        12: "village",
        13: "village_code",
        14: "district",
        15: "regency",
        16: "province",
        17: "religion",
        18: "marital_status",
        19: "occupation",
        20: "blood_type",
        21: "citizenship",
        22: "kitap",
        30: "issuance",
        31: "call_letter",
        32: "home_visit_reason",
        33: "chip_finger_right",
        34: "chip_finger_left",
        35: "registration_id",
    }
)
