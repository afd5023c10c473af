"""The batch de-duplication job: every record in ``SENT_FOR_DEDUP`` searched against everyone.

What is searched
    A job takes every record in ``SENT_FOR_DEDUP`` (the *batch*, in record-id order) and
    searches each against every record found unique before the job (statuses
    :data:`~enrollment.status.UNIQUE_STATUSES`, the *gallery*) and against the records of
    the batch before it. A pair inside the batch is thus judged once, on the later record.

How
    1. *Two galleries.* The records found unique before the job live in the persistent
       gallery (:class:`afis.people_shards.ShardedPeopleGallery` in ``work_dir/gallery``,
       kept from job to job and brought up to date with the store by :func:`sync_gallery`
       when a job starts and when it ends); the job's batch gets a people gallery of its
       own (``work_dir/job-N/batch``, inserted in batch order), each probe searched in it as
       it stood when it held the records before the probe (``among_first``: only their
       index codes are scanned, so a record costs what a gallery of the records before it
       costs). A job costs time in proportion to its batch, not to the gallery.
    2. *Shortlist and re-rank* (:meth:`afis.PeopleGallery.identify`): every finger of the
       probe searches the candidate indexes (all ten positions are indexed,
       :data:`afis.people.SEARCHED_POSITIONS`); the index evidence is summed per person
       before the cut at the engine's depth (:func:`afis.people.shortlist_depth`, or
       ``shortlist_depth``); the shortlisted people are compared on the thumbs and index
       fingers (:data:`afis.people.FIRST_RERANK_POSITIONS`) and the ``max_candidates`` best
       of them on all ten. The *fused score* of a candidate is the sum over finger
       positions of the matcher scores (a missing finger adds 0). Every earlier record
       under the probe's NIK is compared on all ten fingers too.
    3. *Decide* with two thresholds on the fused score, set for the size ``N`` of what is
       searched (gallery plus batch). A false positive identification happens when any of the ``N``
       impostors scores above the threshold, so FPIR ~= N x FMR, and the threshold is the fused
       score whose impostor false match rate is ``FMR = FPIR / N``. Impostor fused scores were
       measured on synthetic people (:func:`calibrate`, seeded); their upper tail is exponential, so
       ``threshold(FMR) = start + scale * ln(share / FMR)`` with the constants in
       :mod:`enrollment.constants` (start 0.234, scale 0.0081, measured on the second synthetic
       model, whose per-finger impostor tail is close to real fingers'). The *duplicate* threshold
       is set for ``fpir_duplicate`` (default 1e-5), the *adjudication* threshold for
       ``fpir_adjudicate`` (default 1e-4). Because real fingers of one person are not independent,
       neither threshold goes below a floor from the FVC-calibrated per-finger thresholds
       (:func:`afis.threshold_for_fmr`): ten fingers each at the FMR 1e-3 threshold (0.384) for a
       duplicate, at FMR 1e-2 (0.306) for adjudication. With the tail above, the floors decide only
       for searches of fewer than about 23,000 records (duplicate) and 14 (adjudication); at 10,000
       records the thresholds are 0.384 and 0.359, at 10^6 0.415 and 0.396. The highest impostor of
       the 4,000 calibration pairs scored 0.270.

Outcomes
    ``DUPLICATE_RECORD`` when a candidate under another NIK scores above the duplicate
    threshold ("one_to_one" with one such candidate, "one_to_many" with several);
    ``ADJUDICATE_RECORD`` when the best other-NIK candidate lies between the thresholds, when a
    re-enrolment under an existing NIK does not match that NIK's earlier record, or when
    the person is exempt from fingerprinting; ``SEARCH_FAILURE_AT_CENTRAL`` when the record
    has no finger the index can search or a template that no longer decodes;
    ``PRINT_READY_RECORD`` otherwise (a re-enrolment that matches its own earlier record, a
    replacement card, is unique).

Safety
    The job's batch, thresholds and search structures are fixed when it starts (rows in
    ``dedup_jobs`` / ``dedup_job_items``; the batch gallery in ``work_dir/job-N/``, removed
    when the job is done; the persistent gallery is not written while chunks run). Records
    are processed in chunks of ``chunk_size``; a chunk's results, candidates, status changes
    and its checkpoint row are committed in one transaction. A killed job resumes at the
    first uncommitted chunk with the same files, so the final result is the one an
    uninterrupted run gives, and unique keys make a second copy of a result impossible. When
    every chunk is committed the records found unique are inserted into the persistent
    gallery: those it does not hold yet, so a job killed while inserting inserts the rest
    when it resumes, and none twice. Running the job again when nothing waits does nothing.

Distribution
    With ``processes > 1`` chunks are searched in worker processes that memory-map both
    galleries. With a ``dask.distributed.Client`` the persistent gallery's shards are served
    by the cluster's workers (:meth:`ShardedPeopleGallery.identify`): only probes and
    candidate lists travel; this process searches the batch gallery and commits.

Examples
--------
>>> t = thresholds(10_000, DedupOptions())
>>> round(t.duplicate, 3), round(t.adjudicate, 3)
(0.384, 0.359)
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

from afis._threads import resolve_threads
from afis.constants import RERANK_CACHE_BYTES
from afis.errors import AfisError, TemplateError
from afis.index import IndexOptions
from afis.match import Matcher
from afis.people import (
    PeopleCandidate,
    PeopleGallery,
    people_index_options,
)
from afis.people_shards import HEADER as SHARDS_HEADER
from afis.people_shards import ShardedPeopleGallery
from afis.template import FingerPosition, Template
from enrollment import constants as C
from enrollment.status import UNIQUE_STATUSES, Status
from enrollment.store import (
    SampleState,
    Store,
    dedup_candidates,
    dedup_checkpoints,
    dedup_job_items,
    dedup_jobs,
    dedup_results,
    now,
    records,
    samples,
)

__all__ = [
    "Candidate",
    "Decision",
    "DedupOptions",
    "DedupSummary",
    "Probe",
    "Thresholds",
    "calibrate",
    "run_dedup",
    "search_chunk",
    "sync_gallery",
    "thresholds",
]

log = logging.getLogger(__name__)

ACTOR = "dedup-job"
_READY = "READY"
#: Sub-folder of the work folder holding the persistent gallery; of a job's folder, its batch.
GALLERY = "gallery"
BATCH = "batch"
#: Records read, decoded and inserted at a time by :func:`sync_gallery`.
SYNC_BATCH = 10_000


@dataclass(frozen=True)
class DedupOptions:
    """Settings of a de-duplication job (fixed for the job when it starts).

    Examples
    --------
    >>> DedupOptions(chunk_size=64).chunk_size
    64
    >>> DedupOptions(fpir_duplicate=2.0)
    Traceback (most recent call last):
    ...
    ValueError: fpir_duplicate must lie in (0, 1), got 2.0
    """

    fpir_duplicate: float = C.FPIR_DUPLICATE
    fpir_adjudicate: float = C.FPIR_ADJUDICATE
    #: people shortlisted per record from the index evidence; 0: the gallery's rule
    #: (:func:`afis.people.shortlist_depth`, growing as the fourth root of its size)
    shortlist_depth: int = 0
    max_candidates: int = C.MAX_CANDIDATES
    chunk_size: int = C.CHUNK_SIZE
    #: shards of a new persistent gallery (an existing one keeps its own)
    gallery_shards: int = C.GALLERY_SHARDS
    #: people a new persistent gallery is partitioned for (0: its first insert's); grow
    #: beyond it and re-partition (``afis-enrollment gallery repartition``)
    planned_people: int = 0

    def __post_init__(self) -> None:
        for name in ("fpir_duplicate", "fpir_adjudicate"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"{name} must be a number, got {type(value).__name__}")
            if not 0 < value < 1:
                raise ValueError(f"{name} must lie in (0, 1), got {value}")
        if self.fpir_adjudicate < self.fpir_duplicate:
            raise ValueError("fpir_adjudicate must be at least fpir_duplicate")
        for name, lo, hi in (
            ("shortlist_depth", 0, 10_000),
            ("max_candidates", 1, 1000),
            ("chunk_size", 1, 100_000),
            ("gallery_shards", 1, 4096),
            ("planned_people", 0, 10**10),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
            if not lo <= value <= hi:
                raise ValueError(f"{name} must lie in {lo}..{hi}, got {value}")

    def index_options(self, people: int) -> IndexOptions:
        """Candidate-index options of a new gallery whose first insert holds ``people``
        people (:func:`afis.people.people_index_options` for the size the gallery is
        planned for, ``planned_people``, or that insert's if larger)."""
        return people_index_options(max(people, self.planned_people), self.gallery_shards)


@dataclass(frozen=True)
class Thresholds:
    """Fused-score thresholds of one job and the search size they were set for."""

    duplicate: float
    adjudicate: float
    searched: int


def _tail_threshold(fmr: float) -> float:
    return C.FUSED_TAIL_START + C.FUSED_TAIL_SCALE * math.log(C.FUSED_TAIL_SHARE / fmr)


def thresholds(searched: int, options: DedupOptions) -> Thresholds:
    """Thresholds for a search over ``searched`` records (see the module docstring)."""
    from afis.match import threshold_for_fmr

    n = max(int(searched), 1)
    duplicate = _tail_threshold(min(options.fpir_duplicate / n, C.FUSED_TAIL_SHARE))
    adjudicate = _tail_threshold(min(options.fpir_adjudicate / n, C.FUSED_TAIL_SHARE))
    return Thresholds(
        duplicate=max(duplicate, 10 * threshold_for_fmr(C.FLOOR_FMR_DUPLICATE)),
        adjudicate=max(adjudicate, 10 * threshold_for_fmr(C.FLOOR_FMR_ADJUDICATE)),
        searched=n,
    )


def calibrate(pairs: int = 4000, seed: int = 2026, threads: int | None = None) -> dict[str, float]:
    """Measure the impostor fused-score tail on synthetic people.

    Person ``i`` (impression 0) is compared with person ``pairs + i`` (impression 1) on all
    ten fingers; the fused scores' ``1 - FUSED_TAIL_SHARE`` quantile is the tail's start and
    the mean excess above it its scale (the maximum-likelihood exponential fit).

    Examples
    --------
    >>> fit = calibrate(pairs=30, seed=1)
    >>> fit["start"] > 0 and fit["scale"] > 0
    True
    """
    from afis.synth import Population

    population = Population(seed)
    a = population.impressions(np.arange(pairs * 10), 0).templates()
    b = population.impressions(np.arange(pairs * 10, 2 * pairs * 10), 1).templates()

    def fused(i: int) -> float:
        return float(
            sum(
                Matcher(a[i * 10 + f]).compare_many([b[i * 10 + f]], threads=1)[0]
                for f in range(10)
            )
        )

    with ThreadPoolExecutor(_threads(threads)) as pool:
        scores = np.array(list(pool.map(fused, range(pairs))))
    start = float(np.quantile(scores, 1 - C.FUSED_TAIL_SHARE))
    excess = scores[scores > start] - start
    return {
        "pairs": pairs,
        "seed": seed,
        "share": C.FUSED_TAIL_SHARE,
        "start": start,
        "scale": float(excess.mean()) if excess.size else 0.0,
        "max": float(scores.max()),
    }


def _threads(threads: int | None) -> int:
    return resolve_threads(threads)


# -- what a chunk's computation takes and gives --------------------------------------------


@dataclass(frozen=True)
class Probe:
    """One batch record as the search sees it: id, place in the batch, NIK, templates."""

    record_id: int
    seq: int
    nik: str
    templates: tuple[tuple[int, bytes], ...]  # (finger position, Template.to_bytes())
    exempt: bool = False
    #: records found unique before the job under the same NIK (the store's answer when the
    #: chunk was read; those the job's gallery does not hold are ignored)
    own: tuple[int, ...] = ()


@dataclass(frozen=True)
class Candidate:
    """A candidate person of one search, with its ten per-finger scores."""

    record_id: int
    rank: int
    fused_score: float
    finger_scores: tuple[float, ...]
    verdict: str  # match / grey / below
    same_nik: bool


@dataclass(frozen=True)
class Decision:
    """The outcome of one record's search."""

    record_id: int
    status: Status
    kind: str | None
    best_score: float
    reason: str
    candidates: tuple[Candidate, ...] = ()


class _JobFiles:
    """What a job searches, opened (memory-mapped) in this process: the persistent gallery
    of the records found unique before the job (``gallery``) and the job's own gallery of
    its batch (``batch``), with each batch record's place and NIK."""

    def __init__(self, folder: Path, gallery_dir: Path, threads: int) -> None:
        with np.load(folder / "members.npz", allow_pickle=False) as arrays:
            record_ids = np.asarray(arrays["record_ids"])
            seq = np.asarray(arrays["seq"])
            nik = np.asarray(arrays["nik"])
        self.seq_of = dict(zip(record_ids.tolist(), seq.tolist(), strict=True))
        by_id = np.argsort(record_ids, kind="stable")
        self._sorted_ids, self._sorted_seq = record_ids[by_id], seq[by_id]
        self.nik_index: dict[str, list[int]] = {}
        for rid, value in zip(record_ids.tolist(), nik.tolist(), strict=True):
            self.nik_index.setdefault(value, []).append(rid)
        # the batch is searched against itself: each record is re-ranked for many probes
        self.batch = PeopleGallery.open(
            folder / BATCH, threads=threads, rerank_cache=RERANK_CACHE_BYTES
        )
        self._batch_seq: np.ndarray | None = None  # places of the batch gallery's records
        self.gallery = (
            ShardedPeopleGallery.open(gallery_dir, threads=threads)
            if (gallery_dir / SHARDS_HEADER).exists()
            else None
        )
        #: the finger positions both galleries search (a persistent gallery written before
        #: its manifests' version 4 searches thumbs and index fingers only, until re-partitioned)
        self.searched = tuple(
            p
            for p in self.batch.searched_positions
            if self.gallery is None or p in self.gallery.searched_positions
        )

    def earlier(self, seqs: Sequence[int]) -> list[int]:
        """``among_first`` for a batch search of probes at places ``seqs``: for probe ``n``,
        how many of the batch gallery's records (inserted in batch order) come before place
        ``seqs[n]``."""
        if self._batch_seq is None:
            held = self.batch.insertion_order
            at = np.minimum(np.searchsorted(self._sorted_ids, held), len(self._sorted_ids) - 1)
            if len(held) and not np.array_equal(self._sorted_ids[at], held):
                raise ValueError("the job's batch gallery holds records that are not its members")
            places = self._sorted_seq[at] if len(held) else np.zeros(0, np.int64)
            if np.any(np.diff(places) <= 0):
                raise ValueError("the job's batch gallery is not in batch order")
            self._batch_seq = places
        return np.searchsorted(self._batch_seq, np.asarray(seqs, np.int64), "left").tolist()


_CACHE: dict[str, _JobFiles] = {}
_CACHE_LOCK = threading.Lock()


def _job_files(folder: str, gallery_dir: str, threads: int) -> _JobFiles:
    with _CACHE_LOCK:
        files = _CACHE.get(folder)
        if files is None:
            if not (Path(folder) / _READY).exists():
                raise AfisError(f"{folder}: the job's search structures are not complete")
            _CACHE.clear()  # one job at a time per process
            files = _CACHE[folder] = _JobFiles(Path(folder), Path(gallery_dir), threads)
        return files


def search_chunk(
    job_dir: str,
    probes: Sequence[Probe],
    settings: dict[str, Any],
    threads: int | None = 1,
    client: Any = None,
) -> list[Decision]:
    """Search a chunk of probes of a prepared job (runs in this process or in a worker
    process).

    Parameters
    ----------
    job_dir : str
        The job's folder (its batch gallery is memory-mapped; a process keeps it open).
    probes : sequence of Probe
    settings : dict
        The job's settings row (options, thresholds, the persistent gallery's folder).
    threads : int, optional
        Threads for this chunk (``None``: one per CPU).
    client : dask.distributed.Client, optional
        Serve the persistent gallery's shards on the cluster's workers.

    Returns
    -------
    list of Decision
        One per probe, in order; the same whatever the chunking, process or cluster.
    """
    workers = _threads(threads)
    files = _job_files(job_dir, settings["gallery"], workers)
    options = DedupOptions(**settings["options"])
    limits = Thresholds(**settings["thresholds"])
    depth = options.shortlist_depth or None
    decisions: dict[int, Decision] = {}
    searchable: list[int] = []
    decoded: dict[int, dict[int, Template]] = {}
    for n, probe in enumerate(probes):
        rid = probe.record_id
        try:
            fingers = {p: Template.from_bytes(b) for p, b in probe.templates}
        except TemplateError as exc:  # changed since the checks: the search cannot use it
            reason = f"a template cannot be read ({exc})"
            decisions[n] = Decision(rid, Status.SEARCH_FAILURE_AT_CENTRAL, None, 0.0, reason)
            continue
        if probe.exempt or not fingers:
            decisions[n] = Decision(
                rid,
                Status.ADJUDICATE_RECORD,
                None,
                0.0,
                "no fingerprints (exempt): face and iris must be compared by a person",
            )
        elif not any(p in fingers for p in files.searched):
            names = ", ".join(FingerPosition(p).name for p in files.searched)
            decisions[n] = Decision(
                rid,
                Status.SEARCH_FAILURE_AT_CENTRAL,
                None,
                0.0,
                f"none of the fingers the galleries search ({names}) was captured",
            )
        else:
            decoded[n] = fingers
            searchable.append(n)
    wanted = [decoded[n] for n in searchable]
    # 1. the records found unique before the job (the persistent gallery, maybe on Dask)
    unique_found: list[list[PeopleCandidate]] = [[] for _ in wanted]
    if files.gallery is not None and files.gallery.count() and wanted:
        unique_found = files.gallery.identify(
            wanted, k=options.max_candidates, depth=depth, client=client
        )
    # 2. the records of the batch before each probe (the job's own gallery)
    batch_found: list[list[PeopleCandidate]] = [[] for _ in wanted]
    if len(files.batch) and wanted:
        batch_found = files.batch.identify(
            wanted,
            k=options.max_candidates,
            depth=depth,
            among_first=files.earlier([probes[n].seq for n in searchable]),
        )
    for m, n in enumerate(searchable):
        decisions[n] = _decide(
            files, limits, probes[n], decoded[n], unique_found[m] + batch_found[m]
        )
    return [decisions[n] for n in range(len(probes))]


def _decide(
    files: _JobFiles,
    limits: Thresholds,
    probe: Probe,
    fingers: dict[int, Template],
    found: list[PeopleCandidate],
) -> Decision:
    """The outcome of one record from its candidates (both galleries) and the records under
    its own NIK (compared on all ten fingers whether listed or not)."""
    rid = probe.record_id
    table: dict[int, np.ndarray] = {c.person_id: c.scores for c in found}
    in_gallery = files.gallery is not None
    own_unique = [c for c in probe.own if in_gallery and c != rid and c in files.gallery]
    own_batch = [
        c
        for c in files.nik_index.get(probe.nik, [])
        if c != rid and files.seq_of[c] < probe.seq and c in files.batch
    ]
    for source, own in ((files.gallery, own_unique), (files.batch, own_batch)):
        todo = [c for c in own if c not in table]
        if todo:
            for c, scores in zip(todo, source.compare(fingers, todo), strict=True):
                table[c] = scores
    own = set(own_unique) | set(own_batch)
    if not table:
        return Decision(rid, Status.PRINT_READY_RECORD, None, 0.0, "no candidates")
    candidates = []
    best = 0.0
    for c, scores in table.items():
        score = float(np.asarray(scores, np.float64).sum())
        if c not in own:
            best = max(best, score)  # the best other-NIK fused score, stored or not
        verdict = (
            "match"
            if score >= limits.duplicate
            else "grey"
            if score >= limits.adjudicate
            else "below"
        )
        if verdict != "below" or c in own:
            candidates.append(
                Candidate(
                    record_id=int(c),
                    rank=0,
                    fused_score=score,
                    finger_scores=tuple(float(s) for s in scores),
                    verdict=verdict,
                    same_nik=c in own,
                )
            )
    candidates.sort(key=lambda c: (-c.fused_score, c.record_id))
    candidates = [dataclasses.replace(c, rank=i + 1) for i, c in enumerate(candidates)]
    others = [c for c in candidates if not c.same_nik]
    matches = [c for c in others if c.verdict == "match"]
    grey = [c for c in others if c.verdict == "grey"]
    own_hit = [c for c in candidates if c.same_nik and c.verdict == "match"]
    if matches:
        kind = "one_to_one" if len(matches) == 1 else "one_to_many"
        ids = ", ".join(str(c.record_id) for c in matches)
        status, reason = (
            Status.DUPLICATE_RECORD,
            f"{kind}: matches record(s) {ids} under another NIK",
        )
    elif grey:
        kind = None
        status = Status.ADJUDICATE_RECORD
        reason = f"similar to record(s) {', '.join(str(c.record_id) for c in grey)}"
    elif own and not own_hit:
        kind = None
        status = Status.ADJUDICATE_RECORD
        reason = f"re-enrolment under NIK {probe.nik} does not match its earlier record(s)"
    else:
        kind = None
        status = Status.PRINT_READY_RECORD
        reason = "re-enrolment matches its own earlier record" if own_hit else "unique"
    return Decision(rid, status, kind, best, reason, tuple(candidates))


# -- the job ---------------------------------------------------------------------------------


@dataclass
class DedupSummary:
    """What a run of the job did."""

    job_id: int | None
    records: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    chunks: int = 0
    chunks_resumed: int = 0
    seconds: float = 0.0
    prepare_seconds: float = 0.0

    @property
    def rate(self) -> float:
        """Records per second over the whole run."""
        return self.records / self.seconds if self.seconds > 0 else 0.0

    def lines(self) -> list[str]:
        """A human-readable summary."""
        if self.job_id is None:
            return ["nothing to de-duplicate"]
        out = [
            f"job {self.job_id}: {self.records} records in {self.chunks} chunks"
            f" ({self.chunks_resumed} already done before this run)",
            f"time {self.seconds:.1f} s (preparing {self.prepare_seconds:.1f} s),"
            f" {self.rate:.1f} records/s",
        ]
        out += [f"  {name:<28} {count}" for name, count in sorted(self.outcomes.items())]
        return out


#: Test hook: called with (event, chunk) at ``prepared``, ``committing``, ``committed`` and
#: ``inserting`` (all chunks committed, the unique records about to join the gallery).
Hook = Callable[[str, int], None]


def _settings(options: DedupOptions, limits: Thresholds, gallery: Path) -> dict[str, Any]:
    return {
        "options": dataclasses.asdict(options),
        "thresholds": dataclasses.asdict(limits),
        "gallery": str(gallery),
    }


def _open_job(store: Store, work_dir: Path, options: DedupOptions) -> int | None:
    """The unfinished job, or a new one over the records in SENT_FOR_DEDUP (None: nothing)."""
    with store.begin() as conn:
        row = conn.execute(
            sa.select(dedup_jobs.c.id)
            .where(dedup_jobs.c.state != "done")
            .order_by(dedup_jobs.c.id)
            .limit(1)
        ).first()
        if row is not None:
            return int(row.id)
        batch = store.records_in(Status.SENT_FOR_DEDUP, conn)
        if not batch:
            return None
        unique = conn.execute(
            sa.select(sa.func.count())
            .select_from(records)
            .where(records.c.status.in_([s.value for s in UNIQUE_STATUSES]))
        ).scalar_one()
        limits = thresholds(int(unique) + len(batch), options)
        job_id = conn.execute(
            dedup_jobs.insert().returning(dedup_jobs.c.id),
            {
                "state": "preparing",
                "work_dir": str(work_dir),
                "settings": _settings(options, limits, work_dir / GALLERY),
                "created_at": now(),
            },
        ).scalar_one()
        conn.execute(
            dedup_job_items.insert(),
            [
                {"job_id": job_id, "record_id": rid, "seq": seq, "chunk": seq // options.chunk_size}
                for seq, rid in enumerate(batch)
            ],
        )
        log.info("job %d: %d records, thresholds %s", job_id, len(batch), limits)
        return int(job_id)


def _load_templates(
    store: Store, ids: Sequence[int], conn: sa.Connection
) -> dict[int, dict[int, bytes]]:
    out: dict[int, dict[int, bytes]] = {int(r): {} for r in ids}
    step = 2000
    for start in range(0, len(ids), step):
        part = list(ids[start : start + step])
        query = sa.select(samples.c.record_id, samples.c.position, samples.c.template).where(
            samples.c.record_id.in_(part), samples.c.state == SampleState.CAPTURED.value
        )
        for row in conn.execute(query):
            out[row.record_id][row.position] = bytes(row.template)
    return out


def _decode(rid: int, fingers: dict[int, bytes]) -> dict[int, Template]:
    out = {}
    for position, data in sorted(fingers.items()):
        try:
            out[position] = Template.from_bytes(data)
        except TemplateError as exc:  # left out of the galleries
            log.warning("record %d finger %d unreadable: %s", rid, position, exc)
    return out


def _unique_ids(conn: sa.Connection) -> list[int]:
    return [
        int(r)
        for r in conn.execute(
            sa.select(records.c.id)
            .where(records.c.status.in_([s.value for s in UNIQUE_STATUSES]))
            .order_by(records.c.id)
        ).scalars()
    ]


def sync_gallery(
    store: Store,
    gallery_dir: str | Path,
    options: DedupOptions | None = None,
    *,
    threads: int | None = None,
    progress: bool = False,
) -> tuple[int, int]:
    """Make the persistent gallery hold exactly the records in
    :data:`~enrollment.status.UNIQUE_STATUSES`: insert those it lacks (found unique by the
    last job, or by an adjudicator since), delete those that left them. Creates the gallery
    (``options.gallery_shards`` shards, index options sized to its first insert) when the
    folder holds none.

    Reads every unique record's id (8 bytes each: about a second at 10^6 records) to compare
    the sets, so nothing the store decided is ever missing from the gallery, whatever was
    interrupted; templates are read only for the records inserted. Idempotent: a sync killed
    at any point is finished by the next (each shard commits atomically).

    Returns
    -------
    (inserted, deleted) : tuple of int
    """
    options = options or DedupOptions()
    folder = Path(gallery_dir)
    workers = _threads(threads)
    gallery = (
        ShardedPeopleGallery.open(folder, threads=workers)
        if (folder / SHARDS_HEADER).exists()
        else None
    )
    with store.engine.connect() as conn:
        unique = _unique_ids(conn)
    held = set(gallery.person_ids.tolist()) if gallery is not None else set()
    wanted = set(unique)
    gone = sorted(held - wanted)
    if gone and gallery is not None:
        gallery.delete(gone)
        log.info("gallery: %d records no longer unique removed", len(gone))
    todo = [r for r in unique if r not in held]
    bar = _Progress(0, len(todo), 0, progress, unit="record", desc="gallery sync")
    inserted = 0
    for start in range(0, len(todo), SYNC_BATCH):
        part = todo[start : start + SYNC_BATCH]
        with store.engine.connect() as conn:
            templates = _load_templates(store, part, conn)
        ids, people = [], []
        for rid in part:
            fingers = _decode(rid, templates[rid])
            if fingers:  # an exempt record has nothing to search with
                ids.append(rid)
                people.append(fingers)
        if ids:
            if gallery is None:
                gallery = ShardedPeopleGallery.create(
                    folder,
                    options.gallery_shards,
                    options.index_options(len(ids)),
                    threads=workers,
                )
            gallery.insert(ids, people)
            inserted += len(ids)
        bar.update(len(part))
    bar.close()
    if gallery is not None:
        log.info("gallery: %d records inserted, %d held", inserted, gallery.count())
        gallery.close()
    return inserted, len(gone)


def _prepare(
    store: Store,
    job_id: int,
    folder: Path,
    gallery_dir: Path,
    options: DedupOptions,
    threads: int,
    progress: bool,
) -> None:
    """Bring the persistent gallery up to date with the store, then write the job's own
    files: its batch as a people gallery (person id = record id) and each batch record's
    place and NIK."""
    sync_gallery(store, gallery_dir, options, threads=threads, progress=progress)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    with store.engine.connect() as conn:
        items = conn.execute(
            sa.select(dedup_job_items.c.record_id, dedup_job_items.c.seq)
            .where(dedup_job_items.c.job_id == job_id)
            .order_by(dedup_job_items.c.seq)
        ).all()
        members = [int(r.record_id) for r in items]
        niks = _niks(conn, members)
        templates = _load_templates(store, members, conn)
    np.savez(
        folder / "members.npz",
        record_ids=np.asarray(members, np.int64),
        seq=np.asarray([int(r.seq) for r in items], np.int64),
        nik=np.asarray([niks[r] for r in members], dtype="U16"),
    )
    ids, people = [], []
    for rid in members:
        fingers = _decode(rid, templates[rid])
        if fingers:
            ids.append(rid)
            people.append(fingers)
    with PeopleGallery.create(
        folder / BATCH,
        people_index_options(len(ids)),
        threads=threads,
    ) as batch:
        batch.insert(ids, people)
    (folder / _READY).write_text(json.dumps({"job": job_id, "members": len(members)}))


def _niks(conn: sa.Connection, ids: Sequence[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for start in range(0, len(ids), 2000):
        part = list(ids[start : start + 2000])
        query = sa.select(records.c.id, records.c.nik).where(records.c.id.in_(part))
        out.update((int(r), n) for r, n in conn.execute(query))
    return out


def _chunk_probes(store: Store, job_id: int, chunk: int, conn: sa.Connection) -> list[Probe]:
    rows = conn.execute(
        sa.select(dedup_job_items.c.record_id, dedup_job_items.c.seq, records.c.nik)
        .join(records, records.c.id == dedup_job_items.c.record_id)
        .where(dedup_job_items.c.job_id == job_id, dedup_job_items.c.chunk == chunk)
        .order_by(dedup_job_items.c.seq)
    ).all()
    ids = [int(r.record_id) for r in rows]
    templates = _load_templates(store, ids, conn)
    exempt = set(
        conn.execute(
            sa.select(samples.c.record_id).where(
                samples.c.record_id.in_(ids), samples.c.state == SampleState.EXEMPT.value
            )
        ).scalars()
    )
    own: dict[str, list[int]] = {}
    for rid, nik in conn.execute(
        sa.select(records.c.id, records.c.nik)
        .where(
            records.c.nik.in_(sorted({r.nik for r in rows})),
            records.c.status.in_([s.value for s in UNIQUE_STATUSES]),
        )
        .order_by(records.c.id)
    ):
        own.setdefault(nik, []).append(int(rid))
    return [
        Probe(
            record_id=int(r.record_id),
            seq=int(r.seq),
            nik=r.nik,
            templates=tuple(sorted(templates[int(r.record_id)].items())),
            exempt=int(r.record_id) in exempt and not templates[int(r.record_id)],
            own=tuple(own.get(r.nik, ())),
        )
        for r in rows
    ]


def _commit_chunk(
    store: Store, job_id: int, chunk: int, decisions: Sequence[Decision], hook: Hook | None
) -> None:
    with store.begin() as conn:
        for decision in decisions:
            current = store.status(decision.record_id, conn)
            if current != Status.SENT_FOR_DEDUP:
                log.warning(
                    "record %d left SENT_FOR_DEDUP during the job (%s); not changed",
                    decision.record_id,
                    current.value,
                )
                continue
            result_id = conn.execute(
                dedup_results.insert().returning(dedup_results.c.id),
                {
                    "job_id": job_id,
                    "record_id": decision.record_id,
                    "decision": decision.status.value,
                    "kind": decision.kind,
                    "best_score": decision.best_score,
                    "reason": decision.reason,
                },
            ).scalar_one()
            if decision.candidates:
                conn.execute(
                    dedup_candidates.insert(),
                    [
                        {
                            "result_id": result_id,
                            "candidate_id": c.record_id,
                            "rank": c.rank,
                            "fused_score": c.fused_score,
                            "finger_scores": list(c.finger_scores),
                            "verdict": c.verdict,
                            "same_nik": c.same_nik,
                        }
                        for c in decision.candidates
                    ],
                )
            store.transition(
                decision.record_id,
                decision.status,
                actor=ACTOR,
                reason=f"job {job_id}: {decision.reason}",
                expected=Status.SENT_FOR_DEDUP,
                conn=conn,
            )
        conn.execute(
            dedup_checkpoints.insert(),
            {"job_id": job_id, "chunk": chunk, "records": len(decisions), "committed_at": now()},
        )
        if hook is not None:
            hook("committing", chunk)
    if hook is not None:
        hook("committed", chunk)


def run_dedup(
    store: Store,
    work_dir: str | Path,
    options: DedupOptions | None = None,
    *,
    client: Any = None,
    threads: int | None = None,
    processes: int = 1,
    progress: bool = False,
    hook: Hook | None = None,
) -> DedupSummary:
    """Run (or resume) the de-duplication job until every chunk is committed.

    Parameters
    ----------
    store : Store
    work_dir : path-like
        Holds the persistent gallery (``work_dir/gallery``, kept from job to job) and the
        job's own files (``work_dir/job-N``, removed when it is done); with a Dask client it
        must be storage the workers see at the same path.
    options : DedupOptions, optional
        Used when a new job starts; a resumed job keeps the options it started with.
    client : dask.distributed.Client, optional
        Serve the persistent gallery's shards on the cluster's workers (each opens the
        shards it is given from ``work_dir/gallery`` and keeps them); the chunks' probes
        and candidate lists travel, never a gallery.
    threads : int, optional
        Threads in this process (``None``: one per CPU).
    processes : int
        Search chunks in this many worker processes (one thread each) while this process
        reads probes and commits results; 1 searches here. Python-heavy parts of the search
        (candidate aggregation, decoding) then use every core.
    progress : bool
        Show a progress bar (tqdm) on standard error; otherwise log a line (INFO) at every
        tenth of the chunks.
    hook : callable, optional
        Called with ``(event, chunk)`` (tests use it to kill the process at chosen points).

    Returns
    -------
    DedupSummary
    """
    started = time.perf_counter()
    options = options or DedupOptions()
    work = Path(work_dir).resolve()
    workers = _threads(threads)
    job_id = _open_job(store, work, options)
    if job_id is None:
        return DedupSummary(job_id=None)
    with store.engine.connect() as conn:
        job = conn.execute(sa.select(dedup_jobs).where(dedup_jobs.c.id == job_id)).one()
        chunks = sorted(
            set(
                conn.execute(
                    sa.select(dedup_job_items.c.chunk).where(dedup_job_items.c.job_id == job_id)
                ).scalars()
            )
        )
        done = set(
            conn.execute(
                sa.select(dedup_checkpoints.c.chunk).where(dedup_checkpoints.c.job_id == job_id)
            ).scalars()
        )
    settings = dict(job.settings)
    job_options = DedupOptions(**settings["options"])
    folder = Path(job.work_dir) / f"job-{job_id}"
    summary = DedupSummary(job_id=job_id, chunks=len(chunks), chunks_resumed=len(done))
    if job.state == "preparing" or not (folder / _READY).exists():
        log.info("job %d: building the search structures in %s", job_id, folder)
        _prepare(store, job_id, folder, Path(settings["gallery"]), job_options, workers, progress)
        if hook is not None:
            hook("prepared", -1)
        with store.begin() as conn:
            conn.execute(
                dedup_jobs.update().where(dedup_jobs.c.id == job_id).values(state="running")
            )
    summary.prepare_seconds = time.perf_counter() - started
    todo = [c for c in chunks if c not in done]
    bar = _Progress(job_id, len(chunks), len(done), progress)
    try:
        if client is None and processes > 1 and len(todo) > 1:
            _run_in_processes(store, processes, job_id, folder, settings, todo, hook, bar)
        else:  # here; with a client, the persistent gallery's shards on the cluster
            for chunk in todo:
                with store.engine.connect() as conn:
                    probes = _chunk_probes(store, job_id, chunk, conn)
                decisions = search_chunk(
                    str(folder), probes, settings, threads=workers, client=client
                )
                _commit_chunk(store, job_id, chunk, decisions, hook)
                bar.update(1)
    finally:
        bar.close()
    # the records found unique join the persistent gallery (idempotent: a resumed job, or
    # the next job's sync, inserts exactly those still missing)
    if hook is not None:
        hook("inserting", -1)
    with _CACHE_LOCK:
        _CACHE.pop(str(folder), None)  # close the job's galleries before the gallery changes
    sync_gallery(store, settings["gallery"], job_options, threads=workers, progress=progress)
    with store.begin() as conn:
        outcomes = {
            decision: int(n)
            for decision, n in conn.execute(
                sa.select(dedup_results.c.decision, sa.func.count())
                .where(dedup_results.c.job_id == job_id)
                .group_by(dedup_results.c.decision)
            )
        }
        summary.records = sum(outcomes.values())
        summary.outcomes = outcomes
        summary.seconds = time.perf_counter() - started
        conn.execute(
            dedup_jobs.update()
            .where(dedup_jobs.c.id == job_id)
            .values(state="done", finished_at=now(), summary={"outcomes": outcomes})
        )
    # the job's files are needed only to resume it; a finished job's results are in the store
    shutil.rmtree(folder, ignore_errors=True)
    for line in summary.lines():
        log.info(line)
    return summary


class _Progress:
    """A tqdm bar on request; otherwise a log line at every tenth of the work."""

    def __init__(
        self,
        job_id: int,
        total: int,
        initial: int,
        bar: bool,
        *,
        unit: str = "chunk",
        desc: str | None = None,
    ) -> None:
        self.total, self.count, self.unit = total, initial, unit
        self.desc = desc or f"dedup job {job_id}"
        self.started = time.perf_counter()
        self.bar = None
        if bar and total:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, unit=unit, desc=self.desc)
        self.step = max(1, total // 10)

    def update(self, n: int) -> None:
        before = self.count
        self.count += n
        if self.bar is not None:
            self.bar.update(n)
        elif self.count // self.step > before // self.step or self.count == self.total:
            elapsed = time.perf_counter() - self.started
            log.info(
                "%s: %d/%d %ss (%.0f s)", self.desc, self.count, self.total, self.unit, elapsed
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _run_in_processes(
    store: Store,
    processes: int,
    job_id: int,
    folder: Path,
    settings: dict[str, Any],
    todo: Sequence[int],
    hook: Hook | None,
    bar: _Progress,
) -> None:
    """Chunks in a pool of worker processes, a bounded number in flight; commits here."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    pending = list(todo)
    futures: dict[Any, int] = {}
    context = multiprocessing.get_context("spawn")  # no fork of a process running threads
    with ProcessPoolExecutor(processes, mp_context=context) as pool:

        def submit() -> None:
            chunk = pending.pop(0)
            with store.engine.connect() as conn:
                probes = _chunk_probes(store, job_id, chunk, conn)
            futures[pool.submit(search_chunk, str(folder), probes, settings, 1)] = chunk

        for _ in range(min(len(pending), 2 * processes)):
            submit()
        while futures:
            finished, _ = wait(list(futures), return_when=FIRST_COMPLETED)
            for future in sorted(finished, key=futures.__getitem__):
                chunk = futures.pop(future)
                _commit_chunk(store, job_id, chunk, future.result(), hook)
                bar.update(1)
                if pending:
                    submit()
