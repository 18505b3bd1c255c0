"""Language identification over the 13 languages, incl. mixed lines, and the reply language."""

from __future__ import annotations

import pytest

from classifiers.langid import LANGUAGES, LanguageIdentifier, build_word_table, reply_language


@pytest.fixture(scope="module")
def langid() -> LanguageIdentifier:
    return LanguageIdentifier(build_word_table())


SAMPLES = {
    "fi": "Hei, haluaisin tietää mitä tietoja teillä on minusta ja mistä olette ne saaneet.",
    "sv": "Hej, jag vill veta vilka uppgifter ni har om mig och var ni har fått dem ifrån.",
    "en": "Hello, I would like to know what personal data you hold about me and why.",
    "de": "Guten Tag, bitte teilen Sie mir mit, welche Daten Sie über mich gespeichert haben.",
    "fr": "Bonjour, je voudrais savoir quelles données vous avez sur moi et pourquoi.",
    "nl": "Hallo, ik wil graag weten welke gegevens u over mij heeft en waarom.",
    "es": "Hola, me gustaría saber qué datos personales tienen sobre mí y por qué.",
    "it": "Buongiorno, vorrei sapere quali dati personali avete su di me e perché.",
    "pt": "Olá, gostaria de saber que dados pessoais vocês têm sobre mim e porquê.",
    "et": "Tere, palun andke teada, milliseid isikuandmeid te minu kohta hoiate ja miks.",
    "da": "Hej, jeg vil gerne vide, hvilke oplysninger I har om mig, og hvorfor I har dem.",
    "nb": "Hei, jeg ønsker å vite hvilke opplysninger dere har om meg, og hvorfor dere har dem.",
    "pl": "Dzień dobry, chciałbym wiedzieć, jakie dane osobowe Państwo o mnie przechowują.",
}


def test_covers_all_thirteen_languages() -> None:
    assert set(SAMPLES) == set(LANGUAGES)


@pytest.mark.parametrize("lang", sorted(SAMPLES))
def test_detects_each_language(langid: LanguageIdentifier, lang: str) -> None:
    assert langid.detect(SAMPLES[lang]) == lang


def test_mixed_finnish_english_line_does_not_break(langid: LanguageIdentifier) -> None:
    lang = langid.detect("Hei! Please delete my data. Kiitos.")
    assert lang in ("en", "fi")
    assert reply_language(lang) in ("en", "fi")


def test_short_and_empty_texts_give_a_supported_language(langid: LanguageIdentifier) -> None:
    for text in ("Stop sending me emails", "REMOVE", "", "12345 !!!", "Ta bort mig"):
        assert langid.detect(text) in LANGUAGES


def test_reply_language_is_fi_sv_or_english() -> None:
    assert [reply_language(x) for x in ("fi", "sv", "en", "de", "et", "nb")] == [
        "fi", "sv", "en", "en", "en", "en",
    ]  # fmt: skip


def test_corpus_words_join_the_vote_table() -> None:
    """A word seen in >= 2 messages of one language votes for it; a word spread over many
    languages (a name, a product) does not vote at all."""
    texts = [("tilaukseni saapui perjantaina", "fi"), ("tilaukseni saapui eilen", "fi")]
    texts += [(f"trangia {lang}", lang) for lang in ("fi", "sv", "en", "de") for _ in range(2)]
    table = build_word_table(texts)
    assert table["tilaukseni"] == {"fi": 1.0} and table["saapui"] == {"fi": 1.0}
    assert "trangia" not in table
    assert "tilaukseni" not in build_word_table()


def test_lingua_only_chooses_among_the_votes_best() -> None:
    """Short English one-liners that lingua alone read as Polish or Estonian."""
    packaged = LanguageIdentifier(build_word_table())
    for text in ("delete my data pls", "Forget me. Erase my data. Thanks.", "unsubscribe"):
        assert packaged.detect(text) == "en", text


def test_packaged_model_identifies_held_out_corpus_languages() -> None:
    """The shipped table (stop words + corpus words): >= 97 % on the held-out corpus part."""
    from classifiers.api import get_classifier
    from classifiers.corpus import is_heldout, load_corpus
    from classifiers.extract import extract

    records = [r for r in load_corpus()[0] if is_heldout(r.id)]
    langid = get_classifier()._langid
    right = sum(
        langid.detect(extract(r.subject, r.plain, r.html_body).text) == r.lang for r in records
    )
    assert right / len(records) >= 0.97
