"""De-duplication benchmark of the persistent people gallery at scale.

A :class:`afis.people.PeopleGallery` of ``gallery_people`` synthetic people (impression 0 of
their ten fingers, :class:`afis.synth.Population`) is built in inserts of at most
:data:`INSERT_BATCH` people; then a batch of ``batch`` new people is searched against it, as a
registration centre de-duplicates a day's enrolments: ``round(batch * duplicate_share)`` of
them are planted duplicates (impression 1 of randomly chosen gallery people, under new ids),
the rest people never enrolled (person numbers after the gallery's, same population). A probe
is *flagged* when its best candidate's fused score (the sum of its ten finger scores) reaches
``threshold``; the batch's unique people are then inserted.

The decision rule is the data centre's floor for a duplicate, restated here (the engine does
not import the service layer): ``fused >= 10 * threshold_for_fmr(1e-3)``, i.e. ten fingers
each at the matcher's FMR 10^-3 score on average. (The centre also raises the threshold with
the gallery size, from a fit of the impostor fused-score tail; this benchmark keeps the floor.)

Reported: FNIR (planted duplicates not flagged), FPIR (unique people flagged), the people
re-ranked per probe (``k``), time per record split into index search, re-rank and bookkeeping,
records per second end to end, build and insert rates, peak RSS and disk bytes per person.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from afis.atomic import atomic_write
from afis.bench.verify import _Progress
from afis.match import threshold_for_fmr
from afis.people import PeopleGallery
from afis.synth import Population
from afis.template import Template

__all__ = ["DEFAULT_THRESHOLD_FMR", "INSERT_BATCH", "DedupReport", "dedup_benchmark"]

log = logging.getLogger(__name__)

#: Most people written by one :meth:`PeopleGallery.insert` while building the gallery.
INSERT_BATCH = 10_000
#: Per-finger FMR of the default threshold: ``10 * threshold_for_fmr(DEFAULT_THRESHOLD_FMR)``
#: (the data centre's floor for a duplicate decision).
DEFAULT_THRESHOLD_FMR = 1e-3
#: Probes identified per call (their index searches are batched).
_PROBE_CHUNK = 10


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
    k : int
        People re-ranked per probe.
    missed, false_flags : int
        Planted duplicates not flagged; unique people flagged.
    build_s, search_s, rerank_s, bookkeeping_s, identify_s, insert_s : float
        Gallery build; the three stages of identification, summed over the batch; the whole
        identification (probe synthesis excluded); the insert of the unique people.
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
    k: int
    missed: int
    false_flags: int
    build_s: float
    search_s: float
    rerank_s: float
    bookkeeping_s: float
    identify_s: float
    insert_s: float
    peak_rss: int
    disk_bytes: int
    seed: int

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
        return self.gallery_people / self.build_s if self.build_s > 0 else 0.0

    @property
    def records_per_s(self) -> float:
        """Batch records identified per second, end to end."""
        return self.batch / self.identify_s if self.identify_s > 0 else 0.0

    @property
    def insert_rate(self) -> float:
        """Unique people of the batch inserted per second."""
        return self.unique / self.insert_s if self.insert_s > 0 else 0.0

    @property
    def disk_per_person(self) -> float:
        """Gallery bytes on disk per person held after the batch."""
        held = self.gallery_people + self.unique
        return self.disk_bytes / held if held else 0.0

    def to_dict(self) -> dict[str, Any]:
        """The fields and the derived rates, JSON-ready."""
        out = asdict(self)
        for name in ("fnir", "fpir", "build_rate", "records_per_s", "insert_rate"):
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
            f"build {self.build_s:.1f} s ({self.build_rate:,.0f} people/s)",
            f"threshold fused >= {self.threshold:.2f}, k = {self.k} people re-ranked per probe",
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


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _peak_rss() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024  # Linux: KiB


def dedup_benchmark(
    gallery_people: int,
    batch: int,
    *,
    duplicate_share: float = 0.05,
    seed: int = 0,
    folder: str | os.PathLike[str] | None = None,
    k: int | None = None,
    threshold: float | None = None,
    progress: bool = False,
) -> DedupReport:
    """Build a people gallery, de-duplicate a batch against it, insert its unique people.

    Parameters
    ----------
    gallery_people : int
        Synthetic people enrolled first (person numbers ``0 .. gallery_people - 1``).
    batch : int
        New people searched; ``round(batch * duplicate_share)`` of them are duplicates.
    duplicate_share : float
        Share of planted duplicates, in [0, 1] (default 0.05); needs a gallery when > 0.
    seed : int
        Seed of the population and of the choice of duplicated people.
    folder : path, optional
        Where the gallery is built (must hold none); a temporary folder, removed after, by
        default.
    k : int, optional
        People re-ranked per probe (default the gallery's, ``max(32, ceil(sqrt(N)))``).
    threshold : float, optional
        Fused score from which a probe is flagged; default
        ``10 * threshold_for_fmr(DEFAULT_THRESHOLD_FMR)``.
    progress : bool
        Progress bars on a terminal, log lines otherwise.

    Returns
    -------
    DedupReport

    Examples
    --------
    >>> report = dedup_benchmark(12, 4, duplicate_share=0.5, seed=1)
    >>> report.planted, report.unique, report.missed, report.false_flags
    (2, 2, 0, 0)
    >>> report.disk_bytes > 0
    True
    """
    for name, value in (("gallery_people", gallery_people), ("batch", batch)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if value < 0:
            raise ValueError(f"{name} must not be negative, got {value}")
    share = float(duplicate_share)
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"duplicate_share must lie in [0, 1], got {duplicate_share}")
    planted = round(batch * share)
    if planted and not gallery_people:
        raise ValueError("planted duplicates need a gallery: gallery_people is 0")
    if k is not None and (isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1):
        raise ValueError(f"k must be a positive int, got {k!r}")
    if threshold is None:
        threshold = 10 * threshold_for_fmr(DEFAULT_THRESHOLD_FMR)
    args = (gallery_people, batch, planted, seed)
    if folder is None:
        with tempfile.TemporaryDirectory(prefix="afis-dedup-") as tmp:
            return _run(*args, Path(tmp), k, float(threshold), progress)
    return _run(*args, Path(folder), k, float(threshold), progress)


def _run(
    n: int,
    batch: int,
    planted: int,
    seed: int,
    folder: Path,
    k: int | None,
    threshold: float,
    progress: bool,
) -> DedupReport:
    population = Population(seed)
    gallery = PeopleGallery.create(folder)
    try:
        # 1. the gallery, in inserts of at most INSERT_BATCH people (synthesis timed apart)
        build_s = 0.0
        bar = _Progress(progress, n, "build gallery", "person")
        for start in range(0, n, INSERT_BATCH):
            ids = list(range(start, min(n, start + INSERT_BATCH)))
            people = []
            for pid in ids:
                people.append(_person(population, pid, 0))
                bar.update()
            tick = time.perf_counter()
            gallery.insert(ids, people)
            build_s += time.perf_counter() - tick
        bar.close()
        log.info("gallery of %d people built in %.1f s", n, build_s)
        # 2. the batch: planted duplicates first, then never-enrolled people
        rng = np.random.default_rng(seed)
        sources = (
            rng.choice(n, size=planted, replace=False)
            if planted <= n
            else (rng.choice(n, size=planted, replace=True))
        )
        new_ids = list(range(n, n + batch))
        is_planted = [True] * planted + [False] * (batch - planted)
        k_used = k if k is not None else max(32, int(np.ceil(np.sqrt(max(n, 1)))))
        timings: dict[str, float] = {}
        flagged = []
        identify_s = 0.0
        unique_people = []
        bar = _Progress(progress, batch, "identify batch", "record")
        for start in range(0, batch, _PROBE_CHUNK):
            chunk = range(start, min(batch, start + _PROBE_CHUNK))
            probes = []
            for i in chunk:
                if is_planted[i]:
                    probes.append(_person(population, int(sources[i]), 1))
                else:
                    person = _person(population, new_ids[i], 0)
                    unique_people.append(person)
                    probes.append(person)
            tick = time.perf_counter()
            found = gallery.identify(probes, k=k_used, timings=timings)
            identify_s += time.perf_counter() - tick
            flagged.extend(bool(c) and c[0].fused >= threshold for c in found)
            bar.update(len(chunk))
        bar.close()
        # 3. insert the batch's unique people
        tick = time.perf_counter()
        if unique_people:
            gallery.insert(new_ids[planted:], unique_people)
        insert_s = time.perf_counter() - tick
        disk = _folder_bytes(folder)
    finally:
        gallery.close()
    missed = sum(p and not f for p, f in zip(is_planted, flagged, strict=True))
    false_flags = sum(f and not p for p, f in zip(is_planted, flagged, strict=True))
    return DedupReport(
        gallery_people=n,
        batch=batch,
        planted=planted,
        unique=batch - planted,
        threshold=float(threshold),
        k=int(k_used),
        missed=int(missed),
        false_flags=int(false_flags),
        build_s=build_s,
        search_s=timings.get("search", 0.0),
        rerank_s=timings.get("rerank", 0.0),
        bookkeeping_s=timings.get("bookkeeping", 0.0),
        identify_s=identify_s,
        insert_s=insert_s,
        peak_rss=_peak_rss(),
        disk_bytes=disk,
        seed=seed,
    )
