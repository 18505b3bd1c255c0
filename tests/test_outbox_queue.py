"""Enqueueing is idempotent (by draft and by Message-ID); backoff follows its schedule."""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from bot.config import Outbox
from bot.intake.store import ensure_mailbox
from bot.outbox.queue import enqueue
from bot.outbox.retry import backoff_seconds
from storage.db import Database
from storage.models import Case, Draft, Message, OutboxItem
from tests.test_outbox_common import PERSON, make_mail


def _draft(db: Database) -> tuple[int, int]:
    """A case with one approved draft; (mailbox id, draft id)."""
    with db.session() as s:
        mb = ensure_mailbox(s, "info")
        msg = Message(mailbox_id=mb.id, folder="INBOX", uidvalidity=1, uid=1, dedupe_key="k",
                      content_sha256="0" * 64, internaldate=datetime.now(UTC), size=1, raw=b"x")
        s.add(msg)
        s.flush()
        today = date.today()
        case = Case(token="RD-AAAA-BBBB", mailbox_id=mb.id, opening_message_id=msg.id,
                    types=["access"], language="fi", status="approved", subject_email=PERSON,
                    received_at=datetime.now(UTC), received_date=today, deadline=today,
                    extended_deadline=today, target_date=today)
        s.add(case)
        s.flush()
        draft = Draft(case_id=case.id, kind="reply", language="fi", to_addr=PERSON,
                      subject="Re", body="Hei", status="approved")
        s.add(draft)
        s.flush()
        return mb.id, draft.id


def _count(db: Database) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(OutboxItem)) or 0)


def _put(db: Database, mailbox_id: int, draft_id: int | None = None,
         mail: tuple[str, bytes] | None = None) -> OutboxItem:
    mid, raw = mail or make_mail()
    with db.session() as s:
        return enqueue(s, mailbox_id=mailbox_id, kind="reply", message_id=mid,
                       mail_from="info@example.test", rcpt_to=[PERSON], raw=raw,
                       draft_id=draft_id)


def test_enqueue_is_idempotent(db: Database) -> None:
    mailbox_id, draft_id = _draft(db)
    mail = make_mail()
    first = _put(db, mailbox_id, draft_id, mail)
    assert (first.status, first.attempts, first.message_id) == ("queued", 0, mail[0])
    # The same draft again, even composed anew with another Message-ID: the first row wins.
    again = _put(db, mailbox_id, draft_id)
    assert again.id == first.id and again.message_id == mail[0]
    # The same Message-ID without a draft: also the existing row.
    assert _put(db, mailbox_id, None, mail).id == first.id
    assert _count(db) == 1


def test_enqueue_checks_the_message_id_header(db: Database) -> None:
    mid, raw = make_mail()
    with db.session() as s:
        mb = ensure_mailbox(s, "info")
        with pytest.raises(ValueError, match="Message-ID"):
            enqueue(s, mailbox_id=mb.id, kind="reply", message_id="<other@example.test>",
                    mail_from="info@example.test", rcpt_to=[PERSON], raw=raw)
        with pytest.raises(ValueError, match="recipient"):
            enqueue(s, mailbox_id=mb.id, kind="reply", message_id=mid,
                    mail_from="info@example.test", rcpt_to=[], raw=raw)


def test_racing_enqueues_of_one_draft_make_one_row(db: Database) -> None:
    """Two approvals of the same draft in two transactions (PostgreSQL: unique-index wait)."""
    mailbox_id, draft_id = _draft(db)
    results: list[int] = []

    def put() -> None:
        mid, raw = make_mail()
        with db.session() as s:
            row = enqueue(s, mailbox_id=mailbox_id, kind="reply", message_id=mid,
                          mail_from="info@example.test", rcpt_to=[PERSON], raw=raw,
                          draft_id=draft_id)
            s.flush()
            results.append(row.id)
            time.sleep(0.3)  # hold the transaction open while the other one tries

    threads = [threading.Thread(target=put) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 2 and results[0] == results[1]
    assert _count(db) == 1


def test_backoff_doubles_up_to_the_cap_with_bounded_jitter() -> None:
    cfg = Outbox(backoff_seconds=30, backoff_max_seconds=300)
    rng = random.Random(7)
    for attempt, base in [(1, 30), (2, 60), (3, 120), (4, 240), (5, 300), (50, 300)]:
        delays = [backoff_seconds(attempt, cfg, rng) for _ in range(50)]
        assert all(base <= d <= base * 1.1 for d in delays)
        assert len(set(delays)) > 1  # jittered
