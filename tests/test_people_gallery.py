"""afis.people.PeopleGallery: durable, append-only, incremental; identification fused per
person; kill -9 at each commit step leaves the last committed manifest's people."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import _people
import numpy as np
import pytest

from afis.errors import AfisError
from afis.index import IndexOptions
from afis.people import MANIFEST, SEGMENTS, GalleryFileError, PeopleGallery, identify_parts
from afis.template import FingerPosition, Template

SEED = 11
ROOT = Path(__file__).resolve().parents[1]


def people_of(ids: list[int], impression: int = 0) -> list[dict[int, Template]]:
    return _people.people_of(ids, impression, SEED)


@pytest.fixture(scope="module")
def enrolled() -> list[dict[int, Template]]:
    return people_of(list(range(60)))


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, enrolled: list) -> Path:
    """A committed gallery of people 0..59 inserted in two batches (copy it before writing)."""
    folder = tmp_path_factory.mktemp("people") / "gallery"
    with PeopleGallery.create(folder) as gallery:
        gallery.insert(list(range(30)), enrolled[:30])
        gallery.insert(list(range(30, 60)), enrolled[30:])
    return folder


def copy_of(base: Path, tmp_path: Path) -> Path:
    target = tmp_path / "gallery"
    shutil.copytree(base, target)
    return target


def ids_of(result: list) -> list[int]:
    return [c.person_id for c in result]


def as_rows(results: list) -> list[list[tuple]]:
    return [[(c.person_id, c.fused, c.scores.tolist(), c.match) for c in r] for r in results]


def assert_same_ranking(after: list, before: list) -> None:
    """Same best candidate, and the people both shortlists hold in the same order with the
    same fused scores. The tail of a shortlist (people with little index evidence) may
    differ where the codes scanned differ (a tombstoned person's codes are scanned until
    compaction drops them) or where segments are searched in turn."""
    for a, b in zip(after, before, strict=True):
        assert a[0].person_id == b[0].person_id
        assert a[0].fused == pytest.approx(b[0].fused)
        both = set(ids_of(a)) & set(ids_of(b))
        assert [c.person_id for c in a if c.person_id in both] == [
            c.person_id for c in b if c.person_id in both
        ]
        fused = {c.person_id: c.fused for c in b}
        assert all(c.fused == pytest.approx(fused[c.person_id]) for c in a if c.person_id in both)


def test_round_trip(base: Path) -> None:
    gallery = PeopleGallery.open(base)
    assert gallery.count() == 60 and len(gallery) == 60
    assert all(p in gallery for p in range(60)) and 60 not in gallery and "3" not in gallery
    manifest = json.loads((base / MANIFEST).read_text())
    assert [s["name"] for s in manifest["segments"]] == ["000001", "000002"]
    assert sorted(p.name for p in (base / SEGMENTS).iterdir()) == ["000001", "000002"]
    assert len(gallery._index) == 60 * 10  # every position is indexed
    assert gallery.fingers(7)[3] == people_of([7])[0][3]

    probes = people_of([3, 31, 50], impression=1)
    results = gallery.identify(probes, k=8, fmr=1e-4)
    for pid, result in zip([3, 31, 50], results, strict=True):
        best, second = result[0], result[1]
        assert best.person_id == pid
        assert best.fused > 3 * second.fused
        assert best.scores.shape == (10,) and best.scores.dtype == np.float32
        assert best.fused == pytest.approx(float(best.scores.sum()), rel=1e-6)
        assert len(result) <= 8 and len(set(ids_of(result))) == len(result)
        assert [c.fused for c in result] == sorted((c.fused for c in result), reverse=True)
    # only some fingers in the probe: scores elsewhere are 0
    partial = {1: probes[0][1], 7: probes[0][7]}
    best = gallery.identify([partial], k=4)[0][0]
    assert best.person_id == 3 and best.scores[[1, 2, 3, 4, 5, 7, 8, 9]].sum() == 0
    # never enrolled
    stranger = gallery.identify(people_of([80]))[0]
    assert stranger and stranger[0].fused < 0.6 and not stranger[0].match


def test_insert_is_incremental(base: Path, tmp_path: Path) -> None:
    gallery = PeopleGallery.open(copy_of(base, tmp_path))
    before = len(gallery._index)
    newcomers = people_of([61, 62])
    del newcomers[1][6]  # any subset of positions
    gallery.insert([61, 62], newcomers)
    assert len(gallery._index) == before + 10 + 9
    assert gallery.identify(people_of([62], impression=1), k=4)[0][0].person_id == 62
    reopened = PeopleGallery.open(gallery.path)
    assert reopened.count() == 62 and sorted(reopened.fingers(62)) == [1, 2, 3, 4, 5, 7, 8, 9, 10]


def test_delete_then_compact(base: Path, tmp_path: Path) -> None:
    folder = copy_of(base, tmp_path)
    gallery = PeopleGallery.open(folder)
    gallery.delete([31, 5])
    gallery = PeopleGallery.open(folder)
    assert gallery.count() == 58 and 31 not in gallery and 5 not in gallery
    probes = people_of([31, 12, 5, 44], impression=1)
    before = gallery.identify(probes, k=10, depth=60)
    assert all(31 not in ids_of(r) and 5 not in ids_of(r) for r in before)
    assert before[1][0].person_id == 12 and before[3][0].person_id == 44

    (folder / SEGMENTS / "000077").mkdir()  # garbage: named by no manifest
    gallery.compact()
    gallery = PeopleGallery.open(folder)
    assert sorted(p.name for p in (folder / SEGMENTS).iterdir()) == ["000003"]
    assert json.loads((folder / MANIFEST).read_text())["tombstones"] == []
    after = gallery.identify(probes, k=10, depth=60)
    assert_same_ranking(after, before)
    # a deleted id may come back, and only the new one is found
    gallery.insert([5], people_of([5]))
    assert PeopleGallery.open(folder).identify(probes[2:3], k=3)[0][0].person_id == 5


@pytest.mark.parametrize("repartition", [False, True])
def test_compaction_keeps_insertion_order(
    tmp_path: Path, enrolled: list, repartition: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Compacted (by copying, or rebuilt under new centroids a few fingers at a time), the
    people held keep their insertion order, so ``among_first`` counts the same people;
    deleted people leave it; the search answers as before (a re-inserted id is found where
    it was inserted again)."""
    import afis.people

    monkeypatch.setattr(afis.people, "_REBUILD_CHUNK", 7)
    options = IndexOptions.preset("national", fingers=600)
    gallery = PeopleGallery.create(tmp_path / "gallery", options)
    batches = [list(range(40, 60)), list(range(0, 20)), list(range(20, 40))]
    for batch in batches:
        gallery.insert(batch, [enrolled[i] for i in batch])
    gallery.delete([45, 3, 33])
    gallery.insert([3], [enrolled[3]])
    order = gallery.insertion_order.tolist()
    assert order == [p for b in batches for p in b if p not in (45, 3, 33)] + [3]
    probes = people_of([50, 12, 3, 33, 27], impression=1)
    firsts = [20, 35, 60, 60, 57]
    before = gallery.identify(probes, k=8, depth=30, among_first=firsts)
    gallery.compact(repartition=repartition)
    reopened = PeopleGallery.open(gallery.path)
    assert len(list((gallery.path / SEGMENTS).iterdir())) == 1
    for held in (gallery, reopened):
        assert held.insertion_order.tolist() == order and held.count() == 58
        after = held.identify(probes, k=8, depth=30, among_first=firsts)
        assert [r[0].person_id if r else None for r in after] == [
            r[0].person_id if r else None for r in before
        ]
        assert [r[0].person_id for r in after[:3]] == [50, 12, 3] and 33 not in ids_of(after[3])
        if not repartition:
            assert_same_ranking(after[:3] + after[4:], before[:3] + before[4:])
        assert all(c.person_id in order[:r] for f, r in zip(after, firsts, strict=True) for c in f)


CHILD = textwrap.dedent(
    """
    import os, signal, sys
    import afis.people
    from afis.synth import Population
    folder, operation, stage = sys.argv[1:4]

    def checkpoint(name):
        if name == stage:
            os.kill(os.getpid(), signal.SIGKILL)

    afis.people._checkpoint = checkpoint
    gallery = afis.people.PeopleGallery.open(folder)
    if operation == "insert":
        fingers = Population(SEED).impressions(range(900, 920), 0).templates()
        people = [dict(zip(range(1, 11), fingers[n * 10 : n * 10 + 10])) for n in range(2)]
        gallery.insert([90, 91], people)
    elif operation == "delete":
        gallery.delete([3, 4])
    else:
        gallery.compact()
    """
).replace("SEED", str(SEED))


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory, enrolled: list) -> Path:
    folder = tmp_path_factory.mktemp("small") / "gallery"
    with PeopleGallery.create(folder) as gallery:
        gallery.insert(list(range(6)), enrolled[:6])
    return folder


STAGES = ("segment-written", "before-replace", "after-replace")  # a delete writes no segment
CASES = [
    (o, s)
    for o in ("insert", "delete", "compact")
    for s in STAGES
    if (o, s) != ("delete", STAGES[0])
]


@pytest.mark.parametrize(("operation", "stage"), CASES)
def test_kill_9_leaves_the_last_commit(
    small: Path, tmp_path: Path, operation: str, stage: str, enrolled: list
) -> None:
    folder = copy_of(small, tmp_path)
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    if operation == "compact":  # commit a delete first, kill during the compaction
        PeopleGallery.open(folder).delete([3])
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(script), str(folder), operation, stage],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    committed = stage == "after-replace"
    expected = {
        "insert": set(range(6)) | ({90, 91} if committed else set()),
        "delete": set(range(6)) - ({3, 4} if committed else set()),
        "compact": set(range(6)) - {3},
    }[operation]
    gallery = PeopleGallery.open(folder)
    assert set(gallery.person_ids.tolist()) == expected
    assert all(len(gallery.fingers(p)) == 10 for p in expected)  # none lost, none doubled
    gallery.insert([50], people_of([50]))  # a further insert works over any garbage
    reopened = PeopleGallery.open(folder)
    assert set(reopened.person_ids.tolist()) == expected | {50}
    assert reopened.identify(people_of([50], impression=1), k=3)[0][0].person_id == 50
    if operation == "compact" and committed:
        assert len(json.loads((folder / MANIFEST).read_text())["segments"]) == 2


def test_corrupt_files_are_refused(small: Path, tmp_path: Path) -> None:
    folder = copy_of(small, tmp_path)
    templates = folder / SEGMENTS / "000001" / "templates.npy"
    data = templates.read_bytes()
    templates.write_bytes(data[: len(data) // 2])
    with pytest.raises(GalleryFileError, match=r"templates\.npy") as info:
        PeopleGallery.open(folder)
    assert isinstance(info.value, AfisError)

    folder = tmp_path / "altered"
    shutil.copytree(small, folder)
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["tombstones"] = [[2, 99]]
    (folder / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(GalleryFileError, match=r"manifest\.json"):
        PeopleGallery.open(folder)
    (folder / MANIFEST).write_text('{"format": "nusafis-peo')
    with pytest.raises(GalleryFileError, match=r"manifest\.json"):
        PeopleGallery.open(folder)
    (folder / MANIFEST).unlink()
    with pytest.raises(GalleryFileError, match=r"manifest\.json"):
        PeopleGallery.open(folder)
    with pytest.raises(FileExistsError):
        PeopleGallery.create(small)


def test_bad_input(small: Path, tmp_path: Path, enrolled: list) -> None:
    gallery = PeopleGallery.open(copy_of(small, tmp_path))
    one = enrolled[10]
    with pytest.raises(ValueError, match="already in the gallery"):
        gallery.insert([2], [one])
    with pytest.raises(ValueError, match="duplicate"):
        gallery.insert([20, 20], [one, enrolled[11]])
    with pytest.raises(ValueError, match="2 person ids but 1"):
        gallery.insert([20, 21], [one])
    with pytest.raises(TypeError, match="person id must be an int"):
        gallery.insert(["20"], [one])
    with pytest.raises(ValueError, match=r"0\.\."):
        gallery.insert([-1], [one])
    with pytest.raises(TypeError, match="sequence of mappings"):
        gallery.insert([20], one)
    with pytest.raises(TypeError, match="mapping of finger position"):
        gallery.insert([20], [list(one.values())])
    with pytest.raises(TypeError, match=r"afis\.Template"):
        gallery.insert([20], [{1: b"template"}])
    with pytest.raises(ValueError, match=r"1\.\.10"):
        gallery.insert([20], [{11: one[1]}])
    with pytest.raises(TypeError, match="positions must be ints"):
        gallery.insert([20], [{"1": one[1]}])
    with pytest.raises(ValueError, match="says finger position 2"):
        gallery.insert([20], [{1: one[2]}])
    with pytest.raises(ValueError, match="no fingers"):
        gallery.insert([20], [{}])
    with pytest.raises(KeyError, match="not in the gallery"):
        gallery.delete([2, 40])
    assert gallery.count() == 6 and 2 in gallery  # a refused call changes nothing
    with pytest.raises(ValueError, match="no fingers"):
        gallery.identify([{}])
    with pytest.raises(TypeError, match="sequence of mappings"):
        gallery.identify(one)
    with pytest.raises(ValueError, match="k must be at least 1"):
        gallery.identify([one], k=0)
    with pytest.raises(ValueError, match="fmr"):
        gallery.identify([one], fmr=0.5)
    with pytest.raises(KeyError):
        gallery.fingers(40)
    # a template of unknown position takes its key's position
    unknown = {1: Template.empty(100, 100)}
    assert unknown[1].finger_position == FingerPosition.UNKNOWN
    gallery.insert([20], [unknown])
    assert gallery.fingers(20)[1].finger_position == FingerPosition.RIGHT_THUMB
    assert PeopleGallery.open(gallery.path).count() == 7


LOOP = textwrap.dedent(
    """
    import sys
    from afis.people import PeopleGallery
    from afis.synth import Population
    gallery = PeopleGallery.open(sys.argv[1])
    fingers = Population(SEED).impressions(range(1000, 1200), 0).templates()
    print("ready", flush=True)
    for n in range(20):
        gallery.insert([100 + n], [dict(zip(range(1, 11), fingers[n * 10 : n * 10 + 10]))])
        if n % 3 == 2:
            gallery.delete([100 + n])
    print("done", flush=True)
    """
).replace("SEED", str(SEED))


def test_kill_9_after_random_delays(small: Path, tmp_path: Path) -> None:
    """Kill a loop of inserts and deletes at seeded random moments after it starts: what
    survives is a prefix of the loop's commits, every person whole, and the gallery still
    takes inserts."""
    script = tmp_path / "loop.py"
    script.write_text(LOOP)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    delays = np.random.default_rng(SEED).uniform(0.05, 0.6, size=3)
    for n, delay in enumerate(delays):
        folder = tmp_path / f"gallery-{n}"
        shutil.copytree(small, folder)
        child = subprocess.Popen(
            [sys.executable, str(script), str(folder)], env=env, stdout=subprocess.PIPE
        )
        assert child.stdout is not None and child.stdout.readline() == b"ready\n"
        try:
            child.wait(timeout=float(delay))
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGKILL)
            child.wait()
        gallery = PeopleGallery.open(folder)
        extra = sorted(set(gallery.person_ids.tolist()) - set(range(6)))
        assert set(range(6)) <= set(gallery.person_ids.tolist())
        last = max(extra, default=99)
        # a prefix of the loop: every inserted id up to the last, less the committed deletes
        # (the last id's own delete may or may not have been committed)
        wanted = {100 + i for i in range(last - 99) if i % 3 != 2}
        assert set(extra) - {last} == wanted - {last}
        assert all(len(gallery.fingers(p)) == 10 for p in extra)
        gallery.insert([50], people_of([50]))
        assert PeopleGallery.open(folder).count() == gallery.count()


def test_open_maps_segment_indexes(base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """open() reads manifests and maps each segment's saved index: no template is parsed and
    nothing is added to an index."""
    import afis.people
    from afis.index import ShardedIndex

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("open() must not parse templates or build an index")

    with monkeypatch.context() as patch:
        patch.setattr(Template, "from_bytes", refuse)
        patch.setattr(ShardedIndex, "add", refuse)
        patch.setattr(afis.people.Template, "from_bytes", refuse)
        gallery = PeopleGallery.open(base)
        assert gallery.count() == 60 and 59 in gallery and len(gallery.person_ids) == 60
        assert len(gallery._index) == 60 * 10
    for segment in gallery._segments.values():
        assert segment.index.shard(1).read_only  # memory-mapped, not rebuilt
    assert gallery.identify(people_of([44], impression=1), k=4)[0][0].person_id == 44


def test_corrupt_segment_index_is_refused(small: Path, tmp_path: Path) -> None:
    folder = copy_of(small, tmp_path)
    manifest = json.loads((folder / MANIFEST).read_text())
    names = [n for n in manifest["segments"][0]["files"] if n.startswith("index/")]
    assert "index/header.json" in names and any(n.endswith("faiss.index") for n in names)
    for name in names:
        target = tmp_path / name.replace("/", "-")
        shutil.copytree(small, target)
        path = target / SEGMENTS / "000001" / name
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
        with pytest.raises(GalleryFileError, match=name.rsplit("/", 1)[-1].replace(".", r"\.")):
            PeopleGallery.open(target)
    (folder / SEGMENTS / "000001" / "index" / "shard-01" / "faiss.index").unlink()
    with pytest.raises(GalleryFileError, match=r"faiss\.index"):
        PeopleGallery.open(folder)


def test_batches_rank_as_compacted(tmp_path: Path, enrolled: list) -> None:
    """Inserted in several batches (one segment index each), then compacted into one: the
    probes of the tests above rank their people alike."""
    gallery = PeopleGallery.create(tmp_path / "gallery")
    for start in range(0, 60, 15):
        gallery.insert(list(range(start, start + 15)), enrolled[start : start + 15])
    probes = people_of([3, 31, 50, 12, 44, 62], impression=1)
    probes.append({1: probes[0][1], 7: probes[0][7]})
    assert gallery._joint_indexes() is not None  # the segments are searched as one
    before = gallery.identify(probes, k=8, depth=20)
    assert [r[0].person_id for r in before[:5]] == [3, 31, 50, 12, 44]
    assert before[-1][0].person_id == 3
    gallery.compact()
    after = PeopleGallery.open(gallery.path).identify(probes, k=8, depth=20)
    # searched as one, four segments vote as their compacted self: the same lists, exactly
    assert as_rows(after) == as_rows(before)
    # searched in turn (each segment its share of the neighbours), only the best agree
    each = PeopleGallery.create(tmp_path / "each")
    for start in range(0, 60, 15):
        each.insert(list(range(start, start + 15)), enrolled[start : start + 15])
    each._joint = {}  # as when the segments cannot be searched jointly
    assert_same_ranking(each.identify(probes, k=8, depth=20), before)


def _shortlists_reference(scores, ids, owners, probes, depth, allow):
    """The per-person evidence sum as a running sum per person, row by row."""
    evidence: list[dict[int, float]] = [{} for _ in range(probes)]
    for q, n in enumerate(owners):
        for score, fid in zip(scores[q].tolist(), ids[q].tolist(), strict=True):
            if fid >= 0:
                evidence[n][fid // 10] = evidence[n].get(fid // 10, 0.0) + score
    out = []
    for n, votes in enumerate(evidence):
        listed = [p for p in votes if allow is None or allow(n, np.array([p]))[0]]
        out.append(sorted(listed, key=lambda p: (-votes[p], p))[:depth])
    return out


@pytest.mark.parametrize("huge_ids", [False, True])
def test_shortlists_sum_evidence_per_person(huge_ids: bool) -> None:
    """The batch's evidence sum (one sort) lists exactly what a running sum per person
    lists: same people, same order, ties by id, ``allow`` applied before the cut; person ids
    too large for one sort key take the two-key sort."""
    from afis.people import MAX_PERSON_ID, _shortlists

    rng = np.random.default_rng(5)
    probes, width = 7, 60
    owners = np.sort(rng.integers(0, probes, 20))
    owners[:probes] = np.arange(probes)  # every probe owns a row
    owners.sort()
    people = rng.integers(0, 40, (len(owners), width))
    if huge_ids:
        people += MAX_PERSON_ID - 50
    positions = rng.integers(0, 10, (len(owners), width))
    ids = people * 10 + positions
    ids[rng.random(ids.shape) < 0.1] = -1  # unfilled places
    scores = rng.choice([0.25, 0.5, 0.125, 1.0], ids.shape).astype(np.float32)  # many ties

    def allow(n: int, who: np.ndarray) -> np.ndarray:
        return (who + n) % 3 != 0

    for chosen in (None, allow):
        for depth in (1, 5, 1000):
            want = _shortlists_reference(scores, ids, owners, probes, depth, chosen)
            assert _shortlists(scores, ids, owners, probes, depth, chosen) == want
    with pytest.raises(ValueError, match="allow returned shape"):
        _shortlists(scores, ids, owners, probes, 5, lambda n, who: np.ones(2, bool))


def test_among_first_searches_as_the_gallery_then(tmp_path: Path, enrolled: list) -> None:
    """``among_first=r`` answers as the gallery answered when it held its first ``r`` people:
    a gallery of those people alone (one coarse list: the same centroids) gives the same
    lists, exactly, whether ``r`` falls inside the first segment or the second; where the
    segments cannot be searched jointly, only those people are listed."""
    # neighbours at most PEOPLE_INDEX["min_neighbours"]: a prefix keeps them all
    options = IndexOptions.preset("small", neighbours=300)
    gallery = PeopleGallery.create(tmp_path / "gallery", options)
    gallery.insert(list(range(30)), enrolled[:30])
    gallery.insert(list(range(30, 60)), enrolled[30:])
    assert gallery.insertion_order.tolist() == list(range(60))
    probes = people_of([3, 12, 44, 40, 50], impression=1)
    probes.append({2: probes[2][2]})
    for r in (15, 45):
        then = PeopleGallery.create(tmp_path / f"then{r}", options)
        then.insert(list(range(min(r, 30))), enrolled[: min(r, 30)])
        if r > 30:
            then.insert(list(range(30, r)), enrolled[30:r])
        expected = then.identify(probes, k=8)
        got = gallery.identify(probes, k=8, among_first=[r] * len(probes))
        assert as_rows(got) == as_rows(expected)
        assert all(c.person_id < r for found in got for c in found)
    # each probe its own count; a person listed only among the people before its count
    mixed = gallery.identify(probes, k=8, among_first=[4, 13, 60, 40, 0, 45])
    assert [f[0].person_id if f else None for f in mixed[:3]] == [3, 12, 44]
    assert 40 not in ids_of(mixed[3]) and mixed[4] == [] and mixed[5][0].person_id == 44
    assert all(
        c.person_id < r for f, r in zip(mixed, [4, 13, 60, 40, 0, 45], strict=True) for c in f
    )
    # not searched jointly: the same people, filtered
    gallery._joint = {}
    each = gallery.identify(probes, k=8, among_first=[4, 13, 60, 40, 0, 45])
    assert [f[0].person_id if f else None for f in each[:3]] == [3, 12, 44]
    assert 40 not in ids_of(each[3]) and each[4] == [] and each[5][0].person_id == 44
    assert all(
        c.person_id < r for f, r in zip(each, [4, 13, 60, 40, 0, 45], strict=True) for c in f
    )


def test_among_first_counts_people_held(base: Path, tmp_path: Path) -> None:
    """Deleted people leave the insertion order; the counts stay those of the people held."""
    gallery = PeopleGallery.open(copy_of(base, tmp_path))
    gallery.delete([0, 1, 2, 31])
    order = gallery.insertion_order.tolist()
    assert order == [p for p in range(60) if p not in (0, 1, 2, 31)]
    probes = people_of([3, 5, 33], impression=1)
    found = gallery.identify(probes, k=8, among_first=[1, 3, 30])
    assert [f[0].person_id for f in found] == [3, 5, 33]
    assert all(c.person_id in order[:r] for f, r in zip(found, [1, 3, 30], strict=True) for c in f)
    assert gallery.identify(probes[:1], among_first=[0]) == [[]]
    gallery.compact()
    assert PeopleGallery.open(gallery.path).insertion_order.tolist() == order


def test_among_first_bad_input(base: Path) -> None:
    gallery = PeopleGallery.open(base)
    probes = people_of([3], impression=1)
    with pytest.raises(ValueError, match="1 probes"):
        gallery.identify(probes, among_first=[1, 2])
    with pytest.raises(ValueError, match="negative"):
        gallery.identify(probes, among_first=[-1])
    with pytest.raises(ValueError, match="one gallery"):
        identify_parts([gallery, gallery], 120, probes, firsts=np.array([1]))
    for bad in ("12", [1.5], 3, {0: 1}):
        with pytest.raises(TypeError, match="among_first"):
            gallery.identify(probes, among_first=bad)


def test_neighbours_of_a_prefix() -> None:
    """A prefix of the codes retrieves its share of the neighbours, at least the floor."""
    from afis.people import _neighbours_of_prefix

    got = _neighbours_of_prefix(4096, np.array([0, 10, 500_000, 1_000_000]), 1_000_000)
    assert got.tolist() == [512, 512, 2048, 4096]
    assert _neighbours_of_prefix(300, np.array([0, 5]), 10).tolist() == [300, 300]


def test_rerank_cache_keeps_results(base: Path) -> None:
    """A gallery opened with a re-rank cache answers exactly as one without: the first search
    fills the cache, the second reuses it (some entries kept, some made), within the
    budget, least recently used dropped first."""

    plain = PeopleGallery.open(base)
    cached = PeopleGallery.open(base, rerank_cache=1 << 30)
    first = people_of([3, 31, 50], impression=1)
    second = people_of([31, 12, 3, 44], impression=1)
    expected = [plain.identify(first, k=8), plain.identify(second, k=8)]
    got = [cached.identify(first, k=8)]
    held = len(cached._prepared)
    assert held > 0 and cached._prepared.held_bytes <= 1 << 30
    got.append(cached.identify(second, k=8))
    assert len(cached._prepared) > held  # new people were added, the others reused
    assert [as_rows(r) for r in got] == [as_rows(r) for r in expected]
    # a small budget: least recently used dropped, results unchanged
    small = PeopleGallery.open(base, rerank_cache=200_000)
    assert as_rows(small.identify(second, k=8)) == as_rows(expected[1])
    assert small._prepared.held_bytes <= 200_000 and 0 < len(small._prepared) < held
    cached.close()
    assert len(cached._prepared) == 0
    with pytest.raises(ValueError, match="rerank_cache"):
        PeopleGallery.open(base, rerank_cache=-1)
    with pytest.raises(ValueError, match="rerank_cache"):
        PeopleGallery.open(base, rerank_cache=1.5)


def test_prepared_cache_packs_rows_in_order() -> None:
    """Kept and fresh rows come back in the order asked, as one packed gallery; the oldest
    entry goes first when the budget is exceeded."""
    from afis.match import Gallery
    from afis.people import _PreparedCache

    templates = [t for person in people_of([1, 2], impression=0) for t in person.values()]
    whole = Gallery.from_templates(templates)

    def prepare(keys: list[tuple[int, int]]):
        return lambda wanted: Gallery.from_templates([templates[keys[i][1]] for i in wanted])

    cache = _PreparedCache(1 << 30)
    keys = [(0, r) for r in (4, 1, 7)]
    cache.gallery(keys, prepare(keys))
    asked = [(0, r) for r in (7, 2, 4, 9, 1)]
    made: list[int] = []

    def counting(wanted: list[int]) -> Gallery:
        made.extend(wanted)
        return prepare(asked)(wanted)

    got = cache.gallery(asked, counting)
    assert made == [1, 3]  # only rows 2 and 9 were prepared
    reference = whole.subset([7, 2, 4, 9, 1]).arrays
    for name, array in got.arrays.items():
        assert np.array_equal(array, reference[name]), name
    per_entry = cache.held_bytes // len(cache)
    tight = _PreparedCache(2 * per_entry + per_entry // 2)
    tight.gallery(keys, prepare(keys))
    assert list(tight._entries) == [(0, 1), (0, 7)]
    assert len(_PreparedCache(0).gallery(keys, prepare(keys))) == 3 and not _PreparedCache(0)
    assert len(cache.gallery([], prepare([]))) == 0


def test_gallery_indexing_four_positions_still_opens_and_upgrades(
    tmp_path: Path, enrolled: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A gallery written before manifest version 4 indexes thumbs and index fingers only: it
    opens, searches those, stays so through inserts, and moves to all ten positions when
    compacted with repartition."""
    import afis.people
    from afis.people import _body_crc

    folder = tmp_path / "old"
    with monkeypatch.context() as patch:  # written as the version-3 code wrote it
        patch.setattr(afis.people, "SEARCHED_POSITIONS", (1, 2, 6, 7))
        with PeopleGallery.create(folder) as gallery:
            gallery.insert(list(range(20)), enrolled[:20])
    data = json.loads((folder / MANIFEST).read_text())
    body = {k: v for k, v in data.items() if k not in ("crc32", "searched")}
    body["version"] = 3
    (folder / MANIFEST).write_text(json.dumps({**body, "crc32": _body_crc(body)}))
    probes = people_of([3, 12], impression=1)
    with PeopleGallery.open(folder) as gallery:
        assert gallery.searched_positions == (1, 2, 6, 7)
        assert len(gallery._index) == 20 * 4
        assert [r[0].person_id for r in gallery.identify(probes)] == [3, 12]
        with pytest.raises(ValueError, match="no searchable finger"):
            gallery.identify([{3: probes[0][3], 8: probes[0][8]}])
        gallery.insert([20, 21], enrolled[20:22])  # new segments index as the old ones
        assert len(gallery._index) == 22 * 4
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["version"] == 4 and manifest["searched"] == [1, 2, 6, 7]
    with PeopleGallery.open(folder) as gallery:
        assert gallery.searched_positions == (1, 2, 6, 7)
        gallery.compact(repartition=True)
        assert gallery.searched_positions == tuple(range(1, 11))
        assert len(gallery._index) == 22 * 10
        assert [r[0].person_id for r in gallery.identify(probes)] == [3, 12]
        only_middle = gallery.identify([{3: probes[0][3], 8: probes[0][8]}])
        assert only_middle[0][0].person_id == 3
    with PeopleGallery.open(folder) as gallery:
        assert gallery.searched_positions == tuple(range(1, 11))
    bad = json.loads((folder / MANIFEST).read_text())
    for searched in ([], [0, 1], [1, 1], "1,2", [True]):
        body = {k: v for k, v in bad.items() if k != "crc32"}
        body["searched"] = searched
        (folder / MANIFEST).write_text(json.dumps({**body, "crc32": _body_crc(body)}))
        with pytest.raises(GalleryFileError, match="bad searched positions"):
            PeopleGallery.open(folder)


def test_person_map_packs_consecutive_rows(tmp_path: Path) -> None:
    """A person's consecutive rows are held as one int; rows apart as a list of pairs; a
    person live in two segments at once is refused as inconsistent files."""
    from types import SimpleNamespace

    import afis.people as people

    gallery = PeopleGallery.create(tmp_path / "g")
    segment = SimpleNamespace(
        number=7,
        people=np.array([5, 5, 6, 5, 8, 8], np.int64),
        positions=np.array([1, 2, 1, 3, 1, 2], np.uint8),
    )
    gallery._attach(segment)
    assert isinstance(gallery._people[6], int) and isinstance(gallery._people[8], int)
    assert people._rows(gallery._people[6]) == [(7, 2)]
    assert people._rows(gallery._people[8]) == [(7, 4), (7, 5)]
    assert people._rows(gallery._people[5]) == [(7, 0), (7, 1), (7, 3)]
    assert gallery.count() == 3 and gallery._index.live == 6
    far = SimpleNamespace(
        number=2**20,
        people=np.array([9] * 10, np.int64),
        positions=np.arange(1, 11, dtype=np.uint8),
    )
    gallery._attach(far)
    assert people._rows(gallery._people[9]) == [(2**20, r) for r in range(10)]
    again = SimpleNamespace(
        number=8, people=np.array([6], np.int64), positions=np.ones(1, np.uint8)
    )
    with pytest.raises(GalleryFileError, match="another live segment holds too"):
        gallery._attach(again)
