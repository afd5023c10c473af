"""The pairwise matcher: scores, symmetry, one-to-many and galleries."""

from __future__ import annotations

import doctest
import zlib

import numpy as np
import pytest

import afis
import afis.match
from afis import Gallery, Matcher, Template, TemplateError, compare
from afis.template import MinutiaType


def _random_template(seed: int, n: int = 40, size: int = 400) -> Template:
    rng = np.random.default_rng(seed)
    return Template(
        width=size,
        height=size,
        resolution=500.0,
        source_resolution=500.0,
        x=rng.integers(40, size - 40, n),
        y=rng.integers(40, size - 40, n),
        direction=rng.uniform(0, 2 * np.pi, n),
        type=rng.integers(1, 3, n),
        quality=np.full(n, 80),
        image_quality=80,
    )


def _moved(
    t: Template, angle: float, shift: tuple[float, float], seed: int, keep: float = 1.0
) -> Template:
    """``t`` rotated about its centre, shifted, with a share of minutiae kept (seeded)."""
    rng = np.random.default_rng(seed)
    cx, cy = t.width / 2, t.height / 2
    x, y = t.x.astype(float) - cx, t.y.astype(float) - cy
    # Template angles are counter-clockwise with y up; in image axes (y down) a
    # counter-clockwise turn by `angle` maps (x, y) -> (x cos + y sin, -x sin + y cos).
    c, s = np.cos(angle), np.sin(angle)
    nx, ny = c * x + s * y + cx + shift[0], -s * x + c * y + cy + shift[1]
    keep_mask = rng.random(len(t)) < keep
    inside = (nx >= 0) & (ny >= 0) & (nx < t.width) & (ny < t.height) & keep_mask
    return Template(
        width=t.width,
        height=t.height,
        resolution=t.resolution,
        source_resolution=t.source_resolution,
        x=np.rint(nx[inside]).astype(int),
        y=np.rint(ny[inside]).astype(int),
        direction=(t.direction[inside] + angle) % (2 * np.pi),
        type=t.type[inside],
        quality=t.quality[inside],
        image_quality=t.image_quality,
    )


def test_score_is_symmetric_and_bounded():
    for seed in range(5):
        a, b = _random_template(seed), _random_template(seed + 100)
        s = compare(a, b)
        assert s == compare(b, a)
        assert 0.0 <= s <= 1.0


def test_a_template_matches_itself_far_better_than_another():
    a, b = _random_template(1), _random_template(2)
    assert compare(a, a) > 0.5
    assert compare(a, a) > 5 * compare(a, b)


@pytest.mark.parametrize("angle", [0.0, 0.4, -0.6, 1.0])
def test_score_survives_rotation_and_translation(angle):
    # MCC pairs minutiae only when their directions differ by at most 90 degrees, so it
    # tolerates the rotations of upright captures, not prints turned upside down.
    a = _random_template(7)
    moved = _moved(a, angle, (12.0, -9.0), seed=3)
    impostor = _random_template(8)
    assert compare(a, moved) > 4 * compare(a, impostor)


def test_empty_templates_score_zero():
    empty = Template.empty(300, 300)
    assert compare(empty, empty) == 0.0
    assert compare(empty, _random_template(3)) == 0.0
    assert compare(_random_template(3), empty) == 0.0


def test_single_minutia_templates_score_zero_without_error():
    one = Template(
        width=100, height=100, resolution=500.0, source_resolution=500.0,
        x=[50], y=[50], direction=[1.0], type=[MinutiaType.ENDING], quality=[90], image_quality=50,
    )  # fmt: skip
    assert compare(one, one) == 0.0


def test_wrong_types_are_refused():
    with pytest.raises(TypeError, match=r"afis\.Template"):
        compare(_random_template(1), b"not a template")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Matcher(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_compare_many_equals_pairwise_scores(threads):
    probe = _random_template(11)
    gallery_templates = [_random_template(s) for s in range(20, 30)] + [
        probe,
        Template.empty(80, 80),
    ]
    scores = Matcher(probe).compare_many(Gallery.from_templates(gallery_templates), threads=threads)
    assert scores.dtype == np.float32
    expected = [compare(probe, t) for t in gallery_templates]
    np.testing.assert_array_equal(scores, np.asarray(expected, np.float32))
    assert int(np.argmax(scores)) == len(gallery_templates) - 2  # the probe itself


def test_compare_many_accepts_a_list_of_templates():
    probe = _random_template(5)
    scores = Matcher(probe).compare_many([probe, _random_template(6)])
    assert scores.shape == (2,) and scores[0] > scores[1]


def test_empty_gallery_gives_no_scores():
    assert Matcher(_random_template(1)).compare_many(Gallery.from_templates([])).shape == (0,)


@pytest.mark.parametrize("mmap", [True, False])
def test_gallery_round_trips_through_a_folder(tmp_path, mmap):
    templates = [_random_template(s) for s in range(5)]
    Gallery.from_templates(templates).save(tmp_path / "g")
    loaded = Gallery.load(tmp_path / "g", mmap=mmap)
    assert len(loaded) == 5
    probe = Matcher(templates[2])
    np.testing.assert_array_equal(
        probe.compare_many(loaded), probe.compare_many(Gallery.from_templates(templates))
    )


def test_corrupt_gallery_folders_are_refused(tmp_path):
    Gallery.from_templates([_random_template(s) for s in range(3)]).save(tmp_path / "g")
    with pytest.raises(TemplateError, match="not a gallery folder"):
        Gallery.load(tmp_path / "missing")
    offsets = np.load(tmp_path / "g" / "offsets.npy")
    np.save(tmp_path / "g" / "offsets.npy", offsets[:-1])
    with pytest.raises(TemplateError):
        Gallery.load(tmp_path / "g")
    (tmp_path / "g" / "gallery.json").write_text('{"format": "something-else"}')
    with pytest.raises(TemplateError, match="not an nusafis gallery"):
        Gallery.load(tmp_path / "g")


def test_native_compare_many_refuses_inconsistent_arrays():
    from afis._native import _core

    gallery = Gallery.from_templates([_random_template(s) for s in range(3)]).arrays
    probe = afis.match._cylinders(_random_template(9))
    bad_offsets = gallery["offsets"].copy()
    bad_offsets[1] = 10**9
    with pytest.raises(ValueError, match="offsets"):
        _core.compare_many(
            probe,
            bad_offsets,
            gallery["minutiae"],
            gallery["bits"],
            gallery["valid"],
            gallery["usable"],
            1,
        )
    doubles = gallery["minutiae"].astype(np.float64)
    rest = (gallery["bits"], gallery["valid"], gallery["usable"], 1)
    with pytest.raises(TypeError):
        _core.compare_many(probe, gallery["offsets"], doubles, *rest)


def test_compare_many_rows_read_in_place():
    """``rows`` scores exactly what a copied subset scores (order, repeats) and refuses rows
    outside the gallery or of the wrong type, in Python and natively."""
    from afis._native import _core

    gallery = Gallery.from_templates([_random_template(s) for s in range(6)])
    matcher = afis.Matcher(_random_template(2))
    for rows in ([5, 0, 2, 2], [], [3]):
        want = matcher.compare_many(gallery.subset(rows), threads=1)
        got = matcher.compare_many(gallery, rows=rows, threads=2)
        assert np.array_equal(got, want)
    assert np.array_equal(
        matcher.compare_many(gallery, rows=np.arange(6)), matcher.compare_many(gallery)
    )
    with pytest.raises(IndexError, match="6 templates"):
        matcher.compare_many(gallery, rows=[6])
    with pytest.raises(IndexError, match="6 templates"):
        matcher.compare_many(gallery, rows=[-1])
    with pytest.raises(TypeError, match="integers"):
        matcher.compare_many(gallery, rows=[0.5])
    a = gallery.arrays
    args = (a["offsets"], a["minutiae"], a["bits"], a["valid"], a["usable"], 1)
    probe = afis.match._cylinders(_random_template(2))
    with pytest.raises(ValueError, match="rows must index"):
        _core.compare_many(probe, *args, np.array([7], np.int64))
    with pytest.raises(ValueError, match="1-D"):
        _core.compare_many(probe, *args, np.zeros((1, 1), np.int64))
    with pytest.raises(TypeError):
        _core.compare_many(probe, *args, np.array([1.0]))


def test_genuine_pair_scores_above_impostor_pair(datasets_root):
    root = datasets_root / "sourceafis_java_testresources"
    probe = afis.extract(root / "probe.png")
    matching = afis.extract(root / "matching.png")
    nonmatching = afis.extract(root / "nonmatching.png")
    assert compare(probe, matching) > 2 * compare(probe, nonmatching)


def test_doctests_pass():
    assert doctest.testmod(afis.match).failed == 0


# --- thresholds and robustness ---------------------------------------------------------------


def test_thresholds_grow_as_the_false_match_rate_falls():
    rates = [1e-1, 1e-2, 1e-3, 1e-4]
    thresholds = [afis.threshold_for_fmr(r) for r in rates]
    assert thresholds == sorted(thresholds)
    assert thresholds[0] < thresholds[-1]
    between = afis.threshold_for_fmr(3e-3)
    assert thresholds[1] <= between <= thresholds[2]


@pytest.mark.parametrize("fmr", [0.0, 1e-9, 0.5, float("nan"), -1e-3])
def test_threshold_outside_the_calibrated_range_is_refused(fmr):
    with pytest.raises(ValueError, match="calibrated range"):
        afis.threshold_for_fmr(fmr)


def test_threshold_needs_a_number():
    with pytest.raises(TypeError):
        afis.threshold_for_fmr("1e-3")  # type: ignore[arg-type]


def _crop(t: Template, share: float, seed: int) -> Template:
    """Keep the minutiae inside a window of ``share`` of the area, placed at random (seeded)."""
    rng = np.random.default_rng(seed)
    side = np.sqrt(share)
    w, h = t.width * side, t.height * side
    x0, y0 = rng.uniform(0, t.width - w), rng.uniform(0, t.height - h)
    inside = (t.x >= x0) & (t.x < x0 + w) & (t.y >= y0) & (t.y < y0 + h)
    return Template(
        width=t.width, height=t.height, resolution=t.resolution,
        source_resolution=t.source_resolution, x=t.x[inside], y=t.y[inside],
        direction=t.direction[inside], type=t.type[inside], quality=t.quality[inside],
        image_quality=t.image_quality,
    )  # fmt: skip


@pytest.fixture(scope="module")
def sample_templates() -> list[Template]:
    from pathlib import Path

    samples = Path(__file__).resolve().parent.parent / "datasets" / "samples"
    return [afis.extract(p) for p in sorted(samples.glob("sample_*.png"))]


@pytest.mark.parametrize("seed", range(6))
def test_a_moved_cropped_thinned_template_still_matches_itself(sample_templates, seed):
    rng = np.random.default_rng(seed)
    original = sample_templates[seed % len(sample_templates)]
    angle = float(rng.uniform(-0.5, 0.5))
    shift = (float(rng.uniform(-20, 20)), float(rng.uniform(-20, 20)))
    degraded = _crop(_moved(original, angle, shift, seed=seed, keep=0.9), 0.6, seed=seed)
    assert len(degraded) >= 8
    assert compare(original, degraded) >= afis.threshold_for_fmr(1e-4)


def test_a_template_with_huge_minutiae_counts_compares_promptly():
    # The format allows 65,535 minutiae; the matcher uses the 200 of highest quality.
    rng = np.random.default_rng(4)
    n = 20000
    crowded = Template(
        width=2000, height=2000, resolution=500.0, source_resolution=500.0,
        x=rng.integers(0, 2000, n), y=rng.integers(0, 2000, n),
        direction=rng.uniform(0, 2 * np.pi, n), type=rng.integers(1, 3, n),
        quality=rng.integers(0, 101, n), image_quality=50,
    )  # fmt: skip
    score = compare(crowded, _random_template(1))
    assert 0.0 <= score <= 1.0


def test_native_cylinders_refuse_oversized_or_bad_input():
    from afis._native import _core

    big = np.zeros(1001, np.float32)
    with pytest.raises(ValueError, match="at most 1000"):
        _core.Cylinders(big, big, big)
    with pytest.raises(ValueError, match="equal length"):
        _core.Cylinders(np.zeros(3, np.float32), np.zeros(2, np.float32), np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="finite"):
        _core.Cylinders(
            np.array([np.nan], np.float32), np.zeros(1, np.float32), np.zeros(1, np.float32)
        )


@pytest.mark.parametrize(
    ("threads", "error"), [(0, ValueError), (-2, ValueError), (True, TypeError), (1.5, TypeError)]
)
def test_bad_thread_counts_are_refused(threads, error):
    templates = [_random_template(1), _random_template(2)]
    with pytest.raises(error, match="threads"):
        Gallery.from_templates(templates, threads=threads)
    with pytest.raises(error, match="threads"):
        Matcher(templates[0]).compare_many(Gallery.from_templates(templates), threads=threads)


def test_matcher_from_gallery_scores_like_one_built_from_the_template():
    from afis.synth import Population

    templates = Population(11).impressions(range(12), 0).templates()
    gallery = Gallery.from_templates(templates)
    for i in (0, 7, 11):
        assert np.array_equal(
            Matcher.from_gallery(gallery, i).compare_many(gallery),
            Matcher(templates[i]).compare_many(gallery),
        )
    with pytest.raises(IndexError, match="out of range"):
        Matcher.from_gallery(gallery, 12)
    with pytest.raises(TypeError, match="Gallery"):
        Matcher.from_gallery(templates, 0)  # type: ignore[arg-type]
    corrupt = dict(gallery.arrays)
    corrupt["minutiae"] = corrupt["minutiae"].copy()
    corrupt["minutiae"][int(corrupt["offsets"][3])] = (np.nan, 1.0, 0.0)
    with pytest.raises(TemplateError, match="gallery template 3: minutiae out of bounds"):
        Matcher.from_gallery(Gallery(corrupt), 3)


def test_gallery_subset_copies_exactly_the_rows_asked_for() -> None:
    templates = [_random_template(s, n=20 + s) for s in range(6)]
    gallery = Gallery.from_templates(templates)
    probe = Matcher(_random_template(99))
    full = probe.compare_many(gallery)
    rows = [4, 0, 4, 2]  # any order, repeats allowed
    subset = gallery.subset(rows)
    assert len(subset) == 4 and subset.minutiae == sum(len(templates[r]) for r in rows)
    assert np.array_equal(probe.compare_many(subset), full[rows])
    assert len(gallery.subset([])) == 0
    with pytest.raises(IndexError, match="6 templates"):
        gallery.subset([6])
    with pytest.raises(IndexError):
        gallery.subset([-1])


def test_reranker_scores_and_ranks_by_id() -> None:
    templates = [_random_template(s) for s in range(8)]
    gallery = Gallery.from_templates(templates)
    ids = [70, 10, 50, 30, 60, 20, 40, 80]  # unsorted on purpose
    reranker = afis.Reranker(gallery, ids)
    assert reranker.rows([30, 99, 70, -5]).tolist() == [3, -1, 0, -1]
    probe = _random_template(3)  # template of id 30
    scores = reranker.scores(probe, [30, 99, 10])
    expected = Matcher(probe).compare_many(gallery)
    assert scores[0] == expected[3] and scores[1] == 0.0 and scores[2] == expected[1]
    ranked, ranked_scores = reranker.rank(probe, [10, 99, 30, 20])
    assert ranked[0] == 30 and 99 not in ranked.tolist() and len(ranked) == 3
    assert np.all(np.diff(ranked_scores) <= 0)
    same = afis.Reranker(Gallery.from_templates([templates[0]] * 3), [5, 3, 4])
    assert same.rank(probe, [5, 4, 3])[0].tolist() == [3, 4, 5]  # ties by id
    from_gallery = reranker.matcher(probe, probe_id=30)
    assert from_gallery.probe is None  # cylinders taken from the gallery, not rebuilt
    assert np.array_equal(from_gallery.compare_many(gallery), expected)
    assert reranker.matcher(probe, probe_id=99).probe is probe


def test_reranker_refuses_bad_ids_and_handles_an_empty_gallery() -> None:
    gallery = Gallery.from_templates([_random_template(s) for s in range(3)])
    with pytest.raises(ValueError, match="unique"):
        afis.Reranker(gallery, [1, 1, 2])
    with pytest.raises(ValueError, match="3 ids"):
        afis.Reranker(gallery, [1, 2])
    with pytest.raises(TypeError, match="integers"):
        afis.Reranker(gallery, [1.5, 2.0, 3.0])
    with pytest.raises(TypeError, match=r"afis\.Gallery"):
        afis.Reranker([_random_template(0)], [0])  # type: ignore[arg-type]
    empty = afis.Reranker(Gallery.from_templates([]), [])
    assert empty.rows([5]).tolist() == [-1]
    ids, scores = empty.rank(_random_template(1), [5, 6])
    assert ids.size == 0 and scores.size == 0


def test_gallery_from_buffers_is_from_templates_of_parsed():
    """Preparing serialised templates directly gives the arrays of parsing each first, for
    templates that keep all their minutiae and those that keep only their best, empty ones,
    other resolutions; an invalid field or a broken buffer is refused as from_bytes does."""
    from afis.constants import MAX_MATCH_MINUTIAE

    rng = np.random.default_rng(3)
    templates = [_random_template(s) for s in range(5)]
    n = MAX_MATCH_MINUTIAE + 7
    templates.append(
        Template(
            width=400,
            height=400,
            resolution=1000.0,
            source_resolution=1000.0,
            image_quality=60,
            x=rng.integers(0, 400, n),
            y=rng.integers(0, 400, n),
            direction=rng.uniform(0, 6.28, n),
            type=np.ones(n, np.uint8),
            quality=rng.integers(1, 100, n),
        )
    )
    templates.append(Template.empty(60, 60))
    blobs = [t.to_bytes() for t in templates]
    for chosen in (blobs, blobs[:5], [blobs[6]], []):
        want = Gallery.from_templates([Template.from_bytes(b) for b in chosen]).arrays
        got = Gallery.from_buffers([np.frombuffer(b, np.uint8) for b in chosen]).arrays
        for name in want:
            assert np.array_equal(got[name], want[name]), name
    # a record whose x lies outside the grid: the CRC is right, the value is not
    bad = bytearray(blobs[0])
    header = int.from_bytes(bad[6:8], "little")  # after magic and version
    bad[header : header + 2] = (65535).to_bytes(2, "little")
    body = bytes(bad[:-4])
    bad[-4:] = zlib.crc32(body).to_bytes(4, "little")
    with pytest.raises(TemplateError, match="invalid template"):
        Gallery.from_buffers([blobs[1], bytes(bad)])
    with pytest.raises(TemplateError, match="CRC mismatch"):
        Gallery.from_buffers([blobs[0][:-1] + b"\x00"])
    with pytest.raises(TemplateError, match="truncated"):
        Gallery.from_buffers([blobs[0][:10]])
