"""The candidate index: which enrolled fingers are worth handing to the matcher?"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import math
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from afis._native import _core
from afis._threads import ReadWriteLock, resolve_threads
from afis.constants import INDEX_PRESETS
from afis.errors import IndexFileError
from afis.index import _file
from afis.index._codes import code_bits, template_codes
from afis.template import Template

__all__ = ["CandidateIndex", "IndexOptions", "JointIndexes", "shared_encoding"]

_FAISS_NAME = "faiss.index"
_SLOTS_NAME = "slots.npz"
_KIND = "CandidateIndex"
#: Fewest probe codes worth a search thread of their own.
_MIN_CODES_PER_THREAD = 64
#: Largest faiss k per query faiss accepts for binary indexes with its heap search.
_MAX_NEIGHBOURS = 2048
#: Most neighbours per probe code of the native scan (8-byte codes): its votes are counted
#: as they come, a probe finger at a time, so depth costs time, not a (codes, k) array.
_MAX_SCAN_NEIGHBOURS = 65536


_ENCODINGS: contextvars.ContextVar[dict[Any, Any] | None] = contextvars.ContextVar(
    "afis_index_encodings", default=None
)


@contextlib.contextmanager
def shared_encoding() -> Iterator[None]:
    """Within the block, each probe template is encoded once per set of code settings, however
    many indexes search it (the segments of a :class:`afis.PeopleGallery`, shards searched in
    turn): the codes are the same bytes a fresh encoding gives, so results do not change.

    Examples
    --------
    >>> from afis.template import Template
    >>> index = CandidateIndex()
    >>> with shared_encoding():
    ...     a = index._encode([Template.empty(50, 50)])
    ...     b = index._encode([Template.empty(50, 50)])
    >>> len(a[0]) == len(b[0]) == 0
    True
    """
    token = _ENCODINGS.set({})
    try:
        yield
    finally:
        _ENCODINGS.reset(token)


@dataclass(frozen=True)
class IndexOptions:
    """Parameters of a :class:`CandidateIndex` (fixed when it is created).

    Parameters
    ----------
    grid : int
        Blocks along each side of a code's square base (see :mod:`afis.index._codes`).
    sections : int
        Sections of relative direction.
    fold : bool
        The sections at right angles to the minutia share one bit outside the central
        blocks (see :func:`afis.index._codes.bit_table`). With the defaults (12 blocks x 6
        sections) the code has 64 bits instead of 72: one 8-byte word, which faiss and the
        native scan compare with one popcount (measured in ``benchmarks/INDEX.md``). Indexes
        saved before this option existed load with ``fold=False``.
    radius : float
        Half the side of the base, pixels at 500 ppi; blocks centred beyond it are dropped.
        A wider neighbourhood makes codes rarer, which pays as the gallery grows (chosen at
        10^5 fingers: ``benchmarks/INDEX.md``, ninth round).
    spread : float
        A neighbour also sets the blocks within this many pixels of it.
    angle_spread : float
        A neighbour also sets the sections within this many radians of its direction.
    max_codes : int
        Most codes (minutiae) indexed per finger, those of highest quality; bounds memory.
    nlist : int
        Inverted lists of faiss's ``IndexBinaryIVF``; 1 searches every code exhaustively.
        The coarse quantizer is trained on the first batch added (or :meth:`CandidateIndex.train`).
    nprobe : int
        Inverted lists visited per probe code.
    neighbours : int
        Nearest gallery codes retrieved per probe code; their fingers collect the votes.
        A search for ``k`` candidates raises it to ``2 * k / (codes per probe)`` so the
        votes can fill the shortlist. At most 65,536; codes of other than 8 bytes (searched
        by faiss) retrieve at most 2,048. Deeper retrieval finds more mates in large
        galleries at about 50 ns a vote (``benchmarks/INDEX.md``, eighth round).
    similarity_floor : float
        A retrieved code votes ``max(0, log(C / r) / log(C) - similarity_floor)``: ``r`` its
        rank among the ``C`` codes its probe code's search compared (ties counted to their
        end), so matches that few codes equal weigh more than common ones.
    max_rotation : float
        Votes of minutia pairs whose directions differ by more (radians) are dropped.
    rotation_bin, translation_bin : float
        Pose cells (radians, pixels): a finger's score counts only the votes of its most
        popular pose cell (two grids, offset by half a cell).
    seed : int
        Seed of the coarse quantizer's k-means.
    train_per_list : int
        Codes per coarse list the k-means trains on (at most; faiss wants at least 39).
        Its cost grows as ``nlist ** 2 * train_per_list``: 256 suits a few hundred lists;
        thousands of lists train in minutes only with fewer (a people gallery uses 64).

    Examples
    --------
    >>> IndexOptions(neighbours=64).neighbours
    64
    >>> IndexOptions(grid=0)
    Traceback (most recent call last):
    ...
    ValueError: grid must lie in 1..16, got 0
    """

    grid: int = 4
    sections: int = 6
    radius: float = 85.0
    spread: float = 6.0
    angle_spread: float = 0.2
    fold: bool = True
    max_codes: int = 48
    nlist: int = INDEX_PRESETS["small"]["nlist"]
    nprobe: int = INDEX_PRESETS["small"]["nprobe"]
    neighbours: int = INDEX_PRESETS["small"]["neighbours"]
    similarity_floor: float = 0.0
    max_rotation: float = math.pi / 3
    rotation_bin: float = math.pi / 6
    translation_bin: float = 48.0
    seed: int = 0
    train_per_list: int = 256

    def __post_init__(self) -> None:
        ints = (
            "grid",
            "sections",
            "max_codes",
            "nlist",
            "nprobe",
            "neighbours",
            "seed",
            "train_per_list",
        )
        for name in ints:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if not isinstance(self.fold, bool):
            raise TypeError(f"fold must be a bool, got {type(self.fold).__name__}")
        reals = ("radius", "spread", "angle_spread", "similarity_floor", "max_rotation")
        for name in (*reals, "rotation_bin", "translation_bin"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float | np.floating):
                raise TypeError(f"{name} must be a number, got {type(value).__name__}")
            if not math.isfinite(value):
                raise ValueError(f"{name} must be finite, got {value!r}")
        if not 1 <= self.grid <= 16:
            raise ValueError(f"grid must lie in 1..16, got {self.grid}")
        if not 1 <= self.sections <= 16:
            raise ValueError(f"sections must lie in 1..16, got {self.sections}")
        if not 10 <= self.radius <= 200:
            raise ValueError(f"radius must lie in 10..200 pixels, got {self.radius}")
        if not 0 <= self.spread < 2 * self.radius / self.grid:
            raise ValueError(f"spread must lie in [0, block side {2 * self.radius / self.grid:g})")
        if not 0 <= self.angle_spread < math.pi / self.sections:
            raise ValueError(
                f"angle_spread must lie in [0, pi / sections), got {self.angle_spread}"
            )
        if not 1 <= self.max_codes <= 200:
            raise ValueError(f"max_codes must lie in 1..200, got {self.max_codes}")
        if not 1 <= self.nlist <= 1 << 20:
            raise ValueError(f"nlist must lie in 1..{1 << 20}, got {self.nlist}")
        if not 39 <= self.train_per_list <= 1 << 16:
            raise ValueError(f"train_per_list must lie in 39..65536, got {self.train_per_list}")
        if not 1 <= self.nprobe <= self.nlist:
            raise ValueError(f"nprobe must lie in 1..nlist ({self.nlist}), got {self.nprobe}")
        if not 1 <= self.neighbours <= _MAX_SCAN_NEIGHBOURS:
            raise ValueError(
                f"neighbours must lie in 1..{_MAX_SCAN_NEIGHBOURS}, got {self.neighbours}"
            )
        if not 0 <= self.similarity_floor < 1:
            raise ValueError(f"similarity_floor must lie in [0, 1), got {self.similarity_floor}")
        if not 0 < self.max_rotation <= math.pi:
            raise ValueError(f"max_rotation must lie in (0, pi], got {self.max_rotation}")
        if not 0.05 <= self.rotation_bin <= 2 * math.pi:
            raise ValueError(f"rotation_bin must lie in [0.05, 2 pi], got {self.rotation_bin}")
        if not 4 <= self.translation_bin <= 4096:
            raise ValueError(f"translation_bin must lie in 4..4096, got {self.translation_bin}")
        if not 0 <= self.seed < 1 << 31:
            raise ValueError(f"seed must lie in 0..2**31-1, got {self.seed}")

    @classmethod
    def preset(
        cls, name: str = "small", *, fingers: int | None = None, **overrides: Any
    ) -> IndexOptions:
        """Options from a named preset of :data:`afis.constants.INDEX_PRESETS`.

        Parameters
        ----------
        name : {"small", "national"}
            ``small``: one list, searched exhaustively. ``national``: an IVF partition.
        fingers : int, optional
            Fingers the index will hold (per shard): an IVF preset then uses the largest
            power of two of lists, up to its ``nlist``, that keeps at least 8 fingers a list,
            and visits at most that many.
        **overrides
            Any other :class:`IndexOptions` field; ``nlist``, ``nprobe`` and ``neighbours``
            given here replace the preset's (``nlist`` is then still the cap that
            ``fingers`` scales down).

        Examples
        --------
        >>> IndexOptions.preset("small") == IndexOptions()
        True
        >>> o = IndexOptions.preset("national", fingers=1000)
        >>> o.nlist, o.nprobe, o.neighbours
        (64, 16, 2000)
        >>> IndexOptions.preset("national", fingers=10**6).nlist
        256
        >>> IndexOptions.preset("huge")
        Traceback (most recent call last):
        ...
        ValueError: unknown index preset 'huge' (known: national, small)
        """
        if name not in INDEX_PRESETS:
            known = ", ".join(sorted(INDEX_PRESETS))
            raise ValueError(f"unknown index preset {name!r} (known: {known})")
        settings = {**INDEX_PRESETS[name], **overrides}
        if fingers is not None:
            if isinstance(fingers, bool) or not isinstance(fingers, int | np.integer):
                raise TypeError(f"fingers must be an int, got {type(fingers).__name__}")
            cap = int(settings["nlist"])
            nlist = 1
            while nlist * 2 <= min(cap, int(fingers) // 8):
                nlist *= 2
            settings["nlist"] = nlist
            settings["nprobe"] = min(int(settings["nprobe"]), nlist)
        return cls(**settings)

    @property
    def bits(self) -> int:
        """Meaningful bits per code."""
        return code_bits(self.grid, self.sections, self.radius, self.fold)

    @property
    def code_bytes(self) -> int:
        """Bytes per stored code (bits rounded up to whole bytes)."""
        return -(-self.bits // 8)


def _check_ids(ids: object, count: int) -> np.ndarray:
    if isinstance(ids, str | bytes):
        raise TypeError("ids must be a sequence of integers, got a string")
    try:
        array = np.asarray(ids)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"ids must be a sequence of integers ({exc})") from exc
    if array.ndim != 1:
        raise ValueError(f"ids must be one-dimensional, got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"ids must be integers, got dtype {array.dtype}")
    array = array.astype(np.int64)
    if len(array) != count:
        raise ValueError(f"got {count} templates but {len(array)} ids")
    if array.size and array.min() < 0:
        raise ValueError("ids must be non-negative (-1 marks 'no candidate' in results)")
    if len(np.unique(array)) != len(array):
        raise ValueError("ids must be unique")
    return array


def _check_templates(templates: object, what: str) -> list[Template]:
    if isinstance(templates, Template):
        raise TypeError(f"{what} must be a sequence of templates; wrap a single one in a list")
    if not isinstance(templates, Iterable):
        raise TypeError(
            f"{what} must be a sequence of afis.Template, got {type(templates).__name__}"
        )
    items = list(templates)
    for item in items:
        if not isinstance(item, Template):
            raise TypeError(f"{what} must hold afis.Template, got {type(item).__name__}")
    return items


def resolve_k(k: int | None, penetration: float | None, fingers: int) -> int:
    """Candidates to return among ``fingers`` enrolled fingers (validates the arguments)."""
    if (k is None) == (penetration is None):
        raise ValueError("give exactly one of k and penetration")
    if k is not None:
        if isinstance(k, bool) or not isinstance(k, int | np.integer):
            raise TypeError(f"k must be an int, got {type(k).__name__}")
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        return int(min(k, max(fingers, 1)))
    if isinstance(penetration, bool) or not isinstance(penetration, int | float | np.floating):
        raise TypeError(f"penetration must be a number, got {type(penetration).__name__}")
    if not (math.isfinite(penetration) and 0 < penetration <= 1):
        raise ValueError(f"penetration must lie in (0, 1], got {penetration!r}")
    return max(1, math.ceil(penetration * fingers))


# A faiss label packs the finger's slot with its minutia's position and direction, so the
# votes can be checked for a consistent pose without another lookup.
_ANGLE_LEVELS = 256
_ANGLE_MASK = _ANGLE_LEVELS - 1
_COORD_STEP = np.float32(4.0)  # pixels per coordinate level
_COORD_MASK = 1023  # 10 bits: up to 4,092 pixels at 500 ppi
_Y_SHIFT = 8
_X_SHIFT = 18
_SLOT_SHIFT = 28
#: Most fingers a CandidateIndex can hold (slots fit the faiss label beside the geometry).
MAX_FINGERS = 1 << 34
TWO_PI = np.float32(2 * math.pi)


def _rank_votes(distances: np.ndarray, scanned: float, bits: int, floor: float) -> np.ndarray:
    """Votes of retrieved codes from their rank: ``log(C / r) / log(C) - floor``, at least 0,
    where ``r`` is how many codes of the row are as near or nearer (ties count to their end)
    and ``C`` how many codes the search compared. A match that few of the ``C`` codes equal
    is strong evidence; one that many equal (a sparse, common code) is weak. Rows are sorted
    by distance, as faiss and the native scan return them. Measured against votes
    ``1 - distance / bits`` in ``benchmarks/INDEX.md``, fourth round.
    """
    rows, width = distances.shape
    if rows == 0 or width == 0:
        return np.zeros(distances.shape, np.float32)
    # one sorted key per entry: row-major, distances clipped to 0..bits + 1 (missing
    # results, whatever distance they carry, are dropped later by their -1 label)
    step = bits + 2
    key = np.clip(distances, 0, bits + 1).astype(np.int64) + (np.arange(rows) * step)[:, None]
    flat = key.ravel()
    end = np.searchsorted(flat, flat, side="right").reshape(rows, width)
    end -= (np.arange(rows) * width)[:, None]
    total = max(float(scanned), float(width), 2.0)
    votes = np.log(total / end.astype(np.float64)) / math.log(total) - floor
    return np.maximum(votes, 0.0).astype(np.float32)


def _labels(slots: np.ndarray, geometry: np.ndarray) -> np.ndarray:
    """faiss labels: slot, quantised x, y (4 px) and direction (256 levels)."""
    x = np.clip(np.rint(geometry[:, 0] / _COORD_STEP), 0, _COORD_MASK).astype(np.int64)
    y = np.clip(np.rint(geometry[:, 1] / _COORD_STEP), 0, _COORD_MASK).astype(np.int64)
    a = np.rint(geometry[:, 2] * (_ANGLE_LEVELS / (2 * math.pi))).astype(np.int64) & _ANGLE_MASK
    return (slots << _SLOT_SHIFT) | (x << _X_SHIFT) | (y << _Y_SHIFT) | a


def _vote_layout(o: IndexOptions) -> dict[str, Any]:
    """How labels pack a finger's slot and a minutia's pose, and the pose cells votes gather in
    (for the native vote count)."""
    return {
        "slot_shift": _SLOT_SHIFT,
        "x_shift": _X_SHIFT,
        "y_shift": _Y_SHIFT,
        "coord_mask": _COORD_MASK,
        "angle_mask": _ANGLE_MASK,
        "coord_step": float(_COORD_STEP),
        "angle_step": float(TWO_PI / _ANGLE_LEVELS),
        "max_rotation": o.max_rotation,
        "rotation_bin": o.rotation_bin,
        "translation_bin": o.translation_bin,
    }


def _neighbours_for(base: int, k: int, codes: int, items: int) -> int:
    """Codes retrieved per probe code: ``base``, or enough to fill the shortlist twice over
    (a large k, a small penetration of a large gallery, needs more codes per probe code)."""
    return max(base, -(-2 * k // max(1, codes // max(1, items))))


def _probe_rows(
    owner: np.ndarray, geometry: np.ndarray, items: int
) -> tuple[np.ndarray, np.ndarray]:
    """Where each probe's codes start (``items + 1`` offsets) and their poses relative to the
    probe's centroid: a pair's translation moves by its rotation error times the minutia's
    distance from the origin, the image corner before."""
    probe_counts = np.bincount(owner, minlength=items)
    starts = np.zeros(items + 1, np.int64)
    np.cumsum(probe_counts, out=starts[1:])
    geometry = geometry.copy()
    for axis in (0, 1):
        sums = np.bincount(owner, weights=geometry[:, axis], minlength=items)
        geometry[:, axis] -= (sums / np.maximum(probe_counts, 1))[owner].astype(np.float32)
    return starts, np.ascontiguousarray(geometry, np.float32)


def _table_votes(
    table: Any,
    codes: np.ndarray,
    starts: np.ndarray,
    geometry: np.ndarray,
    counts: np.ndarray,
    options: IndexOptions,
    nprobe: int,
    neighbours: int,
    scanned: float,
    k: int,
    threads: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The native scan, rank votes and vote count of each probe finger in one pass: its
    ``k`` best (scores, slots), slot -1 where there are fewer."""
    return table.search_votes(
        np.ascontiguousarray(codes, dtype=np.uint8).view(np.uint64)[:, 0],
        starts,
        geometry,
        np.ascontiguousarray(counts, np.int32),
        _vote_layout(options),
        nprobe,
        neighbours,
        scanned,
        options.similarity_floor,
        k,
        threads,
    )


class JointIndexes:
    """Candidate indexes that share their options and coarse centroids (the segments of a
    people gallery), searched as one index holding all their fingers: one scan of the
    ``nprobe`` lists of every index per probe code, the ``neighbours`` nearest codes among
    them all, and one vote count, instead of a search per index whose shortlists are merged.

    The search costs what one index of all the codes costs: per probe code a share
    ``nprobe / nlist`` of the codes is scanned and about ``neighbours`` codes vote, however
    many indexes there are (searching them in turn retrieves at least a margin of each one's
    share, and sorts one shortlist per index). A finger whose entry in ``counts`` is 0 takes
    no place (a caller's tombstones). The votes differ from :meth:`CandidateIndex.search`'s in
    two ways that let disjoint parts vote as one (see :meth:`search`): every code at the cut
    distance votes, and a rank is counted among the codes actually scanned.

    Parameters
    ----------
    indexes : sequence of CandidateIndex
        Trained, 8-byte codes, equal options and centroids; not changed while this object
        is used (a people gallery's segment indexes are read-only).
    counts : sequence of numpy.ndarray, optional
        Per index, the code count of each finger slot to search with (default: the index's
        own; 0 leaves a finger out).

    Raises
    ------
    ValueError
        Indexes that cannot be searched jointly (other options, other centroids, codes of
        other than 8 bytes, untrained).

    Examples
    --------
    >>> import numpy as np
    >>> from afis.synth import Population
    >>> fingers = Population(seed=3).impressions(range(60), 0).templates()
    >>> options = IndexOptions.preset("small", nlist=2, nprobe=2)
    >>> first = CandidateIndex(options)
    >>> first.add(fingers[:30], ids=range(30))
    >>> second = CandidateIndex(options)
    >>> second.set_centroids(first.centroids)
    >>> second.add(fingers[30:], ids=range(30, 60))
    >>> JointIndexes([first, second]).search([fingers[42]], k=1)[1].tolist()
    [[42]]
    """

    def __init__(
        self, indexes: Sequence[CandidateIndex], counts: Sequence[np.ndarray] | None = None
    ) -> None:
        indexes = list(indexes)
        if not indexes or not all(isinstance(i, CandidateIndex) for i in indexes):
            raise TypeError("indexes must be a non-empty sequence of CandidateIndex")
        first = indexes[0]
        if any(i.options != first.options for i in indexes):
            raise ValueError("indexes built with other options cannot be searched jointly")
        tables = []
        for index in indexes:
            with index._lock.reading():
                tables.append(index._scan_table())
        if any(t is None for t in tables):
            raise ValueError("only trained indexes of 8-byte codes can be searched jointly")
        if counts is None:
            counts = [i._counts for i in indexes]
        counts = [np.asarray(c, np.int32) for c in counts]
        if len(counts) != len(indexes) or any(
            c.shape != i._counts.shape for c, i in zip(counts, indexes, strict=True)
        ):
            raise ValueError("counts must give one array per index, one entry per finger slot")
        sizes = np.array([len(i._ids) for i in indexes], np.int64)
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self.options = first.options
        self._table = _core.HammingLists.joint(tables, offsets << _SLOT_SHIFT)
        self._counts = np.ascontiguousarray(np.concatenate(counts), np.int32)
        self._ids = np.ascontiguousarray(np.concatenate([i._ids for i in indexes]), np.int64)
        if len(self._ids) > MAX_FINGERS:
            raise ValueError(f"more than {MAX_FINGERS} fingers cannot be searched jointly")
        self._first = first
        # the native lists view faiss's buffers in place: every index must outlive them
        self._indexes = indexes
        #: codes held over all the indexes (dead fingers' codes included: they are scanned)
        self.codes = sum(i.codes for i in indexes)
        self._codes_before = np.concatenate(
            [[0], np.cumsum(np.concatenate([i._counts for i in indexes]), dtype=np.int64)]
        )
        self._nprobe = min(first._faiss.nprobe, first._faiss.nlist)

    def histograms(self, probes: Iterable[Template]) -> list[np.ndarray]:
        """Per probe, how many codes each of its codes' scans meets at each distance:
        ``(codes, 65)`` ``int64`` (what the parts of a sharded gallery add up before
        :meth:`search` with ``tables``)."""
        items = _check_templates(probes, "probes")
        if not items:
            return []
        codes, owner, _ = self._first._encode(items)
        queries = np.ascontiguousarray(codes, dtype=np.uint8).view(np.uint64)[:, 0]
        counts = self._table.histograms(
            queries, self._nprobe, resolve_threads(self._first._threads)
        )
        starts, _ = _probe_rows(owner, np.zeros((len(owner), 3), np.float32), len(items))
        return [counts[starts[n] : starts[n + 1]] for n in range(len(items))]

    @property
    def slot_ordered(self) -> bool:
        """Whether every inverted list holds its codes in finger-slot order (the order of
        the indexes, then of each one's fingers), which :meth:`search` with ``limits`` needs
        (checked once, one pass over the labels)."""
        return bool(self._table.slot_ordered(_SLOT_SHIFT))

    def codes_before(self, limits: np.ndarray) -> np.ndarray:
        """The codes held by the first ``limits[n]`` finger slots (``int64``), dead fingers'
        included (they are scanned)."""
        limits = np.clip(np.asarray(limits, np.int64), 0, len(self._ids))
        return self._codes_before[limits]

    def search(
        self,
        probes: Iterable[Template],
        *,
        k: int,
        neighbours: int | np.ndarray | None = None,
        tables: np.ndarray | None = None,
        limits: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best fingers per probe, as :meth:`CandidateIndex.search` returns them
        (scores best first, ties by finger id; ids -1 where there are fewer).

        Each probe code's scan ranks every code it meets by distance; the nearest distances,
        up to the first at which ``neighbours`` (default ``options.neighbours``; one per probe
        when an array) codes are reached, all vote, by rank (``afis._core.vote_tables``).
        With ``tables`` (one row of 65 votes per probe code, from the summed
        :meth:`histograms` of several parts) the votes are those instead, so that parts
        holding disjoint fingers score each finger as one index of all of them would.

        ``limits`` (one slot count per probe; needs :attr:`slot_ordered`) searches probe
        ``n`` among the first ``limits[n]`` finger slots alone, as an index holding only those
        fingers would: only their codes are scanned (the prefix of each list), ranked and
        voted, so the search costs in proportion to them.
        """
        items = _check_templates(probes, "probes")
        k = resolve_k(k, None, len(self._ids))
        scores = np.zeros((len(items), k), np.float32)
        found = np.full((len(items), k), -1, np.int64)
        if limits is not None:
            limits = np.asarray(limits)
            if limits.shape != (len(items),) or limits.dtype.kind not in "iu":
                raise ValueError(f"limits must be {len(items)} integers, got shape {limits.shape}")
            if len(limits) and int(limits.min()) < 0:
                raise ValueError("limits must not be negative")
            if not self.slot_ordered:
                raise ValueError("limits need inverted lists in slot order")
        if not items or self.codes == 0 or k == 0:
            return scores, found
        codes, owner, geometry = self._first._encode(items)
        if len(codes) == 0:
            return scores, found
        if tables is not None:
            tables = np.ascontiguousarray(tables, np.float32)
            if tables.shape != (len(codes), 65):
                raise ValueError(f"tables must have shape ({len(codes)}, 65), got {tables.shape}")
        starts, geometry = _probe_rows(owner, geometry, len(items))
        row_neighbours = None
        if neighbours is None or np.ndim(neighbours) == 0:
            base = self.options.neighbours if neighbours is None else max(1, int(neighbours))
            wanted = min(_neighbours_for(base, k, len(codes), len(items)), _MAX_SCAN_NEIGHBOURS)
        else:
            each = np.asarray(neighbours)
            if each.shape != (len(items),) or each.dtype.kind not in "iu":
                raise ValueError(
                    f"neighbours must be {len(items)} integers, got shape {each.shape}"
                )
            floor = _neighbours_for(1, k, len(codes), len(items))
            each = np.minimum(np.maximum(each, floor), _MAX_SCAN_NEIGHBOURS)
            wanted = int(each.max()) if len(each) else 1
            row_neighbours = np.ascontiguousarray(np.repeat(each, np.diff(starts)), np.int32)
        if limits is not None:
            limits = np.ascontiguousarray(np.repeat(limits.astype(np.int64), np.diff(starts)))
        best, slots = self._table.search_table_votes(
            np.ascontiguousarray(codes, dtype=np.uint8).view(np.uint64)[:, 0],
            starts,
            geometry,
            self._counts,
            self._ids,
            _vote_layout(self.options),
            self._nprobe,
            wanted,
            self.options.similarity_floor,
            k,
            resolve_threads(self._first._threads),
            tables,
            limits,
            row_neighbours,
        )
        listed = slots >= 0
        scores[listed] = best[listed]
        found[listed] = self._ids[slots[listed]]
        return scores, found


class CandidateIndex:
    """Index of enrolled fingers that shortlists candidates for a probe finger.

    Every usable minutia of an enrolled finger contributes a binary code (its Minutia
    Cylinder-Code cylinder pooled to ``options.bits`` bits) to a faiss ``IndexBinaryIVF``
    labelled by the finger. A probe's codes each retrieve their ``options.neighbours`` nearest
    codes; a finger's score is the sum, over the probe's codes, of its best vote, divided by
    the square root of the product of the two fingers' code counts.

    Parameters
    ----------
    options : IndexOptions, optional
        Representation and search parameters.
    threads : int, optional
        Threads for encoding templates (faiss uses its own OpenMP threads for searching).

    Examples
    --------
    >>> import numpy as np
    >>> from afis.template import Template
    >>> def finger(seed):
    ...     r = np.random.default_rng(seed)
    ...     return Template(width=300, height=300, resolution=500, source_resolution=500,
    ...                     x=r.integers(20, 280, 40), y=r.integers(20, 280, 40),
    ...                     direction=r.uniform(0, 6.28, 40), type=np.ones(40),
    ...                     quality=np.full(40, 60), image_quality=60)
    >>> index = CandidateIndex()
    >>> index.add([finger(s) for s in range(5)], ids=[10, 11, 12, 13, 14])
    >>> scores, ids = index.search([finger(3)], k=2)
    >>> int(ids[0, 0])
    13
    >>> len(index)
    5
    """

    def __init__(self, options: IndexOptions | None = None, *, threads: int | None = None) -> None:
        if options is None:
            options = IndexOptions()
        if not isinstance(options, IndexOptions):
            raise TypeError(f"options must be IndexOptions, got {type(options).__name__}")
        self.options = options
        self._threads = threads
        quantizer = faiss.IndexBinaryFlat(options.code_bytes * 8)
        self._faiss = faiss.IndexBinaryIVF(quantizer, options.code_bytes * 8, options.nlist)
        self._faiss.own_fields = True
        quantizer.this.disown()
        self._faiss.cp.seed = options.seed
        self._faiss.nprobe = options.nprobe
        # slot -> external id (-1 when removed) and code count; external id -> slot
        self._ids = np.zeros(0, np.int64)
        self._counts = np.zeros(0, np.int32)
        self._slot_map: dict[int, int] | None = {}  # built on first use when loaded
        self._live = 0  # fingers held
        self._read_only = False
        # add, remove and train write; searches read (several at once); the scan table holds
        # pointers into faiss's lists, so it is rebuilt after every write
        self._lock = ReadWriteLock()
        self._table: Any = None
        self._table_lock = threading.Lock()

    # -- contents -------------------------------------------------------------------------

    @property
    def _slot_of(self) -> dict[int, int]:
        """External id -> slot, made on first use for a loaded index: a gallery's read-only
        segments are only searched, and the dictionary of their 10^7 fingers at 10^6 people
        held about 1 GB (``benchmarks/DEDUP.md``)."""
        slots = self._slot_map
        if slots is None:
            with self._table_lock:
                if self._slot_map is None:
                    self._slot_map = {int(i): s for s, i in enumerate(self._ids.tolist()) if i >= 0}
                slots = self._slot_map
        return slots

    def __len__(self) -> int:
        return self._live

    def __contains__(self, finger_id: object) -> bool:
        return isinstance(finger_id, int | np.integer) and int(finger_id) in self._slot_of

    @property
    def ids(self) -> np.ndarray:
        """Ids of the enrolled fingers, in enrolment order."""
        return self._ids[self._ids >= 0].copy()

    @property
    def codes(self) -> int:
        """Number of codes (minutiae) in the faiss index."""
        return int(self._faiss.ntotal)

    @property
    def is_trained(self) -> bool:
        """Whether the coarse quantizer is trained (always after the first :meth:`add`)."""
        return bool(self._faiss.is_trained)

    @property
    def read_only(self) -> bool:
        """True for an index loaded memory-mapped: search only."""
        return self._read_only

    def memory_bytes(self) -> int:
        """Approximate resident bytes: codes, their labels and the per-finger arrays."""
        per_code = self.options.code_bytes + 8
        return (
            self.codes * per_code
            + self._ids.nbytes
            + self._counts.nbytes
            + len(self._slot_map or ()) * 100  # the id -> slot dictionary, once made
            + self.options.nlist * self.options.code_bytes
        )

    # -- building -------------------------------------------------------------------------

    def _encode(self, templates: Sequence[Template]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cache = _ENCODINGS.get()
        if cache is None:
            return self._encode_now(templates)
        o = self.options
        settings = (o.grid, o.sections, o.radius, o.spread, o.angle_spread, o.max_codes, o.fold)
        missing = list({id(t): t for t in templates if (id(t), settings) not in cache}.values())
        if missing:
            codes, owner, geometry = self._encode_now(missing)
            bounds = np.searchsorted(owner, np.arange(len(missing) + 1))
            for n, t in enumerate(missing):
                rows = slice(bounds[n], bounds[n + 1])
                # the template is kept with its codes: its id cannot be reused meanwhile
                cache[(id(t), settings)] = (t, codes[rows], geometry[rows])
        parts = [cache[(id(t), settings)] for t in templates]
        counts = np.fromiter((len(p[1]) for p in parts), np.int64, len(parts))
        owner = np.repeat(np.arange(len(parts), dtype=np.int64), counts)
        width = self.options.code_bytes
        codes = np.concatenate([p[1] for p in parts]) if parts else np.zeros((0, width), np.uint8)
        geometry = np.concatenate([p[2] for p in parts]) if parts else np.zeros((0, 3), np.float32)
        return codes, owner, geometry

    def _encode_now(
        self, templates: Sequence[Template]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        o = self.options
        return template_codes(
            templates,
            grid=o.grid,
            sections=o.sections,
            radius=o.radius,
            spread=o.spread,
            angle_spread=o.angle_spread,
            max_codes=o.max_codes,
            fold=o.fold,
            threads=self._threads,
        )

    def _writable(self) -> None:
        if self._read_only:
            raise IndexFileError("this index was loaded memory-mapped and is read-only")

    def train(self, templates: Iterable[Template]) -> None:
        """Train the coarse quantizer (k-means over codes) on ``templates``.

        Needed only with ``nlist > 1``, and done implicitly by the first :meth:`add`; give a
        representative sample of at least ``39 * nlist`` minutiae' worth of fingers.
        """
        self._writable()
        items = _check_templates(templates, "templates")
        if self.is_trained:
            raise ValueError("the index is already trained")
        codes, _, _ = self._encode(items)
        with self._lock.writing():
            self._train_codes(codes)
            self._table = None

    @property
    def centroids(self) -> np.ndarray:
        """The coarse quantizer's centroids, ``uint8`` of shape ``(nlist, code_bytes)`` (a
        copy; empty before training). Hand them to :meth:`set_centroids` of other indexes
        to partition their codes the same way without training again."""
        if not self.is_trained:
            return np.zeros((0, self.options.code_bytes), np.uint8)
        quantizer = faiss.downcast_IndexBinary(self._faiss.quantizer)
        flat = faiss.vector_to_array(quantizer.xb).astype(np.uint8)
        return flat.reshape(-1, self.options.code_bytes).copy()

    def set_centroids(self, centroids: np.ndarray) -> None:
        """Train the coarse quantizer with given centroids (another index's
        :attr:`centroids`) instead of k-means: indexes that share centroids put equal codes
        in the same lists, so a gallery split into parts is partitioned once.

        Raises
        ------
        ValueError
            The index is already trained, or ``centroids`` is not ``uint8`` of shape
            ``(nlist, code_bytes)``.
        """
        self._writable()
        if self.is_trained:
            raise ValueError("the index is already trained")
        array = np.asarray(centroids)
        shape = (self.options.nlist, self.options.code_bytes)
        if array.dtype != np.uint8 or array.shape != shape:
            raise ValueError(
                f"centroids must be uint8 of shape {shape}, got {array.dtype} {array.shape}"
            )
        with self._lock.writing():
            self._faiss.quantizer.add(np.ascontiguousarray(array))
            self._faiss.is_trained = True
            self._table = None

    def _train_codes(self, codes: np.ndarray) -> None:
        if len(codes) == 0 and self.options.nlist == 1:
            # one list puts every code in it, whatever its centroid: a batch of fingers
            # without codes (templates without minutiae) still leaves the index trained
            codes = np.zeros((1, self.options.code_bytes), np.uint8)
        if len(codes) < self.options.nlist:
            raise ValueError(
                f"training needs at least nlist={self.options.nlist} codes, got {len(codes)}"
            )
        # one list needs no k-means worth threads (and faiss's OpenMP start-up dominates)
        before = faiss.omp_get_max_threads()
        if self.options.nlist == 1:
            faiss.omp_set_num_threads(1)
        try:
            self._faiss.train(codes[: max(self.options.nlist * self.options.train_per_list, 1)])
        finally:
            faiss.omp_set_num_threads(before)

    def add(self, templates: Iterable[Template], ids: Sequence[int] | np.ndarray) -> None:
        """Enrol fingers.

        Parameters
        ----------
        templates : sequence of Template
            One per finger.
        ids : sequence of int
            Non-negative, unique ids, none already in the index.
        """
        self._writable()
        items = _check_templates(templates, "templates")
        new_ids = _check_ids(ids, len(items))
        if not items:
            return
        clash = [int(i) for i in new_ids if int(i) in self._slot_of]
        if clash:
            raise ValueError(f"ids already in the index: {clash[:5]}")
        codes, owner, geometry = self._encode(items)
        with self._lock.writing():
            self._table = None
            if not self.is_trained:
                self._train_codes(codes)
            first = len(self._ids)
            if first + len(items) > MAX_FINGERS:
                raise ValueError(f"an index holds at most {MAX_FINGERS} fingers")
            codes = np.ascontiguousarray(codes, dtype=np.uint8)
            labels = np.ascontiguousarray(_labels(owner + first, geometry), dtype=np.int64)
            lists = self._assign(codes)
            # appending to the inverted lists is memory-bound; faiss's OpenMP split of it is
            # pathologically slow with one list per thread (8 s instead of 2 ms for 42,000
            # codes on 2 cores), so it runs on the calling thread
            before = faiss.omp_get_max_threads()
            faiss.omp_set_num_threads(1)
            try:
                self._faiss.add_core(
                    len(codes), faiss.swig_ptr(codes), faiss.swig_ptr(labels), faiss.swig_ptr(lists)
                )
            finally:
                faiss.omp_set_num_threads(before)
            self._ids = np.concatenate([self._ids, new_ids])
            counts = np.bincount(owner, minlength=len(items)).astype(np.int32)
            self._counts = np.concatenate([self._counts, counts])
            slot_of = self._slot_of
            for offset, finger_id in enumerate(new_ids.tolist()):
                slot_of[finger_id] = first + offset
            self._live += len(new_ids)

    def _assign(self, codes: np.ndarray) -> np.ndarray:
        """Inverted list of each code: its nearest coarse centroid, split over the threads.
        This is most of the cost of :meth:`add` with many lists (4,096 centroids: about
        2.3 µs per code per core)."""
        if self.options.nlist == 1:
            return np.zeros(len(codes), np.int64)
        quantizer = self._faiss.quantizer
        parts = self._split(lambda chunk: quantizer.search(chunk, 1)[1][:, 0], codes)
        return np.ascontiguousarray(np.concatenate(parts), dtype=np.int64)

    @classmethod
    def merged(
        cls,
        parts: Sequence[CandidateIndex],
        keep: Sequence[np.ndarray] | None = None,
        *,
        threads: int | None = None,
    ) -> CandidateIndex:
        """A new in-memory index of the fingers of ``parts`` (in their order, each part's in
        its slot order) whose entry in ``keep`` is true, made from the parts' stored codes:
        nothing is encoded again, so merging costs a copy of the codes (a people gallery's
        compaction of 10^6 people: about two minutes, not the hour of encoding its templates
        anew). Each list holds its codes in slot order.

        Searching the result gives exactly what :class:`JointIndexes` over parts holding only
        the kept fingers gives (the same codes in each list, in the same order).

        Parameters
        ----------
        parts : sequence of CandidateIndex
            Equal options; trained ones share their centroids (unless there is one list).
        keep : sequence of numpy.ndarray, optional
            Per part, one bool per finger slot (default: its live fingers); a removed
            finger is never kept.
        threads : int, optional
            Threads of the result.

        Raises
        ------
        ValueError
            Parts with other options or centroids, or ``keep`` of the wrong shape.

        Examples
        --------
        >>> from afis.synth import Population
        >>> fingers = Population(seed=3).impressions(range(20), 0).templates()
        >>> options = IndexOptions.preset("small", nlist=2, nprobe=2)
        >>> a, b = CandidateIndex(options), CandidateIndex(options)
        >>> a.add(fingers[:10], ids=range(10))
        >>> b.set_centroids(a.centroids)
        >>> b.add(fingers[10:], ids=range(10, 20))
        >>> both = CandidateIndex.merged([a, b])
        >>> len(both), both.search([fingers[12]], k=1)[1].tolist()
        (20, [[12]])
        """
        parts = list(parts) if isinstance(parts, Iterable) else []
        if not parts or not all(isinstance(p, CandidateIndex) for p in parts):
            raise TypeError("parts must be a non-empty sequence of CandidateIndex")
        options = parts[0].options
        if any(p.options != options for p in parts):
            raise ValueError("indexes built with other options cannot be merged")
        if keep is None:
            keep = [p._ids >= 0 for p in parts]
        keep = [np.asarray(k) for k in keep]
        if len(keep) != len(parts) or any(
            k.dtype != bool or k.shape != p._ids.shape for k, p in zip(keep, parts, strict=True)
        ):
            raise ValueError("keep must give one bool array per part, one entry per finger slot")
        if (
            sum(int((k & (p._ids >= 0)).sum()) for k, p in zip(keep, parts, strict=True))
            > MAX_FINGERS
        ):
            raise ValueError(f"an index holds at most {MAX_FINGERS} fingers")
        trained = [p for p in parts if p.is_trained]
        out = cls(options, threads=threads)
        if trained:
            centroids = trained[0].centroids
            # with one list the centroid picks nothing: any part's will do
            if options.nlist > 1 and any(
                not np.array_equal(p.centroids, centroids) for p in trained[1:]
            ):
                raise ValueError("indexes with other centroids cannot be merged")
            out.set_centroids(centroids)
        size = options.code_bytes
        low = np.int64((1 << _SLOT_SHIFT) - 1)
        invlists = out._faiss.invlists
        ids, counts, first = [], [], 0
        for part, kept in zip(parts, keep, strict=True):
            kept = kept & (part._ids >= 0)
            new_slot = np.full(len(kept), -1, np.int64)
            new_slot[kept] = first + np.arange(int(kept.sum()), dtype=np.int64)
            ids.append(part._ids[kept])
            counts.append(part._counts[kept])
            first += int(kept.sum())
            if not part.is_trained or not kept.any():
                continue
            with part._lock.reading():
                table = part._scan_table()
                # faiss fills a removed code's place with its list's last: put such lists
                # back in slot order, which searches of a prefix of the slots need
                ordered = table is not None and table.slot_ordered(_SLOT_SHIFT)
                lists = faiss.downcast_InvertedLists(part._faiss.invlists)
                for number in range(part._faiss.nlist):
                    n = lists.list_size(number)
                    if n == 0:
                        continue
                    codes = faiss.rev_swig_ptr(lists.get_codes(number), n * size)
                    labels = faiss.rev_swig_ptr(lists.get_ids(number), n)
                    slots = new_slot[labels >> _SLOT_SHIFT]
                    alive = slots >= 0
                    if not alive.all():
                        codes = codes.reshape(n, size)[alive].ravel()
                        labels, slots = labels[alive], slots[alive]
                    if len(labels) == 0:
                        continue
                    if not ordered:
                        order = np.argsort(slots, kind="stable")
                        codes = codes.reshape(-1, size)[order].ravel()
                        labels, slots = labels[order], slots[order]
                    moved = np.ascontiguousarray((slots << _SLOT_SHIFT) | (labels & low))
                    codes = np.ascontiguousarray(codes)
                    invlists.add_entries(
                        number, len(moved), faiss.swig_ptr(moved), faiss.swig_ptr(codes)
                    )
                    out._faiss.ntotal += len(moved)
        out._ids = np.concatenate(ids) if ids else np.zeros(0, np.int64)
        out._counts = np.concatenate(counts) if counts else np.zeros(0, np.int32)
        out._slot_map = None
        out._live = len(out._ids)
        return out

    def remove(self, ids: Sequence[int] | np.ndarray) -> int:
        """Remove fingers by id; returns how many were in the index (unknown ids are ignored)."""
        self._writable()
        wanted = np.asarray(ids)
        if wanted.ndim != 1 or (wanted.size and not np.issubdtype(wanted.dtype, np.integer)):
            raise TypeError("ids must be a one-dimensional sequence of integers")
        unique = dict.fromkeys(wanted.astype(np.int64).tolist())
        slots = [self._slot_of[i] for i in unique if i in self._slot_of]
        if not slots:
            return 0
        with self._lock.writing():
            self._table = None
            labels = self._stored_labels()
            doomed = labels[np.isin(labels >> _SLOT_SHIFT, np.asarray(slots, dtype=np.int64))]
            self._faiss.remove_ids(faiss.IDSelectorBatch(doomed))
            slot_of = self._slot_of
            for slot in slots:
                del slot_of[int(self._ids[slot])]
                self._ids[slot] = -1
                self._counts[slot] = 0
            self._live -= len(slots)
        return len(slots)

    # -- searching ------------------------------------------------------------------------

    def search(
        self,
        probes: Iterable[Template],
        *,
        k: int | None = None,
        penetration: float | None = None,
        neighbours: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Shortlist candidates for each probe.

        Parameters
        ----------
        probes : sequence of Template
            Probe fingers (searched together: faiss spreads the batch over all cores).
        k : int, optional
            Candidates per probe.
        penetration : float, optional
            Share of the enrolled fingers to return, in (0, 1]: ``k = ceil(p * len(index))``.
            Give exactly one of ``k`` and ``penetration``.
        neighbours : int, optional
            Nearest stored codes retrieved per probe code instead of
            ``options.neighbours`` (an index that is one part of a larger gallery retrieves
            its share).

        Returns
        -------
        scores : numpy.ndarray
            ``float32`` of shape ``(len(probes), k)``, best first; 0 where there is no candidate.
        ids : numpy.ndarray
            ``int64`` of shape ``(len(probes), k)``; -1 where there is no candidate (fingers
            that share no near code with the probe are not candidates).
        """
        items = _check_templates(probes, "probes")
        k = resolve_k(k, penetration, len(self))
        scores = np.zeros((len(items), k), np.float32)
        found = np.full((len(items), k), -1, np.int64)
        if not items or self.codes == 0 or k == 0:
            return scores, found
        codes, owner, geometry = self._encode(items)
        if len(codes) == 0:
            return scores, found
        with self._lock.reading():
            return self._search_locked(items, codes, owner, geometry, k, scores, found, neighbours)

    def _search_locked(
        self,
        items: list[Template],
        codes: np.ndarray,
        owner: np.ndarray,
        geometry: np.ndarray,
        k: int,
        scores: np.ndarray,
        found: np.ndarray,
        wanted: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        table = self._scan_table()
        most = _MAX_SCAN_NEIGHBOURS if table is not None else _MAX_NEIGHBOURS
        base = self.options.neighbours if wanted is None else max(1, int(wanted))
        neighbours = min(_neighbours_for(base, k, len(codes), len(items)), most, self.codes)
        starts, geometry = _probe_rows(owner, geometry, len(items))
        if table is not None:  # the native scan, votes and count in one pass
            best, slots = _table_votes(
                table,
                codes,
                starts,
                geometry,
                self._counts,
                self.options,
                min(self._faiss.nprobe, self._faiss.nlist),
                neighbours,
                self._scanned_per_code(),
                k,
                resolve_threads(self._threads),
            )
        else:
            distances, labels = self._search_codes(codes, neighbours)
            votes = _rank_votes(
                distances,
                self._scanned_per_code(),
                self.options.bits,
                self.options.similarity_floor,
            )
            best, slots = _core.aggregate_votes(
                np.ascontiguousarray(votes, np.float32),
                np.ascontiguousarray(labels, np.int64),
                geometry,
                starts,
                np.ascontiguousarray(self._counts, np.int32),
                _vote_layout(self.options),
                k,
                min(resolve_threads(self._threads), len(items)),
            )
        listed = slots >= 0
        scores[listed] = best[listed]
        found[listed] = self._ids[slots[listed]]
        return scores, found

    def _scanned_per_code(self) -> float:
        """About how many stored codes one probe code's search compares (the lists of
        ``nprobe`` of ``nlist`` centroids)."""
        nlist = self._faiss.nlist
        return self.codes * min(self._faiss.nprobe, nlist) / nlist

    def _search_codes(self, codes: np.ndarray, neighbours: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``neighbours`` nearest stored codes of each code through faiss's ``search``
        (distances, labels; -1 where there are fewer), on all the threads: the path of codes
        of other than 8 bytes, which the native scan (:meth:`_scan_table`) does not read.
        Called with the lock held for reading.
        """
        parts = self._split(lambda chunk: self._faiss.search(chunk, neighbours), codes)
        return np.concatenate([d for d, _ in parts]), np.concatenate([i for _, i in parts])

    def _scan_table(self) -> Any:
        """The native scan's view of faiss's lists (None for codes of other than 8 bytes),
        made once after each change, nothing copied: a memory-mapped index's lists are seen
        at their byte offsets in the mapping (faiss places them off 8-byte boundaries; a copy
        of every list of a 10^6-person gallery took 5.8 GiB, ``benchmarks/DEDUP.md``), an
        in-memory index's as numpy views of its buffers. Called with the lock held for reading.
        """
        if self.options.code_bytes != 8 or not self.is_trained:
            return None
        lists = faiss.downcast_InvertedLists(self._faiss.invlists)
        if not isinstance(lists, faiss.ArrayInvertedLists | faiss.OnDiskInvertedLists):
            return None  # lists whose buffers are made on request
        table = self._table
        if table is not None:
            return table
        with self._table_lock:
            if self._table is not None:
                return self._table
            quantizer = faiss.downcast_IndexBinary(self._faiss.quantizer)
            centroids = faiss.vector_to_array(quantizer.xb).view(np.uint64)
            nlist = self._faiss.nlist
            if isinstance(lists, faiss.OnDiskInvertedLists):
                # one mapping of the whole file: each list's place in it, no array per list
                buffer = faiss.rev_swig_ptr(lists.ptr, lists.totsize)
                base = int(lists.ptr)
                sizes = np.zeros(nlist, np.int64)
                code_at = np.zeros(nlist, np.int64)
                label_at = np.zeros(nlist, np.int64)
                for number in range(nlist):
                    size = lists.list_size(number)
                    if size:
                        sizes[number] = size
                        code_at[number] = int(lists.get_codes(number)) - base
                        label_at[number] = int(lists.get_ids(number)) - base
                self._table = _core.HammingLists.in_buffer(
                    centroids, buffer, code_at, label_at, sizes
                )
                return self._table
            codes, labels = [], []
            empty_codes, empty_labels = np.zeros(0, np.uint64), np.zeros(0, np.int64)
            for number in range(nlist):
                size = lists.list_size(number)
                if size == 0:
                    codes.append(empty_codes)
                    labels.append(empty_labels)
                    continue
                # faiss's array lists hand out their own buffers: no copy, no release needed
                codes.append(faiss.rev_swig_ptr(lists.get_codes(number), size * 8).view(np.uint64))
                labels.append(faiss.rev_swig_ptr(lists.get_ids(number), size))
            self._table = _core.HammingLists(centroids, codes, labels)
            return self._table

    def _code_workers(self, codes: int) -> int:
        """Threads worth using for ``codes`` probe or stored codes."""
        return min(resolve_threads(self._threads), max(1, codes // _MIN_CODES_PER_THREAD))

    def _split(self, run: Callable[[np.ndarray], Any], codes: np.ndarray) -> list[Any]:
        """``run`` on consecutive chunks of ``codes``, one per thread, faiss on one OpenMP
        thread in each; the results in order.

        faiss's own OpenMP split was slower than one thread on the 2-core development machine
        (2 threads: 0.47 s, 1 thread: 0.25 s for 100,000 queries); faiss releases the GIL, so
        plain threads share the batch without OpenMP.
        """
        workers = self._code_workers(len(codes))

        def one(chunk: np.ndarray) -> Any:
            faiss.omp_set_num_threads(1)  # this thread's OpenMP setting only
            return run(chunk)

        if workers == 1:
            before = faiss.omp_get_max_threads()
            try:
                return [one(codes)]
            finally:
                faiss.omp_set_num_threads(before)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(one, np.array_split(codes, workers)))

    def _stored_labels(self) -> np.ndarray:
        """Every label in faiss's inverted lists (one pass over the lists)."""
        invlists = self._faiss.invlists
        parts = []
        for number in range(self._faiss.nlist):
            size = invlists.list_size(number)
            if size:
                ids = invlists.get_ids(number)
                parts.append(faiss.rev_swig_ptr(ids, size).copy())
                invlists.release_ids(number, ids)
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    # -- persistence ----------------------------------------------------------------------

    def _params(self) -> dict[str, Any]:
        return dataclasses.asdict(self.options)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index to a folder (created if needed; its index files are replaced).

        The folder holds ``faiss.index`` (faiss's own format), ``slots.npz`` (ids and code
        counts per finger) and ``header.json`` (magic, format version, parameters, and the
        length and SHA-256 of both files).
        """
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / _file.HEADER_NAME).unlink(missing_ok=True)
        faiss.write_index_binary(self._faiss, str(folder / _FAISS_NAME))
        with (folder / _SLOTS_NAME).open("wb") as handle:
            np.savez(handle, ids=self._ids, counts=self._counts)
        _file.write_header(folder, _KIND, self._params(), [_FAISS_NAME, _SLOTS_NAME])

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        mmap: bool = True,
        verify: bool = True,
        threads: int | None = None,
    ) -> CandidateIndex:
        """Read a folder written by :meth:`save`.

        Parameters
        ----------
        path : path-like
            The folder.
        mmap : bool
            Memory-map faiss's inverted lists (the index is then read-only: search only).
        verify : bool
            Check the SHA-256 of the data files (reads them once); lengths are always checked.
            Turn it off only for files from a trusted writer: faiss's own reader does not
            defend against crafted files, the digest check is what keeps them from it.

        Raises
        ------
        IndexFileError
            The folder is missing, truncated, altered, foreign or of another format version.
        """
        folder = Path(path)
        header = _file.read_header(folder, _KIND, [_FAISS_NAME, _SLOTS_NAME], verify=verify)
        try:
            options = IndexOptions(**{"fold": False, **header["params"]})
        except (TypeError, ValueError) as exc:
            raise IndexFileError(f"{folder}: invalid index parameters ({exc})") from exc
        index = cls(options, threads=threads)
        try:
            with np.load(folder / _SLOTS_NAME, allow_pickle=False) as arrays:
                ids = np.asarray(arrays["ids"])
                counts = np.asarray(arrays["counts"])
        except (OSError, ValueError, KeyError, EOFError) as exc:
            raise IndexFileError(f"{folder / _SLOTS_NAME}: unreadable ({exc})") from exc
        if (
            ids.dtype != np.int64
            or counts.dtype != np.int32
            or ids.ndim != 1
            or ids.shape != counts.shape
        ):
            raise IndexFileError(f"{folder / _SLOTS_NAME}: arrays of the wrong type or shape")
        live = ids[ids >= 0]
        if len(np.unique(live)) != len(live) or (ids < -1).any():
            raise IndexFileError(f"{folder / _SLOTS_NAME}: duplicate or invalid ids")
        flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if mmap else 0
        try:
            loaded = faiss.read_index_binary(str(folder / _FAISS_NAME), flags)
        except RuntimeError as exc:
            raise IndexFileError(f"{folder / _FAISS_NAME}: faiss cannot read it ({exc})") from exc
        if (
            not isinstance(loaded, faiss.IndexBinaryIVF)
            or loaded.d != options.code_bytes * 8
            or loaded.nlist != options.nlist
        ):
            raise IndexFileError(f"{folder / _FAISS_NAME}: does not match the header's parameters")
        if int(loaded.ntotal) != int(counts[ids >= 0].sum()):
            raise IndexFileError(
                f"{folder}: faiss holds {loaded.ntotal} codes, slots say otherwise"
            )
        loaded.nprobe = options.nprobe
        index._faiss = loaded
        index._ids = ids
        index._counts = counts
        index._slot_map = None
        index._live = len(live)
        index._read_only = mmap
        return index
