"""A durable, incremental gallery of people: up to ten fingers each, searched as a whole.

:class:`PeopleGallery` keeps people (an integer id and a template per finger position 1..10,
any subset) in a folder that only ever grows by whole files, committed through one manifest::

    gallery/
        manifest.json           format, version, index options, the indexed positions,
                                next segment number, the live segments with each file's
                                CRC32, the tombstones, the
                                coarse quantizer's file and CRC32, and the CRC32 of all that
        quantizer-NNNNNN.npy    with ``options.nlist > 1``: the coarse centroids every
                                segment's index partitions its codes with (trained once, on
                                the first insert; :meth:`PeopleGallery.compact` with
                                ``repartition=True`` trains new ones)
        .writer.lock            held (``flock``) while a process writes
        segments/000001/        one folder per insert (or compaction):
            templates.npy       uint8: every finger's Template.to_bytes(), concatenated
            offsets.npy         int64 (fingers + 1,): where each finger's bytes start
            people.npy          int64 (fingers,): the person id of each finger
            positions.npy       uint8 (fingers,): its finger position, 1..10
            index/              the segment's candidate index (ShardedIndex.save) over its
                                fingers at the searched positions, memory-mapped on open

An insert writes its segment (index included), fsyncs it, then replaces the manifest
atomically (temporary file in the same folder, ``fsync``, ``os.replace``, ``fsync`` of the
folder): a crash at any point leaves the gallery exactly as the last replaced manifest says.
A segment the manifest does not name is garbage, ignored on open and removed by
:meth:`PeopleGallery.compact`. A delete only records tombstones (person id, and the segment
number from which the id may live again) in the manifest; compaction rewrites the live people
into one segment.

Identification follows the data centre: each of the probe's fingers (all ten positions are
indexed, :data:`SEARCHED_POSITIONS`) shortlists fingers through the candidate index of every
segment (:class:`afis.index.ShardedIndex`, one shard per position, all built with the
gallery's options and centroids; their shortlists merged by score); the index scores are
summed per person *before* the cut, and the best ``depth`` people (:func:`shortlist_depth`:
it grows as the fourth root of the gallery) are compared by the matcher
(:class:`afis.match.Matcher`) on the probe's thumbs and index fingers
(:data:`FIRST_RERANK_POSITIONS`); the best ``k`` of those on all ten. A candidate's fused
score is the sum of its per-finger matcher scores.

Examples
--------
>>> import tempfile
>>> from afis.synth import Population
>>> population = Population(seed=3)
>>> def person(p, impression=0):
...     templates = population.impressions(range(10 * p, 10 * p + 10), impression).templates()
...     return {position: t for position, t in zip(range(1, 11), templates)}
>>> folder = tempfile.mkdtemp()
>>> gallery = PeopleGallery.create(folder)
>>> gallery.insert([0, 1, 2], [person(0), person(1), person(2)])
>>> gallery.count(), 1 in gallery
(3, True)
>>> gallery.close()
>>> gallery = PeopleGallery.open(folder)
>>> best = gallery.identify([person(1, impression=1)], k=3)[0][0]
>>> best.person_id, best.scores.shape, bool(best.fused > 1)
(1, (10,), True)
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import math
import os
import re
import shutil
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from afis._native import _core
from afis._threads import resolve_threads
from afis.atomic import fsync_folder
from afis.constants import PEOPLE_INDEX
from afis.errors import AfisError, IndexFileError
from afis.index import CandidateIndex, IndexOptions, JointIndexes, ShardedIndex, shared_encoding
from afis.match import Gallery, Matcher, threshold_for_fmr
from afis.template import FingerPosition, Template

__all__ = [
    "FIRST_RERANK_POSITIONS",
    "SEARCHED_POSITIONS",
    "GalleryFileError",
    "GalleryLockedError",
    "PeopleCandidate",
    "PeopleGallery",
    "identify_parts",
    "people_index_options",
    "shortlist_depth",
]

#: Finger positions a new gallery indexes and searches through its candidate index: all ten.
#: The person-level evidence of ten fingers ranks the mate of every one of the 5x10^4 demo's
#: 500 planted duplicates first, where that of the thumbs and index fingers alone missed
#: three entirely (``benchmarks/DEDUP.md``, seventh round).
SEARCHED_POSITIONS: tuple[int, ...] = tuple(range(1, 11))
#: The positions a gallery written before manifest version 4 indexes (both thumbs and index
#: fingers); it keeps searching them until compacted with ``repartition=True``.
LEGACY_SEARCHED_POSITIONS: tuple[int, ...] = (1, 2, 6, 7)
#: The fingers a shortlist is compared on first (both thumbs and index fingers, the
#: best-captured); the best ``k`` people are then compared on the others. A probe without
#: any of them is compared on all its fingers at once.
FIRST_RERANK_POSITIONS: tuple[int, ...] = (1, 2, 6, 7)
#: Format name and version of ``manifest.json``.
FORMAT = "nusafis-people"
VERSION = 4  # 2: segments carry their index (index/); 3: shared centroids; 4: "searched"
#: Older manifest versions that still open (a version-2 manifest has no quantizer; before
#: version 4 the searched positions are :data:`LEGACY_SEARCHED_POSITIONS`).
READABLE_VERSIONS = (2, 3, 4)
LOCK = ".writer.lock"
MANIFEST = "manifest.json"
SEGMENTS = "segments"
_FILES = ("templates.npy", "offsets.npy", "people.npy", "positions.npy")
#: Sub-folder of a segment holding its candidate index; its files are listed in the manifest
#: as ``index/...`` with their CRC32s.
INDEX = "index"
#: Person ids lie in 0 .. MAX_PERSON_ID (a finger's index id is ``person * 10 + position - 1``).
MAX_PERSON_ID = (1 << 62) // 10
#: People the default shortlist keeps at :data:`DEPTH_REFERENCE` people held and fewer; it
#: grows as the fourth root of the gallery beyond (:func:`shortlist_depth`).
MIN_SHORTLIST = 16
DEPTH_REFERENCE = 10_000
#: People compared on all ten fingers by default (the best of the shortlist on the
#: :data:`FIRST_RERANK_POSITIONS`).
FULL_RERANK = 8
#: Fingers each searched probe finger lists from the index before the evidence is summed per
#: person: wide, so that a person's weaker fingers still add their evidence (with four
#: searched fingers a list of ``2 * depth`` ranked 5 % of the mates lower at 10^5 people;
#: with ten, 500 and 1,000 rank the same: ``benchmarks/DEDUP.md``).
FINGER_LIST = 1000
#: Fingers parsed and encoded at a time when a compaction rebuilds a position's index.
_REBUILD_CHUNK = 20_000
#: A segment holding a share ``s`` of the gallery's codes retrieves
#: ``max(MIN_SEGMENT_NEIGHBOURS, ceil(s * neighbours * SEGMENT_NEIGHBOURS_MARGIN))`` codes per
#: probe code, so the votes cast per search do not grow with the number of segments.
SEGMENT_NEIGHBOURS_MARGIN = 1.5
MIN_SEGMENT_NEIGHBOURS = 64


def people_index_options(people: int, shards: int = 1) -> IndexOptions:
    """Candidate-index options for a people gallery expected to hold ``people`` people in
    ``shards`` shards: the ``national`` preset with about one coarse list per
    ``PEOPLE_INDEX["people_per_list"]`` people of a shard (a power of two, at most
    ``PEOPLE_INDEX["max_nlist"]``), visiting one in ``PEOPLE_INDEX["lists_per_visit"]``
    of them (4 to 32), retrieving more neighbours per probe code as the shard grows, and
    at most ``PEOPLE_INDEX["max_codes"]`` codes a finger (:data:`afis.constants.PEOPLE_INDEX`:
    shallow per finger, as all ten fingers are searched). The search then scans about
    ``nprobe / nlist`` of the codes: a share that falls as the gallery grows to the cap.

    Examples
    --------
    >>> o = people_index_options(10**6)
    >>> o.nlist, o.nprobe, o.neighbours, o.max_codes
    (4096, 32, 4096, 24)
    >>> o = people_index_options(50_000)
    >>> o.nlist, o.nprobe, o.neighbours
    (512, 4, 520)
    >>> people_index_options(10_000).neighbours
    512
    >>> people_index_options(100).nlist
    1
    """
    per_shard = max(1, int(people) // max(1, int(shards)))
    nlist = 1
    while nlist * 2 <= min(PEOPLE_INDEX["max_nlist"], per_shard // PEOPLE_INDEX["people_per_list"]):
        nlist *= 2
    neighbours = per_shard // PEOPLE_INDEX["people_per_neighbour"]
    return IndexOptions.preset(
        "national",
        nlist=nlist,
        nprobe=min(
            nlist,
            max(
                PEOPLE_INDEX["min_nprobe"],
                min(PEOPLE_INDEX["max_nprobe"], nlist // PEOPLE_INDEX["lists_per_visit"]),
            ),
        ),
        neighbours=min(
            PEOPLE_INDEX["max_neighbours"], max(PEOPLE_INDEX["min_neighbours"], neighbours)
        ),
        train_per_list=PEOPLE_INDEX["train_per_list"],
        max_codes=PEOPLE_INDEX["max_codes"],
    )


def shortlist_depth(count: int) -> int:
    """People shortlisted per probe from the index evidence of a gallery of ``count`` people:
    ``ceil(MIN_SHORTLIST * max(1, count / DEPTH_REFERENCE) ** 0.25)``.

    The person-level evidence of ten searched fingers ranks a duplicate's mate first for all
    500 planted duplicates of the 5x10^4 demo (four fingers left 9 below first and 3 below
    the 100th: ``benchmarks/DEDUP.md``, seventh round). The fourth root keeps the
    re-ranking cost per probe growing slowly (16 people at 10^4, 29 at 10^5, 51 at 10^6,
    188 at 1.9x10^8) while it widens the margin as impostors multiply.

    Examples
    --------
    >>> [shortlist_depth(n) for n in (0, 10_000, 100_000, 10**6, 190_000_000)]
    [16, 16, 29, 51, 188]
    """
    return math.ceil(MIN_SHORTLIST * max(1.0, count / DEPTH_REFERENCE) ** 0.25)


class GalleryFileError(AfisError, ValueError):
    """A people gallery's manifest or segment file is missing, truncated, altered or foreign;
    the message names the file."""


class GalleryLockedError(AfisError, RuntimeError):
    """Another process is writing the gallery, or wrote it since this one opened it."""


def _checkpoint(stage: str) -> None:
    """Called at each step of a commit (``segment-written``, ``before-replace``,
    ``after-replace``); does nothing. Crash tests replace it to kill the process there."""


@dataclass(frozen=True, eq=False)
class PeopleCandidate:
    """One candidate person of :meth:`PeopleGallery.identify`.

    Attributes
    ----------
    person_id : int
    scores : numpy.ndarray
        ``float32`` (10,): matcher score of finger position ``p`` at ``scores[p - 1]``; 0 where
        the probe or the person lacks the finger.
    fused : float
        ``scores.sum()``.
    match : bool
        Some finger scored at least ``threshold_for_fmr(fmr)`` (False when no ``fmr`` given).
    """

    person_id: int
    scores: np.ndarray
    fused: float
    match: bool


# -- files ------------------------------------------------------------------------------


def _crc(path: Path) -> int:
    crc = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            crc = zlib.crc32(chunk, crc)
    return crc


def _write_array(path: Path, array: np.ndarray) -> int:
    with open(path, "wb") as f:
        np.save(f, np.ascontiguousarray(array), allow_pickle=False)
        f.flush()
        os.fsync(f.fileno())
    return _crc(path)


def _write_streamed(path: Path, total: int, chunks: Iterable[np.ndarray]) -> int:
    """Write a 1-D ``uint8`` .npy of ``total`` bytes from ``chunks`` (never held whole);
    fsynced; returns its CRC32."""
    header = {"descr": "|u1", "fortran_order": False, "shape": (total,)}
    written = 0
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        for chunk in chunks:
            f.write(memoryview(np.ascontiguousarray(chunk, np.uint8)))
            written += len(chunk)
        f.flush()
        os.fsync(f.fileno())
    if written != total:
        raise RuntimeError(f"{path}: wrote {written} bytes of {total}")
    return _crc(path)


def _live_bytes(segment: _Segment, live: np.ndarray) -> np.ndarray:
    """The stored templates of a segment's live rows, in row order, as one byte array."""
    if live.all():
        return segment.templates
    lengths = np.diff(segment.offsets)
    return segment.templates[np.repeat(live, lengths)]


def _body_crc(body: Mapping[str, Any]) -> int:
    return zlib.crc32(json.dumps(body, sort_keys=True).encode())


def _segment_name(number: int) -> str:
    return f"{number:06d}"


def _check_person_id(value: object, what: str = "person id") -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{what} must be an int, got {type(value).__name__}")
    if not 0 <= int(value) <= MAX_PERSON_ID:
        raise ValueError(f"{what} must lie in 0..{MAX_PERSON_ID}, got {int(value)}")
    return int(value)


def _check_ids(person_ids: object) -> list[int]:
    if isinstance(person_ids, str | bytes) or not isinstance(person_ids, Sequence | np.ndarray):
        raise TypeError(f"person_ids must be a sequence of ints, got {type(person_ids).__name__}")
    ids = [_check_person_id(i) for i in person_ids]
    if len(set(ids)) != len(ids):
        seen: set[int] = set()
        twice = sorted({i for i in ids if i in seen or seen.add(i)})  # type: ignore[func-returns-value]
        raise ValueError(f"duplicate person ids in one call: {twice[:5]}")
    return ids


def _check_fingers(value: object, what: str) -> dict[int, Template]:
    """A person's or probe's fingers: position 1..10 -> Template (position 0 templates are
    given the key's position)."""
    if not isinstance(value, Mapping):
        raise TypeError(
            f"{what} must be a mapping of finger position to Template, got {type(value).__name__}"
        )
    fingers: dict[int, Template] = {}
    for key, template in value.items():
        if isinstance(key, bool) or not isinstance(key, int | np.integer):
            raise TypeError(f"{what}: finger positions must be ints, got {type(key).__name__}")
        position = int(key)
        if not 1 <= position <= 10:
            raise ValueError(f"{what}: finger position must lie in 1..10, got {position}")
        if not isinstance(template, Template):
            raise TypeError(
                f"{what}: finger {position} must be an afis.Template, got {type(template).__name__}"
            )
        if int(template.finger_position) == 0:
            template = dataclasses.replace(template, finger_position=FingerPosition(position))
        elif int(template.finger_position) != position:
            raise ValueError(
                f"{what}: the template under position {position} says finger position "
                f"{int(template.finger_position)}"
            )
        fingers[position] = template
    if not fingers:
        raise ValueError(f"{what} has no fingers")
    return fingers


class _Indexes:
    """Bookkeeping of the live segments' candidate indexes: ``len`` is the number of live
    indexed fingers (a tombstoned person's fingers stay in their read-only segment index and
    are dropped from its shortlists); ``dead`` counts them per segment number."""

    def __init__(self) -> None:
        self.live = 0
        self.dead: dict[int, int] = {}

    def __len__(self) -> int:
        return self.live


@dataclass
class _Segment:
    number: int
    templates: np.ndarray
    offsets: np.ndarray
    people: np.ndarray
    positions: np.ndarray
    #: candidate index over the segment's fingers at the searched positions (memory-mapped)
    index: ShardedIndex

    def template(self, row: int) -> Template:
        return Template.from_bytes(self.buffer(row).tobytes())  # owns its bytes

    def buffer(self, row: int) -> np.ndarray:
        """The serialised template at ``row`` (a view of the mapped file)."""
        start, stop = int(self.offsets[row]), int(self.offsets[row + 1])
        return self.templates[start:stop]


class _PreparedCache:
    """Stored templates prepared for the matcher (their cylinders built), kept between
    searches up to ``budget`` bytes, the least recently used dropped first.

    A batch de-duplicated against itself re-ranks each stored finger for many probes (about
    40 at 5x10^4 people), and preparing a template is most of a re-rank (``benchmarks/
    DEDUP.md``). The arrays are those :meth:`Gallery.from_buffers` makes, so results do not
    depend on the cache. Thread-safe; a budget of 0 keeps nothing."""

    #: per-minutia arrays of a packed gallery, in the order kept
    ROWS = ("minutiae", "bits", "valid", "usable")
    #: bytes counted per entry beyond its arrays (the objects holding them)
    OVERHEAD = 512

    def __init__(self, budget: int) -> None:
        self.budget = int(budget)
        self._entries: OrderedDict[tuple[int, int], tuple[np.ndarray, ...]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def held_bytes(self) -> int:
        return self._bytes

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def gallery(
        self, keys: Sequence[tuple[int, int]], prepare: Callable[[list[int]], Gallery]
    ) -> Gallery:
        """A packed gallery whose row ``i`` is the template of ``keys[i]``: kept entries
        reused, the others made by ``prepare(positions in keys)`` and kept."""
        if self.budget <= 0 or not keys:
            return prepare(list(range(len(keys))))
        with self._lock:
            found: list[tuple[np.ndarray, ...] | None] = []
            for key in keys:
                entry = self._entries.get(key)
                if entry is not None:
                    self._entries.move_to_end(key)
                found.append(entry)
        missing = [i for i, entry in enumerate(found) if entry is None]
        fresh = None
        if missing:
            fresh = prepare(missing)
            arrays = fresh.arrays
            offsets = arrays["offsets"]
            for j, i in enumerate(missing):
                start, stop = int(offsets[j]), int(offsets[j + 1])
                found[i] = tuple(np.array(arrays[name][start:stop]) for name in self.ROWS)
            with self._lock:
                for i in missing:
                    entry = found[i]
                    assert entry is not None
                    size = sum(a.nbytes for a in entry) + self.OVERHEAD
                    if keys[i] in self._entries or size > self.budget:
                        continue
                    self._entries[keys[i]] = entry
                    self._bytes += size
                while self._bytes > self.budget:
                    _, old = self._entries.popitem(last=False)
                    self._bytes -= sum(a.nbytes for a in old) + self.OVERHEAD
        if fresh is not None and len(missing) == len(keys):
            return fresh
        entries = [e for e in found if e is not None]
        offsets = np.zeros(len(entries) + 1, np.int64)
        np.cumsum([len(e[0]) for e in entries], out=offsets[1:])
        packed = {"offsets": offsets}
        for n, name in enumerate(self.ROWS):
            packed[name] = np.ascontiguousarray(np.concatenate([e[n] for e in entries]))
        return Gallery(packed)


@dataclass(frozen=True)
class _Order:
    """The people held in the order they were inserted (segments by number, rows in order):
    ``ids`` sorted with each one's place in that order (``ranks``), and per searched position
    the place of each joint finger slot's person (``slot_ranks``, never decreasing; a
    tombstoned finger takes the place of the next person held)."""

    ids: np.ndarray
    ranks: np.ndarray
    slot_ranks: dict[int, np.ndarray]

    def rank(self, person_ids: np.ndarray) -> np.ndarray:
        """Each person's place in insertion order (people held only)."""
        at = np.minimum(np.searchsorted(self.ids, person_ids), max(len(self.ids) - 1, 0))
        return self.ranks[at] if len(self.ids) else np.zeros(len(person_ids), np.int64)


class PeopleGallery:
    """A durable, append-only gallery of people, ten finger positions each (any subset).

    Make one with :meth:`create` or :meth:`open`; not for concurrent writers (one process
    writes a gallery folder at a time; readers of a committed manifest are safe).

    Opening reads the manifest, verifies the CRC32 of every file it names and memory-maps
    each live segment's arrays and saved candidate index (``segments/NNNNNN/index/``, written
    with the segment before the manifest is replaced); it parses no template and builds no
    index. Membership and counts come from ``people.npy`` and the tombstones; templates are
    parsed on demand, for the shortlisted people only (:meth:`identify`) or by
    :meth:`compact`, which builds the one new segment's index.

    :meth:`identify` searches the segments' indexes of each finger position as one
    (:class:`afis.index.JointIndexes`: they share their coarse centroids, so one scan visits
    the same lists of every segment and one vote count ranks all their fingers; a tombstoned
    person's fingers, still held by a read-only segment index, take no place). A gallery in
    several segments therefore gives the same candidates, scores and order as the same
    people compacted into one segment (tested); only the cost of a search grows a little
    with the number of segments (one visit of each list per segment).

    Opening reads the manifest and memory-maps each segment's saved index (no template is
    parsed); on disk a person costs its templates plus the index codes of its fingers, about
    7 to 8 kB (``benchmarks/DEDUP.md``, with the measured insert, search and compaction
    times).

    Examples
    --------
    >>> import tempfile
    >>> gallery = PeopleGallery.create(tempfile.mkdtemp())
    >>> gallery.count(), 5 in gallery
    (0, False)
    """

    def __init__(
        self, path: Path, manifest: dict[str, Any], *, threads: int | None, rerank_cache: int = 0
    ) -> None:
        self.path = path
        self._threads = threads
        #: prepared stored templates kept between searches (:class:`_PreparedCache`)
        self._prepared = _PreparedCache(rerank_cache)
        self._manifest = manifest
        self.options = IndexOptions(**manifest["options"])
        #: the finger positions this gallery's indexes hold and its searches use
        self._searched: tuple[int, ...] = tuple(manifest["searched"])
        self._segments: dict[int, _Segment] = {}
        #: person id -> its live fingers' rows: one int packing consecutive rows
        #: (:func:`_rows`) or, for rows that are not consecutive, a list of (segment, row)
        self._people: dict[int, int | list[tuple[int, int]]] = {}
        #: person id -> segment number from which the id lives again (the tombstones)
        self._dead: dict[int, int] = {}
        self._index = _Indexes()
        #: the coarse centroids every segment's index shares (None: one list, or untrained)
        self._centroids: np.ndarray | None = None
        #: the segments' indexes per searched position as one (:meth:`_joint_indexes`; None
        #: until made again after a change, empty when they cannot be searched jointly)
        self._joint: dict[int, JointIndexes] | None = None
        #: the people held in insertion order, for ``among_first`` (:meth:`_insertion`; None
        #: until made again after a change)
        self._order: _Order | None = None

    # -- creating and opening -----------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        options: IndexOptions | None = None,
        *,
        threads: int | None = None,
    ) -> PeopleGallery:
        """A new, empty gallery in folder ``path`` (created; it must not hold a gallery).

        ``options`` default to ``IndexOptions.preset("small")``.
        """
        if options is None:
            options = IndexOptions.preset("small")
        if not isinstance(options, IndexOptions):
            raise TypeError(f"options must be IndexOptions, got {type(options).__name__}")
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        if (folder / MANIFEST).exists():
            raise FileExistsError(f"{folder / MANIFEST}: a gallery is already there")
        (folder / SEGMENTS).mkdir(exist_ok=True)
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "options": dataclasses.asdict(options),
            "searched": list(SEARCHED_POSITIONS),
            "next_segment": 1,
            "segments": [],
            "tombstones": [],
            "quantizer": None,
        }
        gallery = cls(folder, manifest, threads=threads)
        with gallery._writing(fresh=True):
            gallery._commit(manifest)
        return gallery

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], *, threads: int | None = None, rerank_cache: int = 0
    ) -> PeopleGallery:
        """Open a gallery folder written by :meth:`create` and later calls.

        ``rerank_cache`` bytes of stored templates prepared for the matcher are kept between
        searches (least recently used out first): worth it where the same people are
        re-ranked for many probes, as when a batch is de-duplicated against itself
        (``RERANK_CACHE_BYTES`` in :mod:`afis.constants`); results are the same.

        Raises
        ------
        GalleryFileError
            The manifest or a segment file it names is missing, truncated or altered (the
            message names the file).
        """
        folder = Path(path)
        if isinstance(rerank_cache, bool) or not isinstance(rerank_cache, int) or rerank_cache < 0:
            raise ValueError(f"rerank_cache must be a byte count >= 0, got {rerank_cache!r}")
        manifest = _read_manifest(folder / MANIFEST)
        gallery = cls(folder, manifest, threads=threads, rerank_cache=rerank_cache)
        gallery._dead = {int(p): int(s) for p, s in manifest["tombstones"]}
        gallery._centroids = _read_quantizer(folder, manifest.get("quantizer"), gallery.options)
        for entry in manifest["segments"]:
            segment = _read_segment(
                folder / SEGMENTS / entry["name"], entry, gallery._searched, threads=threads
            )
            gallery._attach(segment)
        return gallery

    def close(self) -> None:
        """Drop the memory maps and the index (the folder stays as committed)."""
        self._segments.clear()
        self._people.clear()
        self._dead.clear()
        self._index = _Indexes()
        self._joint = None
        self._order = None
        self._prepared.clear()

    def __enter__(self) -> PeopleGallery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ------------------------------------------------------------------------

    def count(self) -> int:
        """People held."""
        return len(self._people)

    def __len__(self) -> int:
        return len(self._people)

    def __contains__(self, person_id: object) -> bool:
        return isinstance(person_id, int | np.integer) and int(person_id) in self._people

    @property
    def person_ids(self) -> np.ndarray:
        """The ids of the people held, ascending (``int64``)."""
        return np.array(sorted(self._people), dtype=np.int64)

    def fingers(self, person_id: int) -> dict[int, Template]:
        """One person's stored templates by finger position (``KeyError`` if unknown)."""
        pid = _check_person_id(person_id)
        if pid not in self._people:
            raise KeyError(f"person {pid} is not in the gallery")
        out = {}
        for number, row in _rows(self._people[pid]):
            segment = self._segments[number]
            out[int(segment.positions[row])] = segment.template(row)
        return dict(sorted(out.items()))

    # -- writing ------------------------------------------------------------------------

    def insert(self, person_ids: Sequence[int], people: Sequence[Mapping[int, Template]]) -> None:
        """Add people: ``people[i]`` maps finger position (1..10) to the template of person
        ``person_ids[i]``. Writes one segment and commits it; ids must be new.

        Raises
        ------
        ValueError
            Duplicate ids, ids already held, a person without fingers, a template whose
            ``finger_position`` disagrees with its key, lengths that differ.
        TypeError
            Wrong types.
        """
        ids = _check_ids(person_ids)
        if isinstance(people, Mapping) or not isinstance(people, Sequence):
            raise TypeError(f"people must be a sequence of mappings, got {type(people).__name__}")
        if len(people) != len(ids):
            raise ValueError(f"got {len(ids)} person ids but {len(people)} people")
        held = [i for i in ids if i in self._people]
        if held:
            raise ValueError(f"person ids already in the gallery: {held[:5]}")
        fingers = [_check_fingers(p, f"person {i}") for i, p in zip(ids, people, strict=True)]
        if not ids:
            return
        rows_people, rows_positions, blobs, templates = [], [], [], []
        for pid, person in zip(ids, fingers, strict=True):
            for position, template in sorted(person.items()):
                rows_people.append(pid)
                rows_positions.append(position)
                blobs.append(template.to_bytes())
                templates.append(template)
        with self._writing():
            manifest = self._next_manifest()
            number = manifest["next_segment"]
            entry = self._write_segment(
                manifest, number, rows_people, rows_positions, blobs, templates
            )
            manifest["next_segment"] = number + 1
            manifest["segments"].append(entry)
            self._commit(manifest)
        folder = self.path / SEGMENTS / entry["name"]
        self._attach(
            _read_segment(folder, entry, self._searched, verify=False, threads=self._threads)
        )

    def delete(self, person_ids: Sequence[int]) -> None:
        """Remove people (tombstones in the manifest; their segment files stay until
        :meth:`compact`). Unknown ids raise ``KeyError`` and delete nothing."""
        ids = _check_ids(person_ids)
        unknown = [i for i in ids if i not in self._people]
        if unknown:
            raise KeyError(f"person ids not in the gallery: {unknown[:5]}")
        if not ids:
            return
        with self._writing():
            manifest = self._next_manifest()
            stones = {int(p): int(s) for p, s in manifest["tombstones"]}
            for pid in ids:
                stones[pid] = manifest["next_segment"]
            manifest["tombstones"] = sorted([p, s] for p, s in stones.items())
            self._commit(manifest)
        for pid in ids:
            for n, r in _rows(self._people.pop(pid)):
                if int(self._segments[n].positions[r]) in self._searched:
                    self._index.live -= 1
                    self._index.dead[n] = self._index.dead.get(n, 0) + 1
            self._dead[pid] = manifest["next_segment"]
        self._joint = None
        self._order = None

    def compact(self, *, repartition: bool = False, options: IndexOptions | None = None) -> None:
        """Rewrite the live people into one new segment, drop the tombstones, and remove
        every segment folder (and old quantizer file) the new manifest does not name. A crash
        before the manifest is replaced leaves the old state (the half-written segment is
        garbage).

        With ``repartition`` (and ``nlist > 1``) the coarse centroids are trained anew on the
        live people's searched fingers first, under new index ``options`` if given (e.g.
        :func:`people_index_options` of the size the gallery has grown to): the maintenance
        step for a gallery that has outgrown the partition it was created with.
        """
        if options is not None:
            if not repartition:
                raise ValueError("new index options need repartition=True")
            if not isinstance(options, IndexOptions):
                raise TypeError(f"options must be IndexOptions, got {type(options).__name__}")
        with self._writing():
            self._compact(repartition, options)

    def _compact(self, repartition: bool, options: IndexOptions | None) -> None:
        manifest = self._next_manifest()
        previous, centroids = self.options, self._centroids
        searched = self._searched
        if repartition:
            manifest["quantizer"] = None
            self._centroids = None
            # an older gallery's index moves to the positions searched now
            self._searched = SEARCHED_POSITIONS
            manifest["searched"] = list(SEARCHED_POSITIONS)
        if options is not None:
            manifest["options"] = dataclasses.asdict(options)
            self.options = options
        number = manifest["next_segment"]
        try:
            entry = self._compacted_segment(manifest, number, repartition)
            manifest["next_segment"] = number + 1
            manifest["segments"] = [entry]
            manifest["tombstones"] = []
            self._commit(manifest)
        except BaseException:
            # nothing committed: later inserts keep the committed options and centroids
            self.options, self._centroids, self._searched = previous, centroids, searched
            raise
        folder = self.path / SEGMENTS / entry["name"]
        segment = _read_segment(folder, entry, self._searched, verify=False, threads=self._threads)
        self._segments.clear()
        self._people.clear()
        self._dead.clear()
        self._index = _Indexes()
        self._attach(segment)
        for child in (self.path / SEGMENTS).iterdir():
            if child.name != entry["name"]:
                shutil.rmtree(child, ignore_errors=True)
        keep = (manifest.get("quantizer") or {}).get("name")
        for old in self.path.glob("quantizer-*.npy"):
            if old.name != keep:
                old.unlink(missing_ok=True)

    # -- searching ----------------------------------------------------------------------

    def identify(
        self,
        probes: Sequence[Mapping[int, Template]],
        *,
        k: int | None = None,
        depth: int | None = None,
        fmr: float | None = None,
        allow: Callable[[int, np.ndarray], np.ndarray] | None = None,
        among_first: Sequence[int] | None = None,
        timings: dict[str, float] | None = None,
    ) -> list[list[PeopleCandidate]]:
        """Candidate people for each probe (a mapping of finger position to Template), best
        fused score first (ties by person id).

        Parameters
        ----------
        probes : sequence of mapping of int to Template
            Each needs at least one finger at a searched position
            (:attr:`searched_positions`: any for a gallery made now).
        k : int, optional
            People compared on all ten fingers and returned per probe: the best of the
            shortlist on the first fingers (:data:`FIRST_RERANK_POSITIONS` the probe has, or
            all its fingers when it has none of them); default ``min(depth, FULL_RERANK)``.
        depth : int, optional
            People shortlisted per probe from the index evidence (summed per person over the
            searched fingers) and compared on the probe's first fingers; default
            :func:`shortlist_depth` of :meth:`count`. At least ``k``.
        fmr : float, optional
            Sets each candidate's ``match``: some finger scores at least
            ``afis.threshold_for_fmr(fmr)``.
        allow : callable, optional
            ``allow(probe_number, person_ids) -> bool array``: which of the people the index
            listed for that probe may be shortlisted (applied before the cut, after the
            index search: a filter that saves no index work; see ``among_first``).
        among_first : sequence of int, optional
            Per probe, a count ``r``: the probe is searched in the gallery as it stood when it
            held the first ``r`` of its people in insertion order (:attr:`insertion_order`),
            as a de-duplication of a batch against itself searches each record among the
            records before it. The index scans only those people's codes (each list's
            prefix), retrieves neighbours in proportion to them (at least
            ``PEOPLE_INDEX["min_neighbours"]``) and the default depth is
            :func:`shortlist_depth` of ``r``, so the search costs what a gallery of ``r``
            people costs (where the segments cannot be searched jointly, the lists of the
            whole gallery are filtered instead). The data centre's job searches its batch
            so, each record among the records before it.
        timings : dict of str to float, optional
            When given, the seconds spent in the ``"search"`` (candidate indexes), ``"rerank"``
            (matcher) and ``"bookkeeping"`` (checks, votes, merging) stages are added to its
            values of those keys; the results are the same.

        Returns
        -------
        list of list of PeopleCandidate
            At most ``k`` per probe.
        """
        firsts = None
        if among_first is not None:
            firsts = _check_firsts(among_first, len(probes) if isinstance(probes, Sequence) else -1)
            order = self._insertion()
            given = allow

            def allow(n: int, people: np.ndarray) -> np.ndarray:
                keep = order.rank(people) < firsts[n]
                if given is not None:
                    keep &= np.asarray(given(n, people), dtype=bool)
                return keep

        return identify_parts(
            [self],
            self.count(),
            probes,
            k=k,
            depth=depth,
            fmr=fmr,
            allow=allow,
            firsts=firsts,
            timings=timings,
        )

    @property
    def insertion_order(self) -> np.ndarray:
        """The ids of the people held in the order they were inserted (``int64``; what
        ``among_first`` of :meth:`identify` counts)."""
        order = self._insertion()
        out = np.empty(len(order.ids), np.int64)
        out[order.ranks] = order.ids
        return out

    def compare(self, probe: Mapping[int, Template], person_ids: Sequence[int]) -> np.ndarray:
        """Matcher scores of one probe against named people on all ten fingers.

        Returns
        -------
        numpy.ndarray
            ``float32`` of shape ``(len(person_ids), 10)``: the score of finger position
            ``p`` at column ``p - 1``, 0 where the probe or the person lacks the finger.

        Raises
        ------
        KeyError
            A person is not in the gallery.

        Examples
        --------
        >>> import tempfile
        >>> from afis.synth import Population
        >>> fingers = Population(seed=1).impressions(range(10), 0).templates()
        >>> person = dict(zip(range(1, 11), fingers))
        >>> gallery = PeopleGallery.create(tempfile.mkdtemp())
        >>> gallery.insert([7], [person])
        >>> bool(gallery.compare(person, [7]).min() > 0.5)
        True
        """
        fingers = _check_fingers(probe, "probe")
        ids = _check_ids(person_ids)
        unknown = [i for i in ids if i not in self._people]
        if unknown:
            raise KeyError(f"person ids not in the gallery: {unknown[:5]}")
        return self._scores(fingers, ids, range(1, 11))

    @property
    def searched_positions(self) -> tuple[int, ...]:
        """The finger positions this gallery's candidate indexes hold and its searches use:
        :data:`SEARCHED_POSITIONS` for a gallery made now, :data:`LEGACY_SEARCHED_POSITIONS`
        for one written before manifest version 4 until it is compacted with
        ``repartition=True``."""
        return self._searched

    def _searched_positions(self) -> tuple[int, ...]:
        """:attr:`searched_positions`, as a method the parts of :func:`identify_parts` answer."""
        return self._searched

    def _codes(self) -> int:
        """Codes held by the live segments' indexes (for :func:`identify_parts`)."""
        return sum(segment.index.codes for segment in self._segments.values())

    def _search(
        self,
        queries: list[Template],
        k: int,
        total_codes: int | None = None,
        tables: list[np.ndarray | None] | None = None,
        each: bool = False,
        firsts: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best live fingers per query over every segment's index.

        The segments' indexes of one finger position share their coarse centroids and are
        searched as one (:class:`JointIndexes`: one scan, one vote count; tombstoned fingers
        take no place), so a gallery in many segments searches as its compacted self would.
        ``tables`` (per query, the vote rows of its codes from the histograms summed over the
        parts of a sharded gallery: :func:`identify_parts`) make this part vote as the whole.
        Segments that cannot be searched jointly (codes of other than 8 bytes), or ``each``,
        are searched in turn and merged (:meth:`_search_each`), each retrieving its share of
        the neighbours among ``total_codes``. ``firsts`` (per query, a count of people in
        insertion order: ``among_first`` of :meth:`identify`) searches each query among those
        people's fingers alone where the joint lists are in slot order (the caller filters
        the lists in any case).
        """
        total = total_codes if total_codes is not None else self._codes()
        joint = None if each else self._joint_indexes()
        if joint is None:
            return self._search_each(queries, k, total)
        order = self._insertion() if firsts is not None else None
        scores = np.zeros((len(queries), k), np.float32)
        found = np.full((len(queries), k), -1, np.int64)
        groups: dict[int, list[int]] = {}
        for n, query in enumerate(queries):
            groups.setdefault(int(query.finger_position), []).append(n)
        for position, members in sorted(groups.items()):
            if position not in joint:
                continue
            rows = None
            if tables is not None:
                parts = [tables[n] for n in members]
                if any(t is None for t in parts):
                    continue  # no part's scan met a code of these probes
                rows = np.concatenate(parts)
            neighbours: int | np.ndarray = self.options.neighbours
            limits = None
            if order is not None and firsts is not None and joint[position].slot_ordered:
                limits = np.searchsorted(order.slot_ranks[position], firsts[members], "left")
                neighbours = _neighbours_of_prefix(
                    self.options.neighbours,
                    joint[position].codes_before(limits),
                    joint[position].codes,
                )
            s, i = joint[position].search(
                [queries[n] for n in members],
                k=k,
                neighbours=neighbours,
                tables=rows,
                limits=limits,
            )
            scores[members, : s.shape[1]] = s
            found[members, : i.shape[1]] = i
        return scores, found

    def _code_histograms(
        self, queries: list[Template]
    ) -> tuple[int, float, list[np.ndarray | None]] | None:
        """The neighbours and vote floor the gallery's index retrieves with, and per query the
        distance histograms of its codes' scans over this gallery's joint indexes
        (``(codes, 65)``; None where no segment holds its position), for the parts of a
        sharded gallery to add up; None when the segments cannot be searched jointly."""
        joint = self._joint_indexes()
        if joint is None:
            return None
        out: list[np.ndarray | None] = [None] * len(queries)
        groups: dict[int, list[int]] = {}
        for n, query in enumerate(queries):
            groups.setdefault(int(query.finger_position), []).append(n)
        for position, members in groups.items():
            if position not in joint:
                continue
            found = joint[position].histograms([queries[n] for n in members])
            for n, rows in zip(members, found, strict=True):
                out[n] = rows
        return int(self.options.neighbours), float(self.options.similarity_floor), out

    def _tombstones(self) -> tuple[np.ndarray, np.ndarray]:
        """The tombstoned person ids and, for each, the segment number from which it lives
        again (a person is dead in the segments numbered below that)."""
        ids = np.fromiter(self._dead, np.int64, len(self._dead))
        return ids, np.fromiter(self._dead.values(), np.int64, len(self._dead))

    def _insertion(self) -> _Order:
        """The people held in insertion order and each joint finger slot's place in it
        (:class:`_Order`), made after each change of the segments or tombstones and kept."""
        if self._order is not None:
            return self._order
        dead_ids, dead_from = self._tombstones()
        ids, slot_ranks = [], {}
        rank_parts: dict[int, list[np.ndarray]] = {}
        held = 0
        for number, segment in sorted(self._segments.items()):
            people, first = np.unique(segment.people, return_index=True)
            in_order = people[np.argsort(first, kind="stable")]
            live = ~np.isin(in_order, dead_ids[dead_from > number])
            before = held + np.concatenate([[0], np.cumsum(live)[:-1]]).astype(np.int64)
            ids.append(in_order[live])
            held += int(live.sum())
            sorted_people = np.sort(in_order)
            place = before[np.argsort(in_order, kind="stable")]
            for position in segment.index.positions:
                shard = segment.index.shard(position)
                if not len(shard):
                    continue
                owners = np.asarray(shard._ids, np.int64) // 10
                rank_parts.setdefault(int(position), []).append(
                    place[np.searchsorted(sorted_people, owners)]
                )
        for position, parts in rank_parts.items():
            slot_ranks[position] = np.concatenate(parts)
        in_order = np.concatenate(ids) if ids else np.zeros(0, np.int64)
        by_id = np.argsort(in_order, kind="stable")
        self._order = _Order(
            ids=in_order[by_id],
            ranks=np.arange(len(in_order), dtype=np.int64)[by_id],
            slot_ranks=slot_ranks,
        )
        return self._order

    def _joint_indexes(self) -> dict[int, JointIndexes] | None:
        """Per searched finger position, its segments' indexes as one (with the tombstoned
        fingers' counts at 0), made after each change of the segments or tombstones and kept;
        None when some segment's index cannot be searched jointly. Making it costs one pass
        over the live segments' lists and finger slots (not per search)."""
        cached = self._joint
        if cached is not None:
            return cached or None
        dead_ids, dead_from = self._tombstones()
        parts: dict[int, tuple[list[CandidateIndex], list[np.ndarray]]] = {}
        for number, segment in sorted(self._segments.items()):
            gone = dead_ids[dead_from > number]
            for position in segment.index.positions:
                shard = segment.index.shard(position)
                if not len(shard):
                    continue
                counts = np.array(shard._counts, np.int32)
                if gone.size:
                    counts[np.isin(shard._ids // 10, gone)] = 0
                indexes, all_counts = parts.setdefault(int(position), ([], []))
                indexes.append(shard)
                all_counts.append(counts)
        try:
            joint = {p: JointIndexes(ix, counts) for p, (ix, counts) in parts.items()}
        except ValueError:
            joint = {}
        self._joint = joint
        return joint or None

    def _search_each(
        self, queries: list[Template], k: int, total: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_search` one segment at a time, merged by score as :meth:`ShardedIndex.search`
        merges shards (best first, ties by finger id).

        Each segment is asked for ``k`` plus the number of its tombstoned indexed fingers, so
        that its ``k`` best live fingers survive the tombstone filter, and retrieves its share
        of the neighbours (with a margin).
        """
        dead_ids, dead_from = self._tombstones()
        scores, found = [], []
        searched = [
            (number, segment)
            for number, segment in sorted(self._segments.items())
            if len(segment.index)
        ]
        with shared_encoding():  # the probes are encoded once, not once per segment
            results = [
                segment.index.search(
                    queries,
                    k=k + self._index.dead.get(number, 0),
                    neighbours=_share_of_neighbours(
                        segment.index.codes, total, self.options.neighbours
                    ),
                )
                for number, segment in searched
            ]
        for (number, _), (s, i) in zip(searched, results, strict=True):
            gone = dead_ids[dead_from > number]
            if gone.size:
                drop = (i >= 0) & np.isin(i // 10, gone)
                i = np.where(drop, -1, i)
                s = np.where(drop, np.float32(0), s)
            scores.append(s)
            found.append(i)
        if not scores:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        s_all = np.concatenate(scores, axis=1)
        i_all = np.concatenate(found, axis=1)
        order = np.lexsort((i_all, -np.where(i_all >= 0, s_all, -np.inf)), axis=1)[:, :k]
        rows = np.arange(len(queries))[:, None]
        return s_all[rows, order], i_all[rows, order]

    def _scores(
        self, probe: dict[int, Template], people: Sequence[int], positions: Iterable[int]
    ) -> np.ndarray:
        """Matcher scores ``(len(people), 10)`` at ``positions`` (0 elsewhere)."""
        return self._score_people([probe], [list(people)], [tuple(positions)])[0]

    def _score_people(
        self,
        probes: Sequence[dict[int, Template]],
        people: Sequence[Sequence[int]],
        positions: Sequence[Sequence[int]],
    ) -> list[np.ndarray]:
        """For each probe ``n``, the scores ``(len(people[n]), 10)`` of the listed people this
        gallery holds (rows of others stay 0) at ``positions[n]``: one step of
        :func:`identify_parts`.

        Every stored finger wanted by any probe is prepared once from its stored bytes, in
        one :meth:`Gallery.from_buffers` over all the threads (or taken from the re-rank
        cache, :class:`_PreparedCache`); then each probe finger is
        prepared and compared with its rows, read in place (probes in parallel)."""
        rows: dict[tuple[int, int], int] = {}
        refs: list[tuple[int, int]] = []
        for probe, listed, at in zip(probes, people, positions, strict=True):
            wanted = set(at)
            for pid in listed:
                for n, r in _rows(self._people.get(pid, [])):
                    position = int(self._segments[n].positions[r])
                    if position in wanted and position in probe and (pid, position) not in rows:
                        rows[(pid, position)] = len(refs)
                        refs.append((n, r))
        out = [np.zeros((len(listed), 10), np.float32) for listed in people]
        if not refs:
            return out
        prepared = self._prepared.gallery(
            refs,
            lambda wanted: Gallery.from_buffers(
                [self._segments[refs[i][0]].buffer(refs[i][1]) for i in wanted],
                threads=self._threads,
            ),
        )

        def one(m: int) -> None:
            probe, listed, scores = probes[m], people[m], out[m]
            for position in positions[m]:
                if position not in probe:
                    continue
                found = [
                    (i, rows[(pid, position)])
                    for i, pid in enumerate(listed)
                    if (pid, position) in rows
                ]
                if found:
                    at, subset = zip(*found, strict=True)
                    scores[list(at), position - 1] = Matcher(probe[position]).compare_many(
                        prepared, rows=subset, threads=1
                    )

        workers = min(resolve_threads(self._threads), len(probes))
        if workers > 1:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(one, range(len(probes))))
        else:
            for m in range(len(probes)):
                one(m)
        return out

    # -- internals ----------------------------------------------------------------------

    def _next_manifest(self) -> dict[str, Any]:
        manifest = json.loads(json.dumps(self._manifest))
        # an older manifest is written anew in this version, naming the positions it indexes
        manifest["version"] = VERSION
        manifest["searched"] = list(self._searched)
        return manifest

    @contextmanager
    def _writing(self, *, fresh: bool = False) -> Iterator[None]:
        """Hold the gallery's writer lock (``flock`` on ``.writer.lock``) for one change, and
        refuse it when the manifest on disk is no longer the one this object last read or
        wrote (another process committed meanwhile: writing on would lose its change)."""
        try:
            handle = open(self.path / LOCK, "a+b")  # held across the yield
        except OSError as exc:
            raise GalleryFileError(f"{self.path / LOCK}: cannot open the lock ({exc})") from exc
        try:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise GalleryLockedError(
                    f"{self.path}: another process is writing this gallery"
                ) from None
            if not fresh:
                on_disk = _read_manifest(self.path / MANIFEST)
                if _body_crc(on_disk) != _body_crc(self._manifest):
                    raise GalleryLockedError(
                        f"{self.path / MANIFEST}: changed by another process since this "
                        "gallery was opened; open it again"
                    )
            yield
        finally:
            handle.close()  # releases the lock

    def _live_rows(self) -> list[tuple[_Segment, np.ndarray, np.ndarray]]:
        """Each segment (in number order) with the mask of its live rows and the ids of the
        people tombstoned in it: the people held, in insertion order, as a compaction keeps
        them."""
        dead_ids, dead_from = self._tombstones()
        out = []
        for number, segment in sorted(self._segments.items()):
            gone = dead_ids[dead_from > number]
            out.append((segment, ~np.isin(segment.people, gone), gone))
        return out

    def _compacted_segment(
        self, manifest: dict[str, Any], number: int, repartition: bool
    ) -> dict[str, Any]:
        """The live people as one new segment, streamed: the stored templates copied segment
        by segment into the new file (never parsed), and the index made one finger position
        at a time, so that memory holds one position's codes at most whatever the size.

        Without ``repartition`` the index is merged from the segments' stored codes
        (:meth:`CandidateIndex.merged`: nothing encoded again; 10^6 people in about two
        minutes, ``benchmarks/DEDUP.md``). With it, under the options now in force, new
        centroids are trained on the first fingers (as many as the k-means reads) and each
        position's templates are parsed and encoded anew, a chunk at a time.
        """
        name = _segment_name(number)
        folder = self.path / SEGMENTS / name
        if folder.exists():  # garbage of an interrupted commit: the manifest never named it
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        parts = self._live_rows()
        sizes = [np.diff(segment.offsets)[live] for segment, live, _ in parts]
        lengths = np.concatenate(sizes) if sizes else np.zeros(0, np.int64)
        offsets = np.zeros(len(lengths) + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
        files = {
            "templates.npy": _write_streamed(
                folder / "templates.npy",
                int(offsets[-1]),
                (_live_bytes(segment, live) for segment, live, _ in parts),
            ),
            "offsets.npy": _write_array(folder / "offsets.npy", offsets),
        }
        columns = {}
        for file, field, dtype in (
            ("people.npy", "people", np.int64),
            ("positions.npy", "positions", np.uint8),
        ):
            column = [np.asarray(getattr(segment, field))[live] for segment, live, _ in parts]
            columns[field] = np.concatenate(column).astype(dtype) if column else np.zeros(0, dtype)
            files[file] = _write_array(folder / file, columns[field])

        def merged() -> Iterator[tuple[int, CandidateIndex]]:
            positions = sorted({int(p) for segment, _, _ in parts for p in segment.index.positions})
            for position in positions:
                held, keep = [], []
                for segment, _, gone in parts:
                    if position in segment.index.positions:
                        shard = segment.index.shard(position)
                        held.append(shard)
                        keep.append(~np.isin(shard._ids // 10, gone))
                yield position, CandidateIndex.merged(held, keep, threads=self._threads)

        def rebuilt() -> Iterator[tuple[int, CandidateIndex]]:
            stored = np.load(folder / "templates.npy", mmap_mode="r").view(np.ndarray)
            people, positions = columns["people"], columns["positions"]

            def parsed(rows: np.ndarray) -> list[Template]:
                return [
                    Template.from_bytes(stored[offsets[r] : offsets[r + 1]].tobytes())
                    for r in rows.tolist()
                ]

            indexed = np.flatnonzero(np.isin(positions, self._searched))
            centroids = self._centroids if manifest.get("quantizer") else None
            if self.options.nlist > 1 and centroids is None and len(indexed):
                first = indexed[: self.options.nlist * self.options.train_per_list]
                centroids = self._train(manifest, parsed(first))
            for position in sorted({int(p) for p in positions[indexed]}):
                index = CandidateIndex(self.options, threads=self._threads)
                if centroids is not None:
                    index.set_centroids(centroids)
                rows = indexed[positions[indexed] == position]
                for start in range(0, len(rows), _REBUILD_CHUNK):
                    chunk = rows[start : start + _REBUILD_CHUNK]
                    index.add(parsed(chunk), people[chunk] * 10 + position - 1)
                yield position, index

        ShardedIndex.save_each(folder / INDEX, self.options, rebuilt() if repartition else merged())
        files.update(self._sync_index(folder))
        fsync_folder(folder)
        fsync_folder(self.path / SEGMENTS)
        _checkpoint("segment-written")
        return {"name": name, "number": number, "fingers": len(lengths), "files": files}

    def _write_segment(
        self,
        manifest: dict[str, Any],
        number: int,
        people: list[int],
        positions: list[int],
        blobs: list[bytes],
        templates: Sequence[Template | None],
    ) -> dict[str, Any]:
        """Write segment ``number``: its arrays, and its candidate index built from
        ``templates`` (row-aligned; only those at a searched position are read). Everything
        is fsynced before the caller replaces the manifest."""
        name = _segment_name(number)
        folder = self.path / SEGMENTS / name
        if folder.exists():  # garbage of an interrupted commit: the manifest never named it
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        offsets = np.zeros(len(blobs) + 1, np.int64)
        np.cumsum([len(b) for b in blobs], out=offsets[1:])
        arrays = {
            "templates.npy": np.frombuffer(b"".join(blobs), dtype=np.uint8),
            "offsets.npy": offsets,
            "people.npy": np.array(people, dtype=np.int64),
            "positions.npy": np.array(positions, dtype=np.uint8),
        }
        files = {file: _write_array(folder / file, arrays[file]) for file in _FILES}
        files.update(self._write_index(manifest, folder, people, positions, templates))
        fsync_folder(folder)
        fsync_folder(self.path / SEGMENTS)
        _checkpoint("segment-written")
        return {"name": name, "number": number, "fingers": len(blobs), "files": files}

    def _write_index(
        self,
        manifest: dict[str, Any],
        folder: Path,
        people: list[int],
        positions: list[int],
        templates: Sequence[Template | None],
    ) -> dict[str, int]:
        """Build and save the segment's index in ``folder/index``; fsync it; return the CRC32
        of each of its files by path relative to ``folder``. Without centroids yet (and
        ``nlist > 1``), trains them on these fingers and names their new file in
        ``manifest``."""
        items, ids = [], []
        for pid, position, template in zip(people, positions, templates, strict=True):
            if position in self._searched:
                assert template is not None
                items.append(template)
                ids.append(pid * 10 + position - 1)
        centroids = self._centroids if manifest.get("quantizer") else None
        if self.options.nlist > 1 and centroids is None and items:
            centroids = self._train(manifest, items)
        index = ShardedIndex(self.options, threads=self._threads, centroids=centroids)
        if items:
            index.add(items, np.array(ids, dtype=np.int64))
        index.save(folder / INDEX)
        return self._sync_index(folder)

    @staticmethod
    def _sync_index(folder: Path) -> dict[str, int]:
        """fsync a segment's saved index; the CRC32 of each of its files by path relative to
        ``folder``."""
        files = {}
        for path in sorted((folder / INDEX).rglob("*")):
            if path.is_file():
                with open(path, "rb") as f:
                    os.fsync(f.fileno())
                files[path.relative_to(folder).as_posix()] = _crc(path)
        for sub in sorted((p for p in (folder / INDEX).rglob("*") if p.is_dir()), reverse=True):
            fsync_folder(sub)
        fsync_folder(folder / INDEX)
        return files

    def _train(self, manifest: dict[str, Any], items: list[Template]) -> np.ndarray:
        """Train coarse centroids on ``items``, write them to a new quantizer file (fsynced)
        and name it in ``manifest``; they take effect when the manifest is committed."""
        trainer = CandidateIndex(self.options, threads=self._threads)
        try:
            trainer.train(items)
        except ValueError as exc:
            raise ValueError(
                f"too few fingers to train {self.options.nlist} coarse lists ({exc}): insert "
                "more people at once, or create the gallery with a smaller nlist"
            ) from exc
        centroids = trainer.centroids
        name = f"quantizer-{manifest['next_segment']:06d}.npy"
        crc = _write_array(self.path / name, centroids)
        fsync_folder(self.path)
        manifest["quantizer"] = {"name": name, "crc32": crc}
        self._centroids = centroids
        return centroids

    def _commit(self, manifest: dict[str, Any]) -> None:
        body = {k: v for k, v in manifest.items() if k != "crc32"}
        text = json.dumps({**body, "crc32": _body_crc(body)}, indent=1, sort_keys=True)
        tmp = self.path / f".{MANIFEST}.tmp"
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        _checkpoint("before-replace")
        os.replace(tmp, self.path / MANIFEST)
        fsync_folder(self.path)
        _checkpoint("after-replace")
        self._manifest = body

    def _attach(self, segment: _Segment) -> None:
        """Record a segment's live fingers (from people.npy, positions.npy and the
        tombstones; no template is read) and count its live and dead indexed fingers. A
        person's consecutive rows are kept as one int (10^6 people: about 0.1 GB instead of
        the 1 GB of a list of pairs each), made from the arrays in a few passes."""
        number = segment.number
        self._segments[number] = segment
        self._joint = None
        self._order = None
        people = np.asarray(segment.people, np.int64)
        searched = np.isin(segment.positions, self._searched)
        dead_ids, dead_from = self._tombstones()
        dead_rows = np.isin(people, dead_ids[dead_from > number])
        dead = int((searched & dead_rows).sum())
        if dead:
            self._index.dead[number] = dead
        rows = np.flatnonzero(~dead_rows)
        self._index.live += int(searched[rows].sum())
        if not len(rows):
            return
        # runs of one person's consecutive rows
        owners = people[rows]
        breaks = (owners[1:] != owners[:-1]) | (rows[1:] != rows[:-1] + 1)
        starts = np.concatenate([[0], np.flatnonzero(breaks) + 1])
        counts = np.diff(np.append(starts, len(rows)))
        run_people, run_rows = owners[starts], rows[starts]
        single = (counts <= _RUN_COUNT) & (run_rows < 1 << _RUN_ROW_BITS)
        unique, seen = np.unique(run_people, return_counts=True)
        single &= ~np.isin(run_people, unique[seen > 1])
        packed = (
            (np.int64(number) << (_RUN_ROW_BITS + _RUN_COUNT_BITS))
            | (run_rows << _RUN_COUNT_BITS)
            | (counts - 1)
        )
        before = len(self._people)
        self._people.update(zip(run_people[single].tolist(), packed[single].tolist(), strict=True))
        if len(self._people) != before + int(single.sum()):
            # only a tombstone lets an id live again, in a later segment: never in two at once
            raise GalleryFileError(
                f"{self.path / SEGMENTS / _segment_name(number)}: holds people that another "
                "live segment holds too (the gallery's files are inconsistent)"
            )
        for n in np.flatnonzero(~single).tolist():  # rows apart: listed one by one
            pid = int(run_people[n])
            listed = self._people.setdefault(pid, [])
            if not isinstance(listed, list):
                listed = self._people[pid] = list(_rows(listed))
            start = int(run_rows[n])
            listed.extend((number, start + i) for i in range(int(counts[n])))


_RUN_ROW_BITS = 32
_RUN_COUNT_BITS = 4
_RUN_COUNT = 1 << _RUN_COUNT_BITS


def _rows(held: int | list[tuple[int, int]]) -> list[tuple[int, int]]:
    """A person's (segment number, row) pairs from its entry in the person map: a list, or
    one int packing the segment number, the first row (32 bits) and the row count less one
    (4 bits) of consecutive rows."""
    if isinstance(held, list):
        return held
    number = held >> (_RUN_ROW_BITS + _RUN_COUNT_BITS)
    row = (held >> _RUN_COUNT_BITS) & ((1 << _RUN_ROW_BITS) - 1)
    return [(number, row + i) for i in range((held & (_RUN_COUNT - 1)) + 1)]


#: How :func:`identify_parts` calls one method on every part: ``run(name, args)`` returns the
#: parts' results in order (in this process, or gathered from the workers).
Runner = Callable[[str, tuple[Any, ...]], list[Any]]


def _local_runner(parts: Sequence[Any]) -> Runner:
    def run(name: str, args: tuple[Any, ...]) -> list[Any]:
        return [getattr(part, name)(*args) for part in parts]

    return run


def _merge_lists(
    lists: Sequence[tuple[np.ndarray, np.ndarray]], width: int, queries: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``width`` best (score, finger id) per query over several parts' lists, best first,
    ties by finger id (as :meth:`PeopleGallery._search` merges its segments)."""
    if not lists:
        return np.zeros((queries, 0), np.float32), np.zeros((queries, 0), np.int64)
    s_all = np.concatenate([s for s, _ in lists], axis=1)
    i_all = np.concatenate([i for _, i in lists], axis=1)
    order = np.lexsort((i_all, -np.where(i_all >= 0, s_all, -np.inf)), axis=1)[:, :width]
    rows = np.arange(queries)[:, None]
    return s_all[rows, order], i_all[rows, order]


def _shortlists(
    index_scores: np.ndarray,
    finger_ids: np.ndarray,
    owners: np.ndarray,
    probes: int,
    depth: int | Sequence[int],
    allow: Callable[[int, np.ndarray], np.ndarray] | None,
) -> list[list[int]]:
    """Per probe, the ``depth`` (or ``depth[n]``) people with the most index evidence
    (their fingers' index scores summed over the probe's searched fingers, rows of
    ``index_scores`` owned by the probe), ``allow`` applied first; ties by person id.

    One sort of (probe, person) keys for the whole batch: a person is listed at most once per
    row, and the sums add the rows in order, as a running sum per person would."""
    rows, width = finger_ids.shape
    listed = finger_ids >= 0
    owner = np.repeat(owners.astype(np.int64), width).reshape(rows, width)[listed]
    person = finger_ids[listed] // 10
    score = index_scores[listed].astype(np.float64)
    span = int(person.max()) + 1 if len(person) else 1
    if probes * span < 1 << 62:  # one int64 key: a single sort (the common case)
        order = np.argsort(owner * span + person, kind="stable")
    else:
        order = np.lexsort((person, owner))
    owner, person, score = owner[order], person[order], score[order]
    first = np.ones(len(person), bool)
    first[1:] = (owner[1:] != owner[:-1]) | (person[1:] != person[:-1])
    starts = np.flatnonzero(first)
    sums = np.add.reduceat(score, starts) if len(starts) else np.zeros(0)
    owner, person = owner[starts], person[starts]
    bounds = np.searchsorted(owner, np.arange(probes + 1))
    out = []
    for n in range(probes):
        people, votes = person[bounds[n] : bounds[n + 1]], sums[bounds[n] : bounds[n + 1]]
        if allow is not None and len(people):
            keep = np.asarray(allow(n, people.copy()), dtype=bool)
            if keep.shape != (len(people),):
                raise ValueError(f"allow returned shape {keep.shape}, not ({len(people)},)")
            people, votes = people[keep], votes[keep]
        # fused per person before the cut; ties by id
        best = np.lexsort((people, -votes))[: depth if isinstance(depth, int) else depth[n]]
        out.append(people[best].tolist())
    return out


def identify_parts(
    parts: Sequence[Any],
    count: int,
    probes: Sequence[Mapping[int, Template]],
    *,
    k: int | None = None,
    depth: int | None = None,
    fmr: float | None = None,
    allow: Callable[[int, np.ndarray], np.ndarray] | None = None,
    firsts: np.ndarray | None = None,
    timings: dict[str, float] | None = None,
    run: Runner | None = None,
) -> list[list[PeopleCandidate]]:
    """:meth:`PeopleGallery.identify` over a gallery made of ``parts`` (galleries holding
    disjoint people; ``count`` people in all), as one gallery holding all their segments
    would answer.

    Three steps, each one call per part: (1) every part's best ``max(2 * depth,
    FINGER_LIST)`` fingers per searched probe finger (each segment retrieving its share of
    the neighbours, from the parts' total codes), merged by index score into the list one
    gallery would make; the scores summed per person, ``allow`` applied, the best ``depth``
    people kept; (2) the parts score the people they hold on the probe's searched fingers;
    the best ``k`` by that sum go on; (3) the parts score those on the other fingers. Only
    probes, finger ids and scores pass between the caller and the parts, so a part may live
    in another process (``run`` calls the parts; default: in this process). ``firsts``
    (``among_first`` of :meth:`PeopleGallery.identify`, one part only) also sets each
    probe's default depth from its count.
    """
    started = time.perf_counter()
    search_s = rerank_s = 0.0
    given_depth = depth
    if isinstance(probes, Mapping) or not isinstance(probes, Sequence):
        raise TypeError(f"probes must be a sequence of mappings, got {type(probes).__name__}")
    checked = [_check_fingers(p, f"probe {n}") for n, p in enumerate(probes)]
    run = run or _local_runner(parts)
    held = {tuple(p) for p in run("_searched_positions", ())}
    if len(held) > 1:
        raise ValueError(
            f"the parts index different finger positions {sorted(held)}: compact them with "
            "repartition=True"
        )
    searched = held.pop() if held else SEARCHED_POSITIONS
    for n, probe in enumerate(checked):
        if not any(p in probe for p in searched):
            raise ValueError(f"probe {n} has no searchable finger (positions {searched})")
    if firsts is not None and len(parts) != 1:
        raise ValueError("among_first searches one gallery, not the parts of a sharded one")
    depth = shortlist_depth(count) if depth is None else _positive(depth, "depth")
    k = min(depth, FULL_RERANK) if k is None else _positive(k, "k")
    depth = max(depth, k)
    depths: int | list[int] = depth
    if firsts is not None:
        if len(firsts) != len(checked):
            raise ValueError(f"among_first has {len(firsts)} counts for {len(checked)} probes")
        if given_depth is None:
            depths = [max(k, shortlist_depth(int(r))) for r in firsts]
    if allow is not None and not callable(allow):
        raise TypeError(f"allow must be callable, got {type(allow).__name__}")
    threshold = math.inf if fmr is None else threshold_for_fmr(fmr)
    if not checked or not count:
        return [[] for _ in checked]
    # 1. one batched index search over every searched finger of every probe, in every part
    queries, owners = [], []
    query_firsts = None
    for n, probe in enumerate(checked):
        for position in searched:
            if position in probe:
                queries.append(probe[position])
                owners.append(n)
    if firsts is not None:
        query_firsts = np.asarray(firsts, np.int64)[np.asarray(owners, np.int64)]
    tick = time.perf_counter()
    width = max(2 * depth, FINGER_LIST)
    total = sum(run("_codes", ()))
    tables, each = None, False
    if len(parts) > 1:  # the parts' votes are those of one gallery: summed histograms first
        found = run("_code_histograms", (queries,))
        if any(f is None for f in found):
            each = True  # some part cannot search jointly: every part searches by segments
        else:
            neighbours, floor = found[0][0], found[0][1]
            tables = []
            for q in range(len(queries)):
                rows = [f[2][q] for f in found if f[2][q] is not None]
                tables.append(
                    _core.vote_tables(np.sum(rows, axis=0), neighbours, floor) if rows else None
                )
    search_args: tuple[Any, ...] = (queries, width, total, tables, each)
    if query_firsts is not None:
        search_args += (query_firsts,)
    index_scores, finger_ids = _merge_lists(run("_search", search_args), width, len(queries))
    search_s = time.perf_counter() - tick
    shortlists = _shortlists(
        index_scores, finger_ids, np.asarray(owners), len(checked), depths, allow
    )
    # 2. the shortlists on the first fingers (each part scores the people it holds)
    tick = time.perf_counter()
    leading = [
        tuple(p for p in FIRST_RERANK_POSITIONS if p in probe) or tuple(sorted(probe))
        for probe in checked
    ]
    first = (
        [
            np.sum(scores, axis=0)
            for scores in zip(*run("_score_people", (checked, shortlists, leading)), strict=True)
        ]
        if shortlists
        else []
    )
    chosen = []
    for listed, scores in zip(shortlists, first, strict=True):
        if not listed:
            chosen.append(([], np.zeros((0, 10), np.float32)))
            continue
        order = np.lexsort((np.array(listed), -scores.sum(axis=1, dtype=np.float64)))[:k]
        chosen.append(([listed[i] for i in order], scores[order]))
    # 3. the best k of each on the other fingers
    others = [tuple(p for p in range(1, 11) if p not in lead) for lead in leading]
    rest = [
        np.sum(scores, axis=0)
        for scores in zip(
            *run("_score_people", (checked, [c for c, _ in chosen], others)), strict=True
        )
    ]
    results = []
    for (people, partial), more in zip(chosen, rest, strict=True):
        scores = partial + more
        fused = scores.sum(axis=1, dtype=np.float64)
        final = np.lexsort((np.array(people, np.int64), -fused)) if people else []
        results.append(
            [
                PeopleCandidate(
                    person_id=int(people[i]),
                    scores=scores[i],
                    fused=float(fused[i]),
                    match=bool((scores[i] >= threshold).any()),
                )
                for i in final
            ]
        )
    rerank_s = time.perf_counter() - tick
    if timings is not None:
        total = time.perf_counter() - started
        for key, value in (
            ("search", search_s),
            ("rerank", rerank_s),
            ("bookkeeping", total - search_s - rerank_s),
        ):
            timings[key] = timings.get(key, 0.0) + value
    return results


def _read_checked_json(path: Path, fmt: str, versions: Sequence[int], what: str) -> dict[str, Any]:
    """The body of a JSON file this module's galleries write (``format``, ``version``, the
    rest, and ``crc32`` of the rest): refused with :class:`GalleryFileError` naming the file
    when it is missing, unreadable, foreign, of another version or altered. ``what`` names
    the kind of file in the messages."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise GalleryFileError(f"{path}: no {what}") from exc
    except (OSError, ValueError) as exc:
        raise GalleryFileError(f"{path}: unreadable {what} ({exc})") from exc
    if not isinstance(data, dict) or data.get("format") != fmt:
        raise GalleryFileError(f"{path}: not a {what}")
    if data.get("version") not in versions:
        raise GalleryFileError(f"{path}: unsupported version {data.get('version')!r}")
    body = {k: v for k, v in data.items() if k != "crc32"}
    if data.get("crc32") != _body_crc(body):
        raise GalleryFileError(f"{path}: checksum mismatch (the {what} was altered)")
    return body


def _read_manifest(path: Path) -> dict[str, Any]:
    body = _read_checked_json(path, FORMAT, READABLE_VERSIONS, "people gallery manifest")
    try:
        IndexOptions(**body["options"])
        if body["version"] < 4:
            body["searched"] = list(LEGACY_SEARCHED_POSITIONS)
        searched = body["searched"]
        if (
            not isinstance(searched, list)
            or not searched
            or any(isinstance(p, bool) or p not in range(1, 11) for p in searched)
            or len(set(searched)) != len(searched)
        ):
            raise ValueError(f"bad searched positions {searched!r}")
        for entry in body["segments"]:
            names = set(entry["files"])
            index_files = names - set(_FILES)
            if (
                not names >= set(_FILES)
                or f"{INDEX}/header.json" not in index_files
                or not all(_is_index_file(name) for name in index_files)
                or entry["name"] != _segment_name(entry["number"])
            ):
                raise ValueError(f"bad segment entry {entry['name']!r}")
        for p, s in body["tombstones"]:
            int(p), int(s)
        int(body["next_segment"])
        quantizer = body.setdefault("quantizer", None)
        if quantizer is not None and (
            not isinstance(quantizer.get("name"), str)
            or re.fullmatch(r"quantizer-\d{6}\.npy", quantizer["name"]) is None
            or not isinstance(quantizer.get("crc32"), int)
        ):
            raise ValueError(f"bad quantizer entry {quantizer!r}")
    except (KeyError, TypeError, ValueError) as exc:
        raise GalleryFileError(f"{path}: invalid manifest ({exc!r})") from exc
    return body


def _read_quantizer(
    folder: Path, entry: Mapping[str, Any] | None, options: IndexOptions
) -> np.ndarray | None:
    """The centroids the manifest names (CRC32 and shape checked), or None."""
    if entry is None:
        return None
    path = folder / entry["name"]
    try:
        crc = _crc(path)
        centroids = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise GalleryFileError(f"{path}: unreadable ({exc})") from exc
    if crc != entry["crc32"]:
        raise GalleryFileError(f"{path}: checksum mismatch (truncated or altered)")
    if centroids.dtype != np.uint8 or centroids.shape != (options.nlist, options.code_bytes):
        raise GalleryFileError(f"{path}: centroids of the wrong type or shape")
    return centroids


def _check_firsts(value: object, probes: int) -> np.ndarray:
    """``among_first`` of :meth:`PeopleGallery.identify`, checked: one count per probe."""
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence | np.ndarray):
        raise TypeError(f"among_first must be a sequence of int, got {type(value).__name__}")
    firsts = np.asarray(value)
    if firsts.ndim != 1 or (len(firsts) and firsts.dtype.kind not in "iu"):
        raise TypeError("among_first must be a sequence of int")
    if probes >= 0 and len(firsts) != probes:
        raise ValueError(f"among_first has {len(firsts)} counts for {probes} probes")
    if len(firsts) and int(firsts.min()) < 0:
        raise ValueError("among_first counts must not be negative")
    return firsts.astype(np.int64)


def _neighbours_of_prefix(neighbours: int, codes: np.ndarray, total: int) -> np.ndarray:
    """Neighbours for searches among a prefix of a gallery's fingers holding ``codes`` of
    its ``total`` codes: the gallery's share, as a gallery of those people alone would
    retrieve (at least ``PEOPLE_INDEX["min_neighbours"]``, or all of ``neighbours`` where
    that is less)."""
    floor = min(neighbours, PEOPLE_INDEX["min_neighbours"])
    share = np.ceil(neighbours * np.asarray(codes, np.float64) / max(total, 1))
    return np.maximum(share, floor).astype(np.int64)


def _share_of_neighbours(codes: int, total_codes: int, neighbours: int) -> int:
    """Codes a part holding ``codes`` of ``total_codes`` retrieves per probe code: its share
    of ``neighbours``, with a margin (all of them when it holds every code)."""
    share = codes / max(1, total_codes)
    wanted = math.ceil(share * neighbours * SEGMENT_NEIGHBOURS_MARGIN)
    return max(MIN_SEGMENT_NEIGHBOURS, min(neighbours, wanted))


def _positive(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return int(value)


def _is_index_file(name: object) -> bool:
    """A manifest file name inside the segment's index folder (no way out of it)."""
    if not isinstance(name, str):
        return False
    parts = name.split("/")
    return parts[0] == INDEX and len(parts) > 1 and all(p not in ("", ".", "..") for p in parts)


def _read_segment(
    folder: Path,
    entry: Mapping[str, Any],
    positions: Sequence[int],
    *,
    verify: bool = True,
    threads: int | None = None,
) -> _Segment:
    """Memory-map a segment's arrays and its index over its fingers at ``positions`` (CRC32s
    checked when ``verify``)."""
    if verify:
        for file in sorted(entry["files"]):
            path = folder / file
            try:
                crc = _crc(path)
            except OSError as exc:
                raise GalleryFileError(f"{path}: unreadable ({exc})") from exc
            if crc != entry["files"][file]:
                raise GalleryFileError(f"{path}: checksum mismatch (truncated or altered)")
    arrays = {}
    for file in _FILES:
        path = folder / file
        try:
            arrays[file] = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise GalleryFileError(f"{path}: unreadable ({exc})") from exc
    fingers = int(entry["fingers"])
    offsets = arrays["offsets.npy"]
    if (
        offsets.shape != (fingers + 1,)
        or arrays["people.npy"].shape != (fingers,)
        or arrays["positions.npy"].shape != (fingers,)
        or int(offsets[-1]) != len(arrays["templates.npy"])
    ):
        raise GalleryFileError(f"{folder}: segment arrays disagree with the manifest")
    try:
        # the manifest's CRC32s were checked above; the index's own digests are not re-read
        index = ShardedIndex.load(folder / INDEX, mmap=True, verify=False, threads=threads)
    except (OSError, IndexFileError) as exc:
        raise GalleryFileError(f"{folder / INDEX}: unreadable index ({exc})") from exc
    searched = int(np.isin(arrays["positions.npy"], positions).sum())
    if len(index) != searched:
        raise GalleryFileError(f"{folder / INDEX}: holds {len(index)} fingers, not {searched}")
    return _Segment(
        number=int(entry["number"]),
        templates=arrays["templates.npy"].view(np.ndarray),  # slices without memmap's cost
        offsets=np.asarray(offsets).view(np.ndarray),
        people=arrays["people.npy"],
        positions=arrays["positions.npy"],
        index=index,
    )
