"""The candidate index's native scan (``afis/_native/src/index/hamming_scan.cpp``): checked
against a brute-force reference and against faiss's own search, at every SIMD level."""

from __future__ import annotations

import threading

import faiss
import numpy as np
import pytest
from _shared import random_finger, simd_levels

from afis._native import _core
from afis._threads import ReadWriteLock
from afis.index import CandidateIndex, IndexOptions
from afis.index.candidate import _vote_layout


def _popcount(x: np.ndarray) -> np.ndarray:
    return np.unpackbits(x.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)


def _random_lists(
    seed: int, nlist: int, sizes: list[int] | None = None
) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    centroids = rng.integers(0, 2**63, nlist, dtype=np.uint64)
    sizes = sizes or rng.integers(0, 300, nlist).tolist()
    codes, labels, start = [], [], 0
    for n in sizes:
        # codes near their centroid: few bits flipped, so many distances tie
        flips = rng.integers(0, 2, (n, 64), dtype=np.uint8) & (rng.random((n, 64)) < 0.15)
        mask = np.packbits(flips, axis=1, bitorder="little").view(np.uint64)[:, 0]
        codes.append(centroids[len(codes)] ^ mask)
        labels.append(np.arange(start, start + n, dtype=np.int64))
        start += n
    return centroids, codes, labels


def _reference(centroids, codes, labels, query, nprobe, k):
    """Brute force: nearest lists (ties: lower number), then nearest codes (ties: scan order)."""
    to_lists = _popcount(centroids ^ query)
    visit = sorted(np.argsort(to_lists, kind="stable")[:nprobe])
    all_codes = np.concatenate([codes[v] for v in visit]) if visit else np.zeros(0, np.uint64)
    all_labels = np.concatenate([labels[v] for v in visit]) if visit else np.zeros(0, np.int64)
    d = _popcount(all_codes ^ query) if len(all_codes) else np.zeros(0, np.int64)
    order = np.argsort(d, kind="stable")[:k]
    dist = np.full(k, 65, np.int32)
    lab = np.full(k, -1, np.int64)
    dist[: len(order)] = d[order]
    lab[: len(order)] = all_labels[order]
    return dist, lab


@pytest.mark.parametrize("level", simd_levels())
@pytest.mark.parametrize(
    ("nlist", "nprobe", "k"), [(1, 1, 5), (16, 3, 20), (16, 16, 5000), (40, 7, 1)]
)
def test_scan_matches_brute_force(level_cap, level: int, nlist: int, nprobe: int, k: int) -> None:
    _core._set_simd_limit(level)
    centroids, codes, labels = _random_lists(nlist, nlist)
    table = _core.HammingLists(centroids, codes, labels)
    rng = np.random.default_rng(99)
    queries = np.concatenate([centroids[:3], rng.integers(0, 2**63, 30, dtype=np.uint64)])
    dist, lab = table.search(queries, nprobe, k, 2)
    assert dist.shape == lab.shape == (len(queries), k)
    for i, q in enumerate(queries):
        want_d, want_l = _reference(centroids, codes, labels, q, nprobe, k)
        assert np.array_equal(dist[i], want_d)
        assert np.array_equal(lab[i], want_l)


def test_scan_edge_cases() -> None:
    centroids, codes, labels = _random_lists(3, 4, sizes=[0, 0, 5, 0])
    table = _core.HammingLists(centroids, codes, labels)
    # nprobe beyond nlist, k beyond the stored codes, k = 0, no queries
    dist, lab = table.search(centroids[:1], 10, 8, 1)
    assert (lab[0, :5] >= 0).all() and (lab[0, 5:] == -1).all() and (dist[0, 5:] == 65).all()
    assert table.search(centroids[:2], 1, 0, 1)[0].shape == (2, 0)
    assert table.search(np.zeros(0, np.uint64), 1, 3, 4)[1].shape == (0, 3)
    empty = _core.HammingLists(np.zeros(0, np.uint64), [], [])
    assert (empty.search(centroids[:1], 1, 2, 1)[1] == -1).all()


def test_scan_bad_input() -> None:
    centroids, codes, labels = _random_lists(4, 4)
    with pytest.raises(ValueError, match="one code array and one label array per centroid"):
        _core.HammingLists(centroids, codes[:3], labels)
    with pytest.raises(TypeError, match="centroids must be a contiguous 1-D uint64"):
        _core.HammingLists(centroids.astype(np.int64), codes, labels)
    with pytest.raises(TypeError, match="code array 1 must be a contiguous 1-D uint64"):
        _core.HammingLists(centroids, [codes[0], codes[1].astype(np.float64), *codes[2:]], labels)
    with pytest.raises(TypeError, match="label array 0"):
        _core.HammingLists(centroids, codes, [labels[0][::2], *labels[1:]])
    with pytest.raises(ValueError, match="list 2 has"):
        _core.HammingLists(centroids, codes, [*labels[:2], labels[2][:-1], labels[3]])
    table = _core.HammingLists(centroids, codes, labels)
    with pytest.raises(TypeError, match="queries must be"):
        table.search(np.zeros(3, np.int32), 1, 1, 1)
    with pytest.raises(TypeError, match="queries must be"):
        table.search(np.zeros((3, 1), np.uint64), 1, 1, 1)
    with pytest.raises(ValueError, match="k must be"):
        table.search(centroids, 1, -1, 1)
    with pytest.raises(ValueError, match="nprobe must be positive"):
        table.search(centroids, 0, 1, 1)


def _packed(codes: list[np.ndarray], labels: list[np.ndarray], shift: int):
    """The lists laid out as faiss's memory-mapped file lays them out: one buffer, each list's
    codes then its labels, everything ``shift`` bytes off an 8-byte boundary."""
    sizes = np.array([len(c) for c in codes], np.int64)
    raw = np.zeros(shift + 16 * int(sizes.sum()) + 8, np.uint8)
    code_at, label_at = np.zeros(len(codes), np.int64), np.zeros(len(codes), np.int64)
    at = shift
    for n, (c, lab) in enumerate(zip(codes, labels, strict=True)):
        code_at[n], label_at[n] = at, at + 8 * len(c)
        raw[at : at + 8 * len(c)] = c.view(np.uint8)
        raw[at + 8 * len(c) : at + 16 * len(c)] = lab.view(np.uint8)
        at += 16 * len(c)
    return raw, code_at, label_at, sizes


@pytest.mark.parametrize("level", simd_levels())
@pytest.mark.parametrize("shift", [0, 3, 5])
def test_lists_at_any_byte_address(level_cap, level: int, shift: int) -> None:
    """Lists off 8-byte boundaries (faiss's memory-mapped files) are searched in place, with
    the results of aligned lists: scans, distance histograms and slot order."""
    _core._set_simd_limit(level)
    centroids, codes, labels = _random_lists(16, 16, sizes=[0, 1, 7, 15, 16, 17, 40, 3] * 2)
    labels = [np.sort(lab) for lab in labels]  # slot order, so that limits apply
    aligned = _core.HammingLists(centroids, codes, labels)
    raw, code_at, label_at, sizes = _packed(codes, labels, shift)
    seen = _core.HammingLists.in_buffer(centroids, raw, code_at, label_at, sizes)
    odd = [raw[a : a + 8 * n].view(np.uint64) for a, n in zip(code_at, sizes, strict=True)]
    odd_labels = [raw[a : a + 8 * n].view(np.int64) for a, n in zip(label_at, sizes, strict=True)]
    viewed = _core.HammingLists(centroids, odd, odd_labels)
    rng = np.random.default_rng(5)
    queries = np.concatenate([centroids[:4], rng.integers(0, 2**63, 20, dtype=np.uint64)])
    want = aligned.search(queries, 5, 30, 2)
    for table in (seen, viewed):
        got = table.search(queries, 5, 30, 2)
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
        assert np.array_equal(table.histograms(queries, 5, 1), aligned.histograms(queries, 5, 1))
        assert table.slot_ordered(0) == aligned.slot_ordered(0)


def test_lists_in_buffer_refuse_lists_outside_it() -> None:
    centroids, codes, labels = _random_lists(4, 4, sizes=[2, 3, 0, 1])
    raw, code_at, label_at, sizes = _packed(codes, labels, 1)
    _core.HammingLists.in_buffer(centroids, raw, code_at, label_at, sizes)
    for what, array in (("code_at", code_at), ("label_at", label_at)):
        for bad in (len(raw) - 8, -1, 2**62):
            moved = array.copy()
            moved[1] = bad
            args = [centroids, raw, code_at, label_at, sizes]
            args[2 if what == "code_at" else 3] = moved
            with pytest.raises(ValueError, match="list 1 lies outside the buffer"):
                _core.HammingLists.in_buffer(*args)
    huge = sizes.copy()
    huge[3] = 2**60
    with pytest.raises(ValueError, match="list 3 lies outside the buffer"):
        _core.HammingLists.in_buffer(centroids, raw, code_at, label_at, huge)
    with pytest.raises(ValueError, match="list 0 lies outside the buffer"):
        _core.HammingLists.in_buffer(centroids, raw, code_at, label_at, np.full(4, -1, np.int64))
    with pytest.raises(TypeError, match="buffer must be a contiguous 1-D uint8"):
        _core.HammingLists.in_buffer(centroids, raw.view(np.int8), code_at, label_at, sizes)
    with pytest.raises(ValueError, match="code_at"):
        _core.HammingLists.in_buffer(centroids, raw, code_at[:3], label_at, sizes)


def test_index_scan_agrees_with_faiss() -> None:
    """Distances equal faiss's row for row; labels too, except the order among ties."""
    index = CandidateIndex(IndexOptions(nlist=16, nprobe=4))
    index.add([random_finger(s) for s in range(200)], ids=range(200))
    codes, _, _ = index._encode([random_finger(s) for s in range(1000, 1010)])
    faiss.omp_set_num_threads(1)
    want_d, want_l = index._faiss.search(codes, 50)
    queries = np.ascontiguousarray(codes).view(np.uint64)[:, 0]
    got_d, got_l = index._scan_table().search(queries, index._faiss.nprobe, 50, 1)
    assert np.array_equal(got_d, want_d)
    for row in range(len(codes)):
        for d in np.unique(want_d[row]):
            # a tie group cut by k may hold different members; complete groups are equal
            if d != want_d[row, -1]:
                assert set(got_l[row][got_d[row] == d]) == set(want_l[row][want_d[row] == d])


def test_search_waits_for_writers() -> None:
    """A search never reads faiss's lists while add() grows them (the scan holds pointers)."""
    index = CandidateIndex(IndexOptions(nlist=4, nprobe=4), threads=1)
    index.add([random_finger(s) for s in range(40)], ids=range(40))
    probes = [random_finger(s) for s in range(5)]
    errors: list[BaseException] = []

    def search() -> None:
        try:
            for _ in range(30):
                _, ids = index.search(probes, k=3)
                assert (ids[:, 0] == np.arange(5)).all()
        except BaseException as exc:
            errors.append(exc)

    reader = threading.Thread(target=search)
    reader.start()
    for batch in range(10):
        first = 100 + 50 * batch
        index.add(
            [random_finger(s) for s in range(first, first + 50)], ids=range(first, first + 50)
        )
    reader.join()
    assert not errors
    assert len(index) == 540


def test_read_write_lock_excludes_writers() -> None:
    lock = ReadWriteLock()
    inside: list[str] = []
    entered = threading.Event()

    def write() -> None:
        with lock.writing():
            inside.append("writer")

    with lock.reading():
        writer = threading.Thread(target=lambda: (entered.set(), write()))
        writer.start()
        entered.wait()
        writer.join(0.2)
        assert inside == []  # the writer waits for the reader
    writer.join()
    assert inside == ["writer"]


def _reference_votes(index, votes, labels, geometry, probe_codes, k):
    """The vote count as numpy computed it before it went native (two lexsorted pose grids)."""
    from afis.index import candidate as c

    valid = labels >= 0
    row = np.broadcast_to(np.arange(len(labels))[:, None], labels.shape)[valid]
    label, vote = labels[valid], votes[valid]
    keep = vote > 0
    row, label, vote = row[keep], label[keep], vote[keep]
    slot = label >> c._SLOT_SHIFT
    gx = ((label >> c._X_SHIFT) & c._COORD_MASK).astype(np.float32) * c._COORD_STEP
    gy = ((label >> c._Y_SHIFT) & c._COORD_MASK).astype(np.float32) * c._COORD_STEP
    ga = (label & c._ANGLE_MASK).astype(np.float32) * np.float32(c.TWO_PI / c._ANGLE_LEVELS)
    px, py, pa = geometry[row, 0], geometry[row, 1], geometry[row, 2]
    turn = np.mod(ga - pa + np.float32(np.pi), c.TWO_PI) - np.float32(np.pi)
    near = np.abs(turn) <= index.options.max_rotation
    row, slot, vote, turn = row[near], slot[near], vote[near], turn[near]
    px, py, gx, gy = px[near], py[near], gx[near], gy[near]
    cos, sin = np.cos(turn), np.sin(turn)
    tx, ty = gx - (cos * px + sin * py), gy - (-sin * px + cos * py)
    best, owners = [], []
    for shift in (0.0, 0.5):
        rb = np.clip(
            np.floor(turn / index.options.rotation_bin + shift).astype(np.int64) + 64, 0, 127
        )
        xb = np.clip(
            np.floor(tx / index.options.translation_bin + shift).astype(np.int64) + 512, 0, 1023
        )
        yb = np.clip(
            np.floor(ty / index.options.translation_bin + shift).astype(np.int64) + 512, 0, 1023
        )
        cell = (slot << 27) | (rb << 20) | (xb << 10) | yb
        order = np.lexsort((-vote, cell, row))
        r_o, c_o, v_o = row[order], cell[order], vote[order]
        first = np.ones(len(r_o), bool)
        first[1:] = (r_o[1:] != r_o[:-1]) | (c_o[1:] != c_o[:-1])
        cells, inverse = np.unique(c_o[first], return_inverse=True)
        best.append(np.bincount(inverse, weights=v_o[first]).astype(np.float32))
        owners.append(cells >> 27)
    fingers, inverse = np.unique(np.concatenate(owners), return_inverse=True)
    total = np.zeros(len(fingers), np.float32)
    np.maximum.at(total, inverse, np.concatenate(best))
    total /= np.sqrt(np.maximum(index._counts[fingers], 1).astype(np.float32) * probe_codes)
    top = np.lexsort((fingers, -total))[:k]
    return total[top], fingers[top]


def test_vote_count_matches_numpy_reference() -> None:
    index = CandidateIndex(IndexOptions(), threads=1)
    index.add([random_finger(s) for s in range(300)], ids=range(300))
    probes = [random_finger(s) for s in (3, 7, 11, 500)]
    codes, owner, geometry = index._encode(probes)
    queries = np.ascontiguousarray(codes).view(np.uint64)[:, 0]
    _, labels = index._scan_table().search(queries, 1, 200, 1)
    votes = np.random.default_rng(0).random(labels.shape).astype(np.float32)
    votes[:, ::7] = 0  # zero votes are skipped
    starts = np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=len(probes)))])
    best, slots = _core.aggregate_votes(
        votes, labels, geometry, starts, index._counts, _vote_layout(index.options), 25, 2
    )
    for p in range(len(probes)):
        rows = slice(starts[p], starts[p + 1])
        want_s, want_f = _reference_votes(
            index, votes[rows], labels[rows], geometry[rows], int(starts[p + 1] - starts[p]), 25
        )
        assert np.array_equal(slots[p, : len(want_f)], want_f)
        assert np.allclose(best[p, : len(want_s)], want_s, rtol=1e-6)
        assert (slots[p, len(want_f) :] == -1).all()


def test_vote_count_bad_input() -> None:
    index = CandidateIndex(IndexOptions(), threads=1)
    index.add([random_finger(s) for s in range(5)], ids=range(5))
    layout = _vote_layout(index.options)
    votes = np.ones((4, 3), np.float32)
    labels = np.zeros((4, 3), np.int64)
    geometry = np.zeros((4, 3), np.float32)
    counts = index._counts
    run = _core.aggregate_votes
    assert run(votes, labels, geometry, np.array([0, 4]), counts, layout, 2, 1)[1].shape == (1, 2)
    with pytest.raises(ValueError, match="starts must run from 0"):
        run(votes, labels, geometry, np.array([0, 3]), counts, layout, 2, 1)
    with pytest.raises(ValueError, match="non-decreasing"):
        run(votes, labels, geometry, np.array([0, 3, 2, 4]), counts, layout, 2, 1)
    with pytest.raises(ValueError, match="wrong shape"):
        run(votes, labels[:3], geometry, np.array([0, 4]), counts, layout, 2, 1)
    with pytest.raises(TypeError, match="wrong dtype"):
        run(votes.astype(np.float64), labels, geometry, np.array([0, 4]), counts, layout, 2, 1)
    with pytest.raises(ValueError, match="k must be"):
        run(votes, labels, geometry, np.array([0, 4]), counts, layout, -1, 1)
    with pytest.raises(ValueError, match=r"shifts must lie in 0\.\.62"):
        run(votes, labels, geometry, np.array([0, 4]), counts, {**layout, "x_shift": 64}, 2, 1)
    with pytest.raises(KeyError):
        run(votes, labels, geometry, np.array([0, 4]), counts, {}, 2, 1)
    with pytest.raises(ValueError, match="invalid vote layout"):
        run(
            votes, labels, geometry, np.array([0, 4]), counts, {**layout, "rotation_bin": 0.0}, 2, 1
        )
    # labels naming fingers the counts do not know are ignored, not read out of bounds
    far = np.full((4, 3), 1 << 40, np.int64)
    assert (run(votes, far, geometry, np.array([0, 4]), counts, layout, 2, 1)[1] == -1).all()


@pytest.fixture(scope="module")
def ivf_index() -> CandidateIndex:
    index = CandidateIndex(IndexOptions(nlist=8, nprobe=3), threads=1)
    fingers = [random_finger(s) for s in range(400)]
    index.train(fingers)
    index.add(fingers, ids=range(400))
    return index


def _probe_rows(index: CandidateIndex, seeds: tuple[int, ...]):
    codes, owner, geometry = index._encode([random_finger(s) for s in seeds])
    starts = np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=len(seeds)))])
    queries = np.ascontiguousarray(codes).view(np.uint64)[:, 0]
    return queries, starts.astype(np.int64), np.ascontiguousarray(geometry, np.float32)


@pytest.mark.parametrize("level", simd_levels())
@pytest.mark.parametrize("threads", [1, 2, 7])
@pytest.mark.parametrize(
    ("neighbours", "k", "floor"), [(1, 5, 0.0), (60, 30, 0.1), (5000, 400, 0.0)]
)
def test_search_votes_equals_scan_then_votes_then_count(
    level_cap,
    ivf_index: CandidateIndex,
    level: int,
    threads: int,
    neighbours: int,
    k: int,
    floor: float,
) -> None:
    """The one-pass search gives what the three steps give: the scan, the rank votes
    (numpy) and the vote count; a single probe (its codes shared among the threads) too."""
    from afis.index.candidate import _rank_votes

    _core._set_simd_limit(level)
    index = ivf_index
    table = index._scan_table()
    nprobe, compared = index._faiss.nprobe, index._scanned_per_code()
    counts, layout = index._counts, _vote_layout(index.options)
    for seeds in [(3, 7, 11, 500, 501), (502,)]:
        queries, starts, geometry = _probe_rows(index, seeds)
        distances, labels = table.search(queries, nprobe, neighbours, 1)
        votes = _rank_votes(distances, compared, 64, floor)
        want_s, want_f = _core.aggregate_votes(
            votes, labels, geometry, starts, counts, layout, k, 1
        )
        got_s, got_f = table.search_votes(
            queries,
            starts,
            geometry,
            counts,
            layout,
            nprobe,
            neighbours,
            compared,
            floor,
            k,
            threads,
        )
        assert np.array_equal(got_f, want_f)
        assert np.array_equal(got_s, want_s)
        assert (got_f[:, 0] >= 0).all()


def test_search_votes_bad_input(ivf_index: CandidateIndex) -> None:
    table = ivf_index._scan_table()
    queries, starts, geometry = _probe_rows(ivf_index, (1, 2))
    counts, layout = ivf_index._counts, _vote_layout(ivf_index.options)

    def run(**change):
        args = dict(
            queries=queries,
            starts=starts,
            geometry=geometry,
            counts=counts,
            layout=layout,
            nprobe=2,
            neighbours=10,
            compared=100.0,
            floor=0.0,
            k=5,
            threads=1,
        )
        args.update(change)
        return table.search_votes(**args)

    assert run()[1].shape == (2, 5)
    with pytest.raises(TypeError, match="queries must be"):
        run(queries=queries.astype(np.int64))
    with pytest.raises(ValueError, match="wrong shape"):
        run(geometry=geometry[:-1])
    with pytest.raises(ValueError, match="starts must run from 0"):
        run(starts=starts[:-1])
    with pytest.raises(ValueError, match="neighbours must be"):
        run(neighbours=0)
    with pytest.raises(ValueError, match="nprobe must be positive"):
        run(nprobe=0)
    with pytest.raises(ValueError, match="k must be"):
        run(k=-1)
    with pytest.raises(ValueError, match="compared must be finite"):
        run(compared=float("nan"))
    with pytest.raises(ValueError, match="invalid vote layout"):
        run(layout={**layout, "translation_bin": -1.0})
    # a table of fewer slots than the labels name: those fingers are ignored, not read
    assert (run(counts=counts[:0])[1] == -1).all()
    assert run(k=0)[0].shape == (2, 0)


def test_joint_indexes_vote_as_one_index() -> None:
    """Two indexes sharing their centroids, searched jointly, give exactly what one index of
    all their fingers gives; searched apart with the summed histograms' vote tables, their
    lists merge to it too (the sharded people gallery's protocol)."""
    from afis.index import JointIndexes
    from afis.synth import Population

    fingers = Population(seed=8).impressions(range(80), 0).templates()
    probes = Population(seed=8).impressions([3, 41, 77], 1).templates()
    options = IndexOptions.preset("small", nlist=4, nprobe=2)
    whole = CandidateIndex(options)
    whole.add(fingers, ids=range(80))
    parts = []
    for ids in (range(0, 50), range(50, 80)):
        part = CandidateIndex(options)
        part.set_centroids(whole.centroids)
        part.add([fingers[i] for i in ids], ids=ids)
        parts.append(part)
    one = JointIndexes([whole]).search(probes, k=30)
    joint = JointIndexes(parts).search(probes, k=30)
    assert np.array_equal(joint[1], one[1]) and np.array_equal(joint[0], one[0])
    assert one[1][:, 0].tolist() == [3, 41, 77]
    # apart: histograms summed, vote tables shared, lists merged by score then id
    alone = [JointIndexes([p]) for p in parts]
    rows = [np.concatenate(a.histograms(probes)) for a in alone]
    tables = _core.vote_tables(rows[0] + rows[1], options.neighbours, options.similarity_floor)
    lists = [a.search(probes, k=30, tables=tables) for a in alone]
    s_all = np.concatenate([s for s, _ in lists], axis=1)
    i_all = np.concatenate([i for _, i in lists], axis=1)
    order = np.lexsort((i_all, -np.where(i_all >= 0, s_all, -np.inf)), axis=1)[:, :30]
    got = np.take_along_axis(i_all, order, axis=1)
    assert np.array_equal(got, one[1])
    # a tombstone (count 0) takes the finger out
    counts = [p._counts.copy() for p in parts]
    counts[0][list(parts[0].ids).index(3)] = 0
    assert 3 not in JointIndexes(parts, counts).search(probes, k=30)[1]


def test_merged_index_searches_as_its_parts_jointly(tmp_path) -> None:
    """An index merged from parts' stored codes (some fingers dropped) is searched exactly as
    parts holding only the kept fingers, searched jointly (scores and ids, every probe), in
    memory and saved and memory-mapped again; its lists stay in slot order."""
    from afis.index import JointIndexes
    from afis.synth import Population

    fingers = Population(seed=8).impressions(range(90), 0).templates()
    probes = Population(seed=8).impressions([3, 41, 77, 60, 12], 1).templates()
    options = IndexOptions.preset("small", nlist=4, nprobe=2)
    first = CandidateIndex(options)
    first.add(fingers[:40], ids=range(40))
    parts = [first]
    for ids in (range(40, 70), range(70, 90)):
        part = CandidateIndex(options)
        part.set_centroids(first.centroids)
        part.add([fingers[i] for i in ids], ids=ids)
        parts.append(part)
    parts[1].remove([45])  # removed before: never kept
    keep = [np.ones(len(p._ids), bool) for p in parts]
    keep[0][[3, 7]] = False
    keep[2][:] = False
    keep[2][[0, 5]] = True
    # the same as parts built of the kept fingers alone (their codes are not scanned)
    alone = []
    for k, part in zip(keep, parts, strict=True):
        ids = [int(i) for i in part._ids[k & (part._ids >= 0)]]
        fresh = CandidateIndex(options)
        fresh.set_centroids(first.centroids)
        fresh.add([fingers[i] for i in ids], ids=ids)
        alone.append(fresh)
    expected = JointIndexes(alone).search(probes, k=25)
    counts = [np.where(k, p._counts, 0) for k, p in zip(keep, parts, strict=True)]
    merged = CandidateIndex.merged(parts, keep)
    assert len(merged) == 40 - 2 + 30 - 1 + 2
    assert 3 not in merged and 45 not in merged and 70 in merged and 71 not in merged
    assert merged.codes == sum(int(c.sum()) for c in counts)
    for index in (merged, None):
        if index is None:
            merged.save(tmp_path / "merged")
            index = CandidateIndex.load(tmp_path / "merged")
        got = JointIndexes([index]).search(probes, k=25)
        assert np.array_equal(got[1], expected[1]) and np.array_equal(got[0], expected[0])
        assert JointIndexes([index]).slot_ordered
    assert got[1][0, 0] != 3 and got[1][1, 0] == 41
    # a merged index takes new fingers like any other
    merged.add([fingers[3]], ids=[3])
    assert merged.search([probes[0]], k=1)[1][0, 0] == 3
    # all parts' fingers by default; one-list parts need not share their centroid
    assert len(CandidateIndex.merged(parts)) == 89
    small = IndexOptions.preset("small")
    a, b = CandidateIndex(small), CandidateIndex(small)
    a.add(fingers[:5], ids=range(5))
    b.add(fingers[5:9], ids=range(5, 9))
    assert len(CandidateIndex.merged([a, b, CandidateIndex(small)])) == 9
    assert len(CandidateIndex.merged([CandidateIndex(small)])) == 0


def test_merged_index_bad_input() -> None:
    from afis.synth import Population

    fingers = Population(seed=8).impressions(range(20), 0).templates()
    options = IndexOptions.preset("small", nlist=2, nprobe=2)
    a, b = CandidateIndex(options), CandidateIndex(options)
    a.add(fingers[:10], ids=range(10))
    b.add(fingers[10:], ids=range(10, 20))  # its own centroids
    with pytest.raises(ValueError, match="other centroids"):
        CandidateIndex.merged([a, b])
    with pytest.raises(ValueError, match="other options"):
        CandidateIndex.merged([a, CandidateIndex(IndexOptions.preset("small", nlist=2, nprobe=1))])
    with pytest.raises(TypeError, match="non-empty sequence of CandidateIndex"):
        CandidateIndex.merged([])
    with pytest.raises(TypeError, match="non-empty sequence of CandidateIndex"):
        CandidateIndex.merged([a, "b"])
    with pytest.raises(ValueError, match="one bool array per part"):
        CandidateIndex.merged([a], [np.ones(9, bool)])
    with pytest.raises(ValueError, match="one bool array per part"):
        CandidateIndex.merged([a], [np.ones(10, np.int8)])
    with pytest.raises(ValueError, match="one bool array per part"):
        CandidateIndex.merged([a], [])


def test_joint_indexes_search_a_prefix_of_slots() -> None:
    """``limits`` searches each probe among the first fingers alone: exactly what the joint
    indexes of only those fingers (same centroids) give, inside the first index or the
    second, several coarse lists visited; a limit of 0 finds nothing."""
    from afis.index import JointIndexes
    from afis.synth import Population

    fingers = Population(seed=8).impressions(range(80), 0).templates()
    probes = Population(seed=8).impressions([3, 41, 77], 1).templates()
    options = IndexOptions.preset("small", nlist=4, nprobe=2)
    whole = CandidateIndex(options)
    whole.add(fingers, ids=range(80))

    def index_of(ids: range) -> CandidateIndex:
        part = CandidateIndex(options)
        part.set_centroids(whole.centroids)
        part.add([fingers[i] for i in ids], ids=ids)
        return part

    joint = JointIndexes([index_of(range(0, 50)), index_of(range(50, 80))])
    assert joint.slot_ordered
    assert joint.codes_before(np.array([0, 80])).tolist() == [0, joint.codes]
    for limit, alone in ((20, [range(0, 20)]), (65, [range(0, 50), range(50, 65)])):
        expected = JointIndexes([index_of(ids) for ids in alone]).search(probes, k=30)
        got = joint.search(probes, k=30, limits=np.full(3, limit))
        width = expected[1].shape[1]  # k is capped at the fingers held
        assert np.array_equal(got[1][:, :width], expected[1]) and (got[1][:, width:] == -1).all()
        assert np.array_equal(got[0][:, :width], expected[0])
    mixed = joint.search(probes, k=30, limits=np.array([80, 0, 42]))
    assert mixed[1][0, 0] == 3 and (mixed[1][1] == -1).all() and mixed[1][2].max() < 42
    # per-probe neighbours: the same as one search per probe with its own
    each = joint.search(probes, k=30, neighbours=np.array([50, 400, 2000]))
    for n, value in enumerate((50, 400, 2000)):
        alone_n = joint.search(probes[n : n + 1], k=30, neighbours=value)
        assert np.array_equal(each[1][n], alone_n[1][0])
    with pytest.raises(ValueError, match="limits"):
        joint.search(probes, k=3, limits=np.array([1, 2]))
    with pytest.raises(ValueError, match="negative"):
        joint.search(probes, k=3, limits=np.array([1, -2, 3]))
    with pytest.raises(ValueError, match="neighbours"):
        joint.search(probes, k=3, neighbours=np.array([1, 2]))
    # lists out of slot order cannot be cut to a prefix: refused, natively too
    centroids, codes, labels = _random_lists(5, 1, [30])
    backwards = _core.HammingLists(
        centroids, codes, [np.ascontiguousarray(lab[::-1] << 28) for lab in labels]
    )
    assert not backwards.slot_ordered(28)
    layout = dict(
        slot_shift=28,
        x_shift=18,
        y_shift=8,
        coord_mask=1023,
        angle_mask=255,
        coord_step=4.0,
        angle_step=0.0245,
        max_rotation=1.0,
        rotation_bin=0.5,
        translation_bin=48.0,
    )
    args = (
        np.zeros(2, np.uint64),
        np.array([0, 2], np.int64),
        np.zeros((2, 3), np.float32),
        np.ones(40, np.int32),
        np.arange(40, dtype=np.int64),
        layout,
        1,
        10,
        0.0,
        5,
        1,
    )
    with pytest.raises(ValueError, match="slot order"):
        backwards.search_table_votes(*args, limits=np.array([3, 3], np.int64))
    with pytest.raises(ValueError, match="negative"):
        backwards.search_table_votes(*args, limits=np.array([-1, 3], np.int64))
    with pytest.raises(ValueError, match="neighbours"):
        backwards.search_table_votes(*args, row_neighbours=np.array([0, 3], np.int32))
    with pytest.raises(ValueError, match="shape"):
        backwards.search_table_votes(*args, limits=np.array([3], np.int64))


def test_joint_indexes_bad_input() -> None:
    from afis.index import JointIndexes
    from afis.synth import Population

    fingers = Population(seed=9).impressions(range(30), 0).templates()
    a = CandidateIndex(IndexOptions.preset("small", nlist=2, nprobe=2))
    a.add(fingers[:15], ids=range(15))
    b = CandidateIndex(IndexOptions.preset("small", nlist=2, nprobe=2))
    b.add(fingers[15:], ids=range(15, 30))  # its own centroids
    with pytest.raises(TypeError, match="CandidateIndex"):
        JointIndexes([a, "b"])
    with pytest.raises(TypeError):
        JointIndexes([])
    with pytest.raises(ValueError, match="centroids"):
        JointIndexes([a, b])
    with pytest.raises(ValueError, match="options"):
        JointIndexes([a, CandidateIndex(IndexOptions.preset("small", nlist=2, nprobe=1))])
    with pytest.raises(ValueError, match="counts"):
        JointIndexes([a], [np.zeros(3, np.int32)])
    with pytest.raises(ValueError, match="tables"):
        JointIndexes([a]).search(fingers[:1], k=3, tables=np.zeros((2, 65), np.float32))
    with pytest.raises(TypeError):
        _core.HammingLists.joint([a._scan_table(), 5], np.zeros(2, np.int64))
    with pytest.raises(ValueError):
        _core.HammingLists.joint([a._scan_table()], np.zeros(2, np.int64))
    with pytest.raises(ValueError, match="negative"):
        _core.vote_tables(np.full((1, 65), -1, np.int64), 10, 0.0)
    with pytest.raises((ValueError, TypeError)):
        _core.vote_tables(np.zeros((1, 64), np.int64), 10, 0.0)


def test_vote_tables_rank_votes() -> None:
    """Distances up to the first that reaches `neighbours` codes vote log(C / r) / log(C) -
    floor (r: codes that near or nearer, C: codes scanned); farther ones 0."""
    hist = np.zeros((1, 65), np.int64)
    hist[0, [0, 3, 5]] = [1, 2, 10]  # 13 codes scanned
    votes = _core.vote_tables(hist, 3, 0.0)[0]
    c = np.log(13)
    assert votes[0] == pytest.approx(1.0)
    assert votes[3] == pytest.approx(np.log(13 / 3) / c)
    assert (votes[4:] == 0).all()
    floored = _core.vote_tables(hist, 3, 0.5)[0]
    assert floored[3] == pytest.approx(max(np.log(13 / 3) / c - 0.5, 0.0))
    assert (_core.vote_tables(np.zeros((2, 65), np.int64), 5, 0.0) == 0).all()
