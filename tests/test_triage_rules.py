"""Triage table order (bot/triage/rules.py) and the pipeline on real SQLite and PostgreSQL.

The helpers at the top (config, stored messages, stub classifiers) are also used by
test_broken_corpus.py and test_cli_formats.py.  No trained model is used anywhere here: each test
passes a stub classify function returning a fixed ``Classification``.
"""

from __future__ import annotations

import hashlib
import io
import itertools
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr
from datetime import UTC, date, datetime
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from bot.config import Config, load_config
from bot.ids import case_token_from_message_id, email_hash, make_message_id, new_case_token
from bot.pipeline import Pipeline
from bot.triage import rules
from bot.triage.rules import Context, Outcome, decide
from classifiers.api import Classification
from classifiers.details import Details
from classifiers.mime import ParsedMail, parse_message
from storage.db import Database
from storage.models import Alert, Base, Case, Mailbox, Message, OutboxItem, Suppression
from tests.fixtures.db import _pg_url

ROOT = Path(__file__).resolve().parent.parent
KESPET = ROOT / "examples" / "kespet" / "rightsdesk.toml"
SECRET_KEY = "test-secret-key-for-rightsdesk"
OWN = "sales@kespet.fi"
_uids = itertools.count(1)


# -- helpers shared with other test files ------------------------------------------------------
def set_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIGHTSDESK_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("KESPET_IMAP_PASSWORD", "imap-pw")
    monkeypatch.setenv("KESPET_SMTP_PASSWORD", "smtp-pw")
    monkeypatch.delenv("RIGHTSDESK_CONFIG", raising=False)


def write_config(tmp_path: Path, db_url: str, extra: str = "") -> Path:
    """The Kespet example with its storage pointed at ``db_url`` (plus ``extra`` [triage] keys)."""
    text = KESPET.read_text(encoding="utf-8")
    old = 'url = "sqlite:///rightsdesk.db"'
    assert text.count(old) == 1
    text = text.replace(old, f'url = "{db_url}"')
    if extra:
        text = text.replace('[triage]\n', f"[triage]\n{extra}\n", 1)
    path = tmp_path / "rightsdesk.toml"
    path.write_text(text, encoding="utf-8")
    return path


def make_config(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch,
                extra: str = "") -> tuple[Config, Path]:
    set_env(monkeypatch)
    path = write_config(tmp_path, db_url, extra)
    cfg = load_config(path)
    cfg.resolve_secrets()
    return cfg, path


def classification(labels: tuple[str, ...] = ("access",), *, needs_triage: bool = False,
                   language: str = "fi") -> Classification:
    return Classification(
        labels=labels,
        scores={lab: 0.97 for lab in labels},
        language=language,
        reply_language=language,
        needs_triage=needs_triage,
        details=Details(),
        text="stub",
    )


def fixed(c: Classification) -> Callable[[ParsedMail], Classification]:
    def classify(mail: ParsedMail) -> Classification:
        return c

    return classify


def mail(*, frm: str = "Matti Meikäläinen <matti@example.fi>", to: str = OWN,
         subject: str = "Tietopyyntö", body: str = "Haluan tarkastaa tietoni.",
         date_hdr: str = "Thu, 05 Mar 2026 10:00:00 +0200", message_id: str | None = None,
         headers: dict[str, str] | None = None) -> bytes:
    """A small, well-formed UTF-8 message (8-bit body, as real Finnish mail often is)."""
    mid = message_id or f"<m{next(_uids)}@example.fi>"
    lines = [f"From: {frm}", f"To: {to}", f"Subject: {subject}", f"Date: {date_hdr}",
             f"Message-ID: {mid}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    lines += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
              "Content-Transfer-Encoding: 8bit", "", body, ""]
    return "\r\n".join(lines).encode("utf-8")


def mailbox_id(db: Database, name: str = "sales") -> int:
    with db.session() as s:
        try:
            from bot.intake.store import ensure_mailbox
        except ImportError:  # pragma: no cover - intake is another teammate's module
            row = s.scalars(select(Mailbox).where(Mailbox.name == name)).first()
            if row is None:
                row = Mailbox(name=name)
                s.add(row)
                s.flush()
            return row.id
        return ensure_mailbox(s, name).id


def store(db: Database, raw: bytes, internaldate: datetime | None = None,
          mailbox: str = "sales", attempts: int = 0) -> int:
    """Insert one Message row at stage "new", as intake would; return its id."""
    mb = mailbox_id(db, mailbox)
    content = hashlib.sha256(raw).hexdigest()
    uid = next(_uids)
    with db.session() as s:
        msg = Message(
            mailbox_id=mb, folder="INBOX", uidvalidity=1, uid=uid, message_id=None,
            dedupe_key=hashlib.sha256(f"{uid}\0{content}".encode()).hexdigest(),
            content_sha256=content,
            internaldate=internaldate or datetime(2026, 3, 5, 8, 0, tzinfo=UTC),
            size=len(raw), raw=raw, stage="new", attempts=attempts, flags=[],
        )
        try:
            from bot.intake.store import message_id_of
        except ImportError:  # pragma: no cover
            pass
        else:
            msg.message_id = message_id_of(raw)
        s.add(msg)
        s.flush()
        return msg.id


@pytest.fixture(scope="module",
                params=["sqlite", pytest.param("postgresql", marks=pytest.mark.server)])
def module_db(request: pytest.FixtureRequest,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """The ``db`` fixture's two backends (SQLite file, fresh PostgreSQL database, migrated), made
    once per module: creating a PostgreSQL database per test costs ~1.5 s."""
    if request.param == "sqlite":
        d = Database(f"sqlite:///{tmp_path_factory.mktemp('rd') / 'rightsdesk.db'}")
        yield d
        d.dispose()
        return
    urls = _pg_url()
    d = Database(next(urls))  # skips (or fails in CI) when PostgreSQL is not there
    try:
        yield d
    finally:
        d.dispose()
        urls.close()  # drops the database


@pytest.fixture
def fresh_db(module_db: Database) -> Database:
    """The module's database emptied of every row: as fresh as the ``db`` fixture."""
    with module_db.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    return module_db


def message_row(db: Database, message_id: int) -> Message:
    with db.session() as s:
        msg = s.get(Message, message_id)
        assert msg is not None
        s.expunge(msg)
        return msg


# -- the triage table, rule by rule ------------------------------------------------------------
@pytest.fixture
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        yield s
    engine.dispose()


class Spy:
    """A classify stub that counts its calls (rules must not classify when not needed)."""

    def __init__(self, c: Classification) -> None:
        self.c = c
        self.calls = 0

    def __call__(self, mail: ParsedMail) -> Classification:
        self.calls += 1
        return self.c


def ctx_for(session: Session, raw: bytes, classify: Callable[[ParsedMail], Classification],
            max_bytes: int = 10_000_000) -> Context:
    return Context(session=session, mail=parse_message(raw), raw=raw,
                   secret=SECRET_KEY.encode(), own_addresses=frozenset({OWN}),
                   max_bytes=max_bytes, classify=classify)


def _case_row(session: Session, email: str = "matti@example.fi") -> Case:
    mb = Mailbox(name=f"mb{next(_uids)}")
    session.add(mb)
    session.flush()
    raw = mail()
    msg = Message(mailbox_id=mb.id, folder="INBOX", uidvalidity=1, uid=next(_uids),
                  dedupe_key=hashlib.sha256(raw + str(next(_uids)).encode()).hexdigest(),
                  content_sha256="0" * 64, internaldate=datetime(2026, 3, 5, tzinfo=UTC),
                  size=len(raw), raw=raw)
    session.add(msg)
    session.flush()
    case = Case(token=new_case_token(), mailbox_id=mb.id,
                opening_message_id=msg.id, types=["access"], language="fi", status="new",
                subject_email=email, received_at=datetime(2026, 3, 5, tzinfo=UTC),
                received_date=date(2026, 3, 5), deadline=date(2026, 4, 7),
                extended_deadline=date(2026, 6, 5), target_date=date(2026, 3, 27))
    session.add(case)
    session.flush()
    return case


def test_too_large_is_quarantined_before_anything_else(session: Session) -> None:
    spy = Spy(classification())
    raw = mail(body="x" * 5000)
    d = decide(ctx_for(session, raw, spy, max_bytes=1024))
    assert (d.outcome, d.rule) == (Outcome.QUARANTINED, "too_large")
    assert "1024" in d.reason
    assert spy.calls == 0
    # The same message under the limit is a request: the size rule really decided.
    assert decide(ctx_for(session, raw, spy)).outcome is Outcome.CASE


@pytest.mark.parametrize("raw, fatal", [
    (mail(frm="undisclosed-recipients:;"), "no_from"),
    (mail(frm="Matti <matti.example.fi>"), "no_from"),
    (b"", "not_a_message"),
    (b"\x89PNG\r\n\x1a\n\x00\x00binary", "not_a_message"),
])
def test_broken_mail_is_quarantined_with_the_fatal_defect(session: Session, raw: bytes,
                                                          fatal: str) -> None:
    spy = Spy(classification())
    d = decide(ctx_for(session, raw, spy))
    assert (d.outcome, d.rule) == (Outcome.QUARANTINED, "broken_mime")
    assert fatal in d.reason.split(",")
    assert spy.calls == 0


def test_too_large_wins_over_broken(session: Session) -> None:
    d = decide(ctx_for(session, b"\x00" * 4096, Spy(classification()), max_bytes=1024))
    assert d.rule == "too_large"


def test_dsn_is_a_bounce_never_a_request(session: Session) -> None:
    raw = (Path(__file__).parent / "corpus" / "broken" / "27-dsn-bounce.eml").read_bytes()
    spy = Spy(classification(("access", "erasure")))
    d = decide(ctx_for(session, raw, spy))
    assert (d.outcome, d.rule) == (Outcome.BOUNCE, "bounce")
    assert d.case_id is None  # the quoted Message-ID is not signed with our secret
    assert d.no_auto_reply == "bounce"
    assert spy.calls == 0


def test_bounce_quoting_our_message_id_names_the_case(session: Session) -> None:
    case = _case_row(session)
    ours = make_message_id(SECRET_KEY.encode(), case.token, "ack", "kespet.fi")
    raw = (b"Return-Path: <>\r\nFrom: MAILER-DAEMON@mx.example.fi\r\nTo: sales@kespet.fi\r\n"
           b"Subject: Undelivered\r\nMessage-ID: <dsn@mx>\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n"
           b"--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n"
           b"--b\r\nContent-Type: message/delivery-status\r\n\r\nAction: failed\r\n"
           b"--b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: " + ours.encode()
           + b"\r\n--b--\r\n")
    d = decide(ctx_for(session, raw, Spy(classification())))
    assert (d.outcome, d.case_id) == (Outcome.BOUNCE, case.id)


def test_classic_bounce_sender_with_null_path(session: Session) -> None:
    raw = mail(frm="MAILER-DAEMON@mx.example.fi", headers={"Return-Path": "<>"})
    assert decide(ctx_for(session, raw, Spy(classification()))).outcome is Outcome.BOUNCE
    # The same sender with a real return path is not treated as a bounce by that rule.
    raw2 = mail(frm="MAILER-DAEMON@mx.example.fi", headers={"Return-Path": "<x@example.fi>"})
    assert decide(ctx_for(session, raw2, Spy(classification()))).outcome is Outcome.CASE


@pytest.mark.parametrize("header, value", [
    ("Auto-Submitted", "auto-generated"),
    ("Auto-Submitted", "auto-replied; owner=x"),
    ("X-Autoreply", "yes"),
    ("Precedence", "bulk"),
])
def test_auto_submitted_request_opens_a_case_without_auto_reply(session: Session, header: str,
                                                                value: str) -> None:
    """domain.md §4: a relayed request still starts the clock; only the auto reply is skipped."""
    d = decide(ctx_for(session, mail(headers={header: value}), Spy(classification())))
    assert d.outcome is Outcome.CASE
    assert d.no_auto_reply == "auto_submitted"


def test_auto_submitted_no_is_a_human(session: Session) -> None:
    d = decide(ctx_for(session, mail(headers={"Auto-Submitted": "no"}), Spy(classification())))
    assert (d.outcome, d.no_auto_reply) == (Outcome.CASE, None)


def test_plain_request_may_be_answered(session: Session) -> None:
    d = decide(ctx_for(session, mail(), Spy(classification(("access", "erasure")))))
    assert (d.outcome, d.rule, d.no_auto_reply) == (Outcome.CASE, "rights_request", None)
    assert d.reason == "access,erasure"
    assert d.classification is not None


def test_needs_triage_without_labels_is_a_case(session: Session) -> None:
    d = decide(ctx_for(session, mail(), Spy(classification((), needs_triage=True))))
    assert (d.outcome, d.reason) == (Outcome.CASE, "needs_triage")


@pytest.mark.parametrize("headers", [
    {"Auto-Submitted": "auto-replied"},
    {"Return-Path": "<>"},
])
def test_auto_reply_without_request(session: Session, headers: dict[str, str]) -> None:
    d = decide(ctx_for(session, mail(headers=headers), Spy(classification(()))))
    assert (d.outcome, d.rule) == (Outcome.AUTO_REPLY, "auto_reply")


def test_out_of_office_subject_without_request(session: Session) -> None:
    raw = mail(subject="Automaattinen vastaus: Tietopyyntö", body="Olen lomalla.")
    assert decide(ctx_for(session, raw, Spy(classification(())))).outcome is Outcome.AUTO_REPLY


@pytest.mark.parametrize("headers", [
    {"List-Id": "<news.example.fi>"},
    {"List-Unsubscribe": "<mailto:leave@example.fi>"},
    {"Precedence": "list"},
])
def test_list_mail_request_is_a_case_but_no_auto_reply(session: Session,
                                                       headers: dict[str, str]) -> None:
    d = decide(ctx_for(session, mail(headers=headers), Spy(classification())))
    assert (d.outcome, d.no_auto_reply) == (Outcome.CASE, "list_mail")


def test_null_return_path_request_is_a_case_without_reply(session: Session) -> None:
    d = decide(ctx_for(session, mail(headers={"Return-Path": "<>"}), Spy(classification())))
    assert (d.outcome, d.no_auto_reply) == (Outcome.CASE, "null_return_path")


def test_plain_mail_without_request(session: Session) -> None:
    d = decide(ctx_for(session, mail(subject="Tarjouspyyntö"), Spy(classification(()))))
    assert (d.outcome, d.rule) == (Outcome.NOT_A_REQUEST, "not_a_request")


@pytest.mark.parametrize("frm", ["sales@kespet.fi", "Kespet <SALES@Kespet.FI>"])
def test_mail_from_our_own_mailbox_is_not_a_request(session: Session, frm: str) -> None:
    spy = Spy(classification())
    d = decide(ctx_for(session, mail(frm=frm), spy))
    assert (d.outcome, d.rule) == (Outcome.NOT_A_REQUEST, "own_mail")
    assert spy.calls == 0


def test_threading_comes_before_classification(session: Session) -> None:
    case = _case_row(session)
    ours = make_message_id(SECRET_KEY.encode(), case.token, "ack", "kespet.fi")
    spy = Spy(classification(("erasure",)))
    d = decide(ctx_for(session, mail(headers={"In-Reply-To": ours}), spy))
    assert (d.outcome, d.rule, d.case_id) == (Outcome.THREAD, "thread_by_reference", case.id)
    assert spy.calls == 0
    # By subject token, from the data subject:
    d2 = decide(ctx_for(session, mail(subject=f"Re: [{case.token}]"), spy))
    assert (d2.outcome, d2.rule, d2.case_id) == (Outcome.THREAD, "thread_by_token", case.id)
    assert spy.calls == 0


def test_subject_token_from_a_stranger_is_classified_not_threaded(session: Session) -> None:
    case = _case_row(session)
    spy = Spy(classification())
    raw = mail(frm="mallory@example.org", subject=f"Re: [{case.token}]")
    d = decide(ctx_for(session, raw, spy))
    assert d.outcome is Outcome.CASE
    assert spy.calls == 1


def test_rule_table_order_is_the_policy() -> None:
    assert [name for name, _ in rules.RULES] == [
        "too_large", "broken_mime", "bounce", "own_mail", "thread_by_reference",
        "thread_by_token", "rights_request", "auto_reply", "not_a_request"]


# -- the pipeline on the real databases --------------------------------------------------------
def _count(db: Database, model: Any) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_request_opens_case_with_deadline_from_internaldate_and_queues_ack(
        fresh_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = fresh_db
    cfg, _ = make_config(tmp_path, db.url, monkeypatch)
    # Date: says 1 January; the server received it on Thu 5 Mar 2026 (domain.md §1 example).
    raw = mail(date_hdr="Thu, 01 Jan 2026 10:00:00 +0200", message_id="<req1@example.fi>",
               subject="Tietopyyntö käsittely")
    mid = store(db, raw, internaldate=datetime(2026, 3, 5, 8, 0, tzinfo=UTC))
    done = Pipeline(db, cfg, classify=fixed(classification(("access",)))).process_pending()
    assert [(p.message_id, p.outcome) for p in done] == [(mid, "case")]
    with db.session() as s:
        cases = s.scalars(select(Case)).all()
        assert len(cases) == 1
        case = cases[0]
        assert case.received_date == date(2026, 3, 5)
        assert case.deadline == date(2026, 4, 7)
        assert case.extended_deadline == date(2026, 6, 5)
        assert case.target_date == date(2026, 3, 27)
        assert case.subject_email == "matti@example.fi"
        assert case.subject_name == "Matti Meikäläinen"
        assert case.status == "awaiting_approval"
        assert [d.kind for d in case.drafts] == ["ack", "reply"]
        assert [d.status for d in case.drafts] == ["queued", "pending"]
        msg = s.get(Message, mid)
        assert msg is not None
        assert (msg.stage, msg.outcome, msg.case_id) == ("done", "case", case.id)
        items = s.scalars(select(OutboxItem)).all()
        assert len(items) == 1
        item = items[0]
        assert (item.status, item.kind, item.case_id) == ("queued", "ack", case.id)
        assert item.rcpt_to == ["matti@example.fi"]
        assert item.mail_from == OWN
        out = message_from_bytes(item.raw, policy=default_policy)
        assert out["Auto-Submitted"] == "auto-replied"
        assert out["In-Reply-To"] == "<req1@example.fi>"
        assert "<req1@example.fi>" in out["References"]
        assert out["Message-ID"] == item.message_id
        assert case_token_from_message_id(cfg.secret(), item.message_id) == case.token
        assert case.token in out["Subject"]
        body = out.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert "7.4.2026" in body


def test_unsubscribe_only_completes_and_keeps_only_a_hash(
        fresh_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = fresh_db
    cfg, _ = make_config(tmp_path, db.url, monkeypatch)
    address = "Uutis.Tilaaja@Example.FI"
    store(db, mail(frm=f"Tilaaja <{address}>", subject="Peru tilaus", body="Poistakaa minut."))
    Pipeline(db, cfg, classify=fixed(classification(("unsubscribe",)))).process_pending()
    with db.session() as s:
        case = s.scalars(select(Case)).one()
        assert case.status == "completed"
        assert not any(d.kind == "reply" for d in case.drafts)
        sup = s.scalars(select(Suppression)).one()
        assert sup.email_hash == email_hash(cfg.secret(), address.lower())
        assert len(sup.email_hash) == 64
        assert sup.case_id == case.id
        for value in (sup.email_hash, sup.source):
            assert "@" not in value and "tilaaja" not in value.lower()
        item = s.scalars(select(OutboxItem)).one()
        assert (item.kind, item.status) == ("unsubscribed", "queued")
        out = message_from_bytes(item.raw, policy=default_policy)
        assert out["Auto-Submitted"] == "auto-replied"
    # Nothing in the suppressions table holds the clear address, in any column.
    engine = create_engine(db.url)
    try:
        with engine.connect() as c:
            rows = c.exec_driver_sql("SELECT * FROM suppressions").all()
    finally:
        engine.dispose()
    assert len(rows) == 1
    assert not any("tilaaja" in str(v).lower() for v in rows[0])


def test_same_unsubscribe_twice_keeps_one_suppression(
        fresh_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = fresh_db
    cfg, _ = make_config(tmp_path, db.url, monkeypatch)
    for _ in range(2):
        store(db, mail(frm="t@example.fi", subject="Peru"))
    done = Pipeline(db, cfg, classify=fixed(classification(("unsubscribe",)))).process_pending()
    assert [p.outcome for p in done] == ["case", "case"]
    assert _count(db, Suppression) == 1


def test_auto_submitted_request_opens_case_but_sends_nothing(
        fresh_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = fresh_db
    cfg, _ = make_config(tmp_path, db.url, monkeypatch)
    store(db, mail(headers={"Auto-Submitted": "auto-generated"}))
    done = Pipeline(db, cfg, classify=fixed(classification(("erasure",)))).process_pending()
    assert [p.outcome for p in done] == ["case"]
    assert _count(db, Case) == 1
    assert _count(db, OutboxItem) == 0
    with db.session() as s:
        case = s.scalars(select(Case)).one()
        assert case.deadline == date(2026, 4, 7)
        assert any("no automatic reply (auto_submitted)" in (e.note or "") for e in case.events)
        # The reply draft still waits for staff: only the automatic acknowledgement is skipped.
        assert [d.kind for d in case.drafts] == ["reply"]


def test_failing_classifier_is_retried_then_quarantined_and_loop_goes_on(
        fresh_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = fresh_db
    cfg, _ = make_config(tmp_path, db.url, monkeypatch, extra="max_attempts = 3")
    bad = store(db, mail(subject="pahis", message_id="<bad@example.fi>"))
    good = store(db, mail(subject="hyvä", message_id="<good@example.fi>"))
    calls: list[str] = []

    def classify(m: ParsedMail) -> Classification:
        calls.append(m.subject)
        if m.subject == "pahis":
            raise ZeroDivisionError("boom")
        return classification(("access",))

    pipe = Pipeline(db, cfg, classify=classify)
    with redirect_stderr(io.StringIO()):
        first = pipe.process_pending(limit=1)
    assert [(p.message_id, p.outcome) for p in first] == [(bad, "retry")]
    row = message_row(db, bad)
    assert (row.stage, row.attempts) == ("new", 1)
    rest = pipe.process_pending()
    outcomes = [(p.message_id, p.outcome) for p in rest]
    assert outcomes == [(bad, "retry"), (bad, "quarantined"), (good, "case")]
    assert calls.count("pahis") == 3
    row = message_row(db, bad)
    assert row.stage == "quarantined"
    assert row.outcome == "quarantined"
    assert row.attempts == 3
    assert row.outcome_reason is not None and "ZeroDivisionError" in row.outcome_reason
    assert "boom" not in row.outcome_reason  # class name only, never message-derived text
    assert message_row(db, good).stage == "done"
    assert _count(db, Case) == 1


def test_message_that_crashed_before_is_quarantined_as_repeated_failure(
        fresh_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = fresh_db
    cfg, _ = make_config(tmp_path, db.url, monkeypatch)
    spy = Spy(classification())
    # Attempts already at max: each earlier try was counted, then the process died.
    mid = store(db, mail(), attempts=cfg.triage.max_attempts)
    done = Pipeline(db, cfg, classify=spy).process_pending()
    assert [(p.message_id, p.outcome) for p in done] == [(mid, "quarantined")]
    row = message_row(db, mid)
    assert row.stage == "quarantined"
    assert row.outcome_reason is not None
    assert row.outcome_reason.startswith("repeated_failure")
    assert spy.calls == 0
    assert _count(db, Case) == 0


def test_quarantine_retry_command_reruns_one_message(
        fresh_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = fresh_db
    from bot import cli

    cfg, path = make_config(tmp_path, db.url, monkeypatch)
    mid = store(db, mail(), attempts=cfg.triage.max_attempts)
    Pipeline(db, cfg, classify=fixed(classification())).process_pending()
    assert message_row(db, mid).stage == "quarantined"
    # The retry must not load the trained model: give the pipeline our stub.
    monkeypatch.setattr("bot.pipeline.default_classify",
                        lambda: fixed(classification(("access",))))
    out, err = io.StringIO(), io.StringIO()
    with redirect_stderr(err):
        rc = cli.main(["--config", str(path), "quarantine", "retry", str(mid)], out=out)
    assert rc == 0, err.getvalue()
    row = message_row(db, mid)
    assert (row.stage, row.outcome) == ("done", "case")
    assert out.getvalue().startswith(f"message {mid}: case (case ")
    # Retrying a message that is not in quarantine is an error, on stderr, exit 1.
    out2, err2 = io.StringIO(), io.StringIO()
    with redirect_stderr(err2):
        rc = cli.main(["--config", str(path), "quarantine", "retry", str(mid)], out=out2)
    assert rc == 1
    assert "not in quarantine" in err2.getvalue()
    assert out2.getvalue() == ""


def test_followup_by_reference_joins_case_and_bounce_alerts_staff(
        fresh_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = fresh_db
    cfg, _ = make_config(tmp_path, db.url, monkeypatch)
    store(db, mail(message_id="<open@example.fi>"))
    Pipeline(db, cfg, classify=fixed(classification())).process_pending()
    with db.session() as s:
        case_id, token = s.execute(select(Case.id, Case.token)).one()
        ack_mid = s.scalars(select(OutboxItem.message_id)).one()
    spy = Spy(classification(("erasure",)))
    f1 = store(db, mail(subject="Re: kuittaus", headers={"In-Reply-To": ack_mid,
                                                          "References": ack_mid}))
    dsn = (b"Return-Path: <>\r\nFrom: MAILER-DAEMON@mx.example.fi\r\nTo: sales@kespet.fi\r\n"
           b"Subject: failure\r\nMessage-ID: <dsn1@mx>\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n"
           b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b\r\n"
           b"Content-Type: text/rfc822-headers\r\n\r\nMessage-ID: " + ack_mid.encode()
           + b"\r\n--b--\r\n")
    f2 = store(db, dsn)
    done = Pipeline(db, cfg, classify=spy).process_pending()
    assert [(p.message_id, p.outcome, p.case_id) for p in done] == [
        (f1, "thread", case_id), (f2, "bounce", case_id)]
    assert spy.calls == 0
    assert _count(db, Case) == 1
    with db.session() as s:
        alert = s.scalars(select(Alert)).one()
        assert (alert.kind, alert.case_id) == ("bounce", case_id)
    assert token.startswith("RD-")
