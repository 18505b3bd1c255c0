"""Helpers shared by the outbox tests: a config pointing at test servers, mails, queue rows.

(No tests here; imported by the test_outbox_* modules.)
"""

from __future__ import annotations

import itertools
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.config import Config
from bot.intake.store import ensure_mailbox
from bot.outbox.queue import enqueue
from storage.db import Database
from storage.models import Alert, OutboxItem
from tests.fixtures.smtp import SmtpServer

SECRET = b"test-secret-key-for-the-outbox"
PERSON = "person@example.test"
STAFF = "privacy@example.test"
_serial = itertools.count(1)


def smtp_table(server: SmtpServer | None, tmp_path: Path, **extra: Any) -> dict[str, Any]:
    """The [smtp] table for a fixture server (None: a loopback port nobody listens on)."""
    if server is None:
        table: dict[str, Any] = {"host": "127.0.0.1", "port": extra.pop("port"),
                                 "security": "none", "auth": "none"}
    else:
        table = {"host": server.host, "port": server.port, "security": server.security,
                 "auth": "none"}
        if server.ca_file is not None:
            table["ca_file"] = str(server.ca_file)
        if server.password is not None:
            secret = tmp_path / "smtp-password"
            secret.write_text(server.password)
            table.update(auth="password", username=server.username,
                         password={"file": str(secret)})
    table.setdefault("timeout_seconds", 2.0)
    table.update(extra)
    return table


def outbox_config(tmp_path: Path, smtp: dict[str, Any], *, imap: dict[str, Any] | None = None,
                outbox: dict[str, Any] | None = None) -> Config:
    key = tmp_path / "secret-key"
    key.write_text(SECRET.decode())
    return Config.model_validate({
        "company": {"name": "Testi Oy", "business_id": "1234567-8", "address": "Katu 1",
                    "contact": {"name": "Privacy", "email": STAFF}},
        "secret_key": {"file": str(key)},
        "mailboxes": [{
            "name": "info",
            "address": "info@example.test",
            "imap": imap or {"host": "127.0.0.1", "port": 9, "security": "none",
                             "auth": "none"},
            "smtp": smtp,
        }],
        "staff": {"alert_to": [STAFF]},
        "outbox": {"backoff_seconds": 10.0, "backoff_max_seconds": 80.0, "max_attempts": 4,
                   **(outbox or {})},
        "base_dir": str(tmp_path),
    })


def make_mail(to: str = PERSON, *, subject: str = "Vastaus pyyntöönne",
              body: str = "Hei,\n.\nTässä pyytämänne tiedot.\n") -> tuple[str, bytes]:
    """A reply-like mail; the body has a lone dot line to exercise dot-stuffing."""
    mid = f"<rd.test.{next(_serial)}.{id(object())}@example.test>"
    msg = EmailMessage(policy=SMTP)
    msg["From"] = "info@example.test"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = mid
    msg.set_content(body, charset="utf-8", cte="8bit")
    return mid, msg.as_bytes()


def queue_mail(db: Database, *, kind: str = "reply", to: str = PERSON,
               append_sent: bool = False) -> tuple[int, str]:
    """Enqueue one mail from the "info" mailbox; (item id, Message-ID)."""
    mid, raw = make_mail(to)
    with db.session() as s:
        mailbox = ensure_mailbox(s, "info")
        item = enqueue(s, mailbox_id=mailbox.id, kind=kind, message_id=mid,
                       mail_from="info@example.test", rcpt_to=[to], raw=raw,
                       append_sent=append_sent)
        return item.id, mid


def item(db: Database, item_id: int) -> OutboxItem:
    with db.session() as s:
        row = s.get(OutboxItem, item_id)
        assert row is not None
        return row


def items(db: Database) -> list[OutboxItem]:
    with db.session() as s:
        return list(s.scalars(select(OutboxItem).order_by(OutboxItem.id)))


def alerts(db: Database) -> list[Alert]:
    with db.session() as s:
        return list(s.scalars(select(Alert).order_by(Alert.id)))
