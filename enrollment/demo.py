"""``afis-enrollment demo``: a synthetic enrolment day at the data centre, end to end.

A seeded synthetic population (:class:`afis.synth.Population`, ten fingers a person) is
enrolled with made-up demographics and valid NIKs; a share of the people enrol a second time
under another identity with fresh impressions (the duplicates the centre must find), and a
few records carry a NIK whose sex digit contradicts the sex field (the checks must send them
back for validation). The records go into a SQLite file, through the centre's checks and the
de-duplication job; the report compares what was planted with what was found.

Examples
--------
>>> records, truth = synthetic_records(DemoOptions(people=20, duplicate_share=0.1, mismatches=1,
...                                                seed=3))
>>> len(records), len(truth.duplicate_pairs), len(truth.mismatches)
(22, 2, 1)
>>> records[0][0].nik[:6] in REGIONS
True
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from enrollment.checks import run_checks
from enrollment.dedup import DedupOptions, DedupSummary, run_dedup
from enrollment.status import Status
from enrollment.store import Citizenship, Issuance, Person, Sample, SampleState, Store

__all__ = ["DemoOptions", "DemoReport", "DemoTruth", "run_demo", "synthetic_records"]

#: Registration regions of the synthetic records (province, regency/city, district).
REGIONS = ("317101", "327301", "337401", "351501", "647101", "737101", "110101", "510301")
PLACES = ("JAKARTA", "BANDUNG", "SEMARANG", "SURABAYA", "BALIKPAPAN", "MAKASSAR", "BANDA ACEH")


@dataclass(frozen=True)
class DemoOptions:
    """Size and make-up of the synthetic population.

    Examples
    --------
    >>> DemoOptions().people
    5000
    >>> DemoOptions(people=0)
    Traceback (most recent call last):
    ...
    ValueError: people must lie in 1..10000000, got 0
    """

    people: int = 5000
    duplicate_share: float = 0.01
    mismatches: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        for name, lo, hi in (("people", 1, 10_000_000), ("mismatches", 0, 10_000_000)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
            if not lo <= value <= hi:
                raise ValueError(f"{name} must lie in {lo}..{hi}, got {value}")
        if not 0 <= self.duplicate_share <= 0.5:
            raise ValueError(f"duplicate_share must lie in [0, 0.5], got {self.duplicate_share}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {self.seed!r}")


@dataclass(frozen=True)
class DemoTruth:
    """What was planted, by position in the enrolment order."""

    duplicate_pairs: tuple[tuple[int, int], ...]  # (first enrolment, second enrolment)
    mismatches: tuple[int, ...]


def _nik(region: str, dob: datetime.date, female: bool, serial: int) -> str:
    day = dob.day + (40 if female else 0)
    return f"{region}{day:02d}{dob.month:02d}{dob.year % 100:02d}{serial:04d}"


def _identity(rng: np.random.Generator, serials: dict[str, int]) -> Person:
    region = REGIONS[int(rng.integers(len(REGIONS)))]
    female = bool(rng.integers(2))
    dob = datetime.date(1950, 1, 1) + datetime.timedelta(days=int(rng.integers(0, 21_000)))
    stem = _nik(region, dob, female, 0)[:12]
    serials[stem] = serials.get(stem, 0) + 1
    draw = rng.random()
    issuance = (
        Issuance.MASS if draw < 0.7 else Issuance.REGULAR if draw < 0.95 else Issuance.HOME_VISIT
    )
    citizenship = Citizenship.FOREIGN_RESIDENT if rng.random() < 0.005 else Citizenship.CITIZEN
    return Person(
        nik=_nik(region, dob, female, serials[stem]),
        name=f"PENDUDUK {int(rng.integers(10**9)):09d}",
        sex="F" if female else "M",
        date_of_birth=dob,
        place_of_birth=PLACES[int(rng.integers(len(PLACES)))],
        region=region,
        issuance=issuance,
        citizenship=citizenship,
        family_card=f"{region}{int(rng.integers(10**10)):010d}",
    )


def synthetic_records(
    options: DemoOptions,
) -> tuple[list[tuple[Person, list[Sample]]], DemoTruth]:
    """The demo's records in enrolment order, and what was planted among them."""
    from afis.synth import Population

    rng = np.random.default_rng(options.seed)
    population = Population(options.seed)
    people = options.people
    repeat = round(people * options.duplicate_share)
    twice = np.sort(rng.choice(people, size=repeat, replace=False)) if repeat else np.zeros(0, int)
    # enrolment order: everyone once (impression 0), the repeaters again (impression 1)
    order = [(int(p), 0) for p in range(people)] + [(int(p), 1) for p in twice]
    rng.shuffle(order)
    serials: dict[str, int] = {}
    repeaters = set(twice.tolist())
    candidates = [n for n, (p, _) in enumerate(order) if p not in repeaters]
    count = min(options.mismatches, len(candidates))
    mismatched = set(rng.choice(candidates, size=count, replace=False).tolist()) if count else set()
    first_seen: dict[int, int] = {}
    pairs = []
    out: list[tuple[Person, list[Sample]]] = []
    ids = np.asarray([p * 10 + f for p, _ in order for f in range(10)], np.int64)
    impressions = np.repeat(np.asarray([i for _, i in order], np.int64), 10)
    batch = population.impressions(ids, impressions)
    for n, (person_index, _) in enumerate(order):
        person = _identity(rng, serials)
        if n in mismatched:
            person = Person(**{**person.__dict__, "sex": "M" if person.sex == "F" else "F"})
        fingers = []
        for f in range(10):
            template = batch.template(n * 10 + f)
            fingers.append(
                Sample(
                    position=template.finger_position,
                    state=SampleState.CAPTURED,
                    template=template.to_bytes(),
                    quality=int(template.image_quality),
                    image_ref=f"synthetic://{options.seed}/{person_index}/{f + 1}",
                )
            )
        out.append((person, fingers))
        if person_index in first_seen:
            pairs.append((first_seen[person_index], n))
        else:
            first_seen[person_index] = n
    return out, DemoTruth(tuple(pairs), tuple(sorted(mismatched)))


@dataclass
class DemoReport:
    """Figures of one demo run."""

    people: int
    records: int
    planted_duplicates: int
    found_duplicates: int
    planted_mismatches: int
    found_mismatches: int
    unique_flagged: int
    unique_people: int
    status_counts: dict[str, int]
    seconds: dict[str, float] = field(default_factory=dict)
    dedup: DedupSummary | None = None

    @property
    def throughput(self) -> float:
        """Records per second from enrolment to the end of the de-duplication."""
        busy = sum(v for k, v in self.seconds.items() if k != "synthesis")
        return self.records / busy if busy > 0 else 0.0

    def lines(self) -> list[str]:
        """The report as text."""
        out = [
            f"people {self.people}, records {self.records}",
            f"planted duplicates {self.planted_duplicates}: found"
            f" {self.found_duplicates} (DUPLICATE_RECORD or ADJUDICATE_RECORD)",
            f"unique people flagged {self.unique_flagged} of {self.unique_people}",
            f"planted NIK/sex mismatches {self.planted_mismatches}: found"
            f" {self.found_mismatches} (REQUEST_VALIDATION)",
            "status counts:",
        ]
        out += [f"  {name:<28} {n}" for name, n in sorted(self.status_counts.items())]
        out.append(
            "time: "
            + ", ".join(f"{k} {v:.1f} s" for k, v in self.seconds.items())
            + f"; throughput {self.throughput:.1f} records/s (enrolment to decision)"
        )
        return out


def run_demo(
    db: str | Path,
    work_dir: str | Path,
    options: DemoOptions | None = None,
    dedup: DedupOptions | None = None,
    *,
    client: Any = None,
    threads: int | None = None,
    processes: int = 1,
    progress: bool = False,
) -> DemoReport:
    """Make the population, enrol it into the store at ``db``, check and de-duplicate it."""
    options = options or DemoOptions()
    seconds: dict[str, float] = {}
    t = time.perf_counter()
    items, truth = synthetic_records(options)
    seconds["synthesis"] = time.perf_counter() - t
    t = time.perf_counter()
    store = Store(db)
    ids = store.add_records(items, actor="demo-region", batch=f"demo-{options.seed}")
    seconds["enrolment"] = time.perf_counter() - t
    t = time.perf_counter()
    run_checks(store)
    seconds["checks"] = time.perf_counter() - t
    t = time.perf_counter()
    summary = run_dedup(
        store,
        work_dir,
        dedup,
        client=client,
        threads=threads,
        processes=processes,
        progress=progress,
    )
    seconds["dedup"] = time.perf_counter() - t
    statuses = store.statuses()
    flagged = {Status.DUPLICATE_RECORD, Status.ADJUDICATE_RECORD}
    found = sum(statuses[ids[later]] in flagged for _, later in truth.duplicate_pairs)
    in_pairs = {n for pair in truth.duplicate_pairs for n in pair}
    unique = [n for n in range(len(ids)) if n not in in_pairs and n not in truth.mismatches]
    unique_flagged = sum(statuses[ids[n]] in flagged for n in unique)
    mismatches = sum(statuses[ids[n]] == Status.REQUEST_VALIDATION for n in truth.mismatches)
    counts = {s.value: n for s, n in store.status_counts().items()}
    store.close()
    return DemoReport(
        people=options.people,
        records=len(ids),
        planted_duplicates=len(truth.duplicate_pairs),
        found_duplicates=found,
        planted_mismatches=len(truth.mismatches),
        found_mismatches=mismatches,
        unique_flagged=unique_flagged,
        unique_people=len(unique),
        status_counts=counts,
        seconds=seconds,
        dedup=summary,
    )
