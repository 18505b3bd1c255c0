"""Raw textcat scores to calibrated probabilities, per-label thresholds and the triage margin.

Why: a bag-of-words sigmoid is over-confident and its 0.5 is not each label's best cut.  Per
label we fit Platt scaling (a logistic regression on the raw score's logit) and pick the
threshold on out-of-fold predictions of the *training* part only; the held-out part stays
untouched for ``rightsdesk eval``.  Scores within ``margin`` (in logit units) of the threshold
are not guessed silently: the message goes to staff triage.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

_EPS = 1e-6
_ONE_MINUS_EPS = 1.0 - _EPS


@dataclass(frozen=True)
class LabelCalibration:
    """p = sigmoid(a * logit(raw) + b); the label is given when p >= threshold."""

    a: float
    b: float
    threshold: float


#: Per label (a, b, threshold, logit(threshold)): what ``decide`` needs, as plain floats.
PlattConstants = tuple[float, float, float, float]


@dataclass(frozen=True)
class Calibration:
    """Per-label Platt scaling and thresholds.  Read-only after construction (``labels`` is
    not copied: do not mutate it), so one instance serves all threads."""

    labels: dict[str, LabelCalibration]
    margin: float
    #: ``labels`` unpacked once (``platt``), not compared or printed: derived data.
    _platt: dict[str, PlattConstants] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        platt = {
            name: (cal.a, cal.b, cal.threshold, _logit(cal.threshold))
            for name, cal in self.labels.items()
        }
        object.__setattr__(self, "_platt", platt)

    def to_json(self) -> dict[str, object]:
        return {"margin": self.margin, "labels": {k: asdict(v) for k, v in self.labels.items()}}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Calibration:
        raw = data["labels"]
        assert isinstance(raw, dict)
        margin = data["margin"]
        assert isinstance(margin, int | float)
        return cls({k: LabelCalibration(**v) for k, v in raw.items()}, float(margin))

    def probability(self, label: str, raw: float) -> float:
        cal = self.labels[label]
        return _sigmoid(cal.a * _logit(raw) + cal.b)

    def probabilities(self, names: Sequence[str], raw: Sequence[float]) -> list[float]:
        """``[probability(name, r) for name, r in zip(names, raw)]``: the same float
        operations, inlined (the per-label calls were most of ``decide``'s time)."""
        platt = self._platt
        log, exp = math.log, math.exp
        out: list[float] = []
        for name, value in zip(names, raw, strict=False):
            a, b, _threshold, _logit_threshold = platt[name]
            p = min(max(value, _EPS), _ONE_MINUS_EPS)
            x = a * log(p / (1.0 - p)) + b
            if x >= 0:
                out.append(1.0 / (1.0 + exp(-x)))
            else:
                z = exp(x)
                out.append(z / (1.0 + z))
        return out

    def platt(self, label: str) -> PlattConstants:
        """(a, b, threshold, logit(threshold)) of ``label``."""
        return self._platt[label]

    def near_threshold(self, label: str, probability: float) -> bool:
        """Inside the uncertainty band around the label's threshold."""
        return abs(_logit(probability) - self._platt[label][3]) < self.margin


def _logit(p: float) -> float:
    p = min(max(p, _EPS), _ONE_MINUS_EPS)
    return math.log(p / (1.0 - p))


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def fit_platt(
    raw: Sequence[float], truth: Sequence[bool], iterations: int = 100, ridge: float = 1.0
) -> tuple[float, float]:
    """Platt scaling by damped Newton steps, with Platt's smoothed targets and a small ridge
    pulling (a, b) towards the identity (1, 0), so separable data cannot blow it up."""
    x = np.clip(np.asarray(raw, dtype=np.float64), _EPS, 1 - _EPS)
    x = np.log(x / (1 - x))
    y = np.asarray(truth, dtype=np.float64)
    n_pos, n_neg = float(y.sum()), float(len(y) - y.sum())
    if n_pos < 2 or n_neg < 2:
        return 1.0, 0.0
    t = np.where(y > 0, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))

    def loss(a: float, b: float) -> float:
        z = a * x + b
        nll = float(np.sum(np.logaddexp(0, z) - t * z))
        return nll + 0.5 * ridge * ((a - 1) ** 2 + b * b)

    a, b = 1.0, 0.0
    current = loss(a, b)
    for _ in range(iterations):
        p = 0.5 * (1 + np.tanh(0.5 * (a * x + b)))
        g_a = float(np.dot(p - t, x)) + ridge * (a - 1)
        g_b = float(np.sum(p - t)) + ridge * b
        w = p * (1 - p)
        h_aa = float(np.dot(w, x * x)) + ridge
        h_ab = float(np.dot(w, x))
        h_bb = float(w.sum()) + ridge
        det = h_aa * h_bb - h_ab * h_ab
        da = (h_bb * g_a - h_ab * g_b) / det
        db = (h_aa * g_b - h_ab * g_a) / det
        step = 1.0
        while step > 1e-4:
            na, nb = a - step * da, b - step * db
            new = loss(na, nb)
            if new <= current:
                break
            step /= 2
        else:
            break
        converged = abs(current - new) < 1e-10
        a, b, current = na, nb, new
        if converged:
            break
    return float(a), float(b)


def best_threshold(probs: Sequence[float], truth: Sequence[bool], beta: float) -> float:
    """Threshold maximising F-beta (beta < 1 weighs precision: a false right costs more)."""
    pairs = sorted(zip(probs, truth, strict=True), key=lambda pt: -pt[0])
    total_pos = sum(truth)
    if total_pos == 0:
        return 0.99
    best_f, best_t = -1.0, 0.5
    tp = fp = 0
    b2 = beta * beta
    for i, (p, is_pos) in enumerate(pairs):
        tp += is_pos
        fp += not is_pos
        if i + 1 < len(pairs) and pairs[i + 1][0] == p:
            continue
        fn = total_pos - tp
        f = (1 + b2) * tp / ((1 + b2) * tp + b2 * fn + fp) if tp else 0.0
        if f > best_f:
            nxt = pairs[i + 1][0] if i + 1 < len(pairs) else 0.0
            best_f, best_t = f, (p + nxt) / 2  # midway to the next score: robust to drift
    return float(min(max(best_t, 0.05), 0.95))
