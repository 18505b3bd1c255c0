"""From calibrated scores and rule hits to labels and the needs-triage flag.

Why a triage flag instead of a guess: a missed request breaks a legal deadline and a false one
wastes staff time and can send a person's data to the wrong process, so when the model is
unsure (a score within the margin of its threshold) or contradicts a legal-term rule (the mail
cites "artikla 17" but the erasure score is low), staff decide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from classifiers.calibration import Calibration
from classifiers.labels import LABELS


@dataclass(frozen=True, slots=True)
class Decision:
    labels: tuple[str, ...]
    scores: dict[str, float]
    needs_triage: bool
    reasons: tuple[str, ...]


def decide(
    raw: Sequence[float], rule_hits: dict[str, list[str]], calibration: Calibration
) -> Decision:
    """Labels whose calibrated score reaches their threshold, and why staff should look."""
    labels: list[str] = []
    scores: dict[str, float] = {}
    reasons: list[str] = []
    for label, value in zip(LABELS, raw, strict=True):
        p = calibration.probability(label, float(value))
        scores[label] = round(p, 4)
        if p >= calibration.labels[label].threshold:
            labels.append(label)
        if calibration.near_threshold(label, p):
            reasons.append(f"uncertain:{label}")
        elif label in rule_hits and label not in labels:
            reasons.append(f"rule_without_model:{label}")
    return Decision(tuple(labels), scores, bool(reasons), tuple(reasons))
