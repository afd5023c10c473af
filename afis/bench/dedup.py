"""De-duplication benchmark of the persistent people gallery at scale, and how it grows.

A :class:`afis.people_shards.ShardedPeopleGallery` of synthetic people (impression 0 of their
ten fingers, :class:`afis.synth.Population`) is built in inserts of at most
:data:`INSERT_BATCH` people up to each of the sizes asked for, in turn; at each size a batch of
``batch`` new people is searched against it, as a registration centre de-duplicates a day's
enrolments: ``round(batch * duplicate_share)`` of them are planted duplicates (impression 1 of
randomly chosen gallery people, under new ids), the rest people never enrolled (new person
numbers, same population). A probe is *flagged* when its best candidate's fused score (the sum
of its ten finger scores) reaches ``threshold``; the batch's unique people are then inserted
(the insert rate), and the gallery grows on to the next size.

The decision rule is the data centre's floor for a duplicate, restated here (the engine does
not import the service layer): ``fused >= 10 * threshold_for_fmr(1e-3)``, i.e. ten fingers
each at the matcher's FMR 10^-3 score on average. (The centre also raises the threshold with
the gallery size, from a fit of the impostor fused-score tail; this benchmark keeps the floor.)

Reported per size: FNIR (planted duplicates not flagged), FPIR (unique people flagged), the
people shortlisted and fully re-ranked per probe (``depth``, ``k``), time per record split into
index search, re-rank and bookkeeping, records per second end to end, build and insert rates,
peak RSS and disk bytes per person; across sizes, the growth of insert and search time
(:class:`DedupGrowth`, with a plot of cost against the gallery size).
"""

from __future__ import annotations

import json
import logging
import os
import resource
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from afis.atomic import atomic_write
from afis.bench.verify import _Progress
from afis.index import IndexOptions
from afis.match import threshold_for_fmr
from afis.people import people_index_options, shortlist_depth
from afis.people_shards import ShardedPeopleGallery
from afis.synth import Population
from afis.template import Template

__all__ = [
    "DEFAULT_THRESHOLD_FMR",
    "INSERT_BATCH",
    "DedupGrowth",
    "DedupReport",
    "dedup_benchmark",
    "dedup_growth",
]

log = logging.getLogger(__name__)

#: Most people written by one :meth:`PeopleGallery.insert` while building the gallery.
INSERT_BATCH = 10_000
#: Per-finger FMR of the default threshold: ``10 * threshold_for_fmr(DEFAULT_THRESHOLD_FMR)``
#: (the data centre's floor for a duplicate decision).
DEFAULT_THRESHOLD_FMR = 1e-3
#: Probes identified per call (their index searches are batched).
_PROBE_CHUNK = 10
#: People synthesised per task of a synthesis process (``workers > 1``).
_SYNTH_CHUNK = 2_000


@dataclass(frozen=True)
class DedupReport:
    """Figures of one :func:`dedup_benchmark` run (times in seconds, sizes in bytes).

    Attributes
    ----------
    gallery_people, batch, planted, unique : int
        People in the gallery before the batch; people in the batch; of them planted
        duplicates and never-enrolled people.
    threshold : float
        Fused score from which a probe is flagged.
    depth, k : int
        People shortlisted per probe, and of them compared on all ten fingers.
    missed, false_flags : int
        Planted duplicates not flagged; unique people flagged.
    built : int
        People inserted while building up to this size (the earlier sizes' galleries and
        batches were there already).
    build_s, search_s, rerank_s, bookkeeping_s, identify_s, insert_s : float
        Inserting those ``built`` people (synthesis excluded); the three stages of
        identification, summed over the batch; the whole identification (probe synthesis
        excluded); the insert of the batch's unique people.
    compact_s : float or None
        The compaction of the gallery into one segment before the batch (the maintenance
        a data centre runs between batches), when asked for.
    peak_rss : int
        Peak resident set size of the process (``ru_maxrss``).
    disk_bytes : int
        Size of the gallery folder after the batch's insert.
    """

    gallery_people: int
    batch: int
    planted: int
    unique: int
    threshold: float
    depth: int
    k: int
    missed: int
    false_flags: int
    built: int
    build_s: float
    search_s: float
    rerank_s: float
    bookkeeping_s: float
    identify_s: float
    insert_s: float
    peak_rss: int
    disk_bytes: int
    seed: int
    shards: int = 1
    nlist: int = 1
    nprobe: int = 1
    compact_s: float | None = None

    @property
    def fnir(self) -> float:
        """Share of planted duplicates not flagged (0 when none planted)."""
        return self.missed / self.planted if self.planted else 0.0

    @property
    def fpir(self) -> float:
        """Share of unique people flagged (0 when none)."""
        return self.false_flags / self.unique if self.unique else 0.0

    @property
    def build_rate(self) -> float:
        """People inserted per second while building the gallery."""
        return self.built / self.build_s if self.build_s > 0 else 0.0

    @property
    def records_per_s(self) -> float:
        """Batch records identified per second, end to end."""
        return self.batch / self.identify_s if self.identify_s > 0 else 0.0

    @property
    def insert_rate(self) -> float:
        """Unique people of the batch inserted per second."""
        return self.unique / self.insert_s if self.insert_s > 0 else 0.0

    @property
    def ms_per_record(self) -> float:
        """Milliseconds of identification per batch record."""
        return 1000.0 * self.identify_s / self.batch if self.batch else 0.0

    @property
    def disk_per_person(self) -> float:
        """Gallery bytes on disk per person held after the batch."""
        held = self.gallery_people + self.unique
        return self.disk_bytes / held if held else 0.0

    def to_dict(self) -> dict[str, Any]:
        """The fields and the derived rates, JSON-ready."""
        out = asdict(self)
        for name in ("fnir", "fpir", "build_rate", "records_per_s", "insert_rate", "ms_per_record"):
            out[name] = getattr(self, name)
        out["disk_per_person"] = self.disk_per_person
        return out

    def to_json(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_dict` as JSON with :func:`afis.atomic.atomic_write`."""
        atomic_write(path, (json.dumps(self.to_dict(), indent=2) + "\n").encode())

    def lines(self) -> list[str]:
        """The report for a terminal, one line each."""
        per = 1000.0 / self.batch if self.batch else 0.0
        return [
            f"gallery {self.gallery_people:,} people, batch {self.batch:,} "
            f"({self.planted} planted duplicates, {self.unique} unique), seed {self.seed}",
            f"index: {self.shards} shard(s), nlist {self.nlist}, nprobe {self.nprobe}; "
            f"build of {self.built:,} people {self.build_s:.1f} s ({self.build_rate:,.0f} "
            "people/s)",
            *(
                [f"compacted into one segment before the batch in {self.compact_s:.1f} s"]
                if self.compact_s is not None
                else []
            ),
            f"threshold fused >= {self.threshold:.2f}; {self.depth} people shortlisted and "
            f"{self.k} re-ranked on ten fingers per probe",
            f"FNIR {self.missed}/{self.planted} = {100 * self.fnir:.2f} %   "
            f"FPIR {self.false_flags}/{self.unique} = {100 * self.fpir:.2f} %",
            f"per record: search {self.search_s * per:.1f} ms, re-rank "
            f"{self.rerank_s * per:.1f} ms, bookkeeping {self.bookkeeping_s * per:.1f} ms",
            f"identify {self.records_per_s:.2f} records/s end to end; insert "
            f"{self.insert_rate:,.0f} people/s",
            f"peak RSS {self.peak_rss / 2**20:,.0f} MiB; disk {self.disk_per_person:,.0f} B/person "
            f"({self.disk_bytes / 2**20:,.1f} MiB)",
        ]


def _person(population: Population, number: int, impression: int) -> dict[int, Template]:
    """Ten fingers of person ``number`` (finger id ``number * 10 + position - 1``)."""
    templates = population.impressions(range(10 * number, 10 * number + 10), impression)
    return dict(zip(range(1, 11), templates.templates(), strict=True))


def _people(population: Population, numbers: range, impression: int) -> list[dict[int, Template]]:
    """Ten fingers of each person in ``numbers`` (one batched synthesis)."""
    fingers = population.impressions(range(10 * numbers.start, 10 * numbers.stop), impression)
    templates = fingers.templates()
    return [
        dict(zip(range(1, 11), templates[10 * n : 10 * n + 10], strict=True))
        for n in range(len(numbers))
    ]


#: Each synthesis process's population (one per seed; made on its first chunk).
_POPULATIONS: dict[int, Population] = {}


def _people_of_seed(seed: int, start: int, stop: int) -> list[dict[int, Template]]:
    """:func:`_people` (impression 0) in a synthesis process: module level, so it pickles."""
    population = _POPULATIONS.get(seed)
    if population is None:
        population = _POPULATIONS[seed] = Population(seed)
    return _people(population, range(start, stop), 0)


class _Synthesis:
    """The gallery's people, synthesised in order: in this process with ``workers=1``, else
    in a pool of ``workers`` spawned processes that run at most ``2 * workers`` chunks
    ahead of the consumer (bounded memory). Synthesis is per finger id, so the people are
    the same either way."""

    def __init__(self, population: Population, seed: int, workers: int) -> None:
        self.population, self.seed, self.workers = population, seed, workers
        self._pool: ProcessPoolExecutor | None = None

    def chunks(self, start: int, stop: int, size: int) -> Iterator[tuple[range, list]]:
        """``(numbers, people)`` for consecutive ranges of at most ``size`` people."""
        ranges = [range(a, min(stop, a + size)) for a in range(start, stop, size)]
        if self.workers <= 1 or len(ranges) < 2:
            for numbers in ranges:
                yield numbers, _people(self.population, numbers, 0)
            return
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=get_context("spawn"))
        ahead: deque[tuple[range, Future]] = deque()
        for numbers in ranges:
            ahead.append((numbers, self._pool.submit(
                _people_of_seed, self.seed, numbers.start, numbers.stop)))  # fmt: skip
            if len(ahead) > 2 * self.workers:
                done, future = ahead.popleft()
                yield done, future.result()
        while ahead:
            done, future = ahead.popleft()
            yield done, future.result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _peak_rss() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024  # Linux: KiB


@dataclass(frozen=True)
class DedupGrowth:
    """The reports of one :func:`dedup_growth` run, smallest gallery first."""

    reports: tuple[DedupReport, ...]

    def growth(self) -> dict[str, float]:
        """Largest against smallest gallery: ``insert`` (time to insert the batch's unique
        people, per person) and ``search`` (identification time per record) ratios."""
        if len(self.reports) < 2:
            return {}
        a, b = self.reports[0], self.reports[-1]
        per_insert = [r.insert_s / r.unique if r.unique else 0.0 for r in (a, b)]
        return {
            "people": b.gallery_people / max(1, a.gallery_people),
            "insert": per_insert[1] / per_insert[0] if per_insert[0] else 0.0,
            "search": b.ms_per_record / a.ms_per_record if a.ms_per_record else 0.0,
        }

    def lines(self) -> list[str]:
        """Every size's report, then the growth ratios."""
        out: list[str] = []
        for report in self.reports:
            out += [*report.lines(), ""]
        ratios = self.growth()
        if ratios:
            out.append(
                f"growth x{ratios['people']:g} people: insert time per person "
                f"x{ratios['insert']:.2f}, identify time per record x{ratios['search']:.2f}"
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the reports and the growth ratios."""
        return {"reports": [r.to_dict() for r in self.reports], "growth": self.growth()}

    def to_json(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_dict` with :func:`afis.atomic.atomic_write`."""
        atomic_write(path, (json.dumps(self.to_dict(), indent=2) + "\n").encode())

    def plot(self, path: str | os.PathLike[str]) -> None:
        """Cost against gallery size (log x): identification per record split into its
        stages, and insert time per person, into a PNG."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6.5, 4.5), layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        n = [r.gallery_people for r in self.reports]
        per = [1000.0 / r.batch if r.batch else 0.0 for r in self.reports]
        for label, key in (
            ("index search", "search_s"),
            ("re-rank", "rerank_s"),
            ("bookkeeping", "bookkeeping_s"),
        ):
            ax.plot(n, [getattr(r, key) * p for r, p in zip(self.reports, per, strict=True)],
                    marker="o", label=f"{label} (ms/record)")  # fmt: skip
        ax.plot(n, [r.ms_per_record for r in self.reports], marker="s", color="k",
                label="identify, all stages (ms/record)")  # fmt: skip
        ax.plot(n, [1000.0 / r.insert_rate if r.insert_rate else 0.0 for r in self.reports],
                marker="^", linestyle="--", label="insert (ms/person)")  # fmt: skip
        ax.set_xscale("log")
        ax.set_xlabel("people in the gallery")
        ax.set_ylabel("milliseconds")
        ax.set_title("afis bench dedup: cost against gallery size")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small")
        fig.savefig(path, dpi=120)


def dedup_benchmark(
    gallery_people: int,
    batch: int,
    **kwargs: Any,
) -> DedupReport:
    """Build a people gallery, de-duplicate a batch against it, insert its unique people
    (:func:`dedup_growth` at one size; same keyword arguments).

    Examples
    --------
    >>> report = dedup_benchmark(12, 4, duplicate_share=0.5, seed=1)
    >>> report.planted, report.unique, report.missed, report.false_flags
    (2, 2, 0, 0)
    >>> report.disk_bytes > 0
    True
    """
    return dedup_growth([gallery_people], batch, **kwargs).reports[0]


def dedup_growth(
    sizes: Sequence[int],
    batch: int,
    *,
    duplicate_share: float = 0.05,
    seed: int = 0,
    folder: str | os.PathLike[str] | None = None,
    shards: int = 1,
    options: IndexOptions | None = None,
    depth: int | None = None,
    k: int | None = None,
    threshold: float | None = None,
    workers: int = 1,
    compact: bool = False,
    progress: bool = False,
) -> DedupGrowth:
    """Build a people gallery up to each of ``sizes`` in turn; at each, de-duplicate a batch
    against it and insert the batch's unique people.

    Parameters
    ----------
    sizes : sequence of int
        Gallery sizes (people), ascending; the first may be 0 only without duplicates.
    batch : int
        New people searched at each size; ``round(batch * duplicate_share)`` are duplicates.
    duplicate_share : float
        Share of planted duplicates, in [0, 1] (default 0.05); needs a gallery when > 0.
    seed : int
        Seed of the population and of the choice of duplicated people.
    folder : path, optional
        Where the gallery is built (must hold none); a temporary folder, removed after, by
        default.
    shards : int
        Shards of the gallery (default 1).
    options : IndexOptions, optional
        Candidate-index options (default :func:`afis.people.people_index_options` of the
        largest size).
    depth, k : int, optional
        People shortlisted and fully re-ranked per probe (default the gallery's rules).
    threshold : float, optional
        Fused score from which a probe is flagged; default
        ``10 * threshold_for_fmr(DEFAULT_THRESHOLD_FMR)``.
    workers : int
        Processes that synthesise the gallery's people while it is built (default 1: in
        this process). Synthesis is not timed and the people are the same for any count;
        at about 3 ms a person on one core it is most of a large run's wall time.
    compact : bool
        Compact the gallery into one segment (:meth:`afis.people.PeopleGallery.compact`,
        timed) at each size before its batch, as a data centre would between batches: a
        gallery grown by many inserts is searched faster as one segment
        (``benchmarks/DEDUP.md``).
    progress : bool
        Progress bars on a terminal, log lines otherwise.

    Returns
    -------
    DedupGrowth
    """
    if isinstance(sizes, int | np.integer) or not isinstance(sizes, Sequence) or not sizes:
        raise TypeError("sizes must be a non-empty sequence of ints")
    for name, value in [*(("gallery_people", n) for n in sizes), ("batch", batch)]:
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if value < 0:
            raise ValueError(f"{name} must not be negative, got {value}")
    if list(sizes) != sorted(sizes):
        raise ValueError(f"sizes must be ascending, got {list(sizes)}")
    share = float(duplicate_share)
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"duplicate_share must lie in [0, 1], got {duplicate_share}")
    planted = round(batch * share)
    if planted and not sizes[0]:
        raise ValueError("planted duplicates need a gallery: gallery_people is 0")
    for name, value in (("k", k), ("depth", depth)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1
        ):
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if isinstance(workers, bool) or not isinstance(workers, int | np.integer) or workers < 1:
        raise ValueError(f"workers must be a positive int, got {workers!r}")
    if threshold is None:
        threshold = 10 * threshold_for_fmr(DEFAULT_THRESHOLD_FMR)
    if options is None:
        options = people_index_options(int(sizes[-1]) + len(sizes) * batch, shards)
    run = _Run(
        [int(n) for n in sizes], int(batch), planted, seed, shards, options, depth, k,
        float(threshold), int(workers), progress, bool(compact),
    )  # fmt: skip
    if folder is None:
        with tempfile.TemporaryDirectory(prefix="afis-dedup-") as tmp:
            return run(Path(tmp) / "gallery")
    return run(Path(folder))


@dataclass
class _Run:
    sizes: list[int]
    batch: int
    planted: int
    seed: int
    shards: int
    options: IndexOptions
    depth: int | None
    k: int | None
    threshold: float
    workers: int
    progress: bool
    compact: bool = False

    def __call__(self, folder: Path) -> DedupGrowth:
        population = Population(self.seed)
        rng = np.random.default_rng(self.seed)
        gallery = ShardedPeopleGallery.create(folder, self.shards, self.options)
        synthesis = _Synthesis(population, self.seed, self.workers)
        held: list[int] = []  # person numbers in the gallery
        next_number = 0
        reports = []
        try:
            for size in self.sizes:
                # 1. grow the gallery to `size` people (synthesis timed apart)
                built, build_s = 0, 0.0
                missing = max(0, size - len(held))
                bar = _Progress(self.progress, missing, "build", "person")
                numbers_in, people_in = [], []
                chunk = INSERT_BATCH if self.workers <= 1 else _SYNTH_CHUNK
                for numbers, people in synthesis.chunks(next_number, next_number + missing, chunk):
                    numbers_in.extend(numbers)
                    people_in.extend(people)
                    if len(numbers_in) < INSERT_BATCH and numbers.stop < next_number + missing:
                        continue
                    tick = time.perf_counter()
                    gallery.insert(numbers_in, people_in)
                    build_s += time.perf_counter() - tick
                    held.extend(numbers_in)
                    built += len(numbers_in)
                    bar.update(len(numbers_in))
                    numbers_in, people_in = [], []
                next_number += missing
                bar.close()
                log.info("gallery of %d people (%d built in %.1f s)", len(held), built, build_s)
                compact_s = None
                if self.compact:
                    tick = time.perf_counter()
                    gallery.compact()
                    compact_s = time.perf_counter() - tick
                    log.info("compacted in %.1f s", compact_s)
                report, next_number = self._batch(
                    gallery, population, rng, held, next_number, built, build_s, folder
                )
                report = replace(report, compact_s=compact_s)
                reports.append(report)
        finally:
            synthesis.close()
            gallery.close()
        return DedupGrowth(tuple(reports))

    def _batch(
        self,
        gallery: ShardedPeopleGallery,
        population: Population,
        rng: np.random.Generator,
        held: list[int],
        next_number: int,
        built: int,
        build_s: float,
        folder: Path,
    ) -> tuple[DedupReport, int]:
        n = len(held)
        planted = self.planted
        sources = rng.choice(np.asarray(held), size=planted, replace=planted > n)
        new_ids = list(range(next_number, next_number + self.batch))
        is_planted = [True] * planted + [False] * (self.batch - planted)
        depth = self.depth if self.depth is not None else shortlist_depth(n)
        k = self.k if self.k is not None else min(depth, 8)
        timings: dict[str, float] = {}
        flagged: list[bool] = []
        identify_s = 0.0
        unique_people = []
        bar = _Progress(self.progress, self.batch, "identify batch", "record")
        for start in range(0, self.batch, _PROBE_CHUNK):
            chunk = range(start, min(self.batch, start + _PROBE_CHUNK))
            probes = []
            for i in chunk:
                if is_planted[i]:
                    probes.append(_person(population, int(sources[i]), 1))
                else:
                    person = _person(population, new_ids[i], 0)
                    unique_people.append(person)
                    probes.append(person)
            tick = time.perf_counter()
            found = gallery.identify(probes, k=k, depth=max(depth, k), timings=timings)
            identify_s += time.perf_counter() - tick
            flagged.extend(bool(c) and c[0].fused >= self.threshold for c in found)
            bar.update(len(chunk))
        bar.close()
        tick = time.perf_counter()
        if unique_people:
            gallery.insert(new_ids[planted:], unique_people)
        insert_s = time.perf_counter() - tick
        held.extend(new_ids[planted:])
        missed = sum(p and not f for p, f in zip(is_planted, flagged, strict=True))
        false_flags = sum(f and not p for p, f in zip(is_planted, flagged, strict=True))
        report = DedupReport(
            gallery_people=n,
            batch=self.batch,
            planted=planted,
            unique=self.batch - planted,
            threshold=self.threshold,
            depth=int(max(depth, k)),
            k=int(k),
            missed=int(missed),
            false_flags=int(false_flags),
            built=built,
            build_s=build_s,
            search_s=timings.get("search", 0.0),
            rerank_s=timings.get("rerank", 0.0),
            bookkeeping_s=timings.get("bookkeeping", 0.0),
            identify_s=identify_s,
            insert_s=insert_s,
            peak_rss=_peak_rss(),
            disk_bytes=_folder_bytes(folder),
            seed=self.seed,
            shards=self.shards,
            nlist=self.options.nlist,
            nprobe=self.options.nprobe,
        )
        for line in report.lines():
            log.info(line)
        return report, new_ids[-1] + 1 if new_ids else next_number
