"""bot/ids.py (signed Message-IDs, tokens, hashes) and bot/triage/threading.py on real databases."""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy.orm import Session

from bot.ids import (
    TOKEN_RE,
    case_token_from_message_id,
    email_hash,
    find_case_tokens,
    make_message_id,
    new_case_token,
)
from bot.triage.threading import (
    case_by_reference,
    case_by_subject_token,
    case_by_token,
    case_of_bounced_mail,
)
from classifiers.mime import parse_message
from storage.db import Database
from storage.models import Case, Mailbox, Message
from tests import test_triage_rules as shared

SECRET = b"k" * 32
module_db = shared.module_db  # both backends, one database for this module
OTHER = b"another secret entirely"
_n = itertools.count(1)


# -- ids ---------------------------------------------------------------------------------------
def test_round_trip() -> None:
    token = new_case_token()
    mid = make_message_id(SECRET, token, "ack", "kespet.fi")
    assert re.fullmatch(r"<rd\.RD-[A-Z2-9]{4}-[A-Z2-9]{4}\.ack\.[a-z2-7]{10}\.[a-z2-7]{16}"
                        r"@kespet\.fi>", mid)
    assert case_token_from_message_id(SECRET, mid) == token
    assert case_token_from_message_id(SECRET, f"  {mid}\r\n") == token  # unfolded header


def test_message_ids_are_unique_per_call() -> None:
    token = new_case_token()
    mids = {make_message_id(SECRET, token, "reply", "x.fi") for _ in range(200)}
    assert len(mids) == 200
    assert all(case_token_from_message_id(SECRET, m) == token for m in mids)


def _flip(ch: str) -> str:
    return "b" if ch != "b" else "c"


def test_tampered_mac_is_rejected() -> None:
    mid = make_message_id(SECRET, new_case_token(), "ack", "kespet.fi")
    at = mid.index("@")
    for pos in (at - 1, at - 16):  # last and first character of the MAC
        forged = mid[:pos] + _flip(mid[pos]) + mid[pos + 1:]
        assert case_token_from_message_id(SECRET, forged) is None
    assert case_token_from_message_id(SECRET, mid[:at - 16] + mid[at - 16:at].upper()
                                      + mid[at:]) is None


def test_other_parts_tampered_are_rejected() -> None:
    token = "RD-K7QM-2XPA"
    mid = make_message_id(SECRET, token, "ack", "kespet.fi")
    assert case_token_from_message_id(SECRET, mid.replace(token, "RD-K7QM-2XPB")) is None
    assert case_token_from_message_id(SECRET, mid.replace(".ack.", ".reply.")) is None
    nonce = mid.split(".")[3]
    assert case_token_from_message_id(SECRET, mid.replace(nonce, "a" * 10)) is None
    # The domain is not signed: a relay rewriting it does not break threading.
    assert case_token_from_message_id(SECRET, mid.replace("@kespet.fi", "@relay.example")) == token


def test_another_secret_is_rejected() -> None:
    mid = make_message_id(SECRET, new_case_token(), "ack", "kespet.fi")
    assert case_token_from_message_id(OTHER, mid) is None
    assert case_token_from_message_id(b"", mid) is None


@pytest.mark.parametrize("mid", [
    "<CAH8nV0x=abc@mail.gmail.com>",
    "<rd.RD-K7QM-2XPA.ack@kespet.fi>",
    "rd.RD-K7QM-2XPA.ack.abcdefghij.abcdefghijklmnop@kespet.fi",  # no angle brackets
    "<rd.RD-K7QM-0XPA.ack.abcdefghij.abcdefghijklmnop@kespet.fi>",  # 0 not in the alphabet
    "", "<>", "<@>", "garbage \x00 <rd.>", "<rd." + "A" * 5000 + "@x>",
])
def test_foreign_or_malformed_message_ids(mid: str) -> None:
    assert case_token_from_message_id(SECRET, mid) is None


def test_new_case_token_alphabet() -> None:
    tokens = {new_case_token() for _ in range(2000)}
    assert len(tokens) == 2000
    for t in tokens:
        assert TOKEN_RE.fullmatch(t)
        assert not set(t[3:].replace("-", "")) & set("01OIL")  # read aloud without confusion


def test_find_case_tokens() -> None:
    assert find_case_tokens("Re: Vs: Pyyntö [RD-K7QM-2XPA] ja RD-ABCD-EFGH") == [
        "RD-K7QM-2XPA", "RD-ABCD-EFGH"]
    assert find_case_tokens("XRD-K7QM-2XPA RD-K7QM-2XP rd-k7qm-2xpa RD-K0QM-2XPA") == []
    assert find_case_tokens("") == []


def test_email_hash() -> None:
    h = email_hash(SECRET, "Matti.Meikalainen@Example.FI ")
    assert h == email_hash(SECRET, "matti.meikalainen@example.fi")
    assert re.fullmatch(r"[0-9a-f]{64}", h)
    assert h != email_hash(OTHER, "matti.meikalainen@example.fi")
    assert h != hashlib.sha256(b"matti.meikalainen@example.fi").hexdigest()  # keyed, not bare
    assert h != email_hash(SECRET, "matti.meikalainen@example.com")


# -- threading on the real databases -----------------------------------------------------------
@pytest.fixture
def session(module_db: Database) -> Iterator[Session]:
    with Session(module_db.engine) as s:
        try:
            yield s
        finally:
            s.rollback()


def add_case(s: Session, email: str = "matti@example.fi", token: str | None = None) -> Case:
    mb = Mailbox(name=f"mb{next(_n)}")
    s.add(mb)
    s.flush()
    raw = f"From: {email}\r\nSubject: x\r\n\r\nbody {next(_n)}\r\n".encode()
    msg = Message(mailbox_id=mb.id, folder="INBOX", uidvalidity=1, uid=next(_n),
                  dedupe_key=hashlib.sha256(raw).hexdigest(), content_sha256="0" * 64,
                  internaldate=datetime(2026, 3, 5, 8, tzinfo=UTC), size=len(raw), raw=raw)
    s.add(msg)
    s.flush()
    case = Case(token=token or new_case_token(), mailbox_id=mb.id, opening_message_id=msg.id,
                types=["access"], language="fi", status="awaiting_approval",
                subject_email=email, received_at=datetime(2026, 3, 5, 8, tzinfo=UTC),
                received_date=date(2026, 3, 5), deadline=date(2026, 4, 7),
                extended_deadline=date(2026, 6, 5), target_date=date(2026, 3, 27))
    s.add(case)
    s.flush()
    return case


def reply(frm: str = "matti@example.fi", subject: str = "Re: x", **headers: str) -> bytes:
    lines = [f"From: Matti <{frm}>", "To: sales@kespet.fi", f"Subject: {subject}",
             "Message-ID: <answer@example.fi>"]
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    return ("\r\n".join([*lines, "", "Kiitos."]) + "\r\n").encode()


def test_by_in_reply_to(session: Session) -> None:
    case = add_case(session)
    add_case(session, email="other@example.fi")
    mid = make_message_id(SECRET, case.token, "ack", "kespet.fi")
    found = case_by_reference(session, SECRET, parse_message(reply(In_Reply_To=mid)))
    assert found is not None and found.id == case.id


def test_by_references_anywhere_in_the_chain(session: Session) -> None:
    case = add_case(session)
    mid = make_message_id(SECRET, case.token, "reply", "kespet.fi")
    refs = f"<first@example.fi> {mid} <third@example.fi>"
    mail = parse_message(reply(References=refs, In_Reply_To="<third@example.fi>"))
    found = case_by_reference(session, SECRET, mail)
    assert found is not None and found.id == case.id


def test_reference_from_a_stranger_still_threads(session: Session) -> None:
    """A signed reference is proof enough: a colleague answering from another address joins."""
    case = add_case(session)
    mid = make_message_id(SECRET, case.token, "ack", "kespet.fi")
    mail = parse_message(reply(frm="colleague@example.fi", In_Reply_To=mid))
    found = case_by_reference(session, SECRET, mail)
    assert found is not None and found.id == case.id


def test_forged_or_foreign_reference_does_not_thread(session: Session) -> None:
    case = add_case(session)
    forged = make_message_id(OTHER, case.token, "ack", "kespet.fi")
    mail = parse_message(reply(In_Reply_To=forged, References=f"<x@gmail.com> {forged}"))
    assert case_by_reference(session, SECRET, mail) is None
    # A correctly signed ID of a case that does not exist (e.g. another instance's) → None.
    unknown = make_message_id(SECRET, "RD-ZZZZ-ZZZZ", "ack", "kespet.fi")
    assert case_by_reference(session, SECRET, parse_message(reply(In_Reply_To=unknown))) is None


def test_unknown_reference_then_a_good_one(session: Session) -> None:
    case = add_case(session)
    unknown = make_message_id(SECRET, "RD-ZZZZ-ZZZZ", "ack", "kespet.fi")
    good = make_message_id(SECRET, case.token, "ack", "kespet.fi")
    mail = parse_message(reply(In_Reply_To=unknown, References=f"{good} {unknown}"))
    found = case_by_reference(session, SECRET, mail)
    assert found is not None and found.id == case.id


def test_subject_token_from_the_data_subject(session: Session) -> None:
    case = add_case(session, email="matti@example.fi")
    mail = parse_message(reply(frm="Matti@Example.FI", subject=f"Re: Pyyntö [{case.token}]"))
    found = case_by_subject_token(session, mail)
    assert found is not None and found.id == case.id


def test_subject_token_from_someone_else_is_not_threaded(session: Session) -> None:
    case = add_case(session, email="matti@example.fi")
    for frm in ("mallory@example.org", "matti@example.fi.evil.example", "matti@example.f"):
        mail = parse_message(reply(frm=frm, subject=f"Re: [{case.token}]"))
        assert case_by_subject_token(session, mail) is None, frm


def test_subject_token_without_from_or_unknown_token(session: Session) -> None:
    case = add_case(session)
    no_from = parse_message(f"Subject: [{case.token}]\r\n\r\nx\r\n".encode())
    assert case_by_subject_token(session, no_from) is None
    assert case_by_subject_token(session, parse_message(reply(subject="[RD-ZZZZ-ZZZZ]"))) is None


def test_case_by_token(session: Session) -> None:
    case = add_case(session)
    found = case_by_token(session, case.token)
    assert found is not None and found.id == case.id
    assert case_by_token(session, case.token.lower()) is None


def _dsn(quoted_mid: str) -> bytes:
    return ("Return-Path: <>\r\nFrom: Mail Delivery System <MAILER-DAEMON@mx.example.fi>\r\n"
            "To: sales@kespet.fi\r\nSubject: Undelivered Mail Returned to Sender\r\n"
            "Message-ID: <dsn@mx.example.fi>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/report; report-type=delivery-status; boundary=\"R\"\r\n\r\n"
            "--R\r\nContent-Type: text/plain\r\n\r\nUser unknown.\r\n"
            "--R\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
            "Final-Recipient: rfc822; matti@example.fi\r\nAction: failed\r\nStatus: 5.1.1\r\n"
            "--R\r\nContent-Type: message/rfc822\r\n\r\nFrom: Kespet Oy <sales@kespet.fi>\r\n"
            f"To: matti@example.fi\r\nMessage-ID: {quoted_mid}\r\nSubject: Vs: x\r\n\r\n"
            "Hei...\r\n--R--\r\n").encode()


def test_bounce_quoting_our_message_id_finds_the_case(session: Session) -> None:
    case = add_case(session)
    add_case(session, email="someone@example.fi")
    mid = make_message_id(SECRET, case.token, "ack", "kespet.fi")
    found = case_of_bounced_mail(session, SECRET, _dsn(mid))
    assert found is not None and found.id == case.id


def test_bounce_with_forged_or_foreign_id_finds_nothing(session: Session) -> None:
    case = add_case(session)
    assert case_of_bounced_mail(session, SECRET, _dsn(
        make_message_id(OTHER, case.token, "ack", "kespet.fi"))) is None
    assert case_of_bounced_mail(session, SECRET, _dsn("<abc@gmail.com>")) is None
    assert case_of_bounced_mail(session, SECRET, b"") is None
