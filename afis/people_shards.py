"""A people gallery split into shards by a hash of the person id, searched as one.

:class:`ShardedPeopleGallery` keeps ``shards`` :class:`afis.people.PeopleGallery` folders
side by side::

    gallery/
        shards.json     format, version, number of shards, index options, CRC32
        shard-000/      a PeopleGallery (its own manifest, segments, quantizer)
        shard-001/
        ...

Person ``p`` lives in shard :func:`shard_of` ``(p, shards)`` (a 64-bit mix of the id, modulo
the count), so inserts and deletes go to the shard that owns the person and every shard
holds about the same share. Identification runs :func:`afis.people.identify_parts` over the
shards: the shards' finger shortlists are merged before people are cut, and the shards score
only the people they hold, so the answer is exactly the one a single gallery holding all the
shards' segments gives (``tests/test_people_shards.py``).

With a ``dask.distributed.Client`` the shards are served by the cluster's workers: each task
names a shard folder (storage every worker sees at the same path) and carries the probes and
candidate lists; a worker opens a shard once and keeps it memory-mapped, and opens it again
when its manifest has changed (an insert elsewhere) or after a restart. A task lost with its
worker is retried (``retries``); if it still fails the search raises: it never returns a
partial candidate list.

Each shard commits on its own: an insert that spans shards and is killed midway leaves some
shards with their people and others without (each shard exactly at its last commit); insert
the people not yet held (:meth:`ShardedPeopleGallery.missing`) to finish it.

Examples
--------
>>> import tempfile
>>> from afis.synth import Population
>>> population = Population(seed=3)
>>> def person(p, impression=0):
...     templates = population.impressions(range(10 * p, 10 * p + 10), impression).templates()
...     return dict(zip(range(1, 11), templates))
>>> gallery = ShardedPeopleGallery.create(tempfile.mkdtemp(), shards=2)
>>> gallery.insert([0, 1, 2, 3], [person(p) for p in range(4)])
>>> gallery.count(), sorted(gallery.shard_counts())
(4, [1, 3])
>>> gallery.identify([person(2, impression=1)], k=2)[0][0].person_id
2
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from afis.atomic import atomic_write
from afis.index import IndexOptions
from afis.people import (
    MANIFEST,
    SEARCHED_POSITIONS,
    GalleryFileError,
    PeopleCandidate,
    PeopleGallery,
    _body_crc,
    _check_ids,
    _read_checked_json,
    identify_parts,
)
from afis.template import Template

__all__ = ["ShardedPeopleGallery", "shard_of"]

FORMAT = "nusafis-people-shards"
VERSION = 1
HEADER = "shards.json"
#: Most shards a gallery may have.
MAX_SHARDS = 4096
#: Times Dask runs a shard's task again after its worker was lost.
RETRIES = 2
#: Seconds a search waits for a Dask cluster that lists no worker yet (one starting, or
#: restarting its workers) before it fails.
WORKER_WAIT_S = 60.0

_MASK = (1 << 64) - 1


def shard_of(person_ids: Sequence[int] | np.ndarray | int, shards: int) -> np.ndarray:
    """The shard of each person id: ``splitmix64(id) % shards`` (stable across versions and
    machines; consecutive ids spread evenly).

    Examples
    --------
    >>> shard_of([0, 1, 2, 3, 4, 5], 4).tolist()
    [3, 1, 2, 1, 2, 2]
    >>> shard_of([-1], 4)
    Traceback (most recent call last):
    ...
    ValueError: person ids must be non-negative integers
    """
    if isinstance(shards, bool) or not isinstance(shards, int | np.integer) or shards < 1:
        raise ValueError(f"shards must be a positive int, got {shards!r}")
    ids = np.atleast_1d(np.asarray(person_ids))
    if ids.size and (not np.issubdtype(ids.dtype, np.integer) or (ids < 0).any()):
        raise ValueError("person ids must be non-negative integers")
    z = ids.astype(np.uint64)
    with np.errstate(over="ignore"):
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z % np.uint64(shards)).astype(np.int64)


def _shard_name(number: int) -> str:
    return f"shard-{number:03d}"


class ShardedPeopleGallery:
    """People split over ``shards`` :class:`~afis.people.PeopleGallery` folders by a hash
    of their id; the same API as one gallery (``insert``, ``delete``, ``identify``,
    ``compare``, ``count``, ``in``, ``compact``).

    Examples
    --------
    >>> import tempfile
    >>> gallery = ShardedPeopleGallery.create(tempfile.mkdtemp(), shards=3)
    >>> gallery.shards, gallery.count()
    (3, 0)
    """

    def __init__(self, path: Path, shards: list[PeopleGallery]) -> None:
        self.path = path
        self._shards = shards

    # -- creating and opening -----------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        shards: int,
        options: IndexOptions | None = None,
        *,
        threads: int | None = None,
    ) -> ShardedPeopleGallery:
        """A new gallery of ``shards`` empty shards in folder ``path`` (which must hold no
        gallery); ``options`` as in :meth:`PeopleGallery.create`, shared by the shards.
        The header is written last: a folder without it is not a gallery."""
        if isinstance(shards, bool) or not isinstance(shards, int | np.integer):
            raise TypeError(f"shards must be an int, got {type(shards).__name__}")
        if not 1 <= shards <= MAX_SHARDS:
            raise ValueError(f"shards must lie in 1..{MAX_SHARDS}, got {shards}")
        if options is None:
            options = IndexOptions.preset("small")
        if not isinstance(options, IndexOptions):
            raise TypeError(f"options must be IndexOptions, got {type(options).__name__}")
        folder = Path(path)
        if (folder / HEADER).exists():
            raise FileExistsError(f"{folder / HEADER}: a sharded gallery is already there")
        folder.mkdir(parents=True, exist_ok=True)
        parts = []
        for number in range(int(shards)):
            sub = folder / _shard_name(number)
            if (sub / MANIFEST).exists():  # left by a create that was killed: still empty?
                part = PeopleGallery.open(sub, threads=threads)
                if part.count() or part.options != options:
                    raise FileExistsError(f"{sub}: holds a gallery already")
            else:
                part = PeopleGallery.create(sub, options, threads=threads)
            parts.append(part)
        body = {
            "format": FORMAT,
            "version": VERSION,
            "shards": int(shards),
            "options": dataclasses.asdict(options),
        }
        text = json.dumps({**body, "crc32": _body_crc(body)}, indent=1, sort_keys=True)
        atomic_write(folder / HEADER, text.encode())
        return cls(folder, parts)

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], *, threads: int | None = None
    ) -> ShardedPeopleGallery:
        """Open a folder written by :meth:`create` and later calls.

        Raises
        ------
        GalleryFileError
            The header, or a shard's manifest or files, is missing, truncated or altered
            (the message names the file), or a shard holds a person of another shard.
        """
        folder = Path(path)
        body = _read_header(folder / HEADER)
        parts = [
            PeopleGallery.open(folder / _shard_name(n), threads=threads)
            for n in range(body["shards"])
        ]
        for number, part in enumerate(parts):
            ids = part.person_ids
            if ids.size and (shard_of(ids, len(parts)) != number).any():
                raise GalleryFileError(f"{part.path}: holds people of another shard")
        return cls(folder, parts)

    def close(self) -> None:
        """Close every shard."""
        for part in self._shards:
            part.close()

    def __enter__(self) -> ShardedPeopleGallery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ------------------------------------------------------------------------

    @property
    def shards(self) -> int:
        """Number of shards."""
        return len(self._shards)

    @property
    def shard_paths(self) -> list[Path]:
        """Each shard's folder, by shard number."""
        return [part.path for part in self._shards]

    def shard(self, number: int) -> PeopleGallery:
        """Shard ``number`` (``IndexError`` outside ``0 .. shards - 1``)."""
        if isinstance(number, bool) or not isinstance(number, int | np.integer):
            raise TypeError(f"a shard number must be an int, got {type(number).__name__}")
        if not 0 <= number < len(self._shards):
            raise IndexError(f"shard {number} out of 0..{len(self._shards) - 1}")
        return self._shards[int(number)]

    def shard_counts(self) -> list[int]:
        """People held by each shard."""
        return [part.count() for part in self._shards]

    def count(self) -> int:
        """People held."""
        return sum(self.shard_counts())

    def __len__(self) -> int:
        return self.count()

    def __contains__(self, person_id: object) -> bool:
        if isinstance(person_id, bool) or not isinstance(person_id, int | np.integer):
            return False
        if person_id < 0:
            return False
        return person_id in self._shards[int(shard_of(person_id, self.shards)[0])]

    @property
    def person_ids(self) -> np.ndarray:
        """The ids of the people held, ascending (``int64``)."""
        return np.sort(np.concatenate([part.person_ids for part in self._shards]))

    @property
    def options(self) -> IndexOptions:
        """The index options every shard was created with."""
        return self._shards[0].options

    @property
    def searched_positions(self) -> tuple[int, ...]:
        """The finger positions every shard indexes (:attr:`PeopleGallery.searched_positions`;
        shards that differ, after a re-partition cut short, are refused when searched until
        :meth:`compact` with ``repartition=True`` completes)."""
        return tuple(
            p for p in SEARCHED_POSITIONS if all(p in s.searched_positions for s in self._shards)
        )

    def missing(self, person_ids: Sequence[int]) -> list[int]:
        """Those of ``person_ids`` not held, in the given order."""
        return [int(p) for p in _check_ids(person_ids) if int(p) not in self]

    def fingers(self, person_id: int) -> dict[int, Template]:
        """One person's stored templates by finger position (``KeyError`` if unknown)."""
        return self._shards[int(shard_of(person_id, self.shards)[0])].fingers(person_id)

    # -- writing ------------------------------------------------------------------------

    def _groups(self, ids: list[int]) -> dict[int, list[int]]:
        groups: dict[int, list[int]] = {}
        for n, shard in enumerate(shard_of(ids, self.shards).tolist() if ids else []):
            groups.setdefault(shard, []).append(n)
        return groups

    def insert(self, person_ids: Sequence[int], people: Sequence[Mapping[int, Template]]) -> None:
        """Add people, each to the shard that owns its id (one commit per shard touched).
        Checked as :meth:`PeopleGallery.insert` before any shard is written."""
        ids = _check_ids(person_ids)
        if isinstance(people, Mapping) or not isinstance(people, Sequence):
            raise TypeError(f"people must be a sequence of mappings, got {type(people).__name__}")
        if len(people) != len(ids):
            raise ValueError(f"got {len(ids)} person ids but {len(people)} people")
        held = [i for i in ids if i in self]
        if held:
            raise ValueError(f"person ids already in the gallery: {held[:5]}")
        for shard, rows in sorted(self._groups(ids).items()):
            self._shards[shard].insert([ids[n] for n in rows], [people[n] for n in rows])

    def delete(self, person_ids: Sequence[int]) -> None:
        """Remove people (tombstones in their shards). Unknown ids raise ``KeyError`` and
        delete nothing."""
        ids = _check_ids(person_ids)
        unknown = [i for i in ids if i not in self]
        if unknown:
            raise KeyError(f"person ids not in the gallery: {unknown[:5]}")
        for shard, rows in sorted(self._groups(ids).items()):
            self._shards[shard].delete([ids[n] for n in rows])

    def compact(self, *, repartition: bool = False, options: IndexOptions | None = None) -> None:
        """Compact every shard (:meth:`PeopleGallery.compact`; with ``repartition``, under
        new ``options`` if given). Each shard commits on its own: a compaction killed midway
        leaves some shards compacted (a shard's options may then differ from another's;
        searches still merge them) and is finished by running it again."""
        for part in self._shards:
            part.compact(repartition=repartition, options=options)

    # -- searching ----------------------------------------------------------------------

    def identify(
        self,
        probes: Sequence[Mapping[int, Template]],
        *,
        k: int | None = None,
        depth: int | None = None,
        fmr: float | None = None,
        allow: Callable[[int, np.ndarray], np.ndarray] | None = None,
        timings: dict[str, float] | None = None,
        client: Any = None,
    ) -> list[list[PeopleCandidate]]:
        """Candidate people for each probe, as :meth:`PeopleGallery.identify` (same
        arguments and results), over all shards.

        Parameters
        ----------
        client : dask.distributed.Client, optional
            Serve the shards on the cluster's workers (shard ``n`` on worker ``n % workers``
            of the sorted worker addresses); results identical to the local run.
        """
        run = None if client is None else _dask_runner(client, self.shard_paths)
        return identify_parts(
            self._shards,
            self.count(),
            probes,
            k=k,
            depth=depth,
            fmr=fmr,
            allow=allow,
            timings=timings,
            run=run,
        )

    def compare(self, probe: Mapping[int, Template], person_ids: Sequence[int]) -> np.ndarray:
        """Matcher scores ``(len(person_ids), 10)`` of one probe against named people (see
        :meth:`PeopleGallery.compare`)."""
        ids = _check_ids(person_ids)
        unknown = [i for i in ids if i not in self]
        if unknown:
            raise KeyError(f"person ids not in the gallery: {unknown[:5]}")
        out = np.zeros((len(ids), 10), np.float32)
        for shard, rows in self._groups(ids).items():
            out[rows] = self._shards[shard].compare(probe, [ids[n] for n in rows])
        return out


def _read_header(path: Path) -> dict[str, Any]:
    body = _read_checked_json(path, FORMAT, (VERSION,), "sharded gallery header")
    shards = body.get("shards")
    if isinstance(shards, bool) or not isinstance(shards, int) or not 1 <= shards <= MAX_SHARDS:
        raise GalleryFileError(f"{path}: invalid shard count {shards!r}")
    try:
        IndexOptions(**body["options"])
    except (KeyError, TypeError, ValueError) as exc:
        raise GalleryFileError(f"{path}: invalid index options ({exc!r})") from exc
    return body


# -- Dask: shards served by workers ------------------------------------------------------

#: This process's open shards (on a Dask worker): folder -> (manifest stamp, gallery).
_OPEN: dict[str, tuple[tuple[int, int], PeopleGallery]] = {}
_OPEN_LOCK = threading.Lock()


def _served(folder: str) -> PeopleGallery:
    """The shard at ``folder``, opened once per process and again when its manifest
    changed (size and modification time of ``manifest.json``)."""
    stat = os.stat(Path(folder) / MANIFEST)
    stamp = (stat.st_mtime_ns, stat.st_size)
    with _OPEN_LOCK:
        held = _OPEN.get(folder)
        if held is None or held[0] != stamp:
            if held is not None:
                held[1].close()
            _OPEN[folder] = (stamp, PeopleGallery.open(folder, threads=1))
        return _OPEN[folder][1]


def _call_shard(folder: str, method: str, args: tuple[Any, ...]) -> Any:
    """Run one step of :func:`afis.people.identify_parts` on a worker's shard."""
    return getattr(_served(folder), method)(*args)


def _dask_runner(client: Any, folders: Sequence[Path]) -> Callable[[str, tuple[Any, ...]], list]:
    workers = sorted(client.scheduler_info().get("workers", {}))
    if not workers:  # a cluster starting or restarting its workers: wait for one
        try:
            client.wait_for_workers(1, timeout=WORKER_WAIT_S)
        except TimeoutError:
            pass
        workers = sorted(client.scheduler_info().get("workers", {}))
    if not workers:
        raise RuntimeError(f"the Dask cluster has no workers (waited {WORKER_WAIT_S:.0f} s)")
    names = [str(Path(f).resolve()) for f in folders]

    def run(method: str, args: tuple[Any, ...]) -> list[Any]:
        futures = [
            client.submit(
                _call_shard,
                name,
                method,
                args,
                workers=[workers[n % len(workers)]],
                allow_other_workers=True,
                pure=False,
                retries=RETRIES,
            )
            for n, name in enumerate(names)
        ]
        return client.gather(futures)  # raises if any shard's task failed: never partial

    return run
