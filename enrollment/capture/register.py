"""The population register (a stand-in for SIAK) and the register of the station's staff.

:class:`PopulationRegister` answers the first question of an enrolment: may this NIK enrol
here and now? It holds :class:`Resident` rows (NIK, family card, demographics down to RT/RW
and village code); :meth:`PopulationRegister.synthetic` seeds one with made-up families, the
same for the same seed. :meth:`PopulationRegister.admit` refuses an unknown NIK, a family
card that is not the resident's, a resident under 17 who never married, and a foreign
resident whose KITAP does not match, each with its own error and reason.

:class:`OperatorRegister` holds the operators and supervisors of a station with their
enrolled fingers (templates); :meth:`OperatorRegister.authenticate` matches a presented
finger 1:1 against them, which is how an operator logs in, signs a record off, and how a
supervisor approves exceptions and the end of the day.

Examples
--------
>>> import datetime
>>> register = PopulationRegister.synthetic(50, seed=1)
>>> resident = register.residents()[0]
>>> len(resident.nik), resident.nik[:6] == resident.village_code[:6]
(16, True)
>>> admitted = register.admit(resident.nik, resident.family_card, on=datetime.date(2026, 1, 1))
>>> admitted == resident or admitted.age_on(datetime.date(2026, 1, 1)) >= 17
True
>>> register.admit("0000000000000000", "1", on=datetime.date(2026, 1, 1))
Traceback (most recent call last):
...
enrollment.capture.errors.UnknownNik: NIK 0000000000000000: not in the population register ...
"""

from __future__ import annotations

import base64
import datetime
import enum
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

import afis
from afis.atomic import atomic_write
from afis.errors import ImageError, TemplateError
from afis.image import ImageSource
from afis.template import FingerPosition, Template
from enrollment.capture import constants as C
from enrollment.capture.errors import (
    CaptureError,
    ForeignResidentRefused,
    NotAuthorised,
    UnderAge,
    UnknownNik,
    WrongFamilyCard,
)
from enrollment.kinds import Citizenship

__all__ = [
    "Authentication",
    "Operator",
    "OperatorRegister",
    "PopulationRegister",
    "Resident",
    "Role",
]

#: Registration regions of the synthetic register: code -> (province, regency/city, district).
REGIONS = MappingProxyType(
    {
        "317101": ("DKI JAKARTA", "JAKARTA SELATAN", "TEBET"),
        "327301": ("JAWA BARAT", "KOTA BANDUNG", "SUKASARI"),
        "337401": ("JAWA TENGAH", "KOTA SEMARANG", "SEMARANG TENGAH"),
        "351501": ("JAWA TIMUR", "SIDOARJO", "SIDOARJO"),
        "647101": ("KALIMANTAN TIMUR", "KOTA BALIKPAPAN", "BALIKPAPAN SELATAN"),
        "737101": ("SULAWESI SELATAN", "KOTA MAKASSAR", "MARISO"),
        "110101": ("ACEH", "ACEH SELATAN", "BAKONGAN"),
        "510301": ("BALI", "BADUNG", "KUTA SELATAN"),
    }
)
_VILLAGES = ("SUKAMAJU", "MEKARSARI", "SUKAJADI", "TANJUNG", "KEBONSARI", "SIDOREJO", "MULYA")
_GIVEN_M = ("BUDI", "AGUS", "ANDI", "WAHYU", "RUDI", "HENDRA", "DEDI", "ARIF", "YUSUF", "IWAN")
_GIVEN_F = ("SITI", "DEWI", "RINA", "SRI", "PUTRI", "NUR", "AYU", "INDAH", "WULAN", "FITRI")
_FAMILY = ("SANTOSO", "WIJAYA", "HIDAYAT", "SAPUTRA", "KURNIAWAN", "LESTARI", "PRATAMA", "SARI")
_STREETS = ("JL. MERDEKA", "JL. SUDIRMAN", "JL. PAHLAWAN", "JL. MAWAR", "GG. MELATI")
#: The six religions of the register, with shares close to the 2020 census.
_RELIGIONS = (
    ("ISLAM", 0.87),
    ("KRISTEN", 0.07),
    ("KATOLIK", 0.03),
    ("HINDU", 0.017),
    ("BUDDHA", 0.01),
    ("KHONGHUCU", 0.003),
)
_OCCUPATIONS = (
    "BELUM/TIDAK BEKERJA",
    "PELAJAR/MAHASISWA",
    "MENGURUS RUMAH TANGGA",
    "KARYAWAN SWASTA",
    "WIRASWASTA",
    "PETANI/PEKEBUN",
    "NELAYAN/PERIKANAN",
    "PEGAWAI NEGERI SIPIL",
)
_BLOOD = ("A", "B", "AB", "O", "-")
#: Marital statuses of the register; a resident who ever married may enrol before 17.
MARITAL_STATUSES = ("BELUM KAWIN", "KAWIN", "CERAI HIDUP", "CERAI MATI")


def _digits(value: Any, name: str, length: int) -> str:
    if not isinstance(value, str) or len(value) != length or not value.isdigit():
        raise CaptureError(f"{name} must be {length} digits, got {value!r}")
    return value


@dataclass(frozen=True)
class Resident:
    """One person of the population register, as SIAK knows them.

    Examples
    --------
    >>> import datetime
    >>> r = Resident(nik="3171014501050001", family_card="3171010000000001", name="SITI",
    ...              sex="F", date_of_birth=datetime.date(2005, 1, 5), place_of_birth="JAKARTA",
    ...              address="JL. MAWAR 1", rt="001", rw="002", village="TEBET BARAT",
    ...              village_code="3171011001", district="TEBET", regency="JAKARTA SELATAN",
    ...              province="DKI JAKARTA", religion="ISLAM", marital_status="BELUM KAWIN",
    ...              occupation="PELAJAR/MAHASISWA", blood_type="O")
    >>> r.age_on(datetime.date(2022, 1, 4)), r.age_on(datetime.date(2022, 1, 5))
    (16, 17)
    """

    nik: str
    family_card: str
    name: str
    sex: str
    date_of_birth: datetime.date
    place_of_birth: str
    address: str
    rt: str
    rw: str
    village: str
    village_code: str
    district: str
    regency: str
    province: str
    religion: str
    marital_status: str
    occupation: str
    blood_type: str
    citizenship: Citizenship = Citizenship.CITIZEN
    kitap: str = ""

    def __post_init__(self) -> None:
        _digits(self.nik, "nik", 16)
        _digits(self.family_card, "family_card", 16)
        _digits(self.rt, "rt", 3)
        _digits(self.rw, "rw", 3)
        _digits(self.village_code, "village_code", 10)
        if self.sex not in ("M", "F"):
            raise CaptureError(f"sex must be 'M' or 'F', got {self.sex!r}")
        if not isinstance(self.date_of_birth, datetime.date):
            raise CaptureError("date_of_birth must be a datetime.date")
        if self.marital_status not in MARITAL_STATUSES:
            raise CaptureError(f"marital_status must be one of {MARITAL_STATUSES}")
        object.__setattr__(self, "citizenship", Citizenship(self.citizenship))
        foreign = self.citizenship == Citizenship.FOREIGN_RESIDENT
        if foreign != bool(self.kitap):
            raise CaptureError("a foreign resident has a KITAP number, a citizen has none")

    @property
    def region(self) -> str:
        """The six-digit region of registration (province, regency/city, district)."""
        return self.village_code[:6]

    def age_on(self, day: datetime.date) -> int:
        """Whole years of age on ``day``."""
        born = self.date_of_birth
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))

    def to_dict(self) -> dict[str, str]:
        """The resident as plain strings (JSON; the card's and the packet's fields)."""
        out = {name: getattr(self, name) for name in self.__dataclass_fields__}
        out["date_of_birth"] = self.date_of_birth.isoformat()
        out["citizenship"] = self.citizenship.value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Resident:
        """The inverse of :meth:`to_dict`."""
        try:
            values = dict(data)
            values["date_of_birth"] = datetime.date.fromisoformat(values["date_of_birth"])
            return cls(**values)
        except (KeyError, TypeError, ValueError) as exc:
            raise CaptureError(f"not a resident record: {exc}") from exc


class PopulationRegister:
    """The residents of the register by NIK (a SIAK stand-in).

    Parameters
    ----------
    residents : iterable of Resident
        NIKs must be unique.
    """

    def __init__(self, residents: Iterable[Resident]) -> None:
        self._by_nik: dict[str, Resident] = {}
        for resident in residents:
            if resident.nik in self._by_nik:
                raise CaptureError(f"NIK {resident.nik} appears twice in the register")
            self._by_nik[resident.nik] = resident

    def __len__(self) -> int:
        return len(self._by_nik)

    def residents(self) -> list[Resident]:
        """Every resident, in NIK order."""
        return [self._by_nik[nik] for nik in sorted(self._by_nik)]

    def get(self, nik: str) -> Resident:
        """The resident with this NIK; :class:`UnknownNik` when there is none."""
        resident = self._by_nik.get(nik) if isinstance(nik, str) else None
        if resident is None:
            raise UnknownNik(str(nik))
        return resident

    def admit(self, nik: str, family_card: str, *, on: datetime.date, kitap: str = "") -> Resident:
        """The resident, if they may start an enrolment on ``on``.

        Raises
        ------
        UnknownNik, WrongFamilyCard, UnderAge, ForeignResidentRefused
            With the reason in the message.
        """
        resident = self.get(nik)
        if family_card != resident.family_card:
            raise WrongFamilyCard(nik, str(family_card))
        age = resident.age_on(on)
        if age < C.ADULT_AGE and resident.marital_status == "BELUM KAWIN":
            raise UnderAge(nik, age)
        if resident.citizenship == Citizenship.FOREIGN_RESIDENT:
            if kitap != resident.kitap:
                raise ForeignResidentRefused(
                    nik, f"foreign resident: KITAP {kitap!r} is not the one in the register"
                )
        elif kitap:
            raise ForeignResidentRefused(nik, "a citizen has no KITAP; leave it empty")
        return resident

    @classmethod
    def synthetic(
        cls, size: int, seed: int, *, reference: datetime.date = datetime.date(2026, 1, 1)
    ) -> PopulationRegister:
        """A register of ``size`` made-up residents in families, the same for the same seed.

        Birth dates run from 1940 to five years before ``reference``, so some residents are
        too young to enrol; about 1 % are foreign residents with a KITAP.
        """
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 10_000_000:
            raise ValueError(f"size must be an int in 1..10000000, got {size!r}")
        rng = np.random.default_rng(seed)
        codes = list(REGIONS)
        religions = [r for r, _ in _RELIGIONS]
        shares = np.array([s for _, s in _RELIGIONS])
        shares /= shares.sum()
        first = datetime.date(1940, 1, 1).toordinal()
        last = (reference - datetime.timedelta(days=5 * 365)).toordinal()
        residents: list[Resident] = []
        serials: dict[str, int] = {}
        family_serial = 0
        while len(residents) < size:
            region = codes[int(rng.integers(len(codes)))]
            province, regency, district = REGIONS[region]
            village_number = int(rng.integers(len(_VILLAGES)))
            village_code = f"{region}{2001 + village_number:04d}"
            family_serial += 1
            family_card = f"{region}{int(rng.integers(1, 32)):02d}{family_serial:08d}"
            address = (
                f"{_STREETS[int(rng.integers(len(_STREETS)))]} NO. {int(rng.integers(1, 200))}"
            )
            rt, rw = f"{int(rng.integers(1, 20)):03d}", f"{int(rng.integers(1, 12)):03d}"
            surname = _FAMILY[int(rng.integers(len(_FAMILY)))]
            foreign = bool(rng.random() < 0.01)
            for _ in range(int(rng.integers(1, 6))):
                if len(residents) >= size:
                    break
                female = bool(rng.integers(2))
                born = datetime.date.fromordinal(int(rng.integers(first, last + 1)))
                day = born.day + (40 if female else 0)
                stem = f"{region}{day:02d}{born.month:02d}{born.year % 100:02d}"
                serials[stem] = serials.get(stem, 0) + 1
                age = reference.year - born.year
                given = (_GIVEN_F if female else _GIVEN_M)[int(rng.integers(10))]
                married = age >= 20 and rng.random() < 0.7
                residents.append(
                    Resident(
                        nik=f"{stem}{serials[stem]:04d}",
                        family_card=family_card,
                        name=f"{given} {surname}",
                        sex="F" if female else "M",
                        date_of_birth=born,
                        place_of_birth=regency.removeprefix("KOTA "),
                        address=address,
                        rt=rt,
                        rw=rw,
                        village=_VILLAGES[village_number],
                        village_code=village_code,
                        district=district,
                        regency=regency,
                        province=province,
                        religion=religions[int(rng.choice(len(religions), p=shares))],
                        marital_status="KAWIN" if married else "BELUM KAWIN",
                        occupation=(
                            "PELAJAR/MAHASISWA"
                            if age < 20
                            else _OCCUPATIONS[int(rng.integers(len(_OCCUPATIONS)))]
                        ),
                        blood_type=_BLOOD[int(rng.integers(len(_BLOOD)))],
                        citizenship=(
                            Citizenship.FOREIGN_RESIDENT if foreign else Citizenship.CITIZEN
                        ),
                        kitap=f"2C{int(rng.integers(10**9)):09d}" if foreign else "",
                    )
                )
        return cls(residents)


class Role(str, enum.Enum):
    """What a member of the station's staff may do (a supervisor may also operate)."""

    OPERATOR = "operator"
    SUPERVISOR = "supervisor"


@dataclass(frozen=True)
class Operator:
    """A member of the station's staff with their enrolled fingers (template bytes)."""

    operator_id: str
    name: str
    role: Role
    fingers: Mapping[FingerPosition, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.operator_id, str) or not self.operator_id.strip():
            raise CaptureError("an operator needs a non-empty operator_id")
        object.__setattr__(self, "role", Role(self.role))
        fingers = {FingerPosition(int(p)): bytes(t) for p, t in self.fingers.items()}
        if not fingers:
            raise CaptureError(f"operator {self.operator_id} has no enrolled finger")
        for position, data in fingers.items():
            try:
                Template.from_bytes(data)
            except TemplateError as exc:
                raise CaptureError(f"operator {self.operator_id}, {position.name}: {exc}") from exc
        object.__setattr__(self, "fingers", MappingProxyType(fingers))


@dataclass(frozen=True)
class Authentication:
    """A successful finger authentication of a staff member."""

    operator_id: str
    role: Role
    position: FingerPosition
    score: float
    at: datetime.datetime


class OperatorRegister:
    """The staff of a station; fingers matched 1:1 at :data:`~.constants.VERIFY_FMR`.

    Examples
    --------
    >>> import datetime, numpy as np
    >>> from enrollment.capture.synthetic import render_finger
    >>> staff = OperatorRegister()
    >>> staff.enrol("op-1", "ANA", Role.OPERATOR, {2: render_finger(11, 0)})
    >>> at = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    >>> staff.authenticate("op-1", render_finger(11, 1), at=at).position.name
    'RIGHT_INDEX'
    >>> staff.authenticate("op-1", render_finger(12, 1), at=at)
    Traceback (most recent call last):
    ...
    enrollment.capture.errors.NotAuthorised: op-1: the finger presented does not match ...
    """

    def __init__(self, operators: Iterable[Operator] = ()) -> None:
        self._operators: dict[str, Operator] = {}
        for operator in operators:
            self.add(operator)

    def add(self, operator: Operator) -> None:
        """Add a staff member (ids are unique)."""
        if operator.operator_id in self._operators:
            raise CaptureError(f"operator {operator.operator_id} is already registered")
        self._operators[operator.operator_id] = operator

    def enrol(
        self,
        operator_id: str,
        name: str,
        role: Role | str,
        images: Mapping[FingerPosition | int, ImageSource],
    ) -> None:
        """Add a staff member from finger images (extracted here)."""
        fingers = {}
        for position, image in images.items():
            try:
                template = afis.extract(image, finger_position=int(position))
            except ImageError as exc:
                raise CaptureError(f"operator {operator_id}, finger {position}: {exc}") from exc
            fingers[FingerPosition(int(position))] = template.to_bytes()
        self.add(Operator(operator_id, name, Role(role), fingers))

    def get(self, operator_id: str) -> Operator:
        """The staff member; :class:`NotAuthorised` for an unknown id."""
        operator = self._operators.get(operator_id)
        if operator is None:
            raise NotAuthorised(f"{operator_id}: not in the station's operator register")
        return operator

    def authenticate(
        self,
        operator_id: str,
        image: ImageSource,
        *,
        at: datetime.datetime,
        role: Role | None = None,
    ) -> Authentication:
        """Match a presented finger against the staff member's enrolled fingers.

        Parameters
        ----------
        role : Role, optional
            The role the act needs (a supervisor may act as an operator, not the reverse).

        Raises
        ------
        NotAuthorised
            Unknown id, the wrong role, an unreadable image, or no enrolled finger matched.
        """
        operator = self.get(operator_id)
        if role == Role.SUPERVISOR and operator.role != Role.SUPERVISOR:
            raise NotAuthorised(f"{operator_id}: a supervisor is needed, this is an operator")
        try:
            probe = afis.extract(image)
        except ImageError as exc:
            raise NotAuthorised(f"{operator_id}: the finger image is unusable: {exc}") from exc
        threshold = afis.threshold_for_fmr(C.VERIFY_FMR)
        scores = {
            position: afis.compare(probe, Template.from_bytes(data))
            for position, data in operator.fingers.items()
        }
        position = max(scores, key=lambda p: scores[p])
        if scores[position] < threshold:
            raise NotAuthorised(
                f"{operator_id}: the finger presented does not match an enrolled finger "
                f"(best score {scores[position]:.3f}, {threshold:.3f} needed)"
            )
        return Authentication(operator_id, operator.role, position, scores[position], at)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the register as JSON, atomically."""
        rows = [
            {
                "operator_id": o.operator_id,
                "name": o.name,
                "role": o.role.value,
                "fingers": {
                    str(int(p)): base64.b64encode(t).decode() for p, t in o.fingers.items()
                },
            }
            for o in self._operators.values()
        ]
        return atomic_write(path, json.dumps({"operators": rows}, indent=1).encode())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> OperatorRegister:
        """Read a register written by :meth:`save`; a damaged file is refused by name."""
        try:
            rows = json.loads(Path(path).read_bytes())["operators"]
            return cls(
                Operator(
                    row["operator_id"],
                    row["name"],
                    Role(row["role"]),
                    {int(p): base64.b64decode(t, validate=True) for p, t in row["fingers"].items()},
                )
                for row in rows
            )
        except (OSError, KeyError, TypeError, ValueError) as exc:
            raise CaptureError(f"{path}: not a readable operator register ({exc})") from exc
