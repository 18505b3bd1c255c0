"""Calibration (Platt scaling, thresholds) and the decision: gate, thresholds, triage margin."""

from __future__ import annotations

import math
import random

from classifiers.calibration import (
    Calibration,
    LabelCalibration,
    best_threshold,
    fit_platt,
)
from classifiers.decision import decide
from classifiers.labels import GATE, LABELS, OUTPUTS


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def test_platt_scaling_shrinks_an_overconfident_score() -> None:
    rng = random.Random(1)
    raw: list[float] = []
    truth: list[bool] = []
    for _ in range(2000):
        z = rng.gauss(0, 1)  # true log-odds
        truth.append(rng.random() < 1 / (1 + math.exp(-z)))
        raw.append(1 / (1 + math.exp(-3 * z)))  # the model is 3x over-confident
    a, b = fit_platt(raw, truth)
    assert 0.25 < a < 0.45 and abs(b) < 0.2


def test_platt_scaling_stays_finite_on_separable_data() -> None:
    a, b = fit_platt([0.1, 0.2, 0.8, 0.9] * 5, [False, False, True, True] * 5)
    assert math.isfinite(a) and math.isfinite(b) and a < 50


def test_best_threshold_separates_and_falls_between_scores() -> None:
    threshold = best_threshold([0.1, 0.2, 0.3, 0.7, 0.8], [False, False, False, True, True], 1.0)
    assert 0.3 < threshold < 0.7


def identity(threshold: float = 0.5) -> LabelCalibration:
    return LabelCalibration(1.0, 0.0, threshold)


def calibration(margin: float = 1.0) -> Calibration:
    return Calibration({label: identity() for label in OUTPUTS}, margin)


def raw(gate: float, **scores: float) -> list[float]:
    return [scores.get(label, 0.01) for label in LABELS] + [gate]


def test_labels_pass_their_threshold_when_the_gate_opens() -> None:
    decision = decide(raw(0.99, erasure=0.99, unsubscribe=0.98), {}, calibration())
    assert decision.labels == ("erasure", "unsubscribe")
    assert not decision.needs_triage
    assert decision.scores["erasure"] == 0.99 and decision.request_score == 0.99


def test_closed_gate_gives_no_labels() -> None:
    decision = decide(raw(0.01, erasure=0.9), {}, calibration())
    assert decision.labels == () and decision.request_score == 0.455


def test_a_sure_label_opens_a_doubtful_gate() -> None:
    """The request score is the mean of the gate and the strongest label (decision.py)."""
    decision = decide(raw(0.3, portability=0.99), {}, calibration())
    assert decision.labels == ("portability",) and decision.request_score == 0.645
    assert decide(raw(0.3, portability=0.6), {}, calibration()).labels == ()


def test_score_near_threshold_goes_to_triage() -> None:
    decision = decide(raw(0.99, access=0.55), {}, calibration())
    assert decision.labels == ("access",)
    assert decision.needs_triage and "uncertain:access" in decision.reasons
    below = decide(raw(0.99, access=0.45), {}, calibration())
    assert below.labels == () and below.needs_triage


def test_rule_hit_without_label_goes_to_triage() -> None:
    decision = decide(raw(0.99), {"access": ["artikla 15"]}, calibration())
    assert decision.labels == () and decision.reasons == ("rule_without_label:access",)


def test_calibration_roundtrips_through_json() -> None:
    cal = Calibration({GATE: LabelCalibration(1.5, -0.2, 0.7)}, 0.8)
    assert Calibration.from_json(cal.to_json()) == cal


def test_probabilities_equal_probability_per_label() -> None:
    """The inlined Platt scaling ``decide`` uses gives the same floats as ``probability``."""
    labels = {
        label: LabelCalibration(0.5 + i / 7, i / 10 - 0.3, 0.4) for i, label in enumerate(OUTPUTS)
    }
    cal = Calibration(labels, 0.8)
    rng = random.Random(5)
    for _ in range(200):
        raw = [rng.choice([0.0, 1.0, 1e-9, rng.random()]) for _ in OUTPUTS]
        assert cal.probabilities(OUTPUTS, raw) == [
            cal.probability(label, value) for label, value in zip(OUTPUTS, raw, strict=True)
        ]
    assert cal.platt(GATE)[2] == 0.4
