"""classifiers/mime.py: parse_message survives anything and recovers readable text.

No hypothesis in the venv: a seeded loop of random blobs and of random mutations of the corpus
stands in for it (deterministic, so a failure reproduces).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from classifiers import mime
from classifiers.mime import (
    FATAL_DEFECTS,
    ParsedMail,
    decode_bytes,
    decode_header_value,
    parse_message,
)

CORPUS = Path(__file__).resolve().parent / "corpus" / "broken"
FILES = sorted(CORPUS.glob("*.eml"))
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
WORD = "käsittely"


def corpus(name: str) -> ParsedMail:
    return parse_message((CORPUS / name).read_bytes())


# -- never raises ------------------------------------------------------------------------------
@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_never_raises_on_the_corpus(path: Path) -> None:
    parsed = parse_message(path.read_bytes())
    assert isinstance(parsed, ParsedMail)
    assert all(isinstance(d, str) and d for d in parsed.defects)


def test_never_raises_on_random_bytes() -> None:
    rng = random.Random(20260305)
    for _ in range(500):
        blob = rng.randbytes(rng.randint(0, 600))
        parsed = parse_message(blob)
        assert isinstance(parsed, ParsedMail)


_TOKENS = [b"\n", b"\r\n", b"\r", b":", b"=?", b"?=", b"=?utf-8?B?", b"=?x?Q?=E4", b"--",
           b"boundary=", b"*0*=", b"*1=", b"*2*=", b"''", b"%", b"\x00", b"\xff", b"=\n", b"; ",
           b"Content-Type: multipart/mixed; boundary=x\n\n--x\n",
           b"Content-Type: text/plain; charset*0*=x; charset*2=y\n",
           b"Content-Type: multipart/report; report-type*0*=x''a; report-type*2=b\n",
           b"Content-Disposition: attachment; filename*0*=utf-8''%C3; filename*2=x\n",
           b"Content-Type: text/plain; charset=\"\xff\xfe\"\n", b"Subject: =?\xff?Q?a?=\n",
           b"Content-Transfer-Encoding: base64\n", b"Content-Transfer-Encoding: quoted-printable\n",
           b"Content-Type: message/rfc822\n\n", b"From: <>\n", b"From: a@b@c\n"]


def test_never_raises_on_mutated_corpus() -> None:
    """Splice protocol fragments into real broken mail: the headers-and-params paths that raise
    inside the stdlib (RFC 2231 gaps, 8-bit charset names, bad encoded words) get exercised."""
    rng = random.Random(7)
    seeds = [p.read_bytes()[:20000] for p in FILES]
    for _ in range(1500):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 8)):
            pos = rng.randint(0, len(data))
            op = rng.random()
            if op < 0.5:
                data[pos:pos] = rng.choice(_TOKENS)
            elif op < 0.7:
                data[pos:pos + rng.randint(1, 20)] = b""
            elif data:
                data[min(pos, len(data) - 1)] = rng.getrandbits(8)
        assert isinstance(parse_message(bytes(data)), ParsedMail)


@pytest.mark.parametrize("raw", [
    # Each of these raised out of parse_message once (stdlib exceptions not caught).
    b"From: a@example.fi\nContent-Type: text/plain; charset*0*=x; charset*2=y\n\n\xe4\n",
    b"From: =?x-mar\xdbian?Q?M=E4?= <a@example.fi>\nSubject: s\n\nbody\n",
    b"From: a@example.fi\nSubject: =?utf-8?B?DROP TABLE messages?=\n\nbody\n",
    b"From: a@example.fi\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B\n\n--B\n"
    b"Content-Type: application/pdf\nContent-Disposition: attachment; filename*0*=utf-8''a;"
    b" filename*2=b\n\nAAAA\n--B--\n",
    b"From: a@example.fi\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B\n\n--B\n"
    b"Content-Type: text/plain\n\nbody\n--B\nContent-Type: application/octet-stream;"
    b" charset*0*=x; charset*2=y\n\n\xff\xfeAAAA\n--B--\n",
])
def test_stdlib_exceptions_are_contained(raw: bytes) -> None:
    """None of these may raise, nor cost the message its body (a fatal defect)."""
    parsed = parse_message(raw)
    assert parsed.from_addr == "a@example.fi"
    assert not parsed.fatal, parsed.defects


# -- readable Finnish from wrong charsets ------------------------------------------------------
@pytest.mark.parametrize("name, defect", [
    ("02-latin1-declared-utf8.eml", "wrong_charset"),
    ("03-latin1-declared-ascii.eml", "wrong_charset"),
    ("01-unknown-charset.eml", "unknown_charset"),
    ("07-qp-broken.eml", "wrong_charset"),
    ("35-unknown-cte.eml", None),
    ("20-cr-only.eml", None),
    ("23-nested-200.eml", None),
    ("25-boundary-never-closed.eml", "mime:CloseBoundaryNotFoundDefect"),
])
def test_body_is_readable_finnish(name: str, defect: str | None) -> None:
    parsed = corpus(name)
    assert parsed.text_plain is not None
    assert WORD in parsed.text_plain
    assert "henkilötietojeni" in parsed.text_plain
    assert "Ã" not in parsed.text_plain and "Ă" not in parsed.text_plain  # no mojibake
    if defect:
        assert defect in parsed.defects
    assert not parsed.fatal


@pytest.mark.parametrize("name", ["04-base64-bad-chars.eml", "05-base64-wrong-padding.eml",
                                  "06-base64-truncated.eml"])
def test_broken_base64_is_repaired(name: str) -> None:
    parsed = corpus(name)
    assert parsed.text_plain is not None
    assert parsed.text_plain.startswith("Pyydän tietoja henkilötietojeni käsittely")
    assert not parsed.fatal


def test_truncated_base64_is_flagged_but_kept() -> None:
    assert "broken_base64" in corpus("06-base64-truncated.eml").defects
    parsed = corpus("38-base64-undecodable.eml")  # a single base64 character: nothing left
    assert "broken_base64" in parsed.defects
    assert parsed.text_plain == ""
    assert not parsed.fatal


def test_eight_bit_body_declared_correctly_has_no_defects() -> None:
    """The common case: UTF-8 with Content-Transfer-Encoding 8bit must decode cleanly."""
    raw = ("From: Lauri <l@example.fi>\nSubject: x\nMessage-ID: <8bit@example.fi>\n"
           "MIME-Version: 1.0\n"
           "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
           f"Pyydän {WORD}ä koskevat tiedot.\n").encode()
    parsed = parse_message(raw)
    assert parsed.text_plain == f"Pyydän {WORD}ä koskevat tiedot.\n"
    assert parsed.defects == ()


def test_sample_mail_of_both_examples_parses_cleanly() -> None:
    samples = sorted(EXAMPLES.glob("*/sample-mail/*.eml"))
    assert len(samples) >= 7
    for path in samples:
        if "broken" in path.name:  # the demo's deliberately broken mail
            continue
        parsed = parse_message(path.read_bytes())
        assert not parsed.fatal, (path.name, parsed.defects)
        text = parsed.text_plain or parsed.text_html
        assert text, path.name
        assert "\ufffd" not in text, path.name


@pytest.mark.parametrize("name, subject", [
    ("08-rfc2047-unknown-charset.eml", f"Tietopyyntö {WORD}"),
    ("09-rfc2047-split-mid-char.eml", WORD),
    ("39-charset-utf7-and-bad-param.eml", WORD),
    ("01-unknown-charset.eml", "Tietopyyntö"),  # raw UTF-8 in the header
])
def test_subject_decoding(name: str, subject: str) -> None:
    assert corpus(name).subject == subject


def test_eight_bit_headers() -> None:
    parsed = corpus("28-8bit-header.eml")
    assert parsed.subject.startswith("Käsittely ja tiedot")
    assert parsed.from_addr == "j@example.fi"
    assert parsed.from_name == "Järvinen"


def test_malformed_encoded_words_stay_literal() -> None:
    parsed = corpus("10-rfc2047-malformed.eml")
    assert parsed.subject.startswith("broken word")
    assert "=?utf-8?X?foo?=" in parsed.subject
    assert not parsed.fatal


def test_nul_bytes_never_reach_header_fields() -> None:
    parsed = corpus("19-nul-bytes.eml")
    assert "\x00" not in parsed.subject
    assert parsed.subject == "nul bytes"
    assert parsed.message_id == "<c19@example.fi>"


def test_rfc2231_broken_continuation_keeps_the_body() -> None:
    parsed = corpus("11-rfc2231-broken-continuation.eml")
    assert parsed.text_plain is not None and WORD in parsed.text_plain
    assert "bad_filename" in parsed.defects
    assert [a.content_type for a in parsed.attachments] == ["application/pdf"]
    assert not parsed.fatal


def test_rfc2231_and_rfc2047_filenames() -> None:
    raw = (b"From: a@example.fi\nSubject: x\nMIME-Version: 1.0\n"
           b"Content-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\nhi\n"
           b"--B\nContent-Type: application/pdf\nContent-Disposition: attachment;"
           b" filename*0*=utf-8''henkil%C3%B6; filename*1=tiedot.pdf\n\nAAAA\n"
           b"--B\nContent-Type: application/pdf; name=\"=?utf-8?Q?k=C3=A4sittely.pdf?=\"\n"
           b"Content-Disposition: attachment\n\nAAAA\n--B--\n")
    parsed = parse_message(raw)
    assert [a.filename for a in parsed.attachments] == ["henkilötiedot.pdf", "käsittely.pdf"]
    assert parsed.text_plain == "hi"  # the line break before a boundary is the boundary's


def test_html_only() -> None:
    parsed = corpus("12-html-only.eml")
    assert parsed.text_plain is None
    assert parsed.text_html is not None and f"<b>{WORD}</b>" in parsed.text_html
    assert "no_text_part" not in parsed.defects


def test_forwarded_message_is_not_the_body() -> None:
    parsed = corpus("26-message-rfc822-inside.eml")
    assert parsed.text_plain == "Edelleenlähetys."
    assert parsed.subject == "Fwd: tietopyynto"


def test_duplicate_headers_first_wins() -> None:
    parsed = corpus("16-duplicate-headers.eml")
    assert (parsed.from_addr, parsed.subject, parsed.message_id) == (
        "matti@example.fi", "first", "<c16a@example.fi>")


def test_dsn_fields() -> None:
    parsed = corpus("27-dsn-bounce.eml")
    assert (parsed.content_type, parsed.report_type) == ("multipart/report", "delivery-status")
    assert parsed.return_path == "<>"
    assert parsed.auto_submitted == "auto-replied"


def test_protocol_headers() -> None:
    parsed = corpus("40-auto-submitted-list-request.eml")
    assert parsed.auto_submitted == "auto-generated"
    assert parsed.precedence == "list"
    assert parsed.list_id == "<forms.example.fi>"
    raw = (b"From: A <A@Example.FI>\nReply-To: Other <Other@Example.org>\nTo: x@y.fi, z@y.fi\n"
           b"In-Reply-To: <a@x> junk\nReferences: <r1@x>\n <r2@x> <r3@x>\nX-Autoreply: yes\n"
           b"Authentication-Results: mx.kespet.fi; dmarc=pass\n\nhi\n")
    p = parse_message(raw)
    assert p.from_addr == "a@example.fi"
    assert p.reply_to == "other@example.org"
    assert p.to_addrs == ("x@y.fi", "z@y.fi")
    assert p.in_reply_to == ("<a@x>",)
    assert p.references == ("<r1@x>", "<r2@x>", "<r3@x>")
    assert p.auto_reply_headers == ("x-autoreply",)
    assert p.authentication_results == ("mx.kespet.fi; dmarc=pass",)


def test_content_type_without_subtype_defaults_to_text_plain() -> None:
    parsed = corpus("32-content-type-no-subtype.eml")
    assert parsed.content_type == "text/plain"
    assert parsed.text_plain is not None and WORD in parsed.text_plain


def test_long_header_line() -> None:
    parsed = corpus("29-long-header.eml")
    assert parsed.subject.startswith("tietopyyntö tietopyyntö")
    assert len(parsed.references) == 2000
    assert parsed.message_id == "<c29@example.fi>"


# -- what is fatal -----------------------------------------------------------------------------
def test_fatal_defects_are_exactly_three() -> None:
    assert frozenset({"no_from", "undecodable_body", "not_a_message"}) == FATAL_DEFECTS


@pytest.mark.parametrize("name, fatal", [
    ("14-no-from.eml", "no_from"),
    ("15-from-without-at.eml", "no_from"),
    ("42-overlong-address.eml", "no_from"),
    ("18-body-only.eml", "not_a_message"),
    ("33-empty.eml", "not_a_message"),
    ("37-whitespace-only.eml", "not_a_message"),
    ("34-binary-garbage.eml", "not_a_message"),
])
def test_fatal_when_unusable(name: str, fatal: str) -> None:
    parsed = corpus(name)
    assert parsed.fatal
    assert fatal in parsed.defects


def test_from_without_at_is_named() -> None:
    parsed = corpus("15-from-without-at.eml")
    assert parsed.from_addr is None
    assert "bad_from" in parsed.defects


@pytest.mark.parametrize("name", [
    "01-unknown-charset.eml", "02-latin1-declared-utf8.eml", "06-base64-truncated.eml",
    "11-rfc2231-broken-continuation.eml", "13-no-message-id.eml",
    "24-missing-boundary.eml", "36-multipart-no-parts.eml", "17-header-only.eml",
])
def test_repairable_defects_are_not_fatal(name: str) -> None:
    parsed = corpus(name)
    assert parsed.defects or name.startswith("17-")
    assert not parsed.fatal


def test_missing_message_id_is_a_defect_not_fatal() -> None:
    parsed = corpus("13-no-message-id.eml")
    assert parsed.message_id is None
    assert "no_message_id" in parsed.defects
    assert not parsed.fatal


def test_undecodable_body_is_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    """A structure the walker cannot handle keeps the headers and quarantines the message."""
    def explode(*_a: object) -> None:
        raise RecursionError("deep")

    monkeypatch.setattr(mime, "_walk", explode)
    parsed = parse_message(b"From: a@example.fi\nSubject: s\n\nbody\n")
    assert parsed.from_addr == "a@example.fi"
    assert "undecodable_body:RecursionError" in parsed.defects
    assert parsed.fatal


# -- the decoding helpers ----------------------------------------------------------------------
@pytest.mark.parametrize("data, charset, defect", [
    ("käsittely".encode("latin-1"), None, None),
    ("käsittely".encode("latin-1"), "utf-8", "wrong_charset"),
    ("käsittely".encode("cp1252"), "x-foo", "unknown_charset"),
    ("käsittely".encode("iso-8859-15"), "iso-8859-15", None),
    ("käsittely".encode("utf-16"), "utf-16", None),
    ("käsittely".encode(), '"UTF8"', None),
    ("käsittely".encode(), "unknown-8bit", "unknown_charset"),
])
def test_decode_bytes(data: bytes, charset: str | None, defect: str | None) -> None:
    defects: list[str] = []
    assert decode_bytes(data, charset, defects) == WORD
    assert defects == ([defect] if defect else [])


@pytest.mark.parametrize("text, encoding", [
    ("Rajoittakaa tietojeni käsittelyä, osoitetietoni ovat väärät.", "latin-1"),
    ("Hej, jag vill få ut mina personuppgifter. Åsa Öberg", "latin-1"),
    ("Bitte löschen Sie meine Daten gemäß Art. 17 – Grüße, Jürgen Müßig", "cp1252"),
    ("Je souhaite accéder à mes données « personnelles ». Hélène", "iso-8859-15"),
    ("Dzień dobry, proszę o usunięcie moich danych. Z poważaniem, Łukasz Wójcik", "cp1250"),
    ("Dzień dobry, proszę o usunięcie moich danych. Z poważaniem, Łukasz Wójcik", "iso-8859-2"),
])
def test_wrongly_declared_legacy_text_is_recovered(text: str, encoding: str) -> None:
    """Short Western texts must not go through charset guessing (it picks mac_iceland for
    Finnish); Central European ones still must."""
    for declared in ("utf-8", "us-ascii", None):
        assert decode_bytes(text.encode(encoding), declared, []) == text


def test_example_wrong_charset_sample_reads_as_finnish() -> None:
    path = EXAMPLES / "kespet/sample-mail/14-restriction-wrong-charset-fi.eml"
    parsed = parse_message(path.read_bytes())
    assert parsed.subject == "Käsittelyn rajoittaminen"
    assert parsed.text_plain is not None
    assert "tietojeni käsittelyä" in parsed.text_plain


def test_decode_header_value() -> None:
    defects: list[str] = []
    assert decode_header_value(None) == ""
    assert decode_header_value("=?iso-8859-1?Q?k=E4sittely?= ja  =?utf-8?B?w6Q=?=",
                               defects) == "käsittely ja ä"
    assert decode_header_value("  folded\r\n\tvalue ") == "folded value"
    assert defects == []


# -- the fast path of parse_text_parts reads every message as the stdlib path does ----------
def _stdlib_text_parts(raw: bytes) -> tuple[str, str | None, str | None]:
    """``parse_text_parts`` with the fast path switched off (the compat32 parser for all)."""
    original = mime._fast_split
    mime._fast_split = lambda _raw: None  # type: ignore[assignment]
    try:
        return mime.parse_text_parts(raw)
    finally:
        mime._fast_split = original


_SHAPES = [
    b"From: a@example.fi\nSubject: =?utf-8?q?K=C3=A4sittely?=\nContent-Type: text/plain;"
    b" charset=\"utf-8\"\nContent-Transfer-Encoding: quoted-printable\n\nPyyd=C3=A4n tiedot\n",
    b"From: a@example.fi\r\nSubject: s\r\nContent-Type: multipart/alternative;\r\n"
    b" boundary=\"==b==\"\r\n\r\npre\r\n--==b==\r\nContent-Type: text/plain; charset=latin-1\r\n"
    b"\r\nk\xe4sittely\r\n--==b==\r\nContent-Type: text/html\r\nContent-Disposition: inline\r\n"
    b"\r\n<p>x</p>\r\n--==b==--\r\nepilogue\r\n",
    b"From: a@example.fi\nContent-Type: multipart/mixed; boundary=B\n\n--B\n\nno headers\n"
    b"--B\nContent-Type: text/plain; name=a.txt\n\nattached\n--B\nContent-Type: text/plain;"
    b" charset*=utf-8''x\n\nrfc 2231\n--B\nContent-Type: application/pdf\n"
    b"Content-Disposition: attachment; filename=\"a.pdf\"\nContent-Transfer-Encoding: base64\n\n"
    b"AAAA\n--B \t\n\n--B--\n",
    b"Subject: \xe4 8-bit\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding:"
    b" base64\n\nw6Q=\n",
]


def test_fast_path_matches_the_stdlib_path() -> None:
    """The hand split (``_fast_split``) is only an optimisation: on every shape it accepts,
    and on random damage to them and to the broken corpus, the result is the stdlib's."""
    rng = random.Random(11)
    seeds = [*_SHAPES, *(p.read_bytes()[:20000] for p in FILES)]
    cases = list(seeds)
    for _ in range(1500):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            pos = rng.randint(0, len(data))
            if rng.random() < 0.7:
                data[pos:pos] = rng.choice([*_TOKENS, b"--B\n", b"--==b==--", b"\n\n", b" "])
            else:
                data[pos:pos + rng.randint(1, 5)] = b""
        cases.append(bytes(data))
    fast = 0
    for raw in cases:
        fast += mime._fast_split(raw) is not None
        assert mime.parse_text_parts(raw) == _stdlib_text_parts(raw), raw[:300]
    assert fast > len(cases) // 4  # the fast path is actually exercised
    assert all(mime._fast_split(raw) is not None for raw in _SHAPES)
