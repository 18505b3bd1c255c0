"""New-text extraction: quoted history, forwards, signatures, disclaimers and HTML are cut."""

from __future__ import annotations

from classifiers.extract import extract
from classifiers.htmltext import html_to_text


def body_of(plain: str, subject: str = "") -> str:
    return extract(subject, plain, None).text


def test_quote_lines_are_dropped_but_inline_new_lines_kept() -> None:
    text = body_of("Hi,\n> Our big sale!\n> Buy now\nPlease delete my account.\n> footer")
    assert "sale" not in text and "footer" not in text
    assert "Please delete my account." in text


def test_two_line_on_wrote_attribution_cuts_history() -> None:
    text = body_of(
        "Please remove me.\n\nOn Mon, 1 Jan 2024 at 10:00, Shop News\n"
        "<news@example.com> wrote:\n\nBig sale on everything!"
    )
    assert text == "Please remove me."


def test_finnish_original_message_and_iphone_tagline() -> None:
    plain = (
        "Hei,\n\npoistakaa tietoni.\n\nLähetetty iPhonesta\n\n"
        "-----Alkuperäinen viesti-----\nLähettäjä: Kauppa <news@example.fi>\n"
        "Aihe: Tarjouksia\n\nOsta nyt!"
    )
    result = extract("VS: Tarjouksia", plain, None)
    assert result.text == "VS: Tarjouksia\nHei,\n\npoistakaa tietoni."
    assert "Osta" not in result.full


def test_swedish_outlook_header_block() -> None:
    text = body_of(
        "Hej, ta bort mig från listan.\n\nFrån: Butik Nyheter\nSkickat: den 3 mars 2024\n"
        "Till: anna@example.se\nÄmne: Erbjudanden\n\nKöp tre betala för två"
    )
    assert text == "Hej, ta bort mig från listan."


def test_kirjoitti_attribution_cuts_history() -> None:
    text = body_of(
        "Kiitos, mutta en halua enää uutiskirjeitä.\n\n"
        "ti 3.3.2026 klo 10.00 Kauppa <news@example.fi> kirjoitti:\nKevään uutuudet"
    )
    assert text == "Kiitos, mutta en halua enää uutiskirjeitä."


def test_forwarded_block_is_cut() -> None:
    text = body_of(
        "FYI, see below.\n\n---------- Forwarded message ---------\nFrom: Someone "
        "<x@example.com>\nPlease delete all my personal data."
    )
    assert text == "FYI, see below."


def test_signature_separator_and_closing_cut_but_kept_in_full() -> None:
    result = extract("", "Please delete my data.\n\n-- \nJohn Smith\n+358 40 123 4567", None)
    assert result.text == "Please delete my data."
    assert "+358 40 123 4567" in result.full
    closing = extract(
        "", "Hei,\npoistakaa tietoni.\n\nYstävällisin terveisin\nMatti\n040 1234567", None
    )
    assert closing.text == "Hei,\npoistakaa tietoni."


def test_legal_disclaimers_are_cut_in_english_and_finnish() -> None:
    english = body_of(
        "Please send me a copy of my data.\n\nThis e-mail and any attachments are "
        "confidential. If you are not the intended recipient, delete it."
    )
    assert english == "Please send me a copy of my data."
    finnish = body_of(
        "Lähettäkää kopio tiedoistani.\n\nTämä sähköpostiviesti on luottamuksellinen ja "
        "tarkoitettu vain vastaanottajalle."
    )
    assert finnish == "Lähettäkää kopio tiedoistani."


def test_html_body_is_converted_without_quotes_styles_and_scripts() -> None:
    html = (
        "<html><head><style>p{color:red}</style><script>var x=1;</script></head><body>"
        "<p>Hello,<br>please <b>delete</b> my account.</p>"
        "<div class='gmail_quote'>On Mon wrote:<blockquote>Our newsletter</blockquote></div>"
        "</body></html>"
    )
    result = extract("Re: News", None, html)
    assert result.text == "Re: News\nHello,\nplease delete my account."
    assert "color" not in html_to_text(html) and "var x" not in html_to_text(html)


def test_plain_part_is_preferred_and_html_in_plain_is_converted() -> None:
    assert extract("", "plain words", "<p>html words</p>").text == "plain words"
    assert extract("", "<html><body><p>Delete me</p></body></html>", None).text == "Delete me"


def test_empty_message_gives_subject_only() -> None:
    assert extract("Unsubscribe", None, None).text == "Unsubscribe"
    assert extract("", None, None).text == ""


def test_disclaimer_with_characters_lower_does_not_fold_is_still_cut() -> None:
    """The disclaimer pattern is case-insensitive, so "ı" (dotless i) matches its "i"; only
    lines holding one of its words are searched, which must not skip such a line."""
    body = ("Hyvä vastaanottaja,\n\nPlease delete my data.\n\n"
            "This e-maıl is confıdential.\nMore legal text.")
    assert extract("", body, None).text == "Hyvä vastaanottaja,\n\nPlease delete my data."


def test_separator_wins_over_closing_and_closing_found_on_any_line() -> None:
    body = "Hei,\n\npoistakaa tietoni.\n \t\nYstävällisin terveisin,\nMatti"
    assert extract("", body, None).text == "Hei,\n\npoistakaa tietoni."
    signed = extract("", body + "\n--\nfooter", None)
    assert signed.text == "Hei,\n\npoistakaa tietoni.\n\nYstävällisin terveisin,\nMatti"
    assert "footer" in signed.full
