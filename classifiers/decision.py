"""From calibrated scores and rule hits to labels and the needs-triage flag.

Why a gate: each label's own threshold is tuned for F1, and the model's "any request" output
(``labels.GATE``, learnt from every positive message) decides whether the mail is a request at
all, keeping false rights on ordinary business mail rare (target <= 2 %).

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


def decide(
    raw: Sequence[float], rule_hits: dict[str, list[str]], calibration: Calibration
) -> Decision:
    """Labels for one message from its raw scores (``OUTPUTS`` order) and rule hits."""
    gate = calibration.probability(GATE, float(raw[len(LABELS)]))
    is_request = gate >= calibration.labels[GATE].threshold
    gate_unsure = calibration.near_threshold(GATE, gate)
    labels: list[str] = []
    scores: dict[str, float] = {}
    reasons: list[str] = []
    for label, value in zip(LABELS, raw, strict=False):
        p = calibration.probability(label, float(value))
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
