"""afis.people_shards.ShardedPeopleGallery: people split by a hash of their id, searched as
exactly one gallery of the same segments would be, locally and on a Dask cluster; and the
people gallery's shared centroids, staged re-ranking and writer lock."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import _people
import numpy as np
import pytest

from afis.index import IndexOptions
from afis.people import (
    MANIFEST,
    GalleryFileError,
    GalleryLockedError,
    PeopleGallery,
    shortlist_depth,
)
from afis.people_shards import HEADER, ShardedPeopleGallery, shard_of
from afis.template import Template

SEED = 5
SHARDS = 3


def people_of(ids: list[int], impression: int = 0) -> list[dict[int, Template]]:
    return _people.people_of(ids, impression, SEED)


@pytest.fixture(scope="module")
def enrolled() -> list[dict[int, Template]]:
    return people_of(list(range(48)))


@pytest.fixture(scope="module")
def probes() -> list[dict[int, Template]]:
    # fresh impressions of six enrolled people, and two people never enrolled
    return people_of([1, 7, 20, 33, 40, 47], impression=1) + people_of([60, 61])


def build_pair(root: Path, enrolled: list) -> tuple[ShardedPeopleGallery, PeopleGallery]:
    """A sharded gallery, and one gallery given the same segments: every sharded insert is
    repeated on the single gallery as one insert per shard, in shard order."""
    sharded = ShardedPeopleGallery.create(root / "sharded", shards=SHARDS)
    single = PeopleGallery.create(root / "single")
    for batch in (list(range(0, 20)), list(range(20, 48))):
        sharded.insert(batch, [enrolled[p] for p in batch])
        owner = shard_of(batch, SHARDS)
        for shard in range(SHARDS):
            ids = [p for p, s in zip(batch, owner.tolist(), strict=True) if s == shard]
            if ids:
                single.insert(ids, [enrolled[p] for p in ids])
    return sharded, single


def as_rows(results: list) -> list[list[tuple]]:
    return [[(c.person_id, c.fused, c.scores.tolist(), c.match) for c in r] for r in results]


def test_shards_answer_as_one_gallery(tmp_path: Path, enrolled: list, probes: list) -> None:
    sharded, single = build_pair(tmp_path, enrolled)
    assert sharded.count() == single.count() == 48
    assert sorted(sharded.shard_counts()) != [0, 0, 48]  # the hash spreads people
    for kwargs in ({}, {"k": 3, "depth": 6}, {"k": 12, "depth": 30, "fmr": 1e-3}):
        assert as_rows(sharded.identify(probes, **kwargs)) == as_rows(
            single.identify(probes, **kwargs)
        )
    # deletes go to the owning shard; still the same answers
    sharded.delete([7, 33])
    single.delete([7, 33])
    assert 7 not in sharded and 8 in sharded
    assert as_rows(sharded.identify(probes)) == as_rows(single.identify(probes))
    found = sharded.identify(probes, k=1)
    assert [found[i][0].person_id for i in (0, 2, 4, 5)] == [1, 20, 40, 47]
    assert all(r[0].person_id not in (7, 33) for r in found if r)
    # reopened from disk: the same
    reopened = ShardedPeopleGallery.open(tmp_path / "sharded")
    assert as_rows(reopened.identify(probes)) == as_rows(sharded.identify(probes))
    np.testing.assert_array_equal(
        reopened.compare(probes[0], [1, 2]), single.compare(probes[0], [1, 2])
    )


def test_dask_cluster_answers_as_local(tmp_path: Path, enrolled: list, probes: list) -> None:
    distributed = pytest.importorskip("distributed")
    sharded, _ = build_pair(tmp_path, enrolled)
    local = as_rows(sharded.identify(probes, k=4, depth=10))
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        assert as_rows(sharded.identify(probes, k=4, depth=10, client=client)) == local
        # an insert here is seen by the workers (they reopen a changed shard)
        sharded.insert([60], people_of([60]))
        again = sharded.identify(probes[-2:], k=4, depth=10, client=client)
        assert again[0][0].person_id == 60
        assert as_rows(again) == as_rows(sharded.identify(probes[-2:], k=4, depth=10))
        # a shard that cannot be served fails the search: never a partial list
        manifest = sharded.shard(0).path / MANIFEST
        manifest.write_text(manifest.read_text().replace('"tombstones"', '"tombstoned"'))
        with pytest.raises(GalleryFileError, match="manifest"):
            sharded.identify(probes, client=client)


def test_bad_input_and_corrupt_files(tmp_path: Path, enrolled: list) -> None:
    with pytest.raises(ValueError, match="shards must lie"):
        ShardedPeopleGallery.create(tmp_path / "zero", shards=0)
    with pytest.raises(TypeError, match="shards must be an int"):
        ShardedPeopleGallery.create(tmp_path / "str", shards="2")  # type: ignore[arg-type]
    gallery = ShardedPeopleGallery.create(tmp_path / "g", shards=2)
    gallery.insert([1, 2, 3], enrolled[1:4])
    with pytest.raises(FileExistsError):
        ShardedPeopleGallery.create(tmp_path / "g", shards=2)
    with pytest.raises(ValueError, match="already in the gallery"):
        gallery.insert([3, 4], enrolled[3:5])
    assert gallery.count() == 3  # nothing of the refused insert was written
    with pytest.raises(KeyError, match="not in the gallery"):
        gallery.delete([1, 99])
    assert 1 in gallery
    assert gallery.missing([1, 5, 3, 6]) == [5, 6]
    with pytest.raises(IndexError, match=r"shard -1 out of 0\.\.1"):
        gallery.shard(-1)
    with pytest.raises(ValueError, match="shards must be a positive int"):
        shard_of([1], 0)
    with pytest.raises(ValueError, match="non-negative integers"):
        shard_of([1.5], 2)
    with pytest.raises(ValueError, match="no fingers"):
        gallery.identify([{}])
    with pytest.raises(GalleryFileError, match="no sharded gallery header"):
        ShardedPeopleGallery.open(tmp_path / "nothing")
    header = tmp_path / "g" / HEADER
    text = header.read_text()
    header.write_text(text.replace('"shards": 2', '"shards": 3'))
    with pytest.raises(GalleryFileError, match="checksum mismatch"):
        ShardedPeopleGallery.open(tmp_path / "g")
    header.write_text(text)
    # a shard holding a person another shard owns is refused
    wrong = int(next(p for p in range(100, 200) if shard_of(p, 2)[0] == 1))
    PeopleGallery.open(tmp_path / "g" / "shard-000").insert([wrong], enrolled[:1])
    with pytest.raises(GalleryFileError, match="people of another shard"):
        ShardedPeopleGallery.open(tmp_path / "g")


def test_shared_centroids_and_repartition(tmp_path: Path, enrolled: list, probes: list) -> None:
    options = IndexOptions.preset("national", nlist=400, nprobe=50)
    assert options.nlist > 1
    gallery = PeopleGallery.create(tmp_path / "g", options)
    with pytest.raises(ValueError, match="too few fingers to train"):
        gallery.insert([0], enrolled[:1])
    assert gallery.count() == 0
    gallery.insert(list(range(30)), enrolled[:30])  # trains the centroids once
    gallery.insert(list(range(30, 48)), enrolled[30:])  # reuses them
    manifest = json.loads((tmp_path / "g" / MANIFEST).read_text())
    assert manifest["quantizer"]["name"] == "quantizer-000001.npy"
    from afis.index import CandidateIndex

    with pytest.raises(ValueError, match="centroids must be uint8 of shape"):
        CandidateIndex(options).set_centroids(np.zeros((3, 8), np.uint8))
    trained = CandidateIndex(options)
    trained.set_centroids(np.zeros((options.nlist, options.code_bytes), np.uint8))
    with pytest.raises(ValueError, match="already trained"):
        trained.set_centroids(trained.centroids)
    segments = [gallery._segments[n].index for n in sorted(gallery._segments)]
    first = [s.shard(1).centroids for s in segments]
    np.testing.assert_array_equal(first[0], first[1])
    best = [r[0].person_id for r in gallery.identify(probes[:6], k=1)]
    assert best == [1, 7, 20, 33, 40, 47]
    reopened = PeopleGallery.open(tmp_path / "g")
    assert as_rows(reopened.identify(probes)) == as_rows(gallery.identify(probes))
    reopened.compact(repartition=True)
    assert [p.name for p in (tmp_path / "g").glob("quantizer-*.npy")] == ["quantizer-000003.npy"]
    again = PeopleGallery.open(tmp_path / "g")
    assert [r[0].person_id for r in again.identify(probes[:6], k=1)] == best
    # re-partitioned under new options (more lists): committed, reopened with them
    wider = IndexOptions.preset("national", nlist=256, nprobe=64)
    with pytest.raises(ValueError, match="repartition=True"):
        again.compact(options=wider)
    again.compact(repartition=True, options=wider)
    assert PeopleGallery.open(tmp_path / "g").options == wider
    assert [r[0].person_id for r in again.identify(probes[:6], k=1)] == best
    # an altered quantizer file is refused
    path = tmp_path / "g" / "quantizer-000004.npy"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(GalleryFileError, match=r"quantizer-000004\.npy: checksum mismatch"):
        PeopleGallery.open(tmp_path / "g")


def test_writer_lock_and_stale_writer(tmp_path: Path, enrolled: list) -> None:
    first = PeopleGallery.create(tmp_path / "g")
    first.insert([1], enrolled[1:2])
    second = PeopleGallery.open(tmp_path / "g")
    second.insert([2], enrolled[2:3])
    # first's view is stale: writing from it would lose the second's insert
    with pytest.raises(GalleryLockedError, match="changed by another process"):
        first.insert([3], enrolled[3:4])
    with pytest.raises(GalleryLockedError, match="changed by another process"):
        first.delete([1])
    assert PeopleGallery.open(tmp_path / "g").count() == 2
    # a writer holding the lock keeps others out
    with second._writing(), pytest.raises(GalleryLockedError, match="another process"):
        PeopleGallery.open(tmp_path / "g").insert([4], enrolled[4:5])


def test_staged_rerank_and_depth(tmp_path: Path, enrolled: list, probes: list) -> None:
    assert shortlist_depth(0) == 16 and shortlist_depth(10**6) == 51
    gallery = PeopleGallery.create(tmp_path / "g")
    gallery.insert(list(range(48)), enrolled)
    full = gallery.identify(probes, k=48, depth=48)
    staged = gallery.identify(probes, k=3, depth=48)
    for n, (f, s) in enumerate(zip(full, staged, strict=True)):
        assert len(s) == 3
        # the three best by the first fingers, fully scored: their fused scores are exact
        for c in s:
            assert c.scores.tolist() == gallery.compare(probes[n], [c.person_id])[0].tolist()
        if n < 6:  # a mate leads either way (impostors' order may differ)
            assert s[0].person_id == f[0].person_id
    # allow() filters people before the cut
    only_odd = gallery.identify(probes, allow=lambda n, ids: ids % 2 == 1)
    assert all(c.person_id % 2 == 1 for r in only_odd for c in r)
    with pytest.raises(ValueError, match="allow returned shape"):
        gallery.identify(probes[:1], allow=lambda n, ids: np.ones(1, bool))
    with pytest.raises(ValueError, match="depth must be at least 1"):
        gallery.identify(probes, depth=0)
    shutil.rmtree(tmp_path / "g")


def test_disk_full_during_insert_commits_nothing(
    tmp_path: Path, enrolled: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    import afis.people

    gallery = PeopleGallery.create(tmp_path / "g")
    gallery.insert([1, 2], enrolled[1:3])
    real = afis.people._write_array
    calls = []

    def full(path: Path, array: np.ndarray) -> int:
        calls.append(path)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, array)

    monkeypatch.setattr(afis.people, "_write_array", full)
    with pytest.raises(OSError, match="No space left"):
        gallery.insert([3, 4], enrolled[3:5])
    monkeypatch.setattr(afis.people, "_write_array", real)
    assert gallery.count() == 2 and 3 not in gallery
    reopened = PeopleGallery.open(tmp_path / "g")
    assert reopened.person_ids.tolist() == [1, 2]
    reopened.insert([3, 4], enrolled[3:5])  # the half-written segment is replaced
    assert PeopleGallery.open(tmp_path / "g").person_ids.tolist() == [1, 2, 3, 4]


def test_dask_runner_waits_for_workers(monkeypatch) -> None:
    """A cluster that lists no worker yet is waited for; one that never gets any fails
    clearly instead of searching nothing."""
    import afis.people_shards as S

    class Client:
        def __init__(self, later: list[dict]) -> None:
            self.infos, self.waited = [{}, *later], 0

        def scheduler_info(self) -> dict:
            return self.infos.pop(0) if len(self.infos) > 1 else self.infos[0]

        def wait_for_workers(self, n: int, timeout: float) -> None:
            self.waited += 1
            if len(self.infos) == 1:
                raise TimeoutError

    late = Client([{"workers": {"tcp://127.0.0.1:1": {}}}])
    assert callable(S._dask_runner(late, ["a"]))
    assert late.waited == 1
    monkeypatch.setattr(S, "WORKER_WAIT_S", 0.01)
    never = Client([])
    with pytest.raises(RuntimeError, match="no workers"):
        S._dask_runner(never, ["a"])
    assert never.waited == 1


def test_shards_indexing_other_positions_are_refused_until_repartitioned(
    tmp_path: Path, enrolled: list, probes: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A re-partition cut short leaves one shard on ten positions and the other on four: the
    gallery says which positions all shards search, refuses to search, and a completed
    re-partition brings every shard to ten."""
    import afis.people

    with monkeypatch.context() as patch:  # shards indexing thumbs and index fingers only
        patch.setattr(afis.people, "SEARCHED_POSITIONS", (1, 2, 6, 7))
        gallery = ShardedPeopleGallery.create(tmp_path / "g", shards=2)
        gallery.insert(list(range(len(enrolled))), enrolled)
    assert gallery.searched_positions == (1, 2, 6, 7)
    gallery.shard(1).compact(repartition=True)
    assert gallery.shard(1).searched_positions == tuple(range(1, 11))
    assert gallery.searched_positions == (1, 2, 6, 7)
    with pytest.raises(ValueError, match="index different finger positions"):
        gallery.identify(probes[:2])
    gallery.compact(repartition=True)
    assert gallery.searched_positions == tuple(range(1, 11))
    found = gallery.identify(probes[:2], k=1)
    assert [r[0].person_id for r in found] == [1, 7]
