"""Inflection: stems meet across Finnish/Swedish forms; concepts meet across languages."""

from __future__ import annotations

from classifiers.concepts import concept_tokens
from classifiers.features import NUMBER_TOKEN, feature_tokens, fold, words


def stems(text: str, lang: str) -> list[str]:
    return feature_tokens(text, lang)


def test_finnish_data_forms_meet_including_consonant_gradation() -> None:
    forms = stems("tietojeni tiedot tietoni tiedoistani tietoja", "fi")
    assert len(set(forms)) == 1, forms


def test_finnish_request_verbs_and_order_nouns_meet() -> None:
    assert len(set(stems("pyydän pyytää", "fi"))) == 1
    assert len(set(stems("tilaus tilauksen", "fi"))) == 1


def test_missing_diacritics_meet_the_correct_spelling() -> None:
    assert stems("pyyntö", "fi") == stems("pyynto", "fi")
    assert stems("räkna bort mig", "sv") == stems("rakna bort mig", "sv")


def test_swedish_forms_meet() -> None:
    assert len(set(stems("uppgifter uppgifterna", "sv"))) == 1
    assert len(set(stems("adressen adress", "sv"))) == 1


def test_personal_values_become_placeholders() -> None:
    tokens = stems("asiakasnumero 123456 matti@example.fi https://example.fi/x", "fi")
    assert NUMBER_TOKEN in tokens and "xemailx" in tokens and "xurlx" in tokens
    assert "123456" not in tokens and "matti" not in tokens


def test_fold_lowercases_and_strips_diacritics() -> None:
    assert fold("Päivittäkää ÖVERSIKT Straße Łódź") == "paivittakaa oversikt strasse lodz"


def concepts(text: str, lang: str) -> list[str]:
    return concept_tokens(words(fold(text)), lang)


def test_delete_my_data_is_one_concept_sequence_in_many_languages() -> None:
    for text, lang in [
        ("Bitte löschen Sie meine Daten", "de"),
        ("Veuillez supprimer mes données", "fr"),
        ("Palun kustutage minu andmed", "et"),
        ("Proszę usunąć moje dane", "pl"),
        ("Please delete my data", "en"),
    ]:
        sequence = concepts(text, lang)
        assert "@delete" in sequence and "@data" in sequence, (lang, sequence)


def test_finnish_possessive_suffix_gives_my() -> None:
    assert concepts("poistakaa tietoni", "fi") == ["@delete", "@data", "@my"]


def test_order_cancellation_is_not_data_deletion() -> None:
    sequence = concepts("Poistakaa tilaus 12345", "fi")
    assert "@order" in sequence and "@data" not in sequence


def test_address_replacement_equals_the_pattern_scan() -> None:
    """``_replace_emails`` tries the address pattern once per "@" instead of at every word
    character; the result must be the plain ``re.sub``."""
    import random

    from classifiers.features import _EMAIL_RE, _replace_emails

    rng = random.Random(5)
    alphabet = [*"ab9._+-@ @", "ä", "ı", "١", "\n", ".fi", "@x.y", "_"]
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        assert _replace_emails(text) == _EMAIL_RE.sub(" xemailx ", text), text


def test_fold_equals_per_character_translation() -> None:
    from classifiers.features import _FOLD_TABLE

    text = "ÄäÖöÅåÉéÜüØøÆæß Œuvre Ǆ İı ſ – € Łódź ’ ‘"
    assert fold(text) == text.lower().translate(_FOLD_TABLE)


#: The phone and postcode patterns as first written (look-behind first); ``features`` moves the
#: look-behind behind the first character so the scan skips ahead in C.  Same matches.
_PLAIN_PHONE = r"(?<![0-9])(?:\+358[\s-]?|\+46[\s-]?|0)[0-9]{1,3}(?:[\s-]?[0-9]{2,4}){2,3}(?![0-9])"
_PLAIN_POSTCODE = r"(?<![0-9])(?:[0-9]{5}|[0-9]{3} [0-9]{2})(?=\s+[a-z])"


def test_phone_and_postcode_patterns_match_as_first_written() -> None:
    import random
    import re

    from classifiers.features import _PHONE_RE, _POSTCODE_RE

    pieces = ["0", "00", "040", "+358", "+46", "+", "1", "12", "123", "4567", "00100", " ",
              "-", "\n", "a", "helsinki", "x", "652 30 vasa", "050 338 1190", "+358 40 123 4567",
              "070-318 44 26", "9", "1+358 40 1234567"]  # fmt: skip
    rng = random.Random(3)
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 12)))
        for plain, fast in ((_PLAIN_PHONE, _PHONE_RE), (_PLAIN_POSTCODE, _POSTCODE_RE)):
            expected = [m.span() for m in re.finditer(plain, text)]
            assert [m.span() for m in fast.finditer(text)] == expected, (text, plain)


def test_words_without_digits_or_long_numbers_take_the_short_paths() -> None:
    assert words("ei numeroita tassa") == ["ei", "numeroita", "tassa"]
    assert words("tilaus 123 ja 4411") == ["tilaus", "123", "ja", NUMBER_TOKEN]
    assert words("puh 040 123 4567, 00100 helsinki") == ["puh", "xphonex", "xpostx", "helsinki"]
