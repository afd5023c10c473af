"""afis.explain: what a comparison counted, with the score of compare bit for bit."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _shared import random_finger

import afis
from afis import Explanation, Template, compare, explain
from afis._native import _core
from afis.constants import MAX_MATCH_MINUTIAE, PROCESSING_PPI
from afis.synth import Population

FVC = ("101_1", "101_2", "101_3", "102_1", "103_1")


@pytest.fixture(scope="module")
def fvc_templates(datasets_root) -> dict[str, Template]:
    folder = datasets_root / "fvc2002" / "DB1_B"
    return {name: afis.extract(afis.load_image(folder / f"{name}.tif", dpi=500)) for name in FVC}


@pytest.fixture(scope="module")
def synthetic() -> tuple[list[Template], list[Template]]:
    population = Population(11)
    fingers = range(6)
    return (
        population.impressions(fingers, 0).templates(),
        population.impressions(fingers, 1).templates(),
    )


def _recombined(e: Explanation) -> float:
    """The score from ``parts`` as Explanation's docstring says, from the pairs' scores."""
    p = e.parts
    divisor = p["lssr_divisor"]
    lssr = float(np.sum(e.local_pair_scores, dtype=np.float64)) / divisor if divisor else 0.0
    assert lssr == pytest.approx(p["lssr"], rel=1e-5, abs=1e-7)
    mates = float(np.sum(e.pair_scores, dtype=np.float64))
    assert mates == pytest.approx(p["mates"], rel=1e-5, abs=1e-6)
    floor = p["min_overlap"]
    pairing = min(1.0, mates**2 / (max(p["overlap_a"], floor) * max(p["overlap_b"], floor)))
    assert pairing == pytest.approx(p["pairing"], rel=1e-5, abs=1e-7)
    if lssr <= 0 or pairing <= 0:
        return 0.0
    w = p["lssr_weight"]
    return lssr**w * pairing ** (1 - w)


def _check(e: Explanation, a: Template, b: Template) -> None:
    """Everything that holds of any explanation."""
    assert e.score == compare(a, b)  # exact
    assert e.score == pytest.approx(_recombined(e), rel=1e-5, abs=1e-7)
    for pairs, scores in ((e.pairs, e.pair_scores), (e.local_pairs, e.local_pair_scores)):
        assert pairs.dtype == np.int64 and pairs.shape == (len(scores), 2)
        assert scores.dtype == np.float32
        assert not pairs.flags.writeable
        if len(pairs):
            assert 0 <= pairs[:, 0].min() and pairs[:, 0].max() < len(a)
            assert 0 <= pairs[:, 1].min() and pairs[:, 1].max() < len(b)
        assert len(np.unique(pairs[:, 0])) == len(pairs)
        assert len(np.unique(pairs[:, 1])) == len(pairs)
    assert ((e.pair_scores > 0.5) & (e.pair_scores <= 1)).all()
    assert len(e.local_pairs) <= e.parts["lssr_divisor"]
    again = explain(a, b)
    assert again.score == e.score and again.parts == e.parts
    assert again.alignment == e.alignment and again.anchor == e.anchor
    assert np.array_equal(again.pairs, e.pairs) and np.array_equal(again.pair_scores, e.pair_scores)
    assert np.array_equal(again.local_pairs, e.local_pairs)


def _check_alignment(e: Explanation, a: Template, b: Template) -> None:
    """Paired minutiae lie within the pairing's tolerance once the alignment is applied."""
    assert e.alignment is not None and e.anchor is not None
    sa, sb = PROCESSING_PPI / a.resolution, PROCESSING_PPI / b.resolution
    ax, ay = a.x.astype(np.float64) * sa, a.y.astype(np.float64) * sa
    bx, by = b.x.astype(np.float64) * sb, b.y.astype(np.float64) * sb
    r, dx, dy = e.alignment["rotation"], e.alignment["dx"], e.alignment["dy"]
    c, s = math.cos(r), math.sin(r)
    i, j = e.pairs[:, 0], e.pairs[:, 1]
    mx, my = c * bx[j] - s * by[j] + dx, s * bx[j] + c * by[j] + dy
    distance = np.hypot(mx - ax[i], my - ay[i])
    ka, kb = e.anchor
    reach = np.hypot(ax[i] - ax[ka], ay[i] - ay[ka]) + np.hypot(bx[j] - bx[kb], by[j] - by[kb])
    tolerance = _core.PAIRING_TOLERANCE + _core.PAIRING_TOLERANCE_GROWTH / 2 * reach
    assert (distance < tolerance + 1e-3).all(), (distance - tolerance).max()
    # Directions agree too (template directions turn by -r under the alignment).
    turn = (a.direction[i] - (b.direction[j] - r) + np.pi) % (2 * np.pi) - np.pi
    assert (np.abs(turn) < 2 * np.pi / 9 + 1e-3).all()
    # The anchor itself lands on its mate.
    ax0, ay0 = c * bx[kb] - s * by[kb] + dx, s * bx[kb] + c * by[kb] + dy
    assert math.hypot(ax0 - ax[ka], ay0 - ay[ka]) < 1e-2


def _genuine_and_impostor(pairs, templates_of, ratio: float) -> None:
    """Checks every explanation; genuine pairs pair a far larger share of the minutiae (pairs
    over the smaller template's count: chance pairs grow with the counts)."""
    genuine, impostor = [], []
    for a, b, same in pairs:
        ta, tb = templates_of(a), templates_of(b)
        e = explain(ta, tb)
        _check(e, ta, tb)
        share = len(e.pairs) / min(len(ta), len(tb))
        if same:
            _check_alignment(e, ta, tb)
            genuine.append(share)
        else:
            impostor.append(share)
    assert np.mean(genuine) >= ratio * np.mean(impostor), (genuine, impostor)


def test_fvc_genuine_and_impostor_pairs(fvc_templates):
    pairs = [
        ("101_1", "101_2", True),
        ("101_2", "101_1", True),
        ("101_1", "101_3", True),
        ("101_1", "102_1", False),
        ("102_1", "101_2", False),
        ("101_3", "103_1", False),
    ]
    _genuine_and_impostor(pairs, fvc_templates.__getitem__, 3.0)


def test_synthetic_genuine_and_impostor_pairs(synthetic):
    first, second = synthetic
    n = len(first)
    pairs = [((0, f), (1, f), True) for f in range(n)]
    pairs += [((0, f), (1, (f + 1) % n), False) for f in range(n)]
    pairs += [((1, f), (0, (f + 3) % n), False) for f in range(n)]
    _genuine_and_impostor(pairs, lambda k: (first, second)[k[0]][k[1]], 1.5)


def test_both_orders_pair_the_same_minutiae(synthetic):
    first, second = synthetic
    ab, ba = explain(first[0], second[0]), explain(second[0], first[0])
    assert ab.score == ba.score and ab.swapped != ba.swapped
    assert np.array_equal(ab.pairs, ba.pairs[:, ::-1])
    assert np.array_equal(ab.local_pairs, ba.local_pairs[:, ::-1])
    assert ab.anchor == ba.anchor[::-1]
    assert (ab.parts["overlap_a"], ab.parts["overlap_b"]) == (
        ba.parts["overlap_b"],
        ba.parts["overlap_a"],
    )
    _check_alignment(ab, first[0], second[0])
    _check_alignment(ba, second[0], first[0])


def test_indices_are_the_templates_own_order():
    """A reordered copy pairs every minutia with itself; beyond the matcher's cap of
    minutiae too (the dropped, lowest-quality ones are never paired)."""
    for n in (40, MAX_MATCH_MINUTIAE + 60):
        t = random_finger(7, n=n)
        order = np.random.default_rng(1).permutation(n)
        shuffled = Template(
            width=t.width,
            height=t.height,
            resolution=t.resolution,
            source_resolution=t.source_resolution,
            x=t.x[order],
            y=t.y[order],
            direction=t.direction[order],
            type=t.type[order],
            quality=t.quality[order],
            image_quality=t.image_quality,
        )
        for a, b, to_a in ((t, shuffled, order), (shuffled, t, np.argsort(order))):
            e = explain(a, b)
            _check(e, a, b)
            assert len(e.pairs) >= 0.9 * min(n, MAX_MATCH_MINUTIAE)
            assert np.array_equal(to_a[e.pairs[:, 1]], e.pairs[:, 0])
            assert np.array_equal(to_a[e.local_pairs[:, 1]], e.local_pairs[:, 0])
            _check_alignment(e, a, b)
            if n > MAX_MATCH_MINUTIAE:
                floor = np.sort(a.quality)[-MAX_MATCH_MINUTIAE]
                assert (a.quality[e.pairs[:, 0]] >= floor).all()


def test_empty_and_tiny_templates_explain_a_zero_score():
    empty = Template.empty(100, 100)
    one = random_finger(3, n=1)
    for a, b in ((empty, empty), (empty, random_finger(3)), (one, one)):
        e = explain(a, b)
        assert e.score == 0.0 == compare(a, b)
        assert e.pairs.shape == (0, 2) and e.pair_scores.shape == (0,)
        assert e.alignment is None and e.anchor is None
        assert _recombined(e) == 0.0


def test_wrong_types_are_refused():
    t = random_finger(1)
    with pytest.raises(TypeError, match=r"^a must"):
        explain("template", t)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^b must"):
        explain(t, None)  # type: ignore[arg-type]


def test_exported():
    assert afis.explain is explain and afis.Explanation is Explanation
    assert {"explain", "Explanation"} <= set(afis.__all__) & set(afis.match.__all__)
