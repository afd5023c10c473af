"""afis.synth: determinism, validation, shapes, and statistics against real FVC templates."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest

import afis
from afis.synth import PATTERN_CLASSES, PROFILES, Impressions, Population, SynthOptions
from afis.synth.stats import nearest_neighbour_distances, pair_scores

# ------------------------------------------------------------------------ determinism


def _rows(batch: Impressions) -> list[tuple[bytes, ...]]:
    """Per row: every array slice as bytes, so batches compare row by row."""
    out = []
    for i in range(len(batch)):
        sl = slice(batch.offsets[i], batch.offsets[i + 1])
        out.append(
            (
                int(batch.fingers[i]),
                int(batch.impressions[i]),
                int(batch.image_quality[i]),
                *(
                    getattr(batch, f)[sl].tobytes()
                    for f in ("x", "y", "direction", "type", "quality")
                ),
            )
        )
    return out


def test_same_seed_same_output_whatever_the_chunking_and_order() -> None:
    pop = Population(seed=42)
    whole = pop.impressions(range(60), impression=3)
    chunked = [row for b in pop.iter_impressions(range(60), 3, chunk_size=7) for row in _rows(b)]
    assert chunked == _rows(whole)
    threaded = pop.iter_impressions(range(60), 3, chunk_size=4, threads=3)
    assert [row for b in threaded for row in _rows(b)] == _rows(whole)
    order = np.random.default_rng(0).permutation(60)
    shuffled = Population(42).impressions(order, impression=3)
    by_finger = dict(zip(order.tolist(), _rows(shuffled), strict=True))
    assert [by_finger[f] for f in range(60)] == _rows(whole)
    # a finger alone, and masters alone, give the same as within a batch
    assert _rows(pop.impressions([17], 3))[0] == _rows(whole)[17]
    m_all, m_one = pop.masters(60), pop.masters([17])
    sl = slice(m_all.offsets[17], m_all.offsets[18])
    np.testing.assert_array_equal(m_all.x[sl], m_one.x)
    np.testing.assert_array_equal(m_all.direction[sl], m_one.direction)
    assert m_all.pattern[17] == m_one.pattern[0]


def test_seeds_and_impression_indices_give_different_output() -> None:
    a = Population(1).impressions(range(20), 0)
    b = Population(2).impressions(range(20), 0)
    c = Population(1).impressions(range(20), 1)
    assert _rows(a) != _rows(b)
    assert all(ra != rc for ra, rc in zip(_rows(a), _rows(c), strict=True))
    # very large seeds work and differ
    d = Population(2**100 + 1).impressions(range(20), 0)
    assert _rows(d) != _rows(a)


def test_chunked_batches_concatenate() -> None:
    # more fingers than one internal chunk (afis.synth.DEFAULT_CHUNK = 2048)
    pop = Population(5)
    big = pop.masters(np.arange(20000))
    assert len(big) == 20000 and big.offsets[-1] == big.x.size
    part = pop.masters(np.arange(19990, 20000))
    sl = slice(big.offsets[19990], big.offsets[20000])
    np.testing.assert_array_equal(big.x[sl], part.x)
    ss = slice(big.singular_offsets[19990], big.singular_offsets[20000])
    np.testing.assert_array_equal(big.singular_x[ss], part.singular_x)
    imp = pop.impressions(np.arange(17000), 2)
    assert imp.offsets[-1] == imp.x.size and len(imp) == 17000
    assert _rows(imp)[16990:] == _rows(pop.impressions(np.arange(16990, 17000), 2))


# ------------------------------------------------------------------- shapes and ranges


def test_impressions_are_valid_templates_on_the_grid() -> None:
    options = SynthOptions(width=300, height=420)
    batch = Population(3, options).impressions(range(200), impression=[1] * 200)
    assert len(batch) == 200 and batch.offsets.shape == (201,)
    assert np.all(np.diff(batch.offsets) >= 0) and batch.offsets[-1] == batch.x.size
    assert batch.x.dtype == np.uint16 and batch.direction.dtype == np.float32
    assert batch.x.max() < 300 and batch.y.max() < 420
    assert batch.direction.min() >= 0 and batch.direction.max() < 2 * math.pi
    assert set(np.unique(batch.type).tolist()) == {1, 2}
    assert batch.quality.max() <= 100 and batch.image_quality.max() <= 100
    # border: nothing reported within `border` pixels of the image edge
    assert batch.x.min() >= options.border - 1 and batch.y.min() >= options.border - 1
    templates = batch.templates()
    assert all(isinstance(t, afis.Template) for t in templates)
    for i in (0, 57, 199):
        t = templates[i]
        assert (t.width, t.height, t.resolution) == (300, 420, 500.0)
        assert t.finger_position == afis.FingerPosition(i % 10 + 1)
        sl = slice(batch.offsets[i], batch.offsets[i + 1])
        np.testing.assert_array_equal(t.x, batch.x[sl])
        np.testing.assert_array_equal(t.direction, batch.direction[sl])  # already on the grid
        assert afis.Template.from_bytes(t.to_bytes()) == t
    assert batch.template(-1) == templates[-1]
    counts = batch.counts()
    assert 25 <= np.median(counts) <= 60


def test_masters_statistics() -> None:
    options = SynthOptions()
    m = Population(9, options).masters(20000)
    n = len(m)
    # pattern classes in the configured proportions (4 binomial sigmas)
    shares = np.bincount(m.pattern, minlength=5) / n
    for share, p in zip(shares, options.pattern_proportions, strict=True):
        assert abs(share - p) < 4 * math.sqrt(p * (1 - p) / n) + 1e-9
    # singular points per class: arch none, tented arch and loops a core and a delta,
    # whorl two of each
    ns = np.diff(m.singular_offsets)
    expected = np.array([0, 2, 2, 2, 4])[m.pattern]
    np.testing.assert_array_equal(ns, expected)
    cores = np.add.reduceat(m.singular_type == afis.SingularType.CORE, m.singular_offsets[:-1])
    assert np.all(cores[ns > 0] == ns[ns > 0] // 2)
    # left loops have the delta right of the core, right loops left of it
    for cls, sign in ((2, 1), (3, -1)):
        rows = np.flatnonzero(m.pattern == cls)[:200]
        dx = m.singular_x[m.singular_offsets[rows] + 1] - m.singular_x[m.singular_offsets[rows]]
        assert np.mean(np.sign(dx) == sign) > 0.95
    # endings about half; masters bigger than impressions; spacing respected
    assert abs(np.mean(m.type == 1) - options.ending_fraction) < 0.01
    assert 50 < np.median(m.counts()) < 110
    for i in range(0, n, 2000):
        sl = slice(m.offsets[i], m.offsets[i + 1])
        p = np.c_[m.x[sl], m.y[sl]].astype(float)
        d = np.hypot(*(p[:, None] - p[None]).transpose(2, 0, 1))
        np.fill_diagonal(d, np.inf)
        assert d.min() >= options.min_distance - 1e-3
        a, b = m.semi_axes[i]
        assert np.all((p[:, 0] / a) ** 2 + (p[:, 1] / b) ** 2 <= 1 + 1e-6)
    t = m.template(0)
    assert t.finger_position == afis.FingerPosition.RIGHT_THUMB
    assert len(t.singular_x) == ns[0]


def _flow(
    x: np.ndarray, y: np.ndarray, d: np.ndarray, px: np.ndarray, py: np.ndarray
) -> np.ndarray:
    """Orientation at (px, py) estimated from minutiae (x, y, d) other than the one at the
    same index: doubled-angle Gaussian average, sigma 35 px."""
    w = np.exp(-((px[:, None] - x) ** 2 + (py[:, None] - y) ** 2) / (2 * 35.0**2))
    np.fill_diagonal(w, 0)
    return 0.5 * np.arctan2((w * np.sin(2 * d)).sum(1), (w * np.cos(2 * d)).sum(1))


def _converging_share(m) -> float:
    """Share of master minutiae pointing where the flow converges, by a field estimated from
    the minutiae themselves (divergence by differences 12 px either side across the
    ridges): independent of the generator's field."""
    shares = []
    for i in range(len(m)):
        a, b = m.offsets[i], m.offsets[i + 1]
        x, y = m.x[a:b].astype(float), -m.y[a:b].astype(float)  # y up, as directions
        d = m.direction[a:b].astype(float)
        theta = _flow(x, y, d, x, y)
        nx, ny = -12 * np.sin(theta), 12 * np.cos(theta)
        turn = _flow(x, y, d, x + nx, y + ny) - _flow(x, y, d, x - nx, y - ny)
        div = np.angle(np.exp(2j * turn))
        along = np.cos(d - theta)
        clear = (np.abs(along) > 0.7) & (np.abs(div) > 0.05)
        shares.append(((along > 0) != (div > 0))[clear])
    return float(np.concatenate(shares).mean())


def test_convergent_sense_turns_only_the_sense() -> None:
    pops = {q: Population(4, SynthOptions(convergent_sense=q)) for q in (0.0, 0.5, 1.0)}
    m = {q: pop.masters(range(200)) for q, pop in pops.items()}
    # the same darts and draws: positions equal, directions equal or opposite
    assert np.array_equal(m[0.0].x, m[1.0].x) and np.array_equal(m[0.0].y, m[1.0].y)
    turn = np.cos(m[0.0].direction.astype(float) - m[1.0].direction.astype(float))
    assert np.allclose(turn, -1.0, atol=1e-5)
    # and the sense follows the flow as asked (estimator measured 0.05 / 0.51 / 0.95)
    assert _converging_share(m[1.0]) > 0.85
    assert _converging_share(m[0.0]) < 0.15
    assert 0.4 < _converging_share(m[0.5]) < 0.6


def test_flow_density_gathers_minutiae_near_singular_points() -> None:
    def median_distance(m) -> float:
        near = []
        for i in range(len(m)):
            a, b = m.offsets[i], m.offsets[i + 1]
            c, e = m.singular_offsets[i], m.singular_offsets[i + 1]
            if e > c:
                dx = m.x[a:b, None] - m.singular_x[c:e]
                near.append(np.hypot(dx, m.y[a:b, None] - m.singular_y[c:e]).min(axis=1))
        return float(np.median(np.concatenate(near)))

    uniform = median_distance(Population(4, SynthOptions(flow_density=0.0)).masters(range(300)))
    gathered = median_distance(Population(4, SynthOptions(flow_density=30.0)).masters(range(300)))
    assert gathered < 0.85 * uniform  # measured 77 px against 108


def test_fingers_of_a_person_are_correlated() -> None:
    def same_class_share(correlation: float) -> float:
        m = Population(4, SynthOptions(person_correlation=correlation)).masters(20000)
        by_person = m.pattern.reshape(-1, 10)
        return float(np.mean(by_person[:, :, None] == by_person[:, None, :]))

    p = np.array(SynthOptions().pattern_proportions)
    independent = 0.1 + 0.9 * float(np.sum(p**2))  # the diagonal counts as equal
    assert abs(same_class_share(0.0) - independent) < 0.02
    assert same_class_share(1.0) == 1.0
    assert same_class_share(0.5) > independent + 0.1


def test_genuine_scores_above_impostor_without_datasets() -> None:
    pop = Population(8)
    a = pop.impressions(range(20), 0).templates()
    b = pop.impressions(range(20), 1).templates()
    genuine = [afis.compare(x, y) for x, y in zip(a, b, strict=True)]
    impostor = [afis.compare(x, y) for x, y in itertools.combinations(a, 2)]
    assert np.median(genuine) > 3 * np.percentile(impostor, 99)


def test_empty_and_profiles() -> None:
    pop = Population(0, PROFILES["fvc2000_db1"])
    empty = pop.impressions([])
    assert len(empty) == 0 and empty.offsets.tolist() == [0] and empty.templates() == []
    assert len(pop.masters(0)) == 0
    assert list(pop.iter_impressions([])) == []
    assert pop.impressions(3).template(0).width == 300
    assert set(PROFILES) == {"fvc2002_db1", "fvc2000_db1"}
    assert len(PATTERN_CLASSES) == 5


# ------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"width": 300.0}, TypeError, "width"),
        ({"width": True}, TypeError, "width"),
        ({"height": 10}, ValueError, "height"),
        ({"drop_rate": 1.5}, ValueError, "drop_rate"),
        ({"drop_rate": "0.1"}, TypeError, "drop_rate"),
        ({"min_distance": float("nan")}, ValueError, "min_distance"),
        ({"rotation_sd": -1}, ValueError, "rotation_sd"),
        ({"pattern_proportions": (0.2, 0.2, 0.2, 0.2, 0.1)}, ValueError, "sum to 1"),
        ({"pattern_proportions": (0.5, 0.5)}, TypeError, "pattern_proportions"),
        ({"pattern_proportions": (1.5, -0.5, 0, 0, 0)}, ValueError, "pattern_proportions"),
        ({"contact_scale": (0.9, 0.5)}, ValueError, "contact_scale"),
        ({"contact_scale": 0.5}, TypeError, "contact_scale"),
        ({"finger_semi_axes": (10.0, 200.0)}, ValueError, "finger_semi_axes"),
        ({"minutia_density": 4e-3}, ValueError, "master minutiae"),
        ({"border": None}, TypeError, "border"),
    ],
)
def test_options_are_validated(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        SynthOptions(**kwargs)


def test_options_are_frozen_and_normalised() -> None:
    o = SynthOptions(width=np.int64(320), drop_rate=0, contact_scale=[0.5, 0.9])
    assert o.width == 320 and type(o.width) is int and o.drop_rate == 0.0
    assert o.contact_scale == (0.5, 0.9)
    with pytest.raises(AttributeError):
        o.width = 10  # type: ignore[misc]


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: Population(-1), ValueError, "seed"),
        (lambda: Population("7"), TypeError, "seed"),
        (lambda: Population(True), TypeError, "seed"),
        (lambda: Population(1.5), TypeError, "seed"),
        (lambda: Population(1, options={"width": 3}), TypeError, "options"),
        (lambda: Population(1).impressions([-1]), ValueError, "fingers"),
        (lambda: Population(1).impressions([2**60]), ValueError, "fingers"),
        (lambda: Population(1).impressions([1.5]), TypeError, "fingers"),
        (lambda: Population(1).impressions([[1, 2]]), ValueError, "1-D"),
        (lambda: Population(1).impressions("abc"), TypeError, "fingers"),
        (lambda: Population(1).impressions(-3), ValueError, "fingers"),
        (lambda: Population(1).impressions(None), TypeError, "fingers"),
        (lambda: Population(1).impressions([1, 2], impression=[0]), ValueError, "one per"),
        (lambda: Population(1).impressions([1], impression=-1), ValueError, "impression"),
        (lambda: Population(1).impressions([1], impression=2**40), ValueError, "impression"),
        (lambda: Population(1).impressions([1], impression=True), TypeError, "impression"),
        (lambda: Population(1).masters(True), TypeError, "fingers"),
        (lambda: list(Population(1).iter_impressions(3, chunk_size=0)), ValueError, "chunk"),
        (lambda: list(Population(1).iter_impressions(3, chunk_size="2")), TypeError, "chunk"),
        (lambda: list(Population(1).iter_impressions(3, threads=0)), ValueError, "threads"),
        (lambda: Population(1).impressions(2).template(2), IndexError, "out of range"),
        (lambda: Population(1).impressions(2).template("0"), TypeError, "index"),
    ],
)
def test_bad_arguments_raise_clear_errors(call, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        call()


# ------------------------------------------------------- statistics against real FVC sets

# (FVC set, profile, bands): count and nearest-neighbour medians within a relative band of
# the real ones, the genuine median within a factor, the impostor 99th percentile within a
# relative band.
REAL_SETS = {
    "fvc2002/DB1_B": "fvc2002_db1",
    "fvc2000/DB1_B": "fvc2000_db1",
}
COUNT_BAND = 0.15
SPACING_BAND = 0.15
GENUINE_FACTOR = 1.3
IMPOSTOR_BAND = 0.25
SYNTH_FINGERS = 20
IMPRESSIONS = 8


def _summary(templates: list[afis.Template], fingers: list[int]) -> dict[str, float]:
    genuine, impostor = pair_scores(templates, fingers)
    return {
        "count": float(np.median([len(t) for t in templates])),
        "spacing": float(np.median(nearest_neighbour_distances(templates))),
        "genuine": float(np.median(genuine)),
        "impostor99": float(np.percentile(impostor, 99)),
    }


@pytest.mark.datasets
@pytest.mark.parametrize("name", list(REAL_SETS))
def test_statistics_match_real_templates(
    name: str, datasets_root: Path, fvc_manifest: dict
) -> None:
    files = sorted((datasets_root / name).glob("*.tif"))
    if not files:
        pytest.skip(f"{datasets_root / name} holds no FVC images")
    dpi = fvc_manifest["sets"][name]["dpi"]
    real = [afis.extract(afis.load_image(f, dpi=dpi)) for f in files]
    real_fingers = [int(f.stem.split("_")[0]) for f in files]
    pop = Population(2026, PROFILES[REAL_SETS[name]])
    synth, synth_fingers = [], []
    for k in range(IMPRESSIONS):
        synth += pop.impressions(range(SYNTH_FINGERS), k).templates()
        synth_fingers += list(range(SYNTH_FINGERS))
    r, s = _summary(real, real_fingers), _summary(synth, synth_fingers)
    report = f"{name}: real {r}, synthetic {s}"
    assert abs(s["count"] / r["count"] - 1) <= COUNT_BAND, report
    assert abs(s["spacing"] / r["spacing"] - 1) <= SPACING_BAND, report
    assert 1 / GENUINE_FACTOR <= s["genuine"] / r["genuine"] <= GENUINE_FACTOR, report
    assert abs(s["impostor99"] / r["impostor99"] - 1) <= IMPOSTOR_BAND, report
    assert s["genuine"] > 3 * s["impostor99"], report


def test_background_source_yields_first_impressions_of_distinct_fingers():
    from afis.bench.identify import DEFAULT_BACKGROUND_SOURCE, load_background_source

    source = load_background_source(DEFAULT_BACKGROUND_SOURCE)
    got = list(source(5, 11))
    want = Population(11).impressions(range(5), 0).templates()
    assert len(got) == 5 and all(a == b for a, b in zip(got, want, strict=True))
    assert list(source(0, 11)) == []
    with pytest.raises(ValueError, match="count"):
        list(source(-1, 11))


def test_pair_scores_need_one_finger_label_per_template():
    templates = Population(3).impressions([0, 1], 0).templates()
    with pytest.raises(ValueError, match="2 templates but 1 finger labels"):
        pair_scores(templates, [0])
