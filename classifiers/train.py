"""Training: corpus -> out-of-fold calibration -> final model -> packaged artifact.

Why out-of-fold: calibration and thresholds must be fitted on predictions for messages the
model did not train on, and only inside the training part (the held-out ~20 % is for
``rightsdesk eval`` alone).  The training part is cut into ``CALIBRATION_FOLDS`` calibration
splits of whole writer batches (``corpus.calibration_folds``); each is predicted by a model
trained on the others, Platt scaling and thresholds are fitted on those predictions, and the
shipped model is then trained on the whole training part with the same settings.  Everything
is seeded: same data and seed, same model.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np
from tqdm import tqdm

from classifiers.artifact import save_artifact
from classifiers.calibration import Calibration, LabelCalibration, best_threshold, fit_platt
from classifiers.corpus import CALIBRATION_FOLDS, Record, calibration_folds, is_heldout
from classifiers.decision import request_score
from classifiers.extract import extract
from classifiers.labels import GATE, LABELS, OUTPUTS
from classifiers.langid import LanguageIdentifier, build_word_table
from classifiers.model import EPOCHS, TextModel, TrainingSet, train_textcat
from classifiers.prepare import Prepared, prepare
from classifiers.views import combine, concept_view, uses_concept_view

#: F-beta used to choose each label's threshold (precision is guarded by the gate below).
THRESHOLD_BETA = 1.0
#: Highest out-of-fold rate of no-label messages given a label that the gate may allow: the
#: target itself (<= 2 % on unseen mail).  The folds hold out whole writer batches, so the
#: out-of-fold rate is that of new writers, not of a writer's siblings (``calibration_folds``).
FALSE_RIGHT_TARGET = 0.02
#: Uncertainty band, in logit units around each threshold, that sends a message to triage.
TRIAGE_MARGIN = 1.0


@dataclass(frozen=True)
class TrainResult:
    model: TextModel
    #: The concept-view model (``views``), combined with ``model`` for non-fi/sv/en mail.
    concept_model: TextModel
    calibration: Calibration
    word_table: dict[str, dict[str, float]]
    meta: dict[str, object]
    oof_scores: np.ndarray


def prepare_records(
    records: Sequence[Record], langid: LanguageIdentifier
) -> list[Prepared]:
    """Model input for each record, exactly as ``Classifier.classify_parts`` computes it."""
    return [
        prepare(extract(r.subject, r.plain, r.html_body).text, langid) for r in records
    ]


def train(
    records: Sequence[Record],
    seed: int,
    folds: int = CALIBRATION_FOLDS,
    epochs: int = EPOCHS,
    progress: TextIO | None = sys.stderr,
    workers: int | None = None,
) -> TrainResult:
    """Train on the non-held-out ``records`` (held-out ones are dropped here, defensively).

    The fold models and the two final models are independent, each seeded on its own, so
    they train in ``workers`` processes (default: one per available core) with the same
    result as one after another."""
    train_records = [r for r in records if not is_heldout(r.id)]
    if not train_records:
        raise ValueError("no training records")
    texts = [extract(r.subject, r.plain, r.html_body).text for r in train_records]
    word_table = build_word_table(zip(texts, (r.lang for r in train_records), strict=True))
    langid = LanguageIdentifier(word_table)
    prepared = [prepare(text, langid) for text in texts]
    data = [(p.tokens, r.labels) for p, r in zip(prepared, train_records, strict=True)]
    concept_data = [(concept_view(tokens), labels) for tokens, labels in data]
    mixed = np.array([uses_concept_view(p.language) for p in prepared], dtype=bool)
    fold_of = calibration_folds([r.id for r in train_records], folds)
    jobs: list[_Job] = []
    fold_slots: list[tuple[np.ndarray, list[int]]] = []
    oof = np.zeros((len(data), len(OUTPUTS)), dtype=np.float64)
    concept_oof = np.zeros_like(oof)
    for k in range(folds):
        outside = [i for i, f in enumerate(fold_of) if f == k]
        if not outside or len(outside) == len(data):
            continue
        for view, scores in ((data, oof), (concept_data, concept_oof)):
            inside = [d for d, f in zip(view, fold_of, strict=True) if f != k]
            jobs.append((inside, seed + 1 + k, epochs, [view[i][0] for i in outside]))
            fold_slots.append((scores, outside))
    jobs += [(data, seed, epochs, None), (concept_data, seed, epochs, None)]
    results = _run_jobs(jobs, workers, progress)
    for (scores, outside), (_, _, predicted) in zip(fold_slots, results, strict=False):
        assert predicted is not None
        scores[outside] = predicted
    (model_bytes, known, _), (concept_bytes, concept_known, _) = results[-2:]
    oof[mixed] = combine(oof[mixed], concept_oof[mixed])
    truth = np.array([[lb in labels for lb in LABELS] for _, labels in data], dtype=bool)
    calibration = fit_calibration(oof, truth)
    model = TextModel.from_bytes(model_bytes, known)
    concept_model = TextModel.from_bytes(concept_bytes, concept_known)
    meta: dict[str, object] = {
        "seed": seed,
        "epochs": epochs,
        "folds": folds,
        "train_records": len(train_records),
        "corpus_digest": _digest(train_records),
    }
    return TrainResult(model, concept_model, calibration, word_table, meta, oof)


#: One training job: (training pairs, seed, epochs, token lists to predict or None).  A job
#: with something to predict returns its scores; one without returns the model's weights.
_Job = tuple[TrainingSet, int, int, list[Sequence[str]] | None]
_JobResult = tuple[bytes, frozenset[str], np.ndarray | None]


def _fit(job: _Job) -> _JobResult:
    """Train one model (in a worker process); top level so that ``spawn`` can import it."""
    data, seed, epochs, to_predict = job
    model = train_textcat(data, seed, epochs)
    if to_predict is not None:
        return b"", frozenset(), model.predict(to_predict)
    return model.to_bytes(), model.known, None


def _run_jobs(jobs: list[_Job], workers: int | None, progress: TextIO | None) -> list[_JobResult]:
    """Results in job order.  Workers are spawned, not forked: the parent may hold threads
    (tqdm's monitor, the daemon's), and a fork copies locks held by them."""
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    count = max(1, min(workers or available or os.cpu_count() or 1, len(jobs)))
    bar = tqdm(
        total=len(jobs), desc=f"train ({count} process{'es' if count > 1 else ''})",
        unit="model", file=progress, disable=progress is None, leave=False,
    )  # fmt: skip
    results: list[_JobResult | None] = [None] * len(jobs)
    with bar:
        if count == 1:
            for index, job in enumerate(jobs):
                results[index] = _fit(job)
                bar.update()
        else:
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=count, mp_context=context) as pool:
                futures = {pool.submit(_fit, job): index for index, job in enumerate(jobs)}
                for future in as_completed(futures):
                    results[futures[future]] = future.result()
                    bar.update()
    return [r for r in results if r is not None]


def fit_calibration(
    oof: np.ndarray,
    truth: np.ndarray,
    beta: float = THRESHOLD_BETA,
    margin: float = TRIAGE_MARGIN,
    fp_target: float = FALSE_RIGHT_TARGET,
) -> Calibration:
    """Platt scaling and thresholds from out-of-fold raw scores (columns in ``OUTPUTS`` order,
    ``truth`` in ``LABELS`` order).  Label thresholds maximise F-beta; the request threshold
    (stored as the gate's) is the lowest that keeps the out-of-fold false-right rate on
    no-label messages <= target, on ``decision.request_score``."""
    cals: dict[str, LabelCalibration] = {}
    probs = np.zeros_like(oof)
    for j, label in enumerate(OUTPUTS):
        column = np.asarray(truth[:, j] if label != GATE else truth.any(axis=1), dtype=bool)
        column_truth = [bool(x) for x in column]
        a, b = fit_platt(oof[:, j].tolist(), column_truth)
        probs[:, j] = [_apply(LabelCalibration(a, b, 0.5), float(x)) for x in oof[:, j]]
        threshold = best_threshold(probs[:, j].tolist(), column_truth, beta)
        cals[label] = LabelCalibration(a, b, threshold)
    n_labels = len(LABELS)
    passes = np.stack(
        [probs[:, j] >= cals[label].threshold for j, label in enumerate(LABELS)], axis=1
    ).any(axis=1)
    negatives = ~truth.any(axis=1)
    gate = np.array(
        [request_score(float(row[n_labels]), row[:n_labels].tolist()) for row in probs]
    )
    gate_cal = cals[GATE]
    chosen = 0.5
    if negatives.any():
        candidates = sorted(set(np.round(gate[negatives & passes], 6).tolist()))
        for candidate in [*candidates, 0.95]:
            threshold = min(max(candidate + 1e-6, 0.05), 0.95)
            false_right = float(np.mean((passes & (gate >= threshold))[negatives]))
            if false_right <= fp_target:
                chosen = threshold
                break
    cals[GATE] = LabelCalibration(gate_cal.a, gate_cal.b, chosen)
    return Calibration(cals, margin)


def _apply(cal: LabelCalibration, raw: float) -> float:
    return Calibration({"x": cal}, 0.0).probability("x", raw)


def _digest(records: Sequence[Record]) -> str:
    h = hashlib.sha256()
    for r in records:
        h.update(f"{r.id}\x00{r.subject}\x00{r.body}\x00{','.join(r.labels)}\x01".encode())
    return h.hexdigest()[:16]


def train_to_dir(
    records: Sequence[Record],
    seed: int,
    out_dir: Path,
    progress: TextIO | None,
    folds: int = CALIBRATION_FOLDS,
    epochs: int = EPOCHS,
    workers: int | None = None,
) -> TrainResult:
    """Train and write the artifact to ``out_dir``."""
    result = train(records, seed, folds=folds, epochs=epochs, progress=progress, workers=workers)
    save_artifact(
        out_dir, result.model, result.concept_model, result.calibration, result.word_table,
        result.meta,
    )  # fmt: skip
    return result
