"""The batch de-duplication job: every record in ``SENT_FOR_DEDUP`` searched against everyone.

What is searched
    A job takes every record in ``SENT_FOR_DEDUP`` (the *batch*, in record-id order) and
    searches each against every record found unique before the job (statuses
    :data:`~enrollment.status.UNIQUE_STATUSES`, the *gallery*) and against the records of
    the batch before it. A pair inside the batch is thus judged once, on the later record.

How
    1. *Shortlist*: one candidate index per finger position (:class:`afis.index.ShardedIndex`)
       holds the gallery's and the batch's thumbs and index fingers
       (:data:`~enrollment.constants.SHORTLIST_FINGERS`); each of the probe's fingers there
       shortlists ``shortlist_k`` fingers. Their owners are compared with the probe on the
       fingers whose search listed them (the index's own scores are too coarse to rank a
       poor genuine capture: it can sit among the impostors); the ``max_candidates`` best,
       plus every earlier record under the same NIK, are the candidates.
    2. *Re-rank*: the probe's ten fingers are compared with the candidate's ten
       (:meth:`afis.Matcher.compare_many` against a memory-mapped :class:`afis.Gallery` per
       finger position); the *fused score* of a candidate is the sum over finger positions of
       the scores (a missing finger adds 0).
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
    ``dedup_jobs`` / ``dedup_job_items``, files in ``work_dir/job-N/``, removed when the
    job is done: about 140 kB a record, mostly the galleries' cylinders). Records are
    processed in chunks of ``chunk_size``; a chunk's results, candidates, status changes and
    its checkpoint row are committed in one transaction. A killed job resumes at the first
    uncommitted chunk with the same files, so the final result is the one an uninterrupted
    run gives, and unique keys make a second copy of a result impossible. Running the job
    again when nothing waits does nothing.

Distribution
    :func:`search_chunk` is a pure function of the job folder and a chunk's probes: with a
    ``dask.distributed.Client`` the chunks run on the cluster's workers, which memory-map the
    index shards and galleries from the job folder (shared storage), while this process
    sends them only the chunk's templates and commits what comes back.

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
from afis.constants import INDEX_PRESETS
from afis.errors import AfisError, TemplateError
from afis.match import Gallery, Matcher, Reranker
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
    "thresholds",
]

log = logging.getLogger(__name__)

ACTOR = "dedup-job"
_READY = "READY"


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
    shortlist_fingers: tuple[int, ...] = C.SHORTLIST_FINGERS
    shortlist_k: int = C.SHORTLIST_K
    max_candidates: int = C.MAX_CANDIDATES
    chunk_size: int = C.CHUNK_SIZE
    index_nlist: int = INDEX_PRESETS[C.INDEX_PRESET]["nlist"]
    index_nprobe: int = INDEX_PRESETS[C.INDEX_PRESET]["nprobe"]
    index_neighbours: int = INDEX_PRESETS[C.INDEX_PRESET]["neighbours"]

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
            ("shortlist_k", 1, 1000),
            ("max_candidates", 1, 1000),
            ("chunk_size", 1, 100_000),
            ("index_nlist", 1, 1 << 16),
            ("index_nprobe", 1, 1 << 16),
            ("index_neighbours", 1, 2048),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
            if not lo <= value <= hi:
                raise ValueError(f"{name} must lie in {lo}..{hi}, got {value}")
        fingers = tuple(int(FingerPosition(int(p))) for p in self.shortlist_fingers)
        if not fingers or 0 in fingers or len(set(fingers)) != len(fingers):
            raise ValueError("shortlist_fingers must be distinct finger positions 1..10")
        object.__setattr__(self, "shortlist_fingers", fingers)


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
    """The search structures of one job, loaded (memory-mapped) from its folder."""

    def __init__(self, folder: Path, threads: int) -> None:
        from afis.index import ShardedIndex

        with np.load(folder / "members.npz", allow_pickle=False) as arrays:
            self.record_ids = np.asarray(arrays["record_ids"])
            self.rank = np.asarray(arrays["rank"])
            self.nik = np.asarray(arrays["nik"])
        self.index = ShardedIndex.load(folder / "index", mmap=True, threads=threads)
        # per finger position: the packed gallery of the unique records' fingers, by record id
        self.galleries: dict[int, Reranker] = {}
        for position in range(1, 11):
            sub = folder / f"gallery-{position:02d}"
            if (sub / "gallery.json").exists():
                rows = np.load(sub / "rows.npy", allow_pickle=False)
                self.galleries[position] = Reranker(Gallery.load(sub, mmap=True), rows)
        self.nik_index: dict[str, list[int]] = {}
        for rid, nik in zip(self.record_ids.tolist(), self.nik.tolist(), strict=True):
            self.nik_index.setdefault(nik, []).append(rid)
        self.rank_of = dict(zip(self.record_ids.tolist(), self.rank.tolist(), strict=True))


_CACHE: dict[str, _JobFiles] = {}
_CACHE_LOCK = threading.Lock()


def _job_files(folder: str, threads: int) -> _JobFiles:
    with _CACHE_LOCK:
        files = _CACHE.get(folder)
        if files is None:
            if not (Path(folder) / _READY).exists():
                raise AfisError(f"{folder}: the job's search structures are not complete")
            _CACHE.clear()  # one job at a time per process
            files = _CACHE[folder] = _JobFiles(Path(folder), threads)
        return files


def search_chunk(
    job_dir: str, probes: Sequence[Probe], settings: dict[str, Any], threads: int | None = 1
) -> list[Decision]:
    """Search a chunk of probes of a prepared job (runs in this process or on a worker).

    Parameters
    ----------
    job_dir : str
        The job's folder (its files are memory-mapped; a process keeps them open).
    probes : sequence of Probe
    settings : dict
        The job's settings row (options and thresholds).
    threads : int, optional
        Threads for this chunk (``None``: one per CPU).

    Returns
    -------
    list of Decision
        One per probe, in order; the same whatever the chunking, process or machine.
    """
    workers = _threads(threads)
    files = _job_files(job_dir, workers)
    options = DedupOptions(**settings["options"])
    limits = Thresholds(**settings["thresholds"])
    decoded: list[dict[int, Template]] = []
    broken: dict[int, str] = {}
    for n, probe in enumerate(probes):
        try:
            decoded.append({p: Template.from_bytes(b) for p, b in probe.templates})
        except TemplateError as exc:  # changed since the checks: the search cannot use it
            decoded.append({})
            broken[n] = f"a template cannot be read ({exc})"
    # 1. shortlist: all the chunk's searchable fingers in one batch search
    queries, owners = [], []
    for n, fingers in enumerate(decoded):
        for position in options.shortlist_fingers:
            if position in fingers:
                queries.append(fingers[position])
                owners.append(n)
    k = options.shortlist_k + 1  # the probe finds itself
    # per probe: shortlisted person -> the finger positions whose search listed it
    shortlisted: list[dict[int, set[int]]] = [{} for _ in probes]
    if queries:
        _, found = files.index.search(queries, k=k)
        for owner, row_ids in zip(owners, found, strict=True):
            probe = probes[owner]
            for finger_id in row_ids.tolist():
                if finger_id < 0:
                    continue
                rid = finger_id // 10
                if rid == probe.record_id or files.rank_of[rid] >= probe.seq:
                    continue
                shortlisted[owner].setdefault(rid, set()).add(finger_id % 10 + 1)

    def one(n: int) -> Decision:
        if n in broken:
            return Decision(
                probes[n].record_id, Status.SEARCH_FAILURE_AT_CENTRAL, None, 0.0, broken[n]
            )
        return _decide(files, options, limits, probes[n], decoded[n], shortlisted[n])

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, range(len(probes))))


def _decide(
    files: _JobFiles,
    options: DedupOptions,
    limits: Thresholds,
    probe: Probe,
    fingers: dict[int, Template],
    shortlist: dict[int, set[int]],
) -> Decision:
    rid = probe.record_id
    if probe.exempt or not fingers:
        return Decision(
            rid,
            Status.ADJUDICATE_RECORD,
            None,
            0.0,
            "no fingerprints (exempt): face and iris must be compared by a person",
        )
    if not any(p in fingers for p in options.shortlist_fingers):
        names = ", ".join(FingerPosition(p).name for p in options.shortlist_fingers)
        return Decision(
            rid,
            Status.SEARCH_FAILURE_AT_CENTRAL,
            None,
            0.0,
            f"none of the searched fingers ({names}) was captured",
        )
    own = [
        c for c in files.nik_index.get(probe.nik, []) if c != rid and files.rank_of[c] < probe.seq
    ]
    listed = sorted(shortlist)
    if not listed and not own:
        return Decision(rid, Status.PRINT_READY_RECORD, None, 0.0, "no candidates")
    matchers: dict[int, Matcher] = {}

    def scores(position: int, wanted: np.ndarray) -> np.ndarray:
        if position not in fingers or position not in files.galleries or not len(wanted):
            return np.zeros(len(wanted), np.float32)
        reranker = files.galleries[position]
        if position not in matchers:
            # a record of the batch is in the gallery: its cylinders are reused
            matchers[position] = reranker.matcher(fingers[position], probe_id=rid)
        return reranker.scores(matchers[position], wanted, threads=1)

    # stage 1: every shortlisted person on the fingers whose search listed it; the best go on
    first = np.asarray(listed, np.int64)
    done = np.zeros((len(first), 10), bool)
    partial = np.zeros((len(first), 10), np.float32)
    for position in options.shortlist_fingers:
        rows = np.asarray([position in shortlist[int(c)] for c in first], bool)
        if rows.any():
            partial[rows, position - 1] = scores(position, first[rows])
            done[rows, position - 1] = True
    order = np.lexsort((first, -partial.sum(axis=1)))[: options.max_candidates]
    chosen = [int(c) for c in first[order]]
    chosen += [c for c in own if c not in chosen]
    # stage 2: the chosen on all ten fingers (what stage 1 compared is not compared again)
    wanted = np.asarray(chosen, np.int64)
    table = np.zeros((len(chosen), 10), np.float32)
    known = np.zeros((len(chosen), 10), bool)
    row_of = {int(c): n for n, c in enumerate(first)}
    for n, c in enumerate(chosen):
        if c in row_of:
            table[n] = partial[row_of[c]]
            known[n] = done[row_of[c]]
    for position in range(1, 11):
        todo = ~known[:, position - 1]
        if todo.any():
            table[todo, position - 1] = scores(position, wanted[todo])
    fused = table.astype(np.float64).sum(axis=1)
    own_set = set(own)
    candidates = []
    for n, c in enumerate(chosen):
        score = float(fused[n])
        verdict = (
            "match"
            if score >= limits.duplicate
            else "grey"
            if score >= limits.adjudicate
            else "below"
        )
        if verdict != "below" or c in own_set:
            candidates.append(
                Candidate(
                    record_id=int(c),
                    rank=0,
                    fused_score=score,
                    finger_scores=tuple(float(s) for s in table[n]),
                    verdict=verdict,
                    same_nik=c in own_set,
                )
            )
    candidates.sort(key=lambda c: (-c.fused_score, c.record_id))
    candidates = [dataclasses.replace(c, rank=i + 1) for i, c in enumerate(candidates)]
    others = [c for c in candidates if not c.same_nik]
    matches = [c for c in others if c.verdict == "match"]
    grey = [c for c in others if c.verdict == "grey"]
    # the best other-NIK fused score searched, stored or not (for monitoring the margins)
    best = max((float(fused[n]) for n, c in enumerate(chosen) if c not in own_set), default=0.0)
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


#: Test hook: called with (event, chunk) at ``prepared``, ``committing`` and ``committed``.
Hook = Callable[[str, int], None]


def _settings(options: DedupOptions, limits: Thresholds) -> dict[str, Any]:
    return {"options": dataclasses.asdict(options), "thresholds": dataclasses.asdict(limits)}


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
                "settings": _settings(options, limits),
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


def _prepare(store: Store, job_id: int, folder: Path, options: DedupOptions, threads: int) -> None:
    """Write the job's search structures (members, index, galleries) to its folder."""
    from afis.index import IndexOptions, ShardedIndex

    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    with store.engine.connect() as conn:
        items = conn.execute(
            sa.select(dedup_job_items.c.record_id, dedup_job_items.c.seq)
            .where(dedup_job_items.c.job_id == job_id)
            .order_by(dedup_job_items.c.seq)
        ).all()
        batch = {int(r.record_id): int(r.seq) for r in items}
        gallery = [
            int(r)
            for r in conn.execute(
                sa.select(records.c.id)
                .where(records.c.status.in_([s.value for s in UNIQUE_STATUSES]))
                .order_by(records.c.id)
            ).scalars()
            if int(r) not in batch
        ]
        members = sorted([*gallery, *batch])
        niks = _niks(conn, members)
        templates = _load_templates(store, members, conn)
    np.savez(
        folder / "members.npz",
        record_ids=np.asarray(members, np.int64),
        rank=np.asarray([batch.get(r, -1) for r in members], np.int64),
        nik=np.asarray([niks[r] for r in members], dtype="U16"),
    )
    decoded: dict[int, dict[int, Template]] = {}
    for rid, fingers in templates.items():
        decoded[rid] = {}
        for position, data in fingers.items():
            try:
                decoded[rid][position] = Template.from_bytes(data)
            except TemplateError as exc:  # left out of the search structures
                log.warning("record %d finger %d unreadable: %s", rid, position, exc)
    shortlist = [
        (rid * 10 + p - 1, t)
        for rid in members
        for p, t in sorted(decoded[rid].items())
        if p in options.shortlist_fingers
    ]
    per_shard = max(1, len(shortlist) // max(1, len(options.shortlist_fingers)))
    index = ShardedIndex(
        IndexOptions.preset(
            C.INDEX_PRESET,
            fingers=per_shard,
            nlist=options.index_nlist,
            nprobe=options.index_nprobe,
            neighbours=options.index_neighbours,
        ),
        threads=threads,
    )

    def build_index() -> None:
        if shortlist:
            index.add([t for _, t in shortlist], ids=[i for i, _ in shortlist])
        index.save(folder / "index")

    def build_gallery(position: int) -> None:
        rows = [rid for rid in members if position in decoded[rid]]
        if rows:
            sub = folder / f"gallery-{position:02d}"
            gallery = Gallery.from_templates([decoded[r][position] for r in rows], threads=threads)
            gallery.save(sub)
            np.save(sub / "rows.npy", np.asarray(rows, np.int64))

    # the index trains on one core meanwhile the galleries' cylinders are built on all
    with ThreadPoolExecutor(1) as pool:
        index_job = pool.submit(build_index)
        for position in range(1, 11):
            build_gallery(position)
        index_job.result()
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
    return [
        Probe(
            record_id=int(r.record_id),
            seq=int(r.seq),
            nik=r.nik,
            templates=tuple(sorted(templates[int(r.record_id)].items())),
            exempt=int(r.record_id) in exempt and not templates[int(r.record_id)],
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
        Where the job's search structures are written (``work_dir/job-N``); with a Dask
        client it must be storage the workers see at the same path.
    options : DedupOptions, optional
        Used when a new job starts; a resumed job keeps the options it started with.
    client : dask.distributed.Client, optional
        Run the chunks on the cluster instead of in this process.
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
        _prepare(store, job_id, folder, job_options, workers)
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
        elif client is None:
            for chunk in todo:
                with store.engine.connect() as conn:
                    probes = _chunk_probes(store, job_id, chunk, conn)
                decisions = search_chunk(str(folder), probes, settings, threads=workers)
                _commit_chunk(store, job_id, chunk, decisions, hook)
                bar.update(1)
        else:
            _run_on_cluster(store, client, job_id, folder, settings, todo, hook, bar)
    finally:
        bar.close()
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
    with _CACHE_LOCK:
        _CACHE.pop(str(folder), None)
    shutil.rmtree(folder, ignore_errors=True)
    for line in summary.lines():
        log.info(line)
    return summary


class _Progress:
    """A tqdm bar on request; otherwise a log line at every tenth of the chunks."""

    def __init__(self, job_id: int, total: int, initial: int, bar: bool) -> None:
        self.job_id, self.total, self.count = job_id, total, initial
        self.started = time.perf_counter()
        self.bar = None
        if bar:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, unit="chunk", desc=f"dedup job {job_id}")
        self.step = max(1, total // 10)

    def update(self, n: int) -> None:
        self.count += n
        if self.bar is not None:
            self.bar.update(n)
        elif self.count % self.step == 0 or self.count == self.total:
            elapsed = time.perf_counter() - self.started
            log.info(
                "job %d: %d/%d chunks committed (%.0f s)",
                self.job_id,
                self.count,
                self.total,
                elapsed,
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


def _run_on_cluster(
    store: Store,
    client: Any,
    job_id: int,
    folder: Path,
    settings: dict[str, Any],
    todo: Sequence[int],
    hook: Hook | None,
    bar: _Progress,
) -> None:
    """Chunks on Dask workers, a bounded number in flight; commits here as they finish."""
    from distributed import as_completed

    workers = max(1, len(client.scheduler_info().get("workers", {})))
    pending = list(todo)
    futures = {}

    def submit() -> Any:
        chunk = pending.pop(0)
        with store.engine.connect() as conn:
            probes = _chunk_probes(store, job_id, chunk, conn)
        future = client.submit(search_chunk, str(folder), probes, settings, 1, pure=False)
        futures[future] = chunk
        return future

    queue = as_completed([submit() for _ in range(min(len(pending), 2 * workers))])
    for future in queue:
        chunk = futures.pop(future)
        _commit_chunk(store, job_id, chunk, future.result(), hook)
        bar.update(1)
        if pending:
            queue.add(submit())
