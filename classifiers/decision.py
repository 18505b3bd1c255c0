"""From calibrated scores and rule hits to labels and the needs-triage flag.

Why a gate: each label's own threshold is tuned for F1, and a request score decides whether the
mail is a request at all, keeping false rights on ordinary business mail rare (target <= 2 %).
The request score is the mean of the model's "any request" output (``labels.GATE``, learnt from
every positive message) and the strongest label's probability: the gate alone missed requests
that one label was sure of (a portability request inside an order mail), the strongest label
alone let through business mail that merely resembles one right; out-of-fold on the training
part the mean gave the best macro-F1 at the same false-right rate (``request_score``).

Why a triage flag instead of a guess: a missed request breaks a legal deadline and a false one
wastes staff time, so when the model is unsure (a score within the margin of its threshold) or
contradicts a legal-term rule (the mail cites "artikla 17" but no erasure label), staff decide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from classifiers.calibration import Calibration
from classifiers.labels import GATE, LABELS


@dataclass(frozen=True, slots=True)
class Decision:
    labels: tuple[str, ...]
    scores: dict[str, float]
    request_score: float
    needs_triage: bool
    reasons: tuple[str, ...]


def request_score(gate: float, label_probabilities: Sequence[float]) -> float:
    """How sure we are that the mail makes any request (see the module docstring)."""
    return (gate + max(label_probabilities, default=0.0)) / 2


def decide(
    raw: Sequence[float], rule_hits: dict[str, list[str]], calibration: Calibration
) -> Decision:
    """Labels for one message from its raw scores (``OUTPUTS`` order) and rule hits."""
    probabilities = [
        calibration.probability(label, float(value))
        for label, value in zip(LABELS, raw, strict=False)
    ]
    gate = request_score(calibration.probability(GATE, float(raw[len(LABELS)])), probabilities)
    is_request = gate >= calibration.labels[GATE].threshold
    gate_unsure = calibration.near_threshold(GATE, gate)
    labels: list[str] = []
    scores: dict[str, float] = {}
    reasons: list[str] = []
    for label, p in zip(LABELS, probabilities, strict=True):
        scores[label] = round(p, 4)
        passes = p >= calibration.labels[label].threshold
        if passes and is_request:
            labels.append(label)
        if (is_request or gate_unsure) and calibration.near_threshold(label, p):
            reasons.append(f"uncertain:{label}")
        elif passes and gate_unsure:
            reasons.append(f"uncertain_request:{label}")
        elif label in rule_hits and label not in labels:
            reasons.append(f"rule_without_label:{label}")
    return Decision(tuple(labels), scores, round(gate, 4), bool(reasons), tuple(reasons))
