"""bot/drafts.py (+ templates/mail/{fi,sv,en}) and bot/compose.py."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any, cast

import pytest

from bot import drafts
from bot.compose import AUTO_SUBMITTED, build
from bot.config import Config, load_config
from bot.ids import case_token_from_message_id
from storage.models import Case

ROOT = Path(__file__).resolve().parent.parent
SECRET = b"compose-test-secret"
TOKEN = "RD-K7QM-2XPA"
LANGS = ("fi", "sv", "en")
KINDS = ("ack", "reply", "unsubscribed")
# Receipt Thu 5 Mar 2026 → deadline Tue 7 Apr 2026 (domain.md §1), in each language's format.
RECEIVED = {"fi": "5.3.2026", "sv": "5.3.2026", "en": "5 March 2026"}
DEADLINE = {"fi": "7.4.2026", "sv": "7.4.2026", "en": "7 April 2026"}
PREFIX = {"fi": "Vs:", "sv": "Sv:", "en": "Re:"}


@pytest.fixture(scope="module")
def kera() -> Config:
    return load_config(ROOT / "examples/kera/rightsdesk.toml")  # no secret needed to render


def make_case(lang: str, types: list[str], **kw: Any) -> Case:
    values: dict[str, Any] = {
        "token": TOKEN, "language": lang, "types": types, "needs_triage": False,
        "subject_email": "lauri.jarvinen@example.fi", "subject_name": "Lauri Järvinen",
        "received_at": datetime(2026, 3, 5, 8, tzinfo=UTC), "received_date": date(2026, 3, 5),
        "deadline": date(2026, 4, 7), "extended_deadline": date(2026, 6, 5),
        "target_date": date(2026, 3, 27), "details": {}, "status": "new",
    }
    values.update(kw)
    return Case(**values)


def assert_rendered(text: str) -> None:
    assert "{{" not in text and "{%" not in text and "}}" not in text
    assert "None" not in text


# -- every kind in every language --------------------------------------------------------------
@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_renders_in_each_language(kera: Config, kind: str, lang: str) -> None:
    types = ["unsubscribe", "access"] if kind == "unsubscribed" else ["access", "erasure"]
    subject, body = drafts.render(kind, kera, make_case(lang, types), "Re: Tietopyyntö")
    assert subject == f"{PREFIX[lang]} Tietopyyntö [{TOKEN}]"
    assert TOKEN in body
    assert_rendered(subject + body)
    assert body.endswith("\n") and "\n\n\n" not in body
    if kind in ("ack", "unsubscribed"):
        # The statutory deadline in the local format (unsubscribed: for the other parts).
        assert DEADLINE[lang] in body
        assert "2026-04-07" not in body
    if kind in ("ack", "reply"):
        assert RECEIVED[lang] in body
        assert "Lauri Järvinen" in body
        assert "Kera Group Oy" in body


@pytest.mark.parametrize("lang, word", [("fi", "tietojen tarkastus"), ("sv", "tillgång"),
                                        ("en", "access to data")])
def test_ack_names_the_request_types(kera: Config, lang: str, word: str) -> None:
    _, body = drafts.render("ack", kera, make_case(lang, ["access"]), "x")
    assert word in body


@pytest.mark.parametrize("lang", LANGS)
def test_reply_access_has_art15_facts_of_every_register(kera: Config, lang: str) -> None:
    _, body = drafts.render("reply", kera, make_case(lang, ["access"]), "Tarkastuspyyntö")
    assert len(kera.registers) == 3
    for r in kera.registers:
        assert r.name.get(lang) in body
        for purpose in r.purposes.get(lang):
            assert purpose in body
        assert r.retention.text.get(lang) in body
        assert r.legal_basis.get(lang) in body
        for recipient in r.recipients.get(lang):
            assert recipient in body
        for source in r.sources.get(lang):
            assert source in body
        assert r.automated_decisions.get(lang) in body
        assert r.transfers_outside_eea.get(lang) in body
    # The supervisory authority (Art. 12(4), domain.md §5).
    assert "tietosuoja@om.fi" in body and "PL 800, 00531 Helsinki" in body
    assert {"fi": "Tietosuojavaltuutetun toimisto", "sv": "Dataombudsmannens byrå",
            "en": "Office of the Data Protection Ombudsman"}[lang] in body


def test_finnish_reply_uses_finnish_register_texts(kera: Config) -> None:
    _, body = drafts.render("reply", kera, make_case("fi", ["access"]), "x")
    assert "Alihankintarekisteri" in body
    assert "Subcontractor register" not in body
    assert "Säilytysaika:" in body


@pytest.mark.parametrize("lang", LANGS)
def test_reply_without_access_has_no_register_facts(kera: Config, lang: str) -> None:
    _, body = drafts.render("reply", kera, make_case(lang, ["erasure"]), "x")
    assert kera.registers[0].name.get(lang) not in body
    assert "1336/1997" in body  # the Accounting Act exception to erasure


def test_rectification_lists_the_new_values(kera: Config) -> None:
    case = make_case("fi", ["rectification"], details={"new_values": {"address": "Uusikatu 5"}})
    _, body = drafts.render("reply", kera, case, "x")
    assert "  - osoite: Uusikatu 5" in body


def test_unsubscribe_only_confirmation_has_no_deadline(kera: Config) -> None:
    for lang in LANGS:
        _, body = drafts.render("unsubscribed", kera, make_case(lang, ["unsubscribe"]), "x")
        assert DEADLINE[lang] not in body
        assert TOKEN in body


def test_unknown_language_falls_back_to_english(kera: Config) -> None:
    subject, body = drafts.render("ack", kera, make_case("de", ["access"]), "Anfrage")
    assert subject == f"Re: Anfrage [{TOKEN}]"
    assert DEADLINE["en"] in body


def test_needs_triage_without_labels(kera: Config) -> None:
    _, body = drafts.render("ack", kera, make_case("fi", [], needs_triage=True), "x")
    assert "(tarkistettava pyyntö)" in body


def test_no_name_no_subject(kera: Config) -> None:
    subject, body = drafts.render("ack", kera, make_case("en", ["access"], subject_name=None), "")
    assert subject == f"Re: Your request [{TOKEN}]"
    assert body.startswith("Hello,\n")


@pytest.mark.parametrize("original, shown", [
    ("Re: RE: Vs: AW: Fwd: Tietopyyntö", "Tietopyyntö"),
    ("SV: vl: Begäran", "Begäran"),
    ("   ", None),
    ("x" * 1000, "x" * 200),
])
def test_reply_prefixes_are_not_stacked(kera: Config, original: str, shown: str | None) -> None:
    subject, _ = drafts.render("ack", kera, make_case("fi", ["access"]), original)
    assert subject == f"Vs: {shown or 'Pyyntönne'} [{TOKEN}]"


def test_subject_and_name_from_mail_are_never_templated(kera: Config) -> None:
    case = make_case("en", ["access"], subject_name="{{ company.contact.email }}")
    subject, body = drafts.render("ack", kera, case, "{{ 7*7 }} {% raw %}")
    assert subject == f"Re: {{{{ 7*7 }}}} {{% raw %}} [{TOKEN}]"
    assert "Dear {{ company.contact.email }}," in body


def test_make_draft(kera: Config) -> None:
    case = make_case("sv", ["access"])
    d = drafts.make_draft("ack", kera, case, "Begäran", status="approved")
    assert (d.kind, d.language, d.to_addr, d.status) == (
        "ack", "sv", "lauri.jarvinen@example.fi", "approved")
    assert d in case.drafts
    assert d.subject == f"Sv: Begäran [{TOKEN}]"


def test_format_date() -> None:
    assert drafts.format_date(date(2027, 1, 4), "fi") == "4.1.2027"
    assert drafts.format_date(date(2027, 1, 4), "sv") == "4.1.2027"
    assert drafts.format_date(date(2027, 1, 4), "en") == "4 January 2027"


def test_every_template_exists() -> None:
    base = drafts.templates_dir() / "mail"
    for lang in LANGS:
        for kind in KINDS:
            for part in ("subject", "txt"):
                assert (base / lang / f"{kind}.{part}.j2").is_file()


# -- compose.build -----------------------------------------------------------------------------
def compose(kind: str, body: str = "Hei Lauri,\n\nkäsittely alkaa.\n", **kw: Any) -> tuple[
        str, EmailMessage]:
    args: dict[str, Any] = {
        "kind": kind, "secret": SECRET, "case_token": TOKEN, "from_name": "Kera Group Oy",
        "from_addr": "info@keragroup.fi", "to_addr": "lauri.jarvinen@example.fi",
        "subject": f"Vs: Tietopyyntö käsittely [{TOKEN}]", "body": body, "language": "fi",
        "in_reply_to": "<orig@example.fi>", "references": ("<a@example.fi>", "<b@example.fi>"),
    }
    args.update(kw)
    mid, raw = build(**args)
    assert isinstance(raw, bytes)
    raw.decode("ascii")  # 7-bit clean on the wire
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")  # SMTP line ends
    return mid, cast(EmailMessage, message_from_bytes(raw, policy=default_policy))


def text_of(part: Any) -> str:
    """Decoded text with the wire's CRLF line ends back to newlines."""
    return str(part.get_content()).replace("\r\n", "\n")


@pytest.mark.parametrize("kind, auto", [("ack", "auto-replied"), ("unsubscribed", "auto-replied"),
                                        ("reply", None), ("alert", "auto-generated"),
                                        ("reminder", "auto-generated")])
def test_auto_submitted_per_kind(kind: str, auto: str | None) -> None:
    _, msg = compose(kind)
    assert msg["Auto-Submitted"] == auto
    assert (msg["X-Auto-Response-Suppress"] == "All") == (auto is not None)


def test_reply_is_not_marked_automatic() -> None:
    assert "reply" not in AUTO_SUBMITTED
    _, msg = compose("reply")
    assert "Auto-Submitted" not in msg


@pytest.mark.parametrize("kind", ["ack", "reply", "unsubscribed"])
def test_message_id_is_ours_and_verifiable(kind: str) -> None:
    mid, msg = compose(kind)
    assert msg["Message-ID"].strip() == mid  # a long one may be folded (legal FWS)
    assert case_token_from_message_id(SECRET, mid) == TOKEN
    assert case_token_from_message_id(SECRET, msg["Message-ID"]) == TOKEN
    assert case_token_from_message_id(b"other", mid) is None
    assert mid.endswith("@keragroup.fi>")
    assert f".{kind}." in mid


def test_message_id_domain_can_be_configured() -> None:
    mid, _ = compose("ack", id_domain="rd.example.net")
    assert mid.endswith("@rd.example.net>")
    assert case_token_from_message_id(SECRET, mid) == TOKEN


def test_threading_headers() -> None:
    _, msg = compose("reply")
    assert msg["In-Reply-To"] == "<orig@example.fi>"
    assert msg["References"].split() == ["<a@example.fi>", "<b@example.fi>", "<orig@example.fi>"]


def test_references_are_capped() -> None:
    refs = tuple(f"<r{i}@example.fi>" for i in range(50))
    _, msg = compose("ack", references=refs)
    got = str(msg["References"]).split()
    assert got == [*refs[-10:], "<orig@example.fi>"]


def test_no_threading_headers_without_original() -> None:
    _, msg = compose("ack", in_reply_to=None, references=())
    assert "In-Reply-To" not in msg and "References" not in msg


def test_utf8_body_and_headers_intact() -> None:
    body = ("Hei Lauri Järvinen,\n\n" + "käsittelemme pyyntöänne, åäö ÅÄÖ € – “lainaus”. " * 6
            + "\nFrom the start of a line\n.\n..\nviimeinen rivi ilman rivinvaihtoa  ")
    _, msg = compose("reply", body=body, from_name="Käkelä Oy")
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content_charset() == "utf-8"
    part = msg.get_body(("plain",))
    assert part is not None
    assert text_of(part) == body + "\n"
    assert msg["Subject"] == f"Vs: Tietopyyntö käsittely [{TOKEN}]"
    assert msg["From"].addresses[0].display_name == "Käkelä Oy"
    assert msg["From"].addresses[0].addr_spec == "info@keragroup.fi"
    assert msg["To"] == "lauri.jarvinen@example.fi"
    assert msg["Content-Language"] == "fi"
    assert msg["Date"] is not None and msg["Date"].datetime.tzinfo is not None


def test_header_injection_is_refused() -> None:
    with pytest.raises(ValueError):
        compose("ack", subject="Vs: x\r\nBcc: victim@example.org")


def test_rendered_draft_survives_compose(kera: Config) -> None:
    """The real path: a rendered Finnish reply with the Art. 15 facts, composed and re-parsed."""
    subject, body = drafts.render("reply", kera, make_case("fi", ["access"]), "Tarkastuspyyntö")
    mid, msg = compose("reply", subject=subject, body=body)
    part = msg.get_body(("plain",))
    assert part is not None
    assert text_of(part) == body
    assert msg["Subject"] == subject
    assert case_token_from_message_id(SECRET, mid) == TOKEN
    assert re.search(r"Vastaanottajat: Tietoja ei myydä", text_of(part))
