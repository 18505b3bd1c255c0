"""Details for staff: new register values, identifiers, and requests made on someone's behalf."""

from __future__ import annotations

from classifiers.details import extract_details


def test_rectification_new_values_prefer_the_new_one() -> None:
    details = extract_details(
        "Bitte ändern Sie meine Adresse (Kundennummer K-20937):\n"
        "alt: Am Mühlgraben 4, 79098 Freiburg\nneu: Schwarzwaldstraße 112a, 79117 Freiburg\n"
        "Bitte die Mobilnummer 0176 4419 2280 eintragen.",
        with_new_values=True,
    )
    assert details.new_values["address"] == "Schwarzwaldstraße 112a, 79117 Freiburg"
    assert details.new_values["phone"] == "0176 4419 2280"
    assert details.identifiers["customer_number"] == ["K-20937"]


def test_finnish_rectification_values_and_identifiers() -> None:
    details = extract_details(
        "Muutin. Uusi osoitteeni on Kauppakatu 5 B 12, 40100 Jyväskylä ja uusi "
        "puhelinnumero 040 123 4567. Uusi sähköposti: matti.uusi@example.fi. "
        "Asiakasnumero 123456, Y-tunnus 1234567-8, tilausnumero 55-1234. "
        "Sukunimeni on nyt Virtanen.",
        with_new_values=True,
    )
    assert details.new_values == {
        "address": "Kauppakatu 5 B 12, 40100 Jyväskylä",
        "phone": "040 123 4567",
        "email": "matti.uusi@example.fi",
        "name": "Virtanen",
    }
    assert details.identifiers["customer_number"] == ["123456"]
    assert details.identifiers["order_number"] == ["55-1234"]
    assert details.identifiers["y_tunnus"] == ["1234567-8"]
    assert details.identifiers["phone"] == ["040 123 4567"]
    assert details.identifiers["email"] == ["matti.uusi@example.fi"]


def test_english_name_change_and_swedish_address() -> None:
    assert extract_details("My new surname is Laaksonen-Gray.", True).new_values == {
        "name": "Laaksonen-Gray"
    }
    swedish = extract_details("Min nya adress är Storgatan 5 lgh 1102, 123 45 Stockholm", True)
    assert swedish.new_values["address"] == "Storgatan 5 lgh 1102, 123 45 Stockholm"


def test_new_values_only_when_asked() -> None:
    text = "Uusi osoitteeni on Kauppakatu 5, 40100 Jyväskylä"
    assert extract_details(text, with_new_values=False).new_values == {}


def test_on_behalf_flag_in_several_languages() -> None:
    for text in (
        "Kirjoitan poikani puolesta, poistakaa hänen tietonsa.",
        "Jag skriver på hans vägnar och bifogar fullmakt.",
        "I am writing on behalf of my client, Mr Smith.",
        "Als Erbe und mit Vollmacht bitte ich um Löschung.",
        "Je vous écris au nom de ma mère.",
    ):
        assert extract_details(text, False).on_behalf, text


def test_own_request_is_not_on_behalf() -> None:
    details = extract_details("Hei, poistakaa minun tietoni. Terveisin Matti", False)
    assert details.on_behalf is False
    assert details.identifiers == {}
