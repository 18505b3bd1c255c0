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

import numpy as np

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
    raw: Sequence[float] | np.ndarray, rule_hits: dict[str, list[str]], calibration: Calibration
) -> Decision:
    """Labels for one message from its raw scores (``OUTPUTS`` order) and rule hits.

    The per-label Platt scaling runs once over all outputs (``Calibration.probabilities``) and
    each label's threshold and its logit come precomputed (``Calibration.platt``); the
    triage-band test (``near_threshold``) only runs where its result matters, as before.
    """
    values = raw.tolist() if isinstance(raw, np.ndarray) else [float(value) for value in raw]
    probabilities = calibration.probabilities(LABELS, values)
    gate_p = calibration.probabilities((GATE,), values[len(LABELS) : len(LABELS) + 1])[0]
    gate = request_score(gate_p, probabilities)
    is_request = gate >= calibration.platt(GATE)[2]
    gate_unsure = calibration.near_threshold(GATE, gate)
    checks_band = is_request or gate_unsure
    labels: list[str] = []
    scores: dict[str, float] = {}
    reasons: list[str] = []
    for label, p in zip(LABELS, probabilities, strict=True):
        scores[label] = round(p, 4)
        passes = p >= calibration.platt(label)[2]
        if passes and is_request:
            labels.append(label)
        if checks_band and calibration.near_threshold(label, p):
            reasons.append(f"uncertain:{label}")
        elif passes and gate_unsure:
            reasons.append(f"uncertain_request:{label}")
        elif label in rule_hits and label not in labels:
            reasons.append(f"rule_without_label:{label}")
    return Decision(tuple(labels), scores, round(gate, 4), bool(reasons), tuple(reasons))
