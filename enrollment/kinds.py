"""Kinds of an enrolment record shared by the service point and the data centre: how it was
captured and the holder's citizenship. Kept apart from :mod:`enrollment.store` so that an
enrolment station embedding :mod:`enrollment.capture` loads no SQL toolkit.

Examples
--------
>>> Issuance("home_visit") is Issuance.HOME_VISIT
True
>>> sorted(c.value for c in Citizenship)
['citizen', 'foreign_resident']
"""

from __future__ import annotations

import enum

__all__ = ["Citizenship", "Issuance"]


class Issuance(str, enum.Enum):
    """How the record was captured."""

    MASS = "mass"
    REGULAR = "regular"
    HOME_VISIT = "home_visit"


class Citizenship(str, enum.Enum):
    """Citizen or foreign resident (both hold an e-KTP)."""

    CITIZEN = "citizen"
    FOREIGN_RESIDENT = "foreign_resident"
