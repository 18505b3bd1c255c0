"""Smoke test of the packaged model: clear fi/sv/en requests and negatives, from raw bytes."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from classifiers.api import Classifier, get_classifier


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return get_classifier()


CLEAR_CASES = [
    ("Tietojeni poisto", "Hei,\n\npoistakaa kaikki tietoni asiakasrekisteristänne.",
     ("erasure",), "fi"),
    ("Tietopyyntö", "Hei, mitä tietoja teillä on minusta? Pyydän kopion tiedoistani.",
     ("access",), "fi"),
    ("Re: Viikon tarjoukset", "ei kiitos, poistakaa minut listalta", ("unsubscribe",), "fi"),
    ("Registerutdrag", "Hej, jag vill ha ett registerutdrag över mina personuppgifter.",
     ("access",), "sv"),
    ("Radera mina uppgifter", "Hej! Radera alla mina personuppgifter ur ert kundregister.",
     ("erasure",), "sv"),
    ("Delete my account",
     "Hello, please delete my account and all personal data you hold about me.",
     ("erasure",), "en"),
    ("Unsubscribe", "Please unsubscribe me from your newsletter.", ("unsubscribe",), "en"),
    ("Tilaus 4411", "Hei, poistakaa tilaus 4411, tilasin väärän koon. Kiitos!", (), "fi"),
    ("Lasku", "Hei, poistakaa tuplalasku 2024-118, se on laskutettu kahdesti.", (), "fi"),
    ("Offert", "Hej, kan ni skicka en offert på 40 m2 parkett? Leverans i maj.", (), "sv"),
    ("Out of office", "I am out of the office until Monday and will reply when I return.",
     (), "en"),
]  # fmt: skip


@pytest.mark.parametrize(("subject", "body", "labels", "language"), CLEAR_CASES)
def test_packaged_model_on_clear_cases(
    classifier: Classifier, subject: str, body: str, labels: tuple[str, ...], language: str
) -> None:
    result = classifier.classify_parts(subject, body, None)
    assert result.labels == labels
    assert result.language == language


def test_classify_bytes_uses_the_new_text_only(classifier: Classifier) -> None:
    msg = EmailMessage()
    msg["From"] = "Anna <anna@example.se>"
    msg["Subject"] = "SV: Vårkampanj"
    msg.set_content(
        "Tack, men jag vill inte ha fler nyhetsbrev. Ta bort mig från listan.\n\n"
        "Från: Butik <news@example.fi>\nSkickat: den 3 mars 2026\nÄmne: Vårkampanj\n\n"
        "Radera gärna varukorgen och beställ nu, artikel 17 gäller!"
    )
    result = classifier.classify_bytes(msg.as_bytes())
    assert result.labels == ("unsubscribe",)
    assert result.reply_language == "sv"
    assert "artikel 17" not in result.text


def test_unparseable_bytes_give_no_labels(classifier: Classifier) -> None:
    result = classifier.classify_bytes(b"")
    assert result.labels == () and not result.needs_triage


def test_rectification_request_gets_new_values(classifier: Classifier) -> None:
    result = classifier.classify_parts(
        "Osoitteenmuutos",
        "Hei, muutin. Päivittäkää osoitteeni asiakasrekisteriin: Kauppakatu 5 B 12, "
        "40100 Jyväskylä. Asiakasnumero 123456.",
        None,
    )
    assert "rectification" in result.labels
    assert result.details.new_values["address"] == "Kauppakatu 5 B 12, 40100 Jyväskylä"
    assert result.details.identifiers["customer_number"] == ["123456"]


def test_predict_one_gives_predict_s_scores_bit_for_bit(classifier: Classifier) -> None:
    """The single-message path inlines the head layers; it must change no bit of the scores,
    and both must agree with the reference spaCy path (``predict_docs``)."""
    import numpy as np

    from classifiers.prepare import prepare

    model = classifier._model
    token_lists = [
        prepare(subject + "\n" + body, classifier._langid).tokens
        for subject, body, _labels, _lang in CLEAR_CASES
    ]
    token_lists += [[], ["xsepx"], ["notavocabularyword"], ["a", "a", "a"]]
    for tokens in token_lists:
        one = model.predict_one(tokens)
        batch = model.predict([tokens])[0]
        assert one.dtype == batch.dtype and np.array_equal(one, batch), tokens
        assert np.allclose(one, model.predict_docs([tokens])[0], atol=1e-6), tokens
