"""What the model reads: placeholders for numbers people write, and word prefixes."""

from __future__ import annotations

from classifiers.artifact import load_artifact
from classifiers.features import PHONE_TOKEN, POSTCODE_TOKEN, fold, words
from classifiers.model import SEPARATOR
from classifiers.prepare import PREFIX_MARK, prepare


def test_phone_numbers_become_one_placeholder() -> None:
    for phone in ("050 338 1190", "+358 40 123 4567", "070-318 44 26", "0401234567"):
        assert words(fold(f"uusi numero {phone} kiitos")) == [
            "uusi", "numero", PHONE_TOKEN, "kiitos",
        ], phone  # fmt: skip


def test_postcodes_before_a_place_become_a_placeholder() -> None:
    assert words(fold("Koivukuja 7, 40320 Jyväskylä")) == [
        "koivukuja", "7", POSTCODE_TOKEN, "jyvaskyla",
    ]  # fmt: skip
    assert POSTCODE_TOKEN in words(fold("Tallbacken 7, 652 30 Vasa"))
    assert POSTCODE_TOKEN not in words(fold("tilaus 40320."))  # no place name after it


def test_prefixes_let_misspelt_and_dialect_forms_meet() -> None:
    langid = load_artifact().langid
    standard = prepare("Poistakaa tietoni", langid).tokens
    savo = prepare("Poestakee tietoni", langid).tokens
    assert f"{PREFIX_MARK}poist" in standard and f"{PREFIX_MARK}tieto" in standard
    assert f"{PREFIX_MARK}tieto" in savo
    # The prefixes sit between the stems and the concept sequence, after a separator.
    assert standard.count(SEPARATOR) == 2
    assert standard.index(f"{PREFIX_MARK}poist") > standard.index(SEPARATOR)
