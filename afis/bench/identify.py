"""Identification (1:N) benchmark: candidate index hit rate, matcher re-ranking, speed.

Gallery: impression 1 of every finger of the given FVC-style folders (images named
``<finger>_<impression>.<ext>``) plus ``background`` fingers from a pluggable source (a
callable ``source(count, seed)`` yielding :class:`afis.Template`, e.g. the synthetic
population of ``afis.synth``). Probes: every other impression of the real fingers.

Purely synthetic mode (``synthetic_mates=M``): the mates are ``M`` further fingers of the
synthetic population (ids after the background's), impression 0 in the gallery and
impressions 1..``mate_impressions`` as probes, so the whole run needs no dataset.

Some sets hold the same fingers as another set (FVC2000 DB1_B and DB2_B: the same volunteers
on two sensors, under the same numbers); a manifest entry says so with ``"same_fingers_as"``,
and a probe's mates are then every gallery entry of its finger, on either sensor (a shortlist
that ranks the other sensor's capture first has found the person). Without that, such a
probe's first candidate would count as a miss: FVC2000 DB1_B rank-1 of the exhaustive matcher
at 10^4 fingers was 57 % counted by set, 100 % counted by finger.

Reported: the hit rate (share of probes with a mate in the shortlist) against the
penetration rate (share of the gallery in the shortlist), rank-1 after the matcher re-ranks
the shortlist at one penetration, index build time and memory per finger, and search time per
probe (batch on all cores, and one probe at a time on one core).

With ``exhaustive=True`` the same run also scores every probe against the whole gallery with
the matcher, the baseline the two stages are judged against: the matcher's own hit rate at
each penetration (the mate's rank among all gallery fingers) and its rank-1. It costs probes x
gallery comparisons (560 probes at 10^5 fingers: about 9 minutes on two cores).
"""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

import afis
from afis.bench.verify import _Progress, folder_dpi, manifest_entry, read_fvc_folder
from afis.match import Gallery, Matcher, Reranker
from afis.template import Template

if TYPE_CHECKING:  # faiss and numba load only when the benchmark runs
    from afis.index import CandidateIndex, IndexOptions

__all__ = [
    "DEFAULT_BACKGROUND_SOURCE",
    "PENETRATIONS",
    "BackgroundSource",
    "IdentifyReport",
    "identify_benchmark",
    "load_background_source",
    "synthetic_mates",
]

#: ``source(count, seed)`` -> templates of ``count`` distinct background fingers.
BackgroundSource = Callable[[int, int], Iterable[Template]]
#: Background source used when none is named (``module:callable``).
DEFAULT_BACKGROUND_SOURCE = "afis.synth:background"
#: Penetration rates at which the hit rate is reported.
PENETRATIONS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1)
#: Probe impressions per synthetic mate (impressions 1..this; FVC has 7 per finger).
MATE_IMPRESSIONS = 7
#: Background fingers added to the index at a time.
BACKGROUND_CHUNK = 65536
#: Probes timed one at a time on one core.
SINGLE_PROBES = 50
#: Most shortlist entries whose templates the re-ranking packs at once (about 15 KB each).
RERANK_PACK_LIMIT = 100_000
#: False match rates whose calibrated thresholds (``afis.threshold_for_fmr``) the exhaustive
#: run checks the background against: how often real probes reach them against background
#: fingers says how hard the background is next to real impostors.
BACKGROUND_FMRS = (1e-2, 1e-3, 1e-4)


def load_background_source(spec: str) -> BackgroundSource:
    """Resolve ``"module:callable"`` or ``"path/to/file.py:callable"`` to a source.

    Examples
    --------
    >>> load_background_source("math:hypot").__name__
    'hypot'
    """
    module_name, sep, attr = spec.rpartition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"background source must read 'module:callable', got {spec!r}")
    try:
        if module_name.endswith(".py"):
            location = importlib.util.spec_from_file_location("_afis_background", module_name)
            if location is None or location.loader is None:
                raise ImportError(f"cannot load {module_name}")
            module = importlib.util.module_from_spec(location)
            location.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
        source = getattr(module, attr)
    except (ImportError, AttributeError, OSError) as exc:
        raise ValueError(f"background source {spec!r} is unavailable ({exc})") from exc
    if not callable(source):
        raise ValueError(f"background source {spec!r} is not callable")
    return source


@dataclass
class IdentifyReport:
    """Results of :func:`identify_benchmark` (all times in seconds unless named)."""

    sets: list[str]
    real_fingers: int
    background: int
    probes: int
    options: dict[str, Any]
    build_s: float
    fingers_per_s: float
    memory_per_finger: float
    search_ms_batch: float
    search_ms_single: float
    hit_rate: dict[float, float]
    rerank_penetration: float
    rerank_candidates: int
    rank1_rerank: float
    rank1_index: float
    extra: dict[str, Any] = field(default_factory=dict)
    #: The matcher alone against the whole gallery (``exhaustive=True``), else None.
    exhaustive_hit_rate: dict[float, float] | None = None
    exhaustive_rank1: float | None = None
    #: Share of probe x background comparisons at or above ``afis.threshold_for_fmr(f)``,
    #: for each f of :data:`BACKGROUND_FMRS` (``exhaustive=True`` with a background).
    background_fmr: dict[float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain types, for JSON."""
        out = dict(self.__dict__)
        out["hit_rate"] = [{"penetration": p, "hit_rate": h} for p, h in self.hit_rate.items()]
        if self.exhaustive_hit_rate is not None:
            out["exhaustive_hit_rate"] = [
                {"penetration": p, "hit_rate": h} for p, h in self.exhaustive_hit_rate.items()
            ]
        if self.background_fmr is not None:
            out["background_fmr"] = [
                {"calibrated_fmr": f, "background_rate": r} for f, r in self.background_fmr.items()
            ]
        return out

    def to_json(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_dict` as JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    def format_table(self) -> str:
        """A short text report."""
        gallery = self.real_fingers + self.background
        lines = [
            f"gallery {gallery} fingers ({self.real_fingers} mates + {self.background} "
            f"background), {self.probes} probes",
            f"build {self.build_s:.2f} s ({self.fingers_per_s:,.0f} fingers/s; training "
            f"{self.extra.get('train_s', 0.0):.2f} s apart), "
            f"memory {self.memory_per_finger:.0f} B/finger",
            f"search for {self.rerank_candidates} candidates: "
            f"{self.search_ms_batch:.2f} ms/probe (batch, all cores), "
            f"{self.search_ms_single:.2f} ms/probe (one at a time, one core)",
            "penetration %  hit rate %"
            + ("  matcher alone %" if self.exhaustive_hit_rate is not None else ""),
        ]
        for p, h in self.hit_rate.items():
            alone = (
                f"  {100 * self.exhaustive_hit_rate[p]:>15.2f}"
                if self.exhaustive_hit_rate is not None
                else ""
            )
            lines.append(f"{100 * p:>13.2f}  {100 * h:>10.2f}{alone}")
        from afis.index.candidate import resolve_k  # lazy: imports faiss and numba

        share = self.rerank_candidates / gallery if gallery else 0.0
        wanted = resolve_k(None, self.rerank_penetration, gallery) if gallery else 0
        capped = (
            f"; {wanted} wanted for {100 * self.rerank_penetration:.2f} %, cut by rerank_max"
            if self.rerank_candidates < wanted
            else ""
        )
        lines.append(
            f"rank-1 after re-ranking {self.rerank_candidates} candidates "
            f"(penetration {100 * share:.2f} %{capped}): {100 * self.rank1_rerank:.2f} %"
            f" (index alone {100 * self.rank1_index:.2f} %)"
        )
        if self.exhaustive_rank1 is not None:
            lines.append(
                f"rank-1 of the matcher alone against all {gallery} fingers: "
                f"{100 * self.exhaustive_rank1:.2f} %"
            )
        if self.background_fmr:
            lines.append(
                "background impostor rate at the thresholds calibrated for FMR "
                + " / ".join(f"{f:g}" for f in self.background_fmr)
                + ": "
                + " / ".join(f"{r:.2e}" for r in self.background_fmr.values())
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format_table()

    def plot(self, path: str | os.PathLike[str]) -> None:
        """Draw the hit rate against the penetration rate (log x) into a PNG."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6.0, 4.5), layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        pen = [100 * p for p in self.hit_rate]
        hit = [100 * h for h in self.hit_rate.values()]
        ax.plot(pen, hit, marker="o", label="candidate index")
        if self.exhaustive_hit_rate is not None:
            alone = [100 * self.exhaustive_hit_rate[p] for p in self.hit_rate]
            ax.plot(pen, alone, marker="s", linestyle="--", label="matcher alone (exhaustive)")
            ax.legend(loc="lower right")
        ax.set_xscale("log")
        ax.set_xlabel("penetration rate (% of the gallery)")
        ax.set_ylabel("hit rate (%)")
        ax.set_title(
            f"{self.real_fingers + self.background} fingers, {self.probes} probes", fontsize=10
        )
        ax.grid(True, which="both", alpha=0.3)
        fig.savefig(path, dpi=120)


def _real_templates(
    dirs: Sequence[str | os.PathLike[str]],
    dpi: float | None,
    manifest: str | os.PathLike[str] | None,
    threads: int | None,
) -> tuple[list[str], list[Template], list[int], list[Template], list[int], list[int]]:
    """Gallery and probes of FVC-style folders, and each gallery entry's finger identity:
    its own id, or the id of the same finger number in the set its manifest entry names
    with ``same_fingers_as`` when that set is among ``dirs``."""
    sets, gallery, gallery_fingers, probes, probe_fingers = [], [], [], [], []
    numbers_of: dict[str, dict[int, int]] = {}
    same_as: dict[str, str] = {}
    entries: list[tuple[str, int]] = []  # (set, finger number) of each gallery entry
    finger_no = 0
    for directory in dirs:
        folder = Path(directory)
        files = read_fvc_folder(folder)
        resolution = dpi if dpi is not None else folder_dpi(folder, manifest)
        templates = afis.extract_many(list(files.values()), dpi=resolution, threads=threads)
        found = manifest_entry(folder, manifest) if manifest is not None else None
        name = found[0] if found else "/".join(folder.absolute().parts[-2:])
        if found and found[1].get("same_fingers_as"):
            same_as[name] = str(found[1]["same_fingers_as"]).strip("/")
        sets.append(name)
        numbers = numbers_of.setdefault(name, {})
        for (finger, impression), template in zip(files, templates, strict=True):
            if finger not in numbers:
                numbers[finger] = finger_no
                finger_no += 1
            if impression == min(i for f, i in files if f == finger):
                gallery.append(template)
                gallery_fingers.append(numbers[finger])
                entries.append((name, finger))
            else:
                probes.append(template)
                probe_fingers.append(numbers[finger])
    identities = []
    for (name, finger), own in zip(entries, gallery_fingers, strict=True):
        other = numbers_of.get(same_as.get(name, ""), {})
        identities.append(other.get(finger, own))
    return sets, gallery, gallery_fingers, probes, probe_fingers, identities


def synthetic_mates(
    count: int, *, seed: int, first: int, impressions: int = MATE_IMPRESSIONS
) -> tuple[list[Template], list[int], list[Template], list[int]]:
    """Gallery and probes of ``count`` synthetic mate fingers (``afis.synth.Population``).

    Fingers ``first .. first+count-1`` of ``Population(seed)``: impression 0 goes to the
    gallery, impressions ``1..impressions`` are the probes. Finger numbers (the ids the
    benchmark gives them) are ``0..count-1``.

    Examples
    --------
    >>> g, gf, p, pf = synthetic_mates(2, seed=1, first=10, impressions=3)
    >>> len(g), gf, len(p), pf
    (2, [0, 1], 6, [0, 0, 0, 1, 1, 1])
    """
    from afis.synth import Population  # lazy: numba compiles its kernels

    if count < 1 or impressions < 1:
        raise ValueError(f"synthetic mates need count >= 1 and impressions >= 1, got {count}")
    population = Population(seed)
    fingers = range(first, first + count)
    gallery = population.impressions(fingers, 0).templates()
    by_impression = [
        population.impressions(fingers, i).templates() for i in range(1, impressions + 1)
    ]
    probes = [by_impression[i][f] for f in range(count) for i in range(impressions)]
    probe_fingers = [f for f in range(count) for _ in range(impressions)]
    return gallery, list(range(count)), probes, probe_fingers


def identify_benchmark(
    dirs: Sequence[str | os.PathLike[str]],
    *,
    background: int = 0,
    source: BackgroundSource | None = None,
    seed: int = 0,
    options: IndexOptions | None = None,
    dpi: float | None = None,
    manifest: str | os.PathLike[str] | None = None,
    rerank_penetration: float = 0.01,
    rerank_max: int = 1000,
    threads: int | None = None,
    real: tuple[list[Template], list[int], list[Template], list[int]]
    | tuple[list[Template], list[int], list[Template], list[int], list[int]]
    | None = None,
    synthetic: int = 0,
    exhaustive: bool = False,
) -> IdentifyReport:
    """Run the identification benchmark (see the module docstring).

    Parameters
    ----------
    dirs : sequence of path-like
        FVC-style folders of images (ignored when ``real`` is given).
    background : int
        Background fingers added to the gallery.
    source : callable, optional
        ``source(count, seed)`` yielding background templates; required when
        ``background > 0``.
    seed : int
        Passed to ``source``.
    options : IndexOptions, optional
        Index parameters.
    rerank_penetration : float
        Penetration at which the matcher re-ranks the shortlist (at most ``rerank_max``
        candidates); the search times are those of this shortlist size.
    real : tuple, optional
        Already extracted ``(gallery, gallery_fingers, probes, probe_fingers)`` (tests),
        optionally with a fifth list: each gallery entry's finger identity (entries of one
        identity are all mates of that finger's probes; default: its own id).
    synthetic : int
        Purely synthetic mode: this many synthetic mate fingers (see :func:`synthetic_mates`,
        same ``seed``, numbered after the background) instead of the folders' images.
    exhaustive : bool
        Also score every probe against the whole gallery with the matcher (the baseline of
        the two stages; probes x gallery comparisons).
    """
    import faiss

    # lazy, like faiss: afis.index loads faiss and numba only when the benchmark runs
    from afis.index import CandidateIndex
    from afis.index.candidate import resolve_k

    if background < 0:
        raise ValueError(f"background must be non-negative, got {background}")
    if background and source is None:
        raise ValueError("background fingers need a source")
    if isinstance(rerank_max, bool) or not isinstance(rerank_max, int) or rerank_max < 1:
        raise ValueError(f"rerank_max must be a positive int, got {rerank_max!r}")
    resolve_k(None, rerank_penetration, 1)  # a bad share fails before the index is built
    if synthetic:
        if dirs or real is not None:
            raise ValueError("synthetic mates replace the folders: give one or the other")
        sets = [f"afis.synth Population({seed}), {synthetic} mates"]
        gallery, gallery_fingers, probes, probe_fingers = synthetic_mates(
            synthetic, seed=seed, first=background
        )
        identities = list(gallery_fingers)
    elif real is None:
        sets, gallery, gallery_fingers, probes, probe_fingers, identities = _real_templates(
            dirs, dpi, manifest, threads
        )
    else:
        sets = [str(d) for d in dirs]
        gallery, gallery_fingers, probes, probe_fingers = real[:4]
        identities = list(real[4]) if len(real) > 4 else list(gallery_fingers)
        if len(identities) != len(gallery):
            raise ValueError(f"{len(identities)} identities for {len(gallery)} gallery fingers")
    if not probes:
        raise ValueError("no probes: each finger needs at least two impressions")
    real_ids = np.asarray(gallery_fingers, dtype=np.int64)
    first_background = int(real_ids.max(initial=-1)) + 1
    index = CandidateIndex(options, threads=threads)
    index._encode(gallery[:1])  # compile the encoder outside the timing
    # The background streams into the index in chunks and is kept as serialized templates
    # (about 250 bytes a finger) for the re-ranking: 10^6 Template objects would take GBs.
    stream = iter(source(background, seed)) if background and source is not None else iter(())
    # the coarse quantizer is trained once, on a sample (about 256 codes per list)
    wanted = max(100, index.options.nlist * 8)
    head = list(itertools.islice(stream, max(0, wanted - len(gallery))))
    sample = (gallery + head)[:wanted]
    start = time.perf_counter()
    index.train(sample)
    train = time.perf_counter() - start
    start = time.perf_counter()
    index.add(gallery, real_ids)
    build = time.perf_counter() - start
    stored: list[bytes] = []
    bar = _Progress(background > 0, background, "background", "finger")
    try:
        for chunk in _batches(itertools.chain(head, stream), BACKGROUND_CHUNK):
            ids = first_background + len(stored) + np.arange(len(chunk), dtype=np.int64)
            start = time.perf_counter()
            index.add(chunk, ids)
            build += time.perf_counter() - start
            stored.extend(t.to_bytes() for t in chunk)
            bar.update(len(chunk))
            if len(stored) > background:
                break
    finally:
        bar.close()
    if len(stored) != background:
        raise ValueError(f"the background source gave {len(stored)} of {background} fingers")
    real_by_id = dict(zip(real_ids.tolist(), gallery, strict=True))

    def template_of(finger_id: int) -> Template:
        if finger_id in real_by_id:
            return real_by_id[finger_id]
        return Template.from_bytes(stored[finger_id - first_background])

    truth = np.asarray(probe_fingers, dtype=np.int64)  # a real finger's id is its number
    finger_of = _identity_lookup(real_ids, identities)
    truth_finger = finger_of(truth)
    # one search per penetration: the index adapts its retrieval to the shortlist size
    hit_rate = {}
    for p in PENETRATIONS:
        _, found = index.search(probes, penetration=p)
        hit_rate[p] = float(np.mean((finger_of(found) == truth_finger[:, None]).any(axis=1)))

    rerank_k = min(rerank_max, resolve_k(None, rerank_penetration, len(index)))
    start = time.perf_counter()
    _, shortlist = index.search(probes, k=rerank_k)
    batch = time.perf_counter() - start
    single = _single_core_ms(index, probes[:SINGLE_PROBES], rerank_k)
    rank1 = _rerank_rank1(template_of, shortlist, probes, truth_finger, finger_of, threads)
    exhaustive_hit_rate = exhaustive_rank1 = background_fmr = None
    if exhaustive:
        all_ids = np.concatenate(
            [real_ids, first_background + np.arange(len(stored), dtype=np.int64)]
        )
        ranks, background_fmr = _exhaustive_ranks(
            template_of, all_ids, probes, truth_finger, finger_of, threads, progress=True
        )
        exhaustive_hit_rate = {
            p: float(np.mean(ranks <= resolve_k(None, p, len(index)))) for p in PENETRATIONS
        }
        exhaustive_rank1 = float(np.mean(ranks == 1))
    return IdentifyReport(
        sets=sets,
        real_fingers=len(gallery),
        background=len(stored),
        probes=len(probes),
        options=dict(index.options.__dict__),
        build_s=build,
        fingers_per_s=len(index) / build if build > 0 else float("inf"),
        memory_per_finger=index.memory_bytes() / len(index),
        search_ms_batch=1000 * batch / len(probes),
        search_ms_single=single,
        hit_rate=hit_rate,
        rerank_penetration=rerank_penetration,
        rerank_candidates=rerank_k,
        rank1_rerank=rank1,
        rank1_index=float(np.mean(finger_of(shortlist[:, 0]) == truth_finger)),
        extra={
            "threads": threads,
            "faiss_threads": faiss.omp_get_max_threads(),
            "train_s": train,
            "train_fingers": len(sample),
            "distinct_real_fingers": len(set(identities)),
        },
        exhaustive_hit_rate=exhaustive_hit_rate,
        exhaustive_rank1=exhaustive_rank1,
        background_fmr=background_fmr,
    )


def _exhaustive_ranks(
    template_of: Callable[[int], Template],
    ids: np.ndarray,
    probes: list[Template],
    truth_finger: np.ndarray,
    finger_of: Callable[[np.ndarray], np.ndarray],
    threads: int | None,
    *,
    progress: bool = False,
) -> tuple[np.ndarray, dict[float, float] | None]:
    """Each probe's mate rank when the matcher scores it against every gallery finger, and
    the background's impostor rates at the calibrated thresholds.

    The rank is one plus the number of other fingers' entries scoring at least the mate's
    best score (ties count against the mate); a probe without a mate in ``ids`` gets
    ``len(ids) + 1``. The rates: for each f of :data:`BACKGROUND_FMRS`, the share of probe x
    background comparisons (background: ids that are no real finger) scoring at least
    ``afis.threshold_for_fmr(f)``; None without background. The gallery is packed
    :data:`RERANK_PACK_LIMIT` templates at a time.
    """
    ids = np.asarray(ids, dtype=np.int64)
    fingers = finger_of(ids)
    matchers = [Matcher(p) for p in probes]
    mate_score = np.full(len(probes), np.inf)
    mates = [np.flatnonzero(fingers == f) for f in truth_finger]
    wanted = np.unique(np.concatenate([m for m in mates if m.size] or [np.empty(0, np.int64)]))
    if wanted.size:  # the mates first: the counts below compare against their best score
        packed = Gallery.from_templates([template_of(int(i)) for i in ids[wanted]], threads=threads)
        mates_gallery = Reranker(packed, wanted)  # keyed by position in ids
        for n, rows in enumerate(mates):
            if rows.size:
                scores = mates_gallery.scores(matchers[n], rows, threads=threads)
                mate_score[n] = float(scores.max())
    above = np.zeros(len(probes), dtype=np.int64)
    thresholds = np.array([afis.threshold_for_fmr(f) for f in BACKGROUND_FMRS])
    false_matches = np.zeros(len(thresholds), dtype=np.int64)
    background = fingers < -1  # finger_of maps background ids below -1
    bar = _Progress(progress, len(ids) * len(probes), "exhaustive matcher", "comparison")
    try:
        for start in range(0, len(ids), RERANK_PACK_LIMIT):
            chunk = ids[start : start + RERANK_PACK_LIMIT]
            packed = Gallery.from_templates([template_of(int(i)) for i in chunk], threads=threads)
            chunk_fingers = fingers[start : start + RERANK_PACK_LIMIT]
            for n, matcher in enumerate(matchers):
                scores = matcher.compare_many(packed, threads=threads)
                above[n] += int(
                    ((scores >= mate_score[n]) & (chunk_fingers != truth_finger[n])).sum()
                )
                impostors = scores[background[start : start + RERANK_PACK_LIMIT]]
                false_matches += (impostors[:, None] >= thresholds).sum(axis=0)
                bar.update(len(chunk))
    finally:
        bar.close()
    ranks = np.where(np.isfinite(mate_score), above + 1, len(ids) + 1)
    comparisons = int(background.sum()) * len(probes)
    if not comparisons:
        return ranks, None
    rates = false_matches / comparisons
    return ranks, {f: float(r) for f, r in zip(BACKGROUND_FMRS, rates, strict=True)}


def _identity_lookup(
    real_ids: np.ndarray, identities: Sequence[int]
) -> Callable[[np.ndarray], np.ndarray]:
    """``ids -> finger identities``: a real gallery id maps to its finger, a background id to
    ``-2 - id`` and a missing result (-1) to -1, so neither ever equals a real finger."""
    table = np.full(int(real_ids.max(initial=-1)) + 1, -1, dtype=np.int64)
    table[real_ids] = np.asarray(identities, dtype=np.int64)

    def finger_of(ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        real = (ids >= 0) & (ids < table.size)
        out = np.where(ids >= 0, -2 - ids, -1)
        out[real] = table[ids[real]]
        return out

    return finger_of


def _single_core_ms(index: CandidateIndex, probes: list[Template], k: int) -> float:
    """Median search time of one probe at a time with faiss on one thread."""
    import faiss

    if not probes:
        return float("nan")
    before = faiss.omp_get_max_threads()
    threads = index._threads
    faiss.omp_set_num_threads(1)
    index._threads = 1
    try:
        times = []
        for probe in probes:
            start = time.perf_counter()
            index.search([probe], k=k)
            times.append(time.perf_counter() - start)
    finally:
        faiss.omp_set_num_threads(before)
        index._threads = threads
    return 1000 * float(np.median(times))


def _batches(items: Iterable[Template], size: int) -> Iterator[list[Template]]:
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def _rerank_rank1(
    template_of: Callable[[int], Template],
    shortlist: np.ndarray,
    probes: list[Template],
    truth_finger: np.ndarray,
    finger_of: Callable[[np.ndarray], np.ndarray],
    threads: int | None,
) -> float:
    """Share of probes whose finger the matcher ranks first within the shortlist."""
    # only probes whose finger is in the shortlist can be ranked first; their candidates are
    # packed a group at a time (a 1 % shortlist of 10^6 fingers for 560 probes would be
    # millions of packed templates of about 15 KB)
    rows = [
        n
        for n, (row, finger) in enumerate(zip(shortlist, truth_finger, strict=True))
        if (finger_of(row[row >= 0]) == finger).any()
    ]
    correct = 0
    bar = _Progress(True, len(rows), "re-ranking", "probe")
    try:
        while rows:
            group = [rows.pop(0)]
            size = int((shortlist[group[0]] >= 0).sum())
            while rows and size + int((shortlist[rows[0]] >= 0).sum()) <= RERANK_PACK_LIMIT:
                size += int((shortlist[rows[0]] >= 0).sum())
                group.append(rows.pop(0))
            needed = np.unique(np.concatenate([shortlist[n][shortlist[n] >= 0] for n in group]))
            packed = Gallery.from_templates(
                [template_of(i) for i in needed.tolist()], threads=threads
            )
            reranker = Reranker(packed, needed)
            for n in group:
                candidates = shortlist[n][shortlist[n] >= 0]
                ranked, _ = reranker.rank(probes[n], candidates, threads=threads)
                correct += int(finger_of(ranked[:1])[0] == truth_finger[n])
                bar.update()
    finally:
        bar.close()
    return correct / len(probes)
