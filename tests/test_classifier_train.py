"""Training is reproducible (same data and seed -> same model) and never reads held-out data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from classifiers.artifact import load_artifact
from classifiers.corpus import Record, is_heldout, load_corpus
from classifiers.train import prepare_records, train, train_to_dir


@pytest.fixture(scope="module")
def subset() -> list[Record]:
    records, _ = load_corpus()
    training = [r for r in records if not is_heldout(r.id)]
    assert len(training) > 200, "the corpus should be in classifiers/data/corpus"
    return training[::9][:220]


def test_same_seed_same_model_and_predictions(subset: list[Record], tmp_path: Path) -> None:
    first = train_to_dir(subset, 11, tmp_path / "a", progress=None, folds=2, epochs=3)
    second = train_to_dir(subset, 11, tmp_path / "b", progress=None, folds=2, epochs=3)
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
