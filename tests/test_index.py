"""afis.index (candidate index), afis.identify and afis bench identify."""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from _shared import random_finger

import afis
from afis.errors import AfisError, IndexFileError
from afis.index import CandidateIndex, IndexOptions, ShardedIndex
from afis.template import FingerPosition, Template


def impression(template: Template, seed: int, drop: float = 0.15) -> Template:
    """Another impression: small rigid motion, position noise, dropped minutiae."""
    r = np.random.default_rng(seed)
    keep = r.random(len(template)) >= drop
    angle = r.uniform(-0.15, 0.15)
    c, s = math.cos(angle), math.sin(angle)
    x = template.x[keep] - 160.0
    y = template.y[keep] - 160.0
    nx = c * x + s * y + 160 + r.uniform(-10, 10) + r.normal(0, 1.5, len(x))
    ny = -s * x + c * y + 160 + r.uniform(-10, 10) + r.normal(0, 1.5, len(x))
    return dataclasses.replace(
        template,
        x=np.clip(np.round(nx), 0, 319),
        y=np.clip(np.round(ny), 0, 319),
        direction=np.mod(template.direction[keep] + angle, 2 * math.pi),
        type=template.type[keep],
        quality=template.quality[keep],
    )


@pytest.fixture(scope="module")
def fingers() -> list[Template]:
    return [random_finger(s) for s in range(60)]


@pytest.fixture(scope="module")
def built(fingers: list[Template]) -> CandidateIndex:
    index = CandidateIndex()
    index.add(fingers, ids=np.arange(1000, 1060))
    return index


# ---------------------------------------------------------------------------- semantics


def test_search_finds_mates(built: CandidateIndex, fingers: list[Template]) -> None:
    probes = [impression(f, 100 + n) for n, f in enumerate(fingers)]
    scores, ids = built.search(probes, k=3)
    assert scores.shape == ids.shape == (60, 3)
    assert scores.dtype == np.float32 and ids.dtype == np.int64
    assert np.mean(ids[:, 0] == np.arange(1000, 1060)) >= 0.95
    assert (np.diff(scores, axis=1) <= 0).all()  # best first


def test_search_does_not_depend_on_where_the_probe_lies_in_its_image(
    built: CandidateIndex, fingers: list[Template]
) -> None:
    """Pair poses are measured from the probe's own centroid: moving every probe minutia by
    one offset (a larger image, another crop) leaves candidates and scores as they were.
    Measured from the image corner, each pair's rotation error would move its translation
    in proportion to the offset."""
    base = impression(fingers[7], seed=3)
    jitter = np.random.default_rng(5).normal(0, 0.12, len(base))
    probe = dataclasses.replace(base, direction=np.mod(base.direction + jitter, 2 * math.pi))
    moved = dataclasses.replace(probe, width=1600, height=1600, x=probe.x + 1200, y=probe.y + 900)
    scores, ids = built.search([probe], k=30)
    moved_scores, moved_ids = built.search([moved], k=30)
    assert ids[0, 0] == 1007
    assert np.array_equal(moved_ids, ids)
    np.testing.assert_allclose(moved_scores, scores, rtol=1e-5)


def test_penetration_and_padding(built: CandidateIndex, fingers: list[Template]) -> None:
    scores, ids = built.search(fingers[:2], penetration=0.1)
    assert ids.shape == (2, 6)
    scores, ids = built.search(fingers[:1], k=500)  # more than enrolled: clipped
    assert ids.shape == (1, 60)
    # a probe with no minutiae gets no candidates
    scores, ids = built.search([Template.empty(300, 300)], k=4)
    assert (ids == -1).all() and (scores == 0).all()
    scores, ids = built.search([], k=4)
    assert ids.shape == (0, 4)


def test_add_remove(fingers: list[Template]) -> None:
    index = CandidateIndex()
    index.add(fingers[:10], ids=range(10))
    assert len(index) == 10 and 3 in index and 10 not in index
    codes = index.codes
    assert index.remove([3, 4, 99, 3]) == 2
    assert len(index) == 8 and 3 not in index
    assert index.codes < codes
    _, ids = index.search(fingers[:10], k=8)
    assert not np.isin(ids, [3, 4]).any()
    assert ids[0, 0] == 0
    index.add([fingers[3]], ids=[3])  # an id can come back after removal
    assert index.search([fingers[3]], k=1)[1][0, 0] == 3
    assert list(index.ids) == [0, 1, 2, 5, 6, 7, 8, 9, 3]
    assert index.remove([]) == 0


def test_deterministic(fingers: list[Template]) -> None:
    results = []
    for _ in range(2):
        index = CandidateIndex(IndexOptions(nlist=4, nprobe=2, seed=3))
        index.add(fingers, ids=range(60))
        results.append(index.search([impression(f, 7) for f in fingers[:10]], k=5))
    assert np.array_equal(results[0][0], results[1][0])
    assert np.array_equal(results[0][1], results[1][1])


def test_ivf_lists(fingers: list[Template]) -> None:
    index = CandidateIndex(IndexOptions(nlist=8, nprobe=8))
    index.add(fingers, ids=range(60))
    assert index.is_trained
    _, ids = index.search(fingers[:20], k=1)
    assert (ids[:, 0] == np.arange(20)).all()


def test_threaded_list_assignment(fingers: list[Template]) -> None:
    # the lists are assigned in threads outside faiss: same lists as faiss's own assignment
    index = CandidateIndex(IndexOptions(nlist=8, nprobe=8), threads=2)
    index.add(fingers, ids=range(60))
    codes, _, _ = index._encode(fingers)
    _, nearest = index._faiss.quantizer.search(codes, 1)
    sizes = [index._faiss.invlists.list_size(n) for n in range(8)]
    assert sizes == np.bincount(nearest[:, 0], minlength=8).tolist()
    single = CandidateIndex(IndexOptions(nlist=8, nprobe=8), threads=1)
    single.add(fingers, ids=range(60))
    probes = [impression(f, 3) for f in fingers[:10]]
    assert all(
        np.array_equal(a, b)
        for a, b in zip(index.search(probes, k=5), single.search(probes, k=5), strict=True)
    )


def test_bad_arguments(built: CandidateIndex, fingers: list[Template]) -> None:
    index = CandidateIndex()
    with pytest.raises(TypeError):
        index.add(fingers[0], ids=[1])  # a single template, not a sequence
    with pytest.raises(TypeError):
        index.add(["not a template"], ids=[1])
    with pytest.raises(TypeError):
        index.add(42, ids=[1])
    with pytest.raises(TypeError):
        index.add(fingers[:2], ids=[1.5, 2.5])
    with pytest.raises(TypeError):
        index.add(fingers[:2], ids="ab")
    with pytest.raises(ValueError, match="unique"):
        index.add(fingers[:2], ids=[1, 1])
    with pytest.raises(ValueError, match="non-negative"):
        index.add(fingers[:2], ids=[-1, 2])
    with pytest.raises(ValueError, match="2 templates but 3 ids"):
        index.add(fingers[:2], ids=[1, 2, 3])
    index.add([], ids=[])
    assert len(index) == 0
    with pytest.raises(ValueError, match="already"):
        built.add(fingers[:1], ids=[1000])
    with pytest.raises(ValueError, match="exactly one"):
        built.search(fingers[:1])
    with pytest.raises(ValueError, match="exactly one"):
        built.search(fingers[:1], k=2, penetration=0.1)
    for bad in (0, -3):
        with pytest.raises(ValueError):
            built.search(fingers[:1], k=bad)
    for bad in (0.0, 1.5, math.nan, -0.1):
        with pytest.raises(ValueError):
            built.search(fingers[:1], penetration=bad)
    with pytest.raises(TypeError):
        built.search(fingers[:1], k=2.0)
    with pytest.raises(TypeError):
        built.search(fingers[:1], k=True)
    with pytest.raises(TypeError):
        built.search(fingers[:1], penetration="1%")
    with pytest.raises(TypeError):
        built.remove(["a"])
    with pytest.raises(TypeError):
        CandidateIndex(options={"nlist": 2})
    too_few = CandidateIndex(IndexOptions(nlist=10_000, nprobe=1))
    with pytest.raises(ValueError, match="training needs"):
        too_few.add(fingers[:2], ids=[1, 2])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"grid": 0},
        {"sections": 17},
        {"radius": 5.0},
        {"spread": -1.0},
        {"angle_spread": 2.0},
        {"max_codes": 0},
        {"nlist": 0},
        {"nlist": 4, "nprobe": 5},
        {"neighbours": 0},
        {"similarity_floor": 1.0},
        {"seed": -1},
        {"radius": math.inf},
    ],
)
def test_options_validated(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        IndexOptions(**kwargs)


@pytest.mark.parametrize("kwargs", [{"grid": 2.0}, {"radius": "70"}, {"nlist": True}])
def test_options_types(kwargs: dict) -> None:
    with pytest.raises(TypeError):
        IndexOptions(**kwargs)


# ---------------------------------------------------------------------------- files


@pytest.mark.parametrize("mmap", [True, False])
def test_save_load_identical(
    built: CandidateIndex, fingers: list[Template], tmp_path: Path, mmap: bool
) -> None:
    probes = [impression(f, 5) for f in fingers[:15]]
    expected = built.search(probes, k=7)
    built.save(tmp_path / "ix")
    loaded = CandidateIndex.load(tmp_path / "ix", mmap=mmap)
    assert loaded.options == built.options
    assert len(loaded) == len(built) and loaded.codes == built.codes
    got = loaded.search(probes, k=7)
    assert np.array_equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])
    assert loaded.read_only is mmap
    if mmap:
        with pytest.raises(IndexFileError, match="read-only"):
            loaded.add(fingers[:1], ids=[5])
        with pytest.raises(IndexFileError, match="read-only"):
            loaded.remove([1000])
    else:
        assert loaded.remove([1000]) == 1


def test_save_after_remove(fingers: list[Template], tmp_path: Path) -> None:
    index = CandidateIndex()
    index.add(fingers[:10], ids=range(10))
    index.remove([2])
    index.save(tmp_path / "ix")
    loaded = CandidateIndex.load(tmp_path / "ix")
    assert list(loaded.ids) == [0, 1, 3, 4, 5, 6, 7, 8, 9]
    assert np.array_equal(loaded.search(fingers[:10], k=3)[1], index.search(fingers[:10], k=3)[1])


def test_folded_codes(fingers: list[Template], tmp_path: Path) -> None:
    from afis.index._codes import bit_table

    table = bit_table(4, 6, 70.0, True)
    kept = table[table[:, 0] >= 0]
    assert kept.shape == (12, 6) and np.unique(kept).size == 64
    # the two sections at right angles (1 and 4 of 6) share a bit, except in the 4 inner blocks
    assert (kept[:, 1] == kept[:, 4]).sum() == 8
    assert IndexOptions().bits == 64 and IndexOptions(fold=False).bits == 72
    with pytest.raises(TypeError, match="fold"):
        IndexOptions(fold=1)
    # an index saved before the option existed was built unfolded and loads as such
    old = CandidateIndex(IndexOptions(fold=False))
    old.add(fingers, ids=range(60))
    old.save(tmp_path / "old")
    header = json.loads((tmp_path / "old" / "header.json").read_text())
    del header["params"]["fold"]
    (tmp_path / "old" / "header.json").write_text(json.dumps(header))
    loaded = CandidateIndex.load(tmp_path / "old")
    assert loaded.options.fold is False
    probes = [impression(f, 5) for f in fingers[:10]]
    assert np.array_equal(loaded.search(probes, k=3)[1], old.search(probes, k=3)[1])
    folded = CandidateIndex()
    folded.add(fingers, ids=range(60))
    assert (folded.search(probes, k=1)[1][:, 0] == np.arange(10)).all()


@pytest.fixture
def saved(built: CandidateIndex, tmp_path: Path) -> Path:
    folder = tmp_path / "ix"
    built.save(folder)
    return folder


@pytest.mark.parametrize("name", ["faiss.index", "slots.npz"])
def test_truncated_files_rejected(saved: Path, name: str) -> None:
    data = (saved / name).read_bytes()
    for cut in (0, 1, len(data) // 3, len(data) - 1):
        (saved / name).write_bytes(data[:cut])
        with pytest.raises(IndexFileError, match="truncated"):
            CandidateIndex.load(saved)


@pytest.mark.parametrize("name", ["faiss.index", "slots.npz"])
def test_altered_files_rejected(saved: Path, name: str) -> None:
    data = bytearray((saved / name).read_bytes())
    rng = np.random.default_rng(0)
    for at in rng.integers(0, len(data), 20):
        altered = bytearray(data)
        altered[at] ^= 0x5A
        (saved / name).write_bytes(bytes(altered))
        with pytest.raises(IndexFileError, match="altered"):
            CandidateIndex.load(saved)


def test_hostile_headers(saved: Path) -> None:
    header_path = saved / "header.json"
    good = json.loads(header_path.read_text())

    def attempt(header: object, match: str) -> None:
        header_path.write_text(json.dumps(header))
        with pytest.raises(IndexFileError, match=match):
            CandidateIndex.load(saved)

    attempt({**good, "magic": "faiss"}, "not an nusafis index")
    attempt({**good, "version": 99}, "unsupported index format version")
    attempt({**good, "kind": "ShardedIndex"}, "expected")
    attempt({**good, "files": []}, "lacks")
    attempt({**good, "params": {**good["params"], "nlist": 0}}, "invalid index parameters")
    attempt({**good, "params": {**good["params"], "bogus": 1}}, "invalid index parameters")
    attempt({**good, "params": {**good["params"], "grid": 5}}, "does not match")
    files = dict(good["files"])
    files["faiss.index"] = {"bytes": "many", "sha256": "x"}
    attempt({**good, "files": files}, "no valid entry")
    attempt([1, 2], "not an nusafis index")
    header_path.write_bytes(b"\xff\xfe garbage")
    with pytest.raises(IndexFileError, match="not valid JSON"):
        CandidateIndex.load(saved)
    header_path.write_bytes(b" " * 70_000)
    with pytest.raises(IndexFileError, match="larger"):
        CandidateIndex.load(saved)
    header_path.unlink()
    with pytest.raises(IndexFileError, match="not a saved index"):
        CandidateIndex.load(saved)
    with pytest.raises(IndexFileError):
        CandidateIndex.load(saved / "nowhere")


def test_consistent_lie_in_slots(saved: Path, built: CandidateIndex) -> None:
    """A rewritten slots file with a valid digest but wrong contents is still caught."""
    import hashlib

    def rewrite(**arrays: np.ndarray) -> None:
        with (saved / "slots.npz").open("wb") as handle:
            np.savez(handle, **arrays)
        header = json.loads((saved / "header.json").read_text())
        data = (saved / "slots.npz").read_bytes()
        header["files"]["slots.npz"] = {
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        (saved / "header.json").write_text(json.dumps(header))

    ids = built._ids.copy()
    counts = built._counts.copy()
    rewrite(ids=ids, counts=counts + 1)
    with pytest.raises(IndexFileError, match="faiss holds"):
        CandidateIndex.load(saved)
    dup = ids.copy()
    dup[1] = dup[0]
    rewrite(ids=dup, counts=counts)
    with pytest.raises(IndexFileError, match="duplicate"):
        CandidateIndex.load(saved)
    rewrite(ids=ids.astype(np.float64), counts=counts)
    with pytest.raises(IndexFileError, match="wrong type"):
        CandidateIndex.load(saved)
    rewrite(ids=ids)
    with pytest.raises(IndexFileError, match="unreadable"):
        CandidateIndex.load(saved)
    assert issubclass(IndexFileError, AfisError) and issubclass(IndexFileError, ValueError)


# ---------------------------------------------------------------------------- shards


def test_sharded(tmp_path: Path) -> None:
    thumbs = [random_finger(s, position=1) for s in range(20)]
    indexes = [random_finger(100 + s, position=2) for s in range(20)]
    index = ShardedIndex()
    index.add(thumbs + indexes, ids=range(40))
    assert index.positions == [FingerPosition.RIGHT_THUMB, FingerPosition.RIGHT_INDEX]
    assert len(index) == 40 and len(index.shard(1)) == 20
    probes = [impression(t, 1) for t in thumbs[:5]] + [impression(t, 1) for t in indexes[:5]]
    _scores, ids = index.search(probes, k=3)
    assert list(ids[:, 0]) == [0, 1, 2, 3, 4, 20, 21, 22, 23, 24]
    # a thumb probe only sees thumbs
    assert (ids[:5] < 20).all() and (ids[5:] >= 20).all()
    # unknown position: every shard, merged by score
    unknown = dataclasses.replace(probes[6], finger_position=FingerPosition.UNKNOWN)
    _, ids_unknown = index.search([unknown], k=4)
    assert ids_unknown[0, 0] == 21
    # a position without a shard finds nothing
    lonely = dataclasses.replace(probes[0], finger_position=FingerPosition.LEFT_LITTLE)
    assert (index.search([lonely], k=2)[1] == -1).all()
    with pytest.raises(ValueError, match="already"):
        index.add([random_finger(7, position=3)], ids=[5])
    assert index.remove([0, 25]) == 2
    index.save(tmp_path / "sh")
    assert (tmp_path / "sh" / "shard-01" / "faiss.index").is_file()
    loaded = ShardedIndex.load(tmp_path / "sh")
    got, expected = loaded.search(probes, k=3), index.search(probes, k=3)
    assert np.array_equal(got[1], expected[1]) and np.array_equal(got[0], expected[0])
    one = ShardedIndex.load_shard(tmp_path / "sh", FingerPosition.RIGHT_INDEX)
    assert len(one) == 19
    with pytest.raises(ValueError, match="no shard"):
        index.shard(FingerPosition.LEFT_THUMB)
    # a damaged shard spoils the whole index
    faiss_file = tmp_path / "sh" / "shard-02" / "faiss.index"
    faiss_file.write_bytes(faiss_file.read_bytes()[:-5])
    with pytest.raises(IndexFileError):
        ShardedIndex.load(tmp_path / "sh")
    with pytest.raises(IndexFileError):
        CandidateIndex.load(tmp_path / "sh")  # a sharded folder is not a single index


def test_sharded_header_tampering(tmp_path: Path) -> None:
    index = ShardedIndex()
    index.add([random_finger(1, position=1)], ids=[1])
    index.save(tmp_path / "sh")
    header_path = tmp_path / "sh" / "header.json"
    header = json.loads(header_path.read_text())
    header["params"]["shards"] = ["../../etc"]
    header_path.write_text(json.dumps(header))
    with pytest.raises(IndexFileError, match="shard list"):
        ShardedIndex.load(tmp_path / "sh")
    shutil.rmtree(tmp_path / "sh")
    with pytest.raises(IndexFileError):
        ShardedIndex.load(tmp_path / "sh")


# ---------------------------------------------------------------------------- identify


def test_identify(fingers: list[Template], built: CandidateIndex) -> None:
    enrolled = {1000 + n: f for n, f in enumerate(fingers)}
    probe = impression(fingers[12], 99)
    result = afis.identify(probe, built, enrolled, k=5)
    assert result.shortlist == 5 and len(result) == 5
    assert result.ids[0] == 1012
    assert (np.diff(result.scores) <= 0).all()
    assert result.threshold == pytest.approx(afis.threshold_for_fmr(1e-4))
    assert result.matches[0] and not result.matches[1:].any()
    assert result.fmr[0] <= 1e-3 and (result.fmr <= 0.1).all()
    # a packed gallery gives the same scores
    packed = afis.Gallery.from_templates(list(enrolled.values()))
    again = afis.identify(probe, built, packed, gallery_ids=list(enrolled), k=5)
    assert np.array_equal(again.ids, result.ids)
    assert np.allclose(again.scores, result.scores)
    with pytest.raises(ValueError, match="gallery_ids"):
        afis.identify(probe, built, packed, k=5)
    with pytest.raises(TypeError):
        afis.identify("probe", built, enrolled, k=5)
    with pytest.raises(TypeError):
        afis.identify(probe, enrolled, enrolled, k=5)
    with pytest.raises(TypeError):
        afis.identify(probe, built, [1, 2], k=5)


# ---------------------------------------------------------------------------- real data


@pytest.mark.datasets
def test_fvc_hit_rate(datasets_root: Path, fvc_manifest: dict) -> None:
    """Gallery: impression 1 of the 80 fingers of FVC2000+2002 B; probes: impressions 2-4."""
    gallery, probes, truth = [], [], []
    for number, (name, meta) in enumerate(fvc_manifest["sets"].items()):
        files = sorted((datasets_root / name).glob("*.tif"))
        if not files:
            pytest.skip(f"{name} missing")
        wanted = [f for f in files if f.stem.split("_")[1] in "1234"]
        templates = afis.extract_many(wanted, dpi=meta["dpi"])
        for f, t in zip(wanted, templates, strict=True):
            finger = number * 100 + int(f.stem.split("_")[0])
            if f.stem.endswith("_1"):
                gallery.append((finger, t))
            else:
                probes.append(t)
                truth.append(finger)
    index = CandidateIndex()
    index.add([t for _, t in gallery], ids=[f for f, _ in gallery])
    _, ids = index.search(probes, penetration=0.1)  # 8 of 80
    hit = np.mean((ids == np.asarray(truth)[:, None]).any(axis=1))
    assert hit >= 0.9, hit


def test_fuzz_header(saved: Path) -> None:
    from afis._fuzz import fuzz

    report = fuzz("candidate_index_header", [(saved / "header.json").read_bytes()], 3000, seed=5)
    assert report.ok(), report.summary()
    assert report.rejected > 0


# ---------------------------------------------------------------------------- bench


def test_bench_identify(tmp_path: Path) -> None:
    from afis.bench.identify import identify_benchmark, load_background_source

    real = [random_finger(s) for s in range(12)]
    probes = [impression(f, 50 + n) for n, f in enumerate(real)] * 2
    truth = list(range(12)) * 2

    def source(count: int, seed: int):
        return (random_finger(10_000 + seed * 1000 + n) for n in range(count))

    report = identify_benchmark(
        ["synthetic"], background=88, source=source, real=(real, list(range(12)), probes, truth)
    )
    assert report.real_fingers == 12 and report.background == 88 and report.probes == 24
    assert list(report.hit_rate) == sorted(report.hit_rate)
    assert report.hit_rate[0.1] >= 0.9 and report.rank1_rerank >= 0.9
    assert 0 < report.memory_per_finger < 1024
    assert report.search_ms_single > 0 and report.fingers_per_s > 0
    report.to_json(tmp_path / "r.json")
    assert json.loads((tmp_path / "r.json").read_text())["probes"] == 24
    report.plot(tmp_path / "r.png")
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"
    assert "hit rate" in report.format_table()
    assert "(penetration 1.00 %)" in report.format_table()  # 1 of 100 fingers
    # a shortlist cut by rerank_max reports the share it really re-ranked
    capped = dataclasses.replace(report, rerank_penetration=0.1, rerank_candidates=3)
    assert "(penetration 3.00 %; 10 wanted for 10.00 %, cut by rerank_max)" in capped.format_table()
    with pytest.raises(ValueError, match="source"):
        identify_benchmark(["x"], background=5, real=(real, list(range(12)), probes, truth))
    with pytest.raises(ValueError, match="gave"):
        identify_benchmark(
            ["x"],
            background=5,
            source=lambda c, s: [random_finger(1)],
            real=(real, list(range(12)), probes, truth),
        )
    with pytest.raises(ValueError, match="rerank_max"):
        identify_benchmark(["x"], rerank_max=0, real=(real, list(range(12)), probes, truth))
    with pytest.raises(ValueError, match="penetration"):
        identify_benchmark(
            ["x"], rerank_penetration=1.5, real=(real, list(range(12)), probes, truth)
        )
    for spec in ("nocolon", "no_such_module_xyz:f", "math:no_such_attr", "math:pi"):
        with pytest.raises(ValueError):
            load_background_source(spec)
    script = tmp_path / "bg.py"
    script.write_text("def make(count, seed):\n    return []\n")
    assert load_background_source(f"{script}:make")(0, 0) == []


def test_bench_identify_rerank_in_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    """Re-ranking packs the shortlists a few probes at a time: same rank-1 as all at once."""
    from afis.bench import identify as bench

    real = [random_finger(s) for s in range(12)]
    probes = [impression(f, 70 + n, drop=0.5) for n, f in enumerate(real)]
    truth = list(range(12))

    def source(count: int, seed: int):
        return (random_finger(20_000 + n) for n in range(count))

    def rank1() -> float:
        return bench.identify_benchmark(
            ["synthetic"],
            background=188,
            source=source,
            real=(real, truth, probes, truth),
            rerank_penetration=0.5,
        ).rank1_rerank

    whole = rank1()
    monkeypatch.setattr(bench, "RERANK_PACK_LIMIT", 150)  # one or two probes per group
    assert rank1() == whole > 0


def test_bench_identify_logs_progress_of_its_long_stages(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # off a terminal, a long stage writes a log line at most every _LOG_EVERY_S seconds
    from afis.bench.identify import identify_benchmark

    monkeypatch.setattr(importlib.import_module("afis.bench.verify"), "_LOG_EVERY_S", 0.0)
    real = [random_finger(s) for s in range(6)]
    probes = [impression(f, 50 + n) for n, f in enumerate(real)]

    def source(count: int, seed: int):
        return (random_finger(20_000 + seed * 1000 + n) for n in range(count))

    with caplog.at_level("INFO", logger="afis.bench.verify"):
        identify_benchmark(
            ["synthetic"],
            background=30,
            source=source,
            real=(real, list(range(6)), probes, list(range(6))),
        )
    assert "background: 30/30 fingers" in caplog.text
    assert "re-ranking: " in caplog.text and " probes" in caplog.text


def test_bench_identify_exhaustive(monkeypatch: pytest.MonkeyPatch) -> None:
    """The matcher-alone baseline: mate ranks as a direct count of afis.compare scores gives
    them (ties counted against the mate), the same when the gallery is packed in chunks."""
    from afis.bench import identify as bench

    real = [random_finger(s) for s in range(10)]
    # probes keeping a fifth of their minutiae: some mates lose to other fingers, some score 0
    probes = [impression(f, 90 + n, drop=0.8) for n, f in enumerate(real)]
    truth = list(range(10))
    # 60 unrelated fingers and 10 other captures of the real fingers enrolled as other people
    # (they reach the calibrated thresholds and can outrank the mates)
    background = [random_finger(30_000 + n) for n in range(60)]
    background += [impression(f, 500 + n, drop=0.3) for n, f in enumerate(real)]

    def source(count: int, seed: int):
        return iter(background[:count])

    def run() -> bench.IdentifyReport:
        return bench.identify_benchmark(
            ["synthetic"],
            background=len(background),
            source=source,
            real=(real, truth, probes, truth),
            exhaustive=True,
        )

    gallery = real + background
    expected = []
    for n, probe in enumerate(probes):
        scores = np.array([afis.compare(probe, g) for g in gallery])
        others = np.delete(scores, n)
        expected.append(1 + int((others >= scores[n]).sum()))
    expected = np.array(expected)
    report = run()
    assert report.exhaustive_hit_rate is not None and report.exhaustive_rank1 is not None
    assert report.exhaustive_rank1 == pytest.approx(np.mean(expected == 1))
    for p, hit in report.exhaustive_hit_rate.items():
        k = max(1, math.ceil(p * len(gallery)))
        assert hit == pytest.approx(np.mean(expected <= k))
    assert 0 < report.exhaustive_rank1 < 1  # the case is not trivial either way
    assert "matcher alone" in report.format_table()
    assert "exhaustive_hit_rate" in report.to_dict()
    # background impostor rates: a direct count over probes x background fingers
    assert report.background_fmr is not None and list(report.background_fmr) == [1e-2, 1e-3, 1e-4]
    impostor = np.array([[afis.compare(p, b) for b in background] for p in probes]).ravel()
    for f, rate in report.background_fmr.items():
        assert rate == pytest.approx(np.mean(impostor >= afis.threshold_for_fmr(f)))
    assert 0 < report.background_fmr[1e-4] <= report.background_fmr[1e-2] < 0.05
    assert "background impostor rate" in report.format_table()
    assert "background_fmr" in report.to_dict()
    monkeypatch.setattr(bench, "RERANK_PACK_LIMIT", 7)  # many chunks
    chunked = run()
    assert chunked.exhaustive_hit_rate == report.exhaustive_hit_rate
    assert chunked.background_fmr == report.background_fmr


def test_bench_identify_shared_fingers(tmp_path: Path) -> None:
    from PIL import Image

    from afis.bench.identify import _identity_lookup, _real_templates, identify_benchmark

    # two sets of one year holding the same fingers (as FVC2000 DB1_B and DB2_B do)
    yy, xx = np.mgrid[0:200, 0:200]
    for name in ("A", "B", "C"):
        folder = tmp_path / "y" / name
        folder.mkdir(parents=True)
        for finger in (101, 102):
            for imp in (1, 2):
                wave = np.sin(2 * np.pi * (xx * (finger - 100) + yy * imp) / 1800)
                Image.fromarray((127 + 100 * wave).astype(np.uint8)).save(
                    folder / f"{finger}_{imp}.png"
                )
    manifest = tmp_path / "m.json"
    entry = {"dpi": 500}
    manifest.write_text(
        json.dumps(
            {"sets": {"y/A": entry, "y/B": {**entry, "same_fingers_as": "y/A"}, "y/C": entry}}
        )
    )
    root = tmp_path / "y"
    for order in (["A", "B", "C"], ["B", "C", "A"]):
        sets, gallery, ids, probes, truth, identity = _real_templates(
            [root / n for n in order], None, manifest, 1
        )
        assert sets == [f"y/{n}" for n in order] and len(gallery) == 6 and len(probes) == 6
        assert sorted(truth) == sorted(ids)  # a probe's id is its own set's gallery entry
        by_set = dict(zip(sets, [ids[i : i + 2] for i in range(0, 6, 2)], strict=True))
        ident = dict(zip(ids, identity, strict=True))
        assert [ident[i] for i in by_set["y/B"]] == by_set["y/A"]  # B's fingers are A's
        assert [ident[i] for i in by_set["y/A"] + by_set["y/C"]] == by_set["y/A"] + by_set["y/C"]
    finger_of = _identity_lookup(np.array([0, 1, 2]), [0, 0, 2])
    assert finger_of(np.array([[1, 2, 5, -1]])).tolist() == [[0, 2, -7, -1]]
    # the probe itself sits in the gallery as id 0, its finger's other entry as id 1: the
    # first candidate is id 0, a hit only when 0 and 1 are one finger
    fingers = [random_finger(s) for s in range(3)]
    gallery = [fingers[0], impression(fingers[0], 7), fingers[1], fingers[2]]
    real = (gallery, [0, 1, 2, 3], [fingers[0]], [1])
    assert identify_benchmark(["x"], real=real, rerank_penetration=1.0).rank1_rerank == 0.0
    shared = identify_benchmark(["x"], real=(*real, [0, 0, 2, 3]), rerank_penetration=1.0)
    assert shared.rank1_rerank == 1.0 and shared.rank1_index == 1.0
    assert shared.extra["distinct_real_fingers"] == 3
    with pytest.raises(ValueError, match="identities"):
        identify_benchmark(["x"], real=(*real, [0]))


def test_bench_identify_purely_synthetic(capsys: pytest.CaptureFixture[str]) -> None:
    from afis.bench.identify import identify_benchmark, synthetic_mates
    from afis.cli import main
    from afis.synth import background

    gallery, fingers, probes, truth = synthetic_mates(4, seed=3, first=30, impressions=2)
    assert fingers == [0, 1, 2, 3] and truth == [0, 0, 1, 1, 2, 2, 3, 3]
    # the mates are fingers 30..33: not among the 30 background fingers, same seed
    assert gallery[0] == synthetic_mates(1, seed=3, first=30)[0][0]
    assert all(gallery[0] != t for t in background(30, seed=3))
    assert afis.compare(gallery[1], probes[2]) > afis.compare(gallery[1], probes[0])
    report = identify_benchmark(
        [], background=30, source=background, seed=3, synthetic=4, rerank_penetration=0.5
    )
    assert report.real_fingers == 4 and report.probes == 28 and report.background == 30
    assert report.hit_rate[0.1] >= 0.8  # 3 of 34 candidates
    with pytest.raises(ValueError, match="one or the other"):
        identify_benchmark(["x"], synthetic=4)
    assert main(["bench", "identify", "--synthetic-mates", "3", "--background", "20"]) == 0
    assert "3 mates + 20 background" in capsys.readouterr().out
    assert main(["bench", "identify"]) == 2
    assert "--synthetic-mates" in capsys.readouterr().err
    deep = ["bench", "identify", "--synthetic-mates", "3", "--background", "20"]
    assert (
        main([*deep, "--neighbours", "300", "--rerank-penetration", "0.5", "--rerank-max", "5"])
        == 0
    )
    assert "re-ranking 5 candidates" in capsys.readouterr().out
    assert main([*deep, "--neighbours", "0"]) == 2
    assert "neighbours must lie in" in capsys.readouterr().err


def test_cli_identify_needs_source(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from afis.cli import main

    code = main(
        [
            "bench",
            "identify",
            str(tmp_path),
            "--background",
            "3",
            "--background-source",
            "no_such_module_xyz:f",
        ]
    )
    assert code == 2
    assert "unavailable" in capsys.readouterr().err


def test_rank_votes() -> None:
    from afis.index.candidate import _rank_votes

    distances = np.array([[0, 3, 3, 9], [5, 5, 5, 5], [1, 2, 80, 80]], np.int32)
    votes = _rank_votes(distances, scanned=100.0, bits=64, floor=0.0)
    # ranks (ties to their end): 1 3 3 4 / 4 4 4 4 / 1 2 4 4 (65 and 80 both clip to 65)
    ranks = np.array([[1, 3, 3, 4], [4, 4, 4, 4], [1, 2, 4, 4]], float)
    assert np.allclose(votes, np.log(100 / ranks) / np.log(100), atol=1e-6)
    assert votes[0, 0] == pytest.approx(1.0)
    floored = _rank_votes(distances, scanned=100.0, bits=64, floor=0.8)
    assert (floored >= 0).all() and floored[1].max() == 0.0
    # never more codes compared than retrieved; empty input
    assert _rank_votes(distances, scanned=1.0, bits=64, floor=0.0).min() >= 0.0
    assert _rank_votes(np.zeros((0, 3), np.int32), 10.0, 64, 0.0).shape == (0, 3)


def test_shared_encoding_gives_the_same_shortlists_and_encodes_once(monkeypatch) -> None:
    """Probes searched in several indexes inside ``shared_encoding`` are encoded once per
    template, and every index returns exactly what it returns without sharing."""
    from afis.index import CandidateIndex, ShardedIndex, shared_encoding
    from afis.index import candidate as candidate_module
    from afis.synth import Population

    people = Population(seed=4)
    enrolled = people.impressions(np.arange(120), np.zeros(120, np.int64)).templates()
    probes = people.impressions(np.arange(0, 120, 7), np.ones(18, np.int64)).templates()
    halves = []
    for part in (slice(0, 60), slice(60, 120)):
        index = ShardedIndex()
        index.add(enrolled[part], ids=np.arange(120)[part])
        halves.append(index)
    plain = [h.search(probes, k=12) for h in halves]
    real = candidate_module.template_codes
    calls: list[int] = []

    def counting(templates, **kwargs):
        calls.append(len(templates))
        return real(templates, **kwargs)

    monkeypatch.setattr(candidate_module, "template_codes", counting)
    with shared_encoding():
        shared = [h.search(probes, k=12) for h in halves]
        again = halves[0].search(probes, k=12)
    assert sum(calls) == len(probes)  # each probe template encoded once for both indexes
    for (s1, i1), (s2, i2) in zip(plain, shared, strict=True):
        assert np.array_equal(i1, i2) and np.array_equal(s1, s2)
    assert np.array_equal(again[1], plain[0][1])
    calls.clear()
    CandidateIndex().search(probes[:2], k=3)  # outside the block nothing is cached
    assert calls == []  # an empty index encodes nothing


def test_save_each_writes_what_save_writes(fingers: list[Template], tmp_path: Path) -> None:
    """Shards saved one at a time load as the index saved whole; a shard of other options,
    a position given twice or something that is not an index is refused."""
    index = ShardedIndex(IndexOptions())
    for n, position in enumerate((FingerPosition.RIGHT_INDEX, FingerPosition.LEFT_INDEX)):
        index.add(
            [
                dataclasses.replace(f, finger_position=position)
                for f in fingers[n * 20 : n * 20 + 20]
            ],
            ids=range(n * 20, n * 20 + 20),
        )
    index.save(tmp_path / "whole")
    ShardedIndex.save_each(
        tmp_path / "each", index.options, ((p, index.shard(p)) for p in index.positions)
    )
    whole, each = ShardedIndex.load(tmp_path / "whole"), ShardedIndex.load(tmp_path / "each")
    assert each.positions == whole.positions and len(each) == len(whole) == 40
    probe = dataclasses.replace(fingers[25], finger_position=FingerPosition.LEFT_INDEX)
    assert each.search([probe], k=3)[1].tolist() == whole.search([probe], k=3)[1].tolist()
    shard = index.shard(FingerPosition.RIGHT_INDEX)
    with pytest.raises(ValueError, match="other options"):
        ShardedIndex.save_each(tmp_path / "x", IndexOptions(neighbours=7), [(2, shard)])
    with pytest.raises(ValueError, match="two shards for finger position"):
        ShardedIndex.save_each(tmp_path / "x", index.options, [(2, shard), (2, shard)])
    with pytest.raises(TypeError, match="not a CandidateIndex"):
        ShardedIndex.save_each(tmp_path / "x", index.options, [(2, "shard")])
    with pytest.raises(TypeError, match="non-empty sequence of CandidateIndex"):
        CandidateIndex.merged(5)  # type: ignore[arg-type]
