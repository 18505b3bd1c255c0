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
