"""The concept view: what it reads, how it is combined, and that it carries other languages."""

from __future__ import annotations

import numpy as np
import pytest

from classifiers.api import get_classifier
from classifiers.views import MAIN_LANGUAGES, combine, concept_view, uses_concept_view


def test_concept_view_is_rule_markers_plus_the_concept_sequence() -> None:
    tokens = ["poist", "tieto", "xsepx", "p_poist", "xruleerasurex", "xsepx", "@delete", "@my"]
    assert concept_view(tokens) == ["xruleerasurex", "@delete", "@my"]
    assert concept_view(["just", "words"]) == []


def test_only_languages_outside_fi_sv_en_use_it() -> None:
    assert sorted(MAIN_LANGUAGES) == ["en", "fi", "sv"]
    assert not any(uses_concept_view(lang) for lang in ("fi", "sv", "en"))
    assert all(uses_concept_view(lang) for lang in ("de", "fr", "it", "et", "pl"))


def test_combine_averages_in_logit_space() -> None:
    words = np.array([0.5, 0.9, 0.1])
    concepts = np.array([0.5, 0.1, 0.9])
    assert np.allclose(combine(words, concepts), [0.5, 0.5, 0.5])
    assert np.allclose(combine(np.array([0.8]), np.array([0.8])), [0.8])


@pytest.mark.parametrize(
    ("subject", "body", "label"),
    [
        ("Newsletter",
         "Non voglio più ricevere la vostra newsletter, cancellatemi dalla lista.", "unsubscribe"),
        ("Nowy adres", "Proszę zaktualizować mój adres: ul. Polna 5, 00-001 Warszawa.",
         "rectification"),
        ("Kustutamine", "Palun kustutage kõik minu isikuandmed teie registrist.", "erasure"),
        ("Abmeldung", "Bitte streichen Sie mich aus Ihrem Newsletter-Verteiler. Danke!",
         "unsubscribe"),
        ("Suppression de mes données",
         "Bonjour, merci de supprimer toutes mes données personnelles de vos fichiers.",
         "erasure"),
    ],
)  # fmt: skip
def test_packaged_model_reads_other_languages(subject: str, body: str, label: str) -> None:
    result = get_classifier().classify_parts(subject, body, None)
    assert label in result.labels, (result.labels, result.scores)


def test_classifier_mixes_the_concept_view_in_for_other_languages_only() -> None:
    """The scores staff see come from the combined raw scores outside fi/sv/en, and from the
    word model alone for fi/sv/en (fails if api stops calling the concept model)."""
    from classifiers.decision import decide
    from classifiers.extract import extract
    from classifiers.prepare import prepare

    classifier = get_classifier()
    for subject, body, mixed in (
        ("Abmeldung", "Bitte streichen Sie mich aus Ihrem Newsletter-Verteiler.", True),
        ("Uutiskirje", "Ottakaa minut pois uutiskirjelistalta, kiitos.", False),
    ):
        prepared = prepare(extract(subject, body, None).text, classifier._langid)
        words_raw = classifier._model.predict_one(prepared.tokens)
        concept_raw = classifier._concept_model.predict_one(concept_view(prepared.tokens))
        expected_raw = combine(words_raw, concept_raw) if mixed else words_raw
        expected = decide(expected_raw, prepared.rule_hits, classifier._calibration)
        result = classifier.classify_parts(subject, body, None)
        assert uses_concept_view(result.language) is mixed
        assert result.scores == expected.scores
        if mixed:
            words_only = decide(words_raw, prepared.rule_hits, classifier._calibration)
            assert words_only.scores != expected.scores
