"""``afis-enrollment demo``: a synthetic enrolment day at the data centre, end to end.

A seeded synthetic population (:class:`afis.synth.Population`, ten fingers a person) is
enrolled with made-up demographics and valid NIKs; a share of the people enrol a second time
under another identity with fresh impressions (the duplicates the centre must find), and a
few records carry a NIK whose sex digit contradicts the sex field (the checks must send them
back for validation). Every record then goes the way of a station's: a capture record
(:func:`enrollment.synthetic_packets.minutiae_record`: the person's NIK and demographics,
the ten fingers as their :mod:`afis.synth` minutiae, the face, irises, signatures, staff and
review of one session captured on synthetic devices), its packet built, signed with the
station's key and sealed to the centre's (ANSI/NIST-ITL with Type-9 minutiae, ECDSA P-256,
ECDH + HKDF + AES-256-GCM) by ``stations`` worker processes, written to the station's
outbox folder and POSTed in enrolment order to the centre's receiving endpoint
(:mod:`enrollment.receiver`, waitress on 127.0.0.1, as a station's outbox delivers), which
checks and receipts it; the centre ingests the receipts into its SQLite file (templates
from the packets' minutiae: the population has no images), runs its checks and the
de-duplication job, and the report compares what was planted with what was found.

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
import logging
import multiprocessing
import pickle
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

from enrollment import constants as C
from enrollment.capture import Resident
from enrollment.checks import run_checks
from enrollment.dedup import DedupOptions, DedupSummary, run_dedup
from enrollment.outbox import _post
from enrollment.packet.keys import new_key, read_private_key, write_private_key
from enrollment.receiver import Receiver, StationRegister, serving
from enrollment.status import Status
from enrollment.store import (
    Citizenship,
    Issuance,
    Person,
    Sample,
    SampleState,
    Store,
    packet_receipts,
)
from enrollment.synthetic_packets import (
    capture_records,
    minutiae_record,
    pack,
    synthetic_registration_id,
)

__all__ = [
    "DemoOptions",
    "DemoReport",
    "DemoTruth",
    "PacketFigures",
    "resident_of",
    "run_demo",
    "synthetic_records",
]

#: Registration regions of the synthetic records (province, regency/city, district).
REGIONS = ("317101", "327301", "337401", "351501", "647101", "737101", "110101", "510301")
PLACES = ("JAKARTA", "BANDUNG", "SEMARANG", "SURABAYA", "BALIKPAPAN", "MAKASSAR", "BANDA ACEH")
#: People per job of a station worker process (packets built between two hand-overs).
PACKET_CHUNK = 25


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


def resident_of(person: Person) -> Resident:
    """The population register's entry of a demo person, as a station looks it up by NIK
    (the fields the demo does not make are fixed placeholders).

    Examples
    --------
    >>> records, _ = synthetic_records(DemoOptions(people=1, mismatches=0, seed=3))
    >>> resident_of(records[0][0]).region == records[0][0].region
    True
    """
    foreign = person.citizenship == Citizenship.FOREIGN_RESIDENT
    return Resident(
        nik=person.nik,
        family_card=person.family_card,
        name=person.name,
        sex=person.sex,
        date_of_birth=person.date_of_birth or datetime.date(1970, 1, 1),
        place_of_birth=person.place_of_birth,
        address=person.address or "JL. CONTOH NO. 1",
        rt="001",
        rw="001",
        village="DEMO",
        village_code=f"{person.region}2001",
        district="DEMO",
        regency="DEMO",
        province="DEMO",
        religion="ISLAM",
        marital_status="BELUM KAWIN",
        occupation="KARYAWAN SWASTA",
        blood_type="-",
        citizenship=person.citizenship,
        kitap=f"2C{person.nik[-10:]}" if foreign else "",
    )


@dataclass(frozen=True)
class PacketFigures:
    """The packet stage of a demo run: packets built at the stations, delivered (the centre
    answered RECEIVED_AT_CENTRAL), refused or failed otherwise (HTTP status and reason)."""

    built: int
    delivered: int
    refused: int
    seconds: float
    stations: int
    mean_bytes: float
    problems: tuple[str, ...] = ()

    @property
    def people_per_second(self) -> float:
        """Packets built, sealed, written and delivered per second."""
        return self.delivered / self.seconds if self.seconds > 0 else 0.0


def _pack_chunk(args: tuple[Path, Path, Path, list[tuple[int, Person, list[bytes]]]]) -> list[str]:
    """A station worker: seal the packets of a chunk of people into the outbox folder."""
    kit_file, keys, outbox, chunk = args
    kit = pickle.loads(kit_file.read_bytes())
    station_key = read_private_key(keys / "station.pem")
    centre_key = read_private_key(keys / "centre.pem").public_key()
    out = []
    for n, person, templates in chunk:
        rid = synthetic_registration_id(n)
        record = minutiae_record(
            kit,
            resident_of(person),
            templates,
            session_id=f"demo-{n:08d}",
            issuance=person.issuance,
        )
        pack(
            record,
            rid,
            station_key=station_key,
            centre_key=centre_key,
            outbox=outbox,
            minutiae=True,
        )
        out.append(rid)
    return out


def _chunks(
    items: Sequence[tuple[Person, list[Sample]]], outbox: Path, kit: Path, keys: Path
) -> Iterator[tuple[Path, Path, Path, list[tuple[int, Person, list[bytes]]]]]:
    for start in range(0, len(items), PACKET_CHUNK):
        part = [
            (n, person, [sample.template for sample in samples])
            for n, (person, samples) in enumerate(items[start : start + PACKET_CHUNK], start)
        ]
        yield kit, keys, outbox, part


def deliver_packets(
    items: Sequence[tuple[Person, list[Sample]]],
    receiver: Receiver,
    work_dir: Path,
    *,
    stations: int = C.DEMO_STATIONS,
) -> tuple[PacketFigures, list[str]]:
    """Seal every record's packet in ``stations`` worker processes and deliver each over
    HTTP to ``receiver``, in enrolment order; returns the figures and the registration ids.
    """
    keys, outbox = work_dir / "keys", work_dir / "outbox"
    outbox.mkdir(parents=True, exist_ok=True)
    kit_file = work_dir / "station-kit.pkl"
    kit_file.write_bytes(pickle.dumps(capture_records(work_dir / "station", 1)[0]))
    delivered = refused = 0
    problems: list[str] = []
    rids: list[str] = []
    size = 0
    started = time.perf_counter()
    context = multiprocessing.get_context("fork")
    with serving(receiver) as url, context.Pool(stations) as pool:
        target = urllib.parse.urlsplit(url)
        jobs = _chunks(items, outbox, kit_file, keys)
        for done in pool.imap(_pack_chunk, jobs):
            for rid in done:
                data = (outbox / f"{rid}.pkt").read_bytes()
                size += len(data)
                status, body = _post(target, data, rid, C.OUTBOX_TIMEOUT)
                rids.append(rid)
                if status == 200 and body.get("outcome") == Status.RECEIVED_AT_CENTRAL.value:
                    delivered += 1
                else:
                    refused += 1
                    problems.append(f"{rid}: HTTP {status} {body.get('reason', body)}")
    figures = PacketFigures(
        built=len(rids),
        delivered=delivered,
        refused=refused,
        seconds=time.perf_counter() - started,
        stations=stations,
        mean_bytes=size / max(1, len(rids)),
        problems=tuple(problems[:10]),
    )
    return figures, rids


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
    packets: PacketFigures | None = None
    receipts: int = 0

    @property
    def throughput(self) -> float:
        """Records per second of the de-duplication stage: the centre's checks and the
        de-duplication job (synthesis, the packet stage and the ingestion apart)."""
        busy = sum(v for k, v in self.seconds.items() if k in ("checks", "dedup"))
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
        ]
        if self.packets is not None:
            pk = self.packets
            out.append(
                f"packets: {pk.built} built, signed and sealed by {pk.stations} station "
                f"processes (mean {pk.mean_bytes / 1024:.0f} KiB), {pk.delivered} delivered "
                f"over HTTP, {pk.refused} refused; {self.receipts} receipts at the centre; "
                f"packet stage {pk.seconds:.1f} s, {pk.people_per_second:.1f} people/s"
            )
            out += [f"  refused: {problem}" for problem in pk.problems]
        out.append("status counts:")
        out += [f"  {name:<28} {n}" for name, n in sorted(self.status_counts.items())]
        out.append(
            "time: "
            + ", ".join(f"{k} {v:.1f} s" for k, v in self.seconds.items())
            + f"; throughput {self.throughput:.1f} records/s (checks and de-duplication)"
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
    stations: int = C.DEMO_STATIONS,
    progress: bool = False,
) -> DemoReport:
    """Make the population, enrol it through packets into the store at ``db``, check and
    de-duplicate it (see the module docstring).

    Parameters
    ----------
    db : path-like
        The centre's SQLite file.
    work_dir : path-like
        The de-duplication's work folder; also holds the station (``station/``, its
        outbox ``outbox/``), the keys (``keys/``) and the centre's packets (``centre/``).
    options : DemoOptions, optional
    dedup : DedupOptions, optional
    client, threads, processes, progress
        As :func:`enrollment.dedup.run_dedup`.
    stations : int
        Station worker processes that build and seal the packets.
    """
    options = options or DemoOptions()
    if isinstance(stations, bool) or not isinstance(stations, int) or stations < 1:
        raise ValueError(f"stations must be a positive int, got {stations!r}")
    work_dir = Path(work_dir)
    seconds: dict[str, float] = {}
    t = time.perf_counter()
    items, truth = synthetic_records(options)
    seconds["synthesis"] = time.perf_counter() - t
    store = Store(db)
    station_key, centre_key = new_key(), new_key()
    write_private_key(work_dir / "keys" / "station.pem", station_key)
    write_private_key(work_dir / "keys" / "centre.pem", centre_key)
    register = StationRegister()
    register.add(C.SYNTHETIC_STATION, station_key.public_key())
    receiver = Receiver(store, work_dir / "centre", centre_key, register, minutiae=True)
    quiet = logging.getLogger("enrollment.receiver")  # not a log line a packet
    level = quiet.level
    quiet.setLevel(logging.WARNING)
    try:
        figures, rids = deliver_packets(items, receiver, work_dir, stations=stations)
        seconds["packets"] = figures.seconds
        t = time.perf_counter()
        receiver.ingest()
    finally:
        quiet.setLevel(level)
    found_ids = [receiver.receipt(rid) for rid in rids]
    ids = [int(r["record_id"]) for r in found_ids if r is not None and r["record_id"]]
    if len(ids) != len(items):
        raise RuntimeError(f"{len(items)} records enrolled, {len(ids)} arrived at the centre")
    seconds["ingest"] = time.perf_counter() - t
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
    with store.engine.connect() as conn:
        receipts = conn.execute(
            sa.select(sa.func.count()).where(packet_receipts.c.state == "ingested")
        ).scalar_one()
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
        packets=figures,
        receipts=int(receipts),
    )
