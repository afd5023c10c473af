"""The checks a record passes when it reaches the data centre.

In order, a record in ``RECEIVED_AT_CENTRAL`` goes to

1. ``ENROLL_FAILURE_AT_REGIONAL`` when its registration region is not a valid area code
   (six digits starting with a known province: the regional server sent it with a wrong code);
2. ``ENROLL_FAILURE_AT_CENTRAL`` when its fingerprints are unusable: fewer usable fingers
   than the options ask for (a finger is usable when captured, of image quality at or above
   the floor, with enough minutiae and a template that decodes), unless the missing fingers
   are marked missing or the person is exempt;
3. ``REQUEST_VALIDATION`` when a mandatory field is empty or the NIK contradicts the record:
   not 16 digits, digits 1-6 other than the region, digits 7-12 other than the date of birth
   as DDMMYY with 40 added to a woman's day (the check that catches "NIK says male, sex field
   says female"), serial 0000;
4. ``SENT_FOR_DEDUP`` otherwise.

Every reason is written to the status history.

Examples
--------
>>> import datetime
>>> from enrollment.store import Person
>>> siti = Person(nik="3171014501900001", name="SITI", sex="F",
...               date_of_birth=datetime.date(1990, 1, 5), place_of_birth="JAKARTA",
...               region="317101")
>>> nik_problems(siti)
[]
>>> import dataclasses
>>> nik_problems(dataclasses.replace(siti, sex="M"))
['NIK day 45 encodes a woman but the sex field says M']
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from afis.errors import TemplateError
from afis.template import Template
from enrollment import constants as C
from enrollment.status import Status
from enrollment.store import Person, Sample, SampleState, Store, _person, records

__all__ = [
    "CheckOptions",
    "CheckResult",
    "biometric_problems",
    "check_record",
    "nik_problems",
    "region_problems",
    "run_checks",
]

#: Fields a record must have (Person attribute names).
MANDATORY_FIELDS = ("nik", "name", "sex", "date_of_birth", "place_of_birth", "region")


@dataclass(frozen=True)
class CheckOptions:
    """Thresholds of the biometric check.

    Examples
    --------
    >>> CheckOptions().min_usable_fingers
    6
    >>> CheckOptions(min_usable_fingers=11)
    Traceback (most recent call last):
    ...
    ValueError: min_usable_fingers must lie in 1..10, got 11
    """

    min_usable_fingers: int = C.MIN_USABLE_FINGERS
    quality_floor: int = C.QUALITY_FLOOR
    min_minutiae: int = C.MIN_USABLE_MINUTIAE

    def __post_init__(self) -> None:
        for name, lo, hi in (
            ("min_usable_fingers", 1, 10),
            ("quality_floor", 0, 100),
            ("min_minutiae", 0, 1000),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
            if not lo <= value <= hi:
                raise ValueError(f"{name} must lie in {lo}..{hi}, got {value}")


@dataclass(frozen=True)
class CheckResult:
    """Where a record goes and why."""

    status: Status
    reasons: tuple[str, ...]

    @property
    def reason(self) -> str:
        """The reasons joined for the status history."""
        return "; ".join(self.reasons) if self.reasons else "checks passed"


def region_problems(region: str) -> list[str]:
    """Why a registration region code is invalid (empty list when it is valid).

    Examples
    --------
    >>> region_problems("317101"), region_problems("997101")
    ([], ['region code 997101 names no province'])
    """
    if len(region) != 6 or not region.isdigit():
        return [f"region code {region!r} is not six digits"]
    if int(region[:2]) not in C.PROVINCE_CODES:
        return [f"region code {region} names no province"]
    return []


def nik_problems(person: Person) -> list[str]:
    """Where the NIK contradicts the record, and which mandatory fields are empty."""
    problems = [f"{name} is empty" for name in MANDATORY_FIELDS if not getattr(person, name)]
    if person.sex and person.sex not in ("M", "F"):
        problems.append(f"sex must be M or F, got {person.sex!r}")
    nik = person.nik
    if not nik:
        return problems
    if len(nik) != 16 or not nik.isascii() or not nik.isdigit():
        problems.append(f"NIK {nik!r} is not 16 digits")
        return problems
    if person.region and nik[:6] != person.region:
        problems.append(f"NIK region {nik[:6]} differs from the record's region {person.region}")
    day, month, year = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    woman = day > 40
    if woman:
        day -= 40
    if person.sex in ("M", "F") and woman != (person.sex == "F"):
        problems.append(
            f"NIK day {nik[6:8]} encodes a {'woman' if woman else 'man'} "
            f"but the sex field says {person.sex}"
        )
    dob = person.date_of_birth
    if not (1 <= day <= 31 and 1 <= month <= 12):
        problems.append(f"NIK digits 7-12 ({nik[6:12]}) are not a date")
    elif dob is not None and (day, month, year) != (dob.day, dob.month, dob.year % 100):
        problems.append(f"NIK date {nik[6:12]} differs from the date of birth {dob.isoformat()}")
    if nik[12:] == "0000":
        problems.append("NIK serial is 0000")
    if dob is not None and dob > datetime.date.today():
        problems.append(f"date of birth {dob.isoformat()} is in the future")
    return problems


def biometric_problems(fingers: Sequence[Sample], options: CheckOptions | None = None) -> list[str]:
    """Why a record's fingerprints are unusable (empty list when they will do).

    A person exempt from fingerprinting (every sample ``EXEMPT``) passes: the search then
    has nothing to compare and the de-duplication job sends the record to a person.
    """
    options = options or CheckOptions()
    by_position = {int(s.position): s for s in fingers}
    if by_position and all(s.state == SampleState.EXEMPT for s in by_position.values()):
        return []
    usable, excused, notes = 0, 0, []
    for position in range(1, 11):
        sample = by_position.get(position)
        if sample is None:
            notes.append(f"finger {position} not captured")
            continue
        if sample.state != SampleState.CAPTURED:
            excused += 1
            continue
        assert sample.template is not None
        try:
            template = Template.from_bytes(sample.template)
        except TemplateError as exc:
            notes.append(f"finger {position}: corrupt template ({exc})")
            continue
        quality = template.image_quality if sample.quality is None else sample.quality
        if quality < options.quality_floor:
            notes.append(f"finger {position}: quality {quality} below {options.quality_floor}")
        elif len(template) < options.min_minutiae:
            notes.append(f"finger {position}: {len(template)} minutiae")
        else:
            usable += 1
    needed = min(options.min_usable_fingers, 10 - excused)
    if usable >= max(needed, 1):
        return []
    return [f"{usable} usable fingers, {max(needed, 1)} needed", *notes]


def check_record(
    person: Person, fingers: Sequence[Sample], options: CheckOptions | None = None
) -> CheckResult:
    """Judge one record (see the module docstring for the order of the checks).

    Examples
    --------
    >>> import datetime
    >>> from enrollment.store import Person
    >>> p = Person(nik="3171010501900001", name="BUDI", sex="M",
    ...            date_of_birth=datetime.date(1990, 1, 5), place_of_birth="BOGOR",
    ...            region="317101")
    >>> check_record(p, []).status.value
    'ENROLL_FAILURE_AT_CENTRAL'
    """
    regional = region_problems(person.region) if person.region else []
    if regional:
        return CheckResult(Status.ENROLL_FAILURE_AT_REGIONAL, tuple(regional))
    biometric = biometric_problems(fingers, options)
    if biometric:
        return CheckResult(Status.ENROLL_FAILURE_AT_CENTRAL, tuple(biometric))
    data = nik_problems(person)
    if data:
        return CheckResult(Status.REQUEST_VALIDATION, tuple(data))
    return CheckResult(Status.SENT_FOR_DEDUP, ())


def run_checks(
    store: Store,
    *,
    options: CheckOptions | None = None,
    actor: str = "centre-checks",
    chunk: int = 500,
) -> dict[Status, int]:
    """Check every record in ``RECEIVED_AT_CENTRAL``; returns how many went where.

    Each chunk of records is judged and moved in one transaction; a record that moved in
    the meantime is left alone (compare-and-set), so two runs never both move a record.
    """
    counts: dict[Status, int] = {}
    todo = store.records_in(Status.RECEIVED_AT_CENTRAL)
    for start in range(0, len(todo), chunk):
        ids = todo[start : start + chunk]
        with store.begin() as conn:
            rows = conn.execute(sa.select(records).where(records.c.id.in_(ids))).all()
            fingers = store.samples_of(ids, conn)
            for row in sorted(rows, key=lambda r: r.id):
                if row.status != Status.RECEIVED_AT_CENTRAL.value:
                    continue
                result = check_record(_person(row), fingers[row.id], options)
                store.transition(
                    row.id,
                    result.status,
                    actor=actor,
                    reason=result.reason,
                    expected=Status.RECEIVED_AT_CENTRAL,
                    conn=conn,
                )
                counts[result.status] = counts.get(result.status, 0) + 1
    return counts
