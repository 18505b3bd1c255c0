"""The outbox runner against a real aiosmtpd and real SQLite / PostgreSQL.

Time is passed explicitly (``now=``) so backoff can be checked without sleeping.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from email import message_from_bytes
from email.policy import default
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from bot.outbox.alerts import is_alert_message_id
from bot.outbox.sender import OutboxSender, OutboxStateError
from storage.clock import aware, utcnow
from storage.db import Database
from storage.models import OutboxItem
from tests.fixtures.servers import free_port
from tests.fixtures.smtp import SmtpServer, StartSmtp
from tests.test_outbox_common import (
    PERSON,
    SECRET,
    STAFF,
    alerts,
    item,
    items,
    outbox_config,
    queue_mail,
    smtp_table,
)


def sender_for(db: Database, tmp_path: Path, server: SmtpServer | None, **smtp: Any
               ) -> OutboxSender:
    cfg = outbox_config(tmp_path, smtp_table(server, tmp_path, **smtp))
    return OutboxSender(db, cfg, SECRET)


def test_sends_once_and_records_it(db: Database, smtp_server: SmtpServer,
                                   tmp_path: Path) -> None:
    sender = sender_for(db, tmp_path, smtp_server)
    item_id, mid = queue_mail(db)
    assert sender.process_due() == 1
    row = item(db, item_id)
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, None)
    assert row.sent_at is not None
    assert sender.process_due(now=utcnow() + timedelta(days=1)) == 0
    assert smtp_server.message_ids() == [mid]


def test_4xx_then_success_after_backoff(db: Database, smtp_server: SmtpServer,
                                        tmp_path: Path) -> None:
    sender = sender_for(db, tmp_path, smtp_server)
    item_id, mid = queue_mail(db)
    smtp_server.fail("RCPT", 451)
    t0 = utcnow()
    assert sender.process_due(now=t0) == 1
    row = item(db, item_id)
    assert (row.status, row.attempts) == ("queued", 1)
    assert row.last_error is not None and "451" in row.last_error and "@" not in row.last_error
    wait = (aware(row.next_attempt_at) - t0).total_seconds()
    assert 10.0 <= wait <= 11.0  # backoff_seconds = 10, +≤10 % jitter
    assert sender.process_due(now=t0 + timedelta(seconds=9.9)) == 0  # not due yet
    assert smtp_server.messages() == []
    assert sender.process_due(now=t0 + timedelta(seconds=11.1)) == 1
    assert item(db, item_id).status == "sent"
    assert smtp_server.message_ids() == [mid]


def test_refused_connection_is_retried(db: Database, smtp_factory: StartSmtp,
                                       tmp_path: Path) -> None:
    port = free_port()  # nothing listens here yet
    sender = sender_for(db, tmp_path, None, port=port)
    item_id, mid = queue_mail(db)
    t0 = utcnow()
    assert sender.process_due(now=t0) == 1
    row = item(db, item_id)
    assert row.status == "queued" and "connection" in (row.last_error or "")
    server = smtp_factory(port=port)
    assert sender.process_due(now=t0 + timedelta(seconds=12)) == 1
    assert item(db, item_id).status == "sent"
    assert server.message_ids() == [mid]


def test_timeout_is_retried(db: Database, smtp_server: SmtpServer, tmp_path: Path) -> None:
    sender = sender_for(db, tmp_path, smtp_server, timeout_seconds=0.3)
    item_id, mid = queue_mail(db)
    smtp_server.delay("MAIL", 1.0)
    t0 = utcnow()
    sender.process_due(now=t0)
    row = item(db, item_id)
    assert row.status == "queued" and "timed out" in (row.last_error or "")
    sender.process_due(now=t0 + timedelta(seconds=12))
    assert item(db, item_id).status == "sent"
    assert smtp_server.message_ids() == [mid]


def test_5xx_fails_alerts_staff_and_is_not_retried(db: Database, smtp_server: SmtpServer,
                                                   tmp_path: Path) -> None:
    sender = sender_for(db, tmp_path, smtp_server)
    item_id, mid = queue_mail(db)
    smtp_server.fail("RCPT", 550)
    t0 = utcnow()
    sender.process_due(now=t0)
    row = item(db, item_id)
    assert (row.status, row.attempts) == ("failed", 1)
    assert "550" in (row.last_error or "")
    [alert] = alerts(db)
    assert (alert.kind, alert.outbox_id, alert.notified) == ("send_failed", item_id, True)
    assert PERSON not in alert.text and "550" in alert.text
    # The alert mail was queued and, the server being fine again, sent in the same batch.
    [_reply, mail] = items(db)
    assert (mail.kind, mail.rcpt_to, mail.status) == ("alert", [STAFF], "sent")
    assert is_alert_message_id(SECRET, mail.message_id)
    [got] = smtp_server.messages()
    parsed = message_from_bytes(got.content, policy=default)
    assert got.rcpt_tos == [STAFF] and parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["From"] == "info@example.test"
    assert PERSON.encode() not in got.content and b"Hei" not in got.content
    # Never retried.
    assert sender.process_due(now=t0 + timedelta(days=2)) == 0
    assert item(db, item_id).attempts == 1
    assert mid not in smtp_server.message_ids()


def test_gives_up_after_max_attempts(db: Database, smtp_server: SmtpServer,
                                     tmp_path: Path) -> None:
    sender = sender_for(db, tmp_path, smtp_server)  # max_attempts = 4
    item_id, mid = queue_mail(db)
    smtp_server.fail("MAIL", 421, times=4)
    at = utcnow()
    waits = []
    for _ in range(3):
        assert sender.process_due(now=at) == 1
        row = item(db, item_id)
        assert row.status == "queued"
        waits.append((aware(row.next_attempt_at) - at).total_seconds())
        at = aware(row.next_attempt_at)
    assert [round(w / 10) * 10 for w in waits] == [10, 20, 40]  # doubling
    sender.process_due(now=at)
    row = item(db, item_id)
    assert (row.status, row.attempts) == ("failed", 4)
    [alert] = alerts(db)
    assert alert.kind == "send_failed" and "4 attempts" in alert.text
    assert [m.rcpt_tos for m in smtp_server.messages()] == [[STAFF]]  # only the alert
    assert mid not in smtp_server.message_ids()


def test_never_alerts_about_an_alert(db: Database, smtp_server: SmtpServer,
                                     tmp_path: Path) -> None:
    sender = sender_for(db, tmp_path, smtp_server)
    item_id, _mid = queue_mail(db, kind="alert", to=STAFF)
    smtp_server.fail("RCPT", 550, times=5)
    sender.process_due()
    assert item(db, item_id).status == "failed"
    [alert] = alerts(db)
    assert alert.kind == "send_failed" and not alert.notified
    assert len(items(db)) == 1  # no mail about the failed alert mail


def _simulate_crash(db: Database, item_id: int, claimed_at: Any) -> None:
    """What a crash between the SMTP 250 and the outcome commit leaves behind."""
    with db.session() as s:
        s.execute(update(OutboxItem).where(OutboxItem.id == item_id)
                  .values(status="sending", attempts=1, claimed_at=claimed_at))


def test_crash_mid_send_becomes_unknown_and_is_never_resent(
        db: Database, smtp_server: SmtpServer, tmp_path: Path) -> None:
    sender = sender_for(db, tmp_path, smtp_server)
    item_id, mid = queue_mail(db)
    t0 = utcnow()
    _simulate_crash(db, item_id, t0)
    # Within the lease the claim may belong to a live process elsewhere: leave it alone.
    assert sender.recover(now=t0 + timedelta(seconds=5)) == 0
    assert item(db, item_id).status == "sending"
    later = t0 + sender.lease + timedelta(seconds=1)
    assert sender.recover(now=later) == 1
    row = item(db, item_id)
    assert row.status == "unknown"
    [alert] = alerts(db)
    assert alert.kind == "send_unknown" and alert.outbox_id == item_id and alert.notified
    for days in (1, 2, 30):
        sender.process_due(now=later + timedelta(days=days))
    assert item(db, item_id).status == "unknown"
    assert mid not in smtp_server.message_ids()
    assert [m.rcpt_tos for m in smtp_server.messages()] == [[STAFF]]

    # Staff checked: it never arrived.  Resend it, once.
    sender.resend(item_id)
    assert alerts(db)[0].resolved_at is not None
    sender.process_due()
    assert item(db, item_id).status == "sent"
    assert smtp_server.message_ids().count(mid) == 1
    with pytest.raises(OutboxStateError):
        sender.resend(item_id)


def test_staff_can_mark_an_unknown_item_sent(db: Database, smtp_server: SmtpServer,
                                             tmp_path: Path) -> None:
    sender = sender_for(db, tmp_path, smtp_server)
    item_id, mid = queue_mail(db)
    t0 = utcnow() - timedelta(hours=1)
    _simulate_crash(db, item_id, t0)
    sender.recover()
    with pytest.raises(OutboxStateError):
        sender.mark_sent(item_id + 100)
    sender.mark_sent(item_id)
    row = item(db, item_id)
    assert row.status == "sent" and aware(row.sent_at or t0) == t0
    assert alerts(db)[0].resolved_at is not None
    sender.process_due(now=utcnow() + timedelta(days=1))
    assert mid not in smtp_server.message_ids()


def test_lost_reply_after_data_is_not_retried(db: Database, smtp_server: SmtpServer,
                                              tmp_path: Path) -> None:
    sender = sender_for(db, tmp_path, smtp_server, timeout_seconds=0.3)
    item_id, mid = queue_mail(db)
    smtp_server.delay("DATA", 1.0)  # the server keeps the mail but answers too late
    t0 = utcnow()
    sender.process_due(now=t0)
    row = item(db, item_id)
    assert row.status == "unknown" and "after the message was sent" in (row.last_error or "")
    assert [a.kind for a in alerts(db)] == ["send_unknown"]
    sender.process_due(now=t0 + timedelta(days=1))
    assert smtp_server.wait_for(2, timeout=3) and smtp_server.message_ids().count(mid) == 1


@pytest.mark.parametrize("senders", [2])
def test_concurrent_senders_never_send_twice(db: Database, smtp_server: SmtpServer,
                                             tmp_path: Path, senders: int) -> None:
    cfg = outbox_config(tmp_path, smtp_table(smtp_server, tmp_path))
    ids = [queue_mail(db)[1] for _ in range(30)]
    workers = [OutboxSender(db, cfg, SECRET) for _ in range(senders)]
    start = threading.Barrier(senders)
    counts: list[int] = []
    errors: list[BaseException] = []

    def run(worker: OutboxSender) -> None:
        try:
            start.wait()
            counts.append(worker.process_due())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sum(counts) == 30
    got = smtp_server.message_ids()
    assert sorted(got, key=str) == sorted(ids) and len(set(got)) == 30
    assert {r.status for r in items(db)} == {"sent"}
    assert all(r.attempts == 1 for r in items(db))


class _TokenEndpoint(BaseHTTPRequestHandler):
    """RFC 6749 §6 refresh: answers every POST with a fresh access token."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.dumps({"access_token": "good-token", "expires_in": 3600}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_xoauth2_through_the_token_provider(db: Database, smtp_factory: StartSmtp,
                                            tmp_path: Path) -> None:
    server = smtp_factory(security="tls", auth="xoauth2", token="good-token")
    endpoint = HTTPServer(("127.0.0.1", 0), _TokenEndpoint)
    threading.Thread(target=endpoint.serve_forever, daemon=True).start()
    try:
        (tmp_path / "refresh").write_text("refresh-1")
        sender = sender_for(db, tmp_path, server, auth="xoauth2", username=server.username,
                            oauth2={"token_url": f"http://127.0.0.1:{endpoint.server_port}/t",
                                    "client_id": "rightsdesk",
                                    "refresh_token": {"file": str(tmp_path / "refresh")}})
        item_id, mid = queue_mail(db)
        sender.process_due()
    finally:
        endpoint.shutdown()
        endpoint.server_close()
    assert item(db, item_id).status == "sent"
    [got] = server.messages()
    assert got.message_id == mid and got.login == server.username and got.tls


_CHILD = """
import json, sys
sys.path.insert(0, {root!r})
from bot.config import Config
from bot.outbox.sender import OutboxSender
from storage.db import Database
cfg = Config.model_validate(json.loads(sys.argv[1]))
OutboxSender(Database(sys.argv[2], migrate=False), cfg, b"k").process_due()
"""


@pytest.mark.slow
def test_killed_while_sending_is_never_sent_twice(smtp_server: SmtpServer, tmp_path: Path,
                                                  sqlite_url: str) -> None:
    """A real crash: the process dies after the server stored the mail, before the reply."""
    db = Database(sqlite_url)
    try:
        cfg = outbox_config(tmp_path, smtp_table(smtp_server, tmp_path, timeout_seconds=30))
        item_id, mid = queue_mail(db)
        smtp_server.delay("DATA", 30)  # stored at once, the 250 would come much later
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD.format(root=str(Path.cwd())),
             cfg.model_dump_json(), sqlite_url])
        try:
            assert smtp_server.wait_for(1, timeout=20), "the child never sent"
            assert item(db, item_id).status == "sending"
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(10)
        sender = OutboxSender(db, cfg, SECRET)
        assert sender.recover() == 0  # a live process elsewhere could still own the claim
        later = utcnow() + sender.lease + timedelta(seconds=1)
        assert sender.recover(now=later) == 1
        assert item(db, item_id).status == "unknown"
        assert [a.kind for a in alerts(db)] == ["send_unknown"]
        sender.process_due(now=later + timedelta(days=1))
        assert smtp_server.message_ids().count(mid) == 1
    finally:
        db.dispose()
