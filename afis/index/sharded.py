"""One candidate index per finger position, each saved in its own folder."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from afis.errors import IndexFileError
from afis.index import _file
from afis.index.candidate import (
    CandidateIndex,
    IndexOptions,
    _check_ids,
    _check_templates,
    resolve_k,
)
from afis.template import FingerPosition, Template

__all__ = ["ShardedIndex"]

_KIND = "ShardedIndex"


def _shard_name(position: FingerPosition) -> str:
    return f"shard-{int(position):02d}"


class ShardedIndex:
    """Candidate indexes split by finger position (ISO/IEC 19794-2 codes).

    A template goes to the shard of its ``finger_position``. A probe of a known position is
    searched in that shard only; a probe of unknown position (code 0) is searched in every
    shard and the shortlists are merged by score. Each shard is a :class:`CandidateIndex`
    saved in its own sub-folder, so shards can be loaded by separate processes
    (:meth:`load_shard`).

    Parameters
    ----------
    options : IndexOptions, optional
        Shared by all shards.
    threads : int, optional
        Threads for encoding templates.
    centroids : numpy.ndarray, optional
        Coarse centroids (:attr:`CandidateIndex.centroids` of a trained index) that every
        shard starts from instead of training on its first batch.

    Examples
    --------
    >>> import numpy as np
    >>> from afis.template import FingerPosition, Template
    >>> def finger(seed, position):
    ...     r = np.random.default_rng(seed)
    ...     return Template(width=300, height=300, resolution=500, source_resolution=500,
    ...                     x=r.integers(20, 280, 40), y=r.integers(20, 280, 40),
    ...                     direction=r.uniform(0, 6.28, 40), type=np.ones(40),
    ...                     quality=np.full(40, 60), image_quality=60,
    ...                     finger_position=position)
    >>> index = ShardedIndex()
    >>> thumb, index_finger = FingerPosition.RIGHT_THUMB, FingerPosition.RIGHT_INDEX
    >>> index.add([finger(1, thumb), finger(2, index_finger)], ids=[1, 2])
    >>> sorted(int(p) for p in index.positions)
    [1, 2]
    >>> index.search([finger(2, index_finger)], k=1)[1].tolist()
    [[2]]
    """

    def __init__(
        self,
        options: IndexOptions | None = None,
        *,
        threads: int | None = None,
        centroids: np.ndarray | None = None,
    ) -> None:
        if options is None:
            options = IndexOptions()
        if not isinstance(options, IndexOptions):
            raise TypeError(f"options must be IndexOptions, got {type(options).__name__}")
        self.options = options
        self._threads = threads
        self._shards: dict[FingerPosition, CandidateIndex] = {}
        #: coarse centroids every new shard starts from (:meth:`CandidateIndex.set_centroids`)
        self._centroids = None
        if centroids is not None:
            CandidateIndex(options).set_centroids(centroids)  # checks dtype and shape
            self._centroids = np.ascontiguousarray(centroids, np.uint8)

    def __len__(self) -> int:
        return sum(len(s) for s in self._shards.values())

    def __contains__(self, finger_id: object) -> bool:
        return any(finger_id in s for s in self._shards.values())

    @property
    def codes(self) -> int:
        """Codes (minutiae) held over all shards."""
        return sum(s.codes for s in self._shards.values())

    @property
    def positions(self) -> list[FingerPosition]:
        """Finger positions that have a shard, ascending."""
        return sorted(self._shards)

    def shard(self, position: FingerPosition | int) -> CandidateIndex:
        """The shard of one finger position (``KeyError``-free: raises ``ValueError``)."""
        key = FingerPosition(int(position))
        if key not in self._shards:
            raise ValueError(f"no shard for finger position {key.name}")
        return self._shards[key]

    def add(self, templates: Iterable[Template], ids: Sequence[int] | np.ndarray) -> None:
        """Enrol fingers, each in the shard of its ``finger_position``; ids unique overall."""
        items = _check_templates(templates, "templates")
        new_ids = _check_ids(ids, len(items))
        clash = [int(i) for i in new_ids if int(i) in self]
        if clash:
            raise ValueError(f"ids already in the index: {clash[:5]}")
        groups: dict[FingerPosition, list[int]] = {}
        for n, template in enumerate(items):
            groups.setdefault(FingerPosition(template.finger_position), []).append(n)
        for position in sorted(groups):
            if position not in self._shards:
                shard = CandidateIndex(self.options, threads=self._threads)
                if self._centroids is not None:
                    shard.set_centroids(self._centroids)
                self._shards[position] = shard
            members = groups[position]
            self._shards[position].add([items[n] for n in members], new_ids[members])

    def remove(self, ids: Sequence[int] | np.ndarray) -> int:
        """Remove fingers by id from whichever shard holds them; returns how many were found."""
        return sum(s.remove(ids) for s in self._shards.values())

    def search(
        self,
        probes: Iterable[Template],
        *,
        k: int | None = None,
        penetration: float | None = None,
        neighbours: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Shortlist candidates; same arguments and result layout as
        :meth:`CandidateIndex.search`, ``penetration`` being a share of the fingers in the
        shards searched."""
        items = _check_templates(probes, "probes")
        width = self._width(k, penetration, None)
        scores = np.zeros((len(items), width), np.float32)
        found = np.full((len(items), width), -1, np.int64)
        groups: dict[FingerPosition, list[int]] = {}
        for n, probe in enumerate(items):
            groups.setdefault(FingerPosition(probe.finger_position), []).append(n)
        for position, members in groups.items():
            if position == FingerPosition.UNKNOWN:
                shards = list(self._shards.values())
            elif position in self._shards:
                shards = [self._shards[position]]
                if FingerPosition.UNKNOWN in self._shards:
                    shards.append(self._shards[FingerPosition.UNKNOWN])
            else:
                shards = (
                    [self._shards[FingerPosition.UNKNOWN]]
                    if FingerPosition.UNKNOWN in self._shards
                    else []
                )
            shards = [s for s in shards if len(s)]
            if not shards:
                continue
            want = self._width(k, penetration, sum(len(s) for s in shards))
            parts = [
                s.search([items[n] for n in members], k=want, neighbours=neighbours) for s in shards
            ]
            s_all = np.concatenate([p[0] for p in parts], axis=1)
            i_all = np.concatenate([p[1] for p in parts], axis=1)
            # best first; empty slots (-1) last; ties by id for determinism
            order = np.lexsort((i_all, -np.where(i_all >= 0, s_all, -np.inf)), axis=1)[:, :want]
            rows = np.arange(len(members))[:, None]
            scores[members, :want] = s_all[rows, order]
            found[members, :want] = i_all[rows, order]
        return scores, found

    def _width(self, k: int | None, penetration: float | None, fingers: int | None) -> int:
        return resolve_k(k, penetration, len(self) if fingers is None else fingers)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write every shard to ``path/shard-NN/`` and a header naming them."""
        self.save_each(path, self.options, ((p, self._shards[p]) for p in self.positions))

    @staticmethod
    def save_each(
        path: str | os.PathLike[str],
        options: IndexOptions,
        shards: Iterable[tuple[FingerPosition | int, CandidateIndex]],
    ) -> None:
        """Write shards as they come, each to ``path/shard-NN/``, then the header naming them:
        what :meth:`save` writes, for shards too large to hold all at once (a people
        gallery's compaction makes one finger position's index at a time).

        Raises
        ------
        TypeError
            A shard that is not a :class:`CandidateIndex`.
        ValueError
            A shard built with other options than ``options``, or a position given twice.
        """
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / _file.HEADER_NAME).unlink(missing_ok=True)
        positions: list[int] = []
        names = []
        for position, shard in shards:
            key = FingerPosition(int(position))
            if not isinstance(shard, CandidateIndex):
                raise TypeError(f"the shard of {key.name} is not a CandidateIndex")
            if shard.options != options:
                raise ValueError(f"the shard of {key.name} was built with other options")
            if int(key) in positions:
                raise ValueError(f"two shards for finger position {key.name}")
            name = _shard_name(key)
            shard.save(folder / name)
            names.append(f"{name}/{_file.HEADER_NAME}")
            positions.append(int(key))
        params = {"options": dataclasses.asdict(options), "shards": positions}
        _file.write_header(folder, _KIND, params, names)

    @staticmethod
    def load_shard(
        path: str | os.PathLike[str],
        position: FingerPosition | int,
        *,
        mmap: bool = True,
        verify: bool = True,
    ) -> CandidateIndex:
        """Load one shard of a saved sharded index (for a process serving one position)."""
        return CandidateIndex.load(
            Path(path) / _shard_name(FingerPosition(int(position))), mmap=mmap, verify=verify
        )

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        mmap: bool = True,
        verify: bool = True,
        threads: int | None = None,
    ) -> ShardedIndex:
        """Read a folder written by :meth:`save` (see :meth:`CandidateIndex.load`)."""
        folder = Path(path)
        probe = _file.read_header(folder, _KIND, [], verify=False)
        shards = probe["params"].get("shards")
        if not isinstance(shards, list) or not all(
            isinstance(p, int) and not isinstance(p, bool) and 0 <= p <= 10 for p in shards
        ):
            raise IndexFileError(f"{folder}: header has an invalid shard list")
        names = [f"{_shard_name(FingerPosition(p))}/{_file.HEADER_NAME}" for p in shards]
        header = _file.read_header(folder, _KIND, names, verify=True)
        try:
            options = IndexOptions(**{"fold": False, **header["params"]["options"]})
        except (TypeError, ValueError, KeyError) as exc:
            raise IndexFileError(f"{folder}: invalid index parameters ({exc})") from exc
        index = cls(options, threads=threads)
        for p in shards:
            shard = CandidateIndex.load(
                folder / _shard_name(FingerPosition(p)), mmap=mmap, verify=verify, threads=threads
            )
            if shard.options != options:
                raise IndexFileError(f"{folder}: shard {p} was built with other parameters")
            index._shards[FingerPosition(p)] = shard
        seen = np.concatenate([s.ids for s in index._shards.values()] or [np.zeros(0, np.int64)])
        if len(np.unique(seen)) != len(seen):
            raise IndexFileError(f"{folder}: an id appears in several shards")
        return index
