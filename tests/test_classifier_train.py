"""Training is reproducible (same data and seed -> same model) and never reads held-out data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from classifiers.artifact import load_artifact
from classifiers.corpus import Record, calibration_folds, is_heldout, load_corpus, part_of
from classifiers.train import prepare_records, train, train_to_dir


@pytest.fixture(scope="module")
def subset() -> list[Record]:
    records, _ = load_corpus()
    training = [r for r in records if not is_heldout(r.id)]
    assert len(training) > 200, "the corpus should be in classifiers/data/corpus"
    return training[::9][:220]


def test_same_seed_same_model_and_predictions(subset: list[Record], tmp_path: Path) -> None:
    """Also: models trained in parallel worker processes equal those trained one by one."""
    first = train_to_dir(subset, 11, tmp_path / "a", progress=None, folds=2, epochs=3, workers=1)
    second = train_to_dir(subset, 11, tmp_path / "b", progress=None, folds=2, epochs=3, workers=2)
    assert first.calibration == second.calibration
    for name in (
        "bundle.json.gz", "textcat_multilabel/model", "concept_view/textcat_multilabel/model",
    ):  # fmt: skip
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    a, b = load_artifact(tmp_path / "a"), load_artifact(tmp_path / "b")
    tokens = [p.tokens for p in prepare_records(subset[:40], a.langid)]
    assert np.array_equal(a.model.predict(tokens), b.model.predict(tokens))
    assert np.array_equal(a.concept_model.predict(tokens), b.concept_model.predict(tokens))


def test_fast_path_equals_the_spacy_doc_path(subset: list[Record]) -> None:
    result = train(subset, 5, folds=2, epochs=2, progress=None)
    langid = load_artifact().langid
    tokens = [p.tokens for p in prepare_records(subset[:60], langid)] + [[]]
    assert np.allclose(result.model.predict(tokens), result.model.predict_docs(tokens))


def test_held_out_records_are_never_trained_on() -> None:
    records, _ = load_corpus()
    heldout = [r for r in records if is_heldout(r.id)][:30]
    assert heldout
    with pytest.raises(ValueError, match="no training records"):
        train(heldout, 1, folds=2, epochs=1, progress=None)


def test_heldout_split_is_about_a_fifth_and_stable() -> None:
    ids = [f"fi1-{i:04d}" for i in range(2000)]
    share = sum(map(is_heldout, ids)) / len(ids)
    assert 0.17 < share < 0.23
    assert is_heldout("fi1-0001") == is_heldout("fi1-0001")


def test_calibration_folds_keep_each_writer_batch_whole_and_balance_sizes() -> None:
    sizes = {"fi1": 400, "fi2": 300, "sv": 250, "en": 420, "en2": 120, "de": 40, "fr": 38}
    ids = [f"{part}-{i:04d}" for part, n in sizes.items() for i in range(1, n + 1)]
    folds = calibration_folds(ids, 5)
    fold_of_part: dict[str, set[int]] = {}
    for record_id, fold in zip(ids, folds, strict=True):
        fold_of_part.setdefault(part_of(record_id), set()).add(fold)
    assert all(len(f) == 1 for f in fold_of_part.values()), "a batch was split across folds"
    totals = [folds.count(k) for k in range(5)]
    assert max(totals) <= 420 and min(totals) >= 1, totals
    # the same corpus in another order gets the same fold per record
    shuffled = ids[::-1]
    again = dict(zip(shuffled, calibration_folds(shuffled, 5), strict=True))
    assert [again[i] for i in ids] == folds
    assert part_of("other2-0017") == "other2"
