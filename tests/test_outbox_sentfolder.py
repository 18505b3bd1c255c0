"""The Sent folder on a real Dovecot: our APPEND copy, and crash recovery by Message-ID."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from imapclient.exceptions import LoginError
from sqlalchemy import update

from bot.outbox.sender import OutboxSender
from storage.clock import utcnow
from storage.db import Database
from storage.models import OutboxItem
from tests.fixtures.dovecot import Dovecot, ImapUser
from tests.fixtures.smtp import SmtpServer
from tests.test_outbox_common import SECRET, alerts, item, outbox_config, queue_mail, smtp_table

pytestmark = pytest.mark.server


def _known(dovecot: Dovecot, user: ImapUser, timeout: float = 5.0) -> None:
    """Wait until Dovecot re-read its passwd-file (a user added within the same second as the
    last read is not seen for up to ~1 s)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with dovecot.client(user):
                return
        except LoginError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture(scope="module")
def _users(dovecot_server: Dovecot) -> list[ImapUser]:
    """Users made in one batch, so the passwd-file delay is paid once per module."""
    users = [dovecot_server.add_user() for _ in range(8)]
    _known(dovecot_server, users[-1])
    return users


@pytest.fixture
def imap_user(_users: list[ImapUser], dovecot_server: Dovecot) -> ImapUser:
    """A mail user of this test's own (overrides the per-test one of tests/fixtures/dovecot)."""
    if not _users:
        _users.extend(dovecot_server.add_user() for _ in range(8))
        _known(dovecot_server, _users[-1])
    return _users.pop(0)


def _sender(db: Database, tmp_path: Path, smtp: SmtpServer, dovecot: Dovecot, user: ImapUser,
            *, password: str | None = None, **smtp_extra: Any) -> OutboxSender:
    pw = tmp_path / "imap-password"
    pw.write_text(password or user.password)
    imap = {"host": "127.0.0.1", "port": dovecot.imap_port, "security": "none",
            "auth": "password", "username": user.name, "password": {"file": str(pw)},
            "sent_folder": "Sent", "timeout_seconds": 5}
    cfg = outbox_config(tmp_path, smtp_table(smtp, tmp_path, **smtp_extra), imap=imap)
    return OutboxSender(db, cfg, SECRET)


def _raw(db: Database, item_id: int) -> bytes:
    return item(db, item_id).raw


def test_copy_is_appended_once_and_seen(db: Database, smtp_server: SmtpServer, tmp_path: Path,
                                        dovecot: Dovecot, imap_user: ImapUser) -> None:
    dovecot.create_folder(imap_user, "Sent")
    sender = _sender(db, tmp_path, smtp_server, dovecot, imap_user)
    item_id, mid = queue_mail(db, append_sent=True)
    other_id, _ = queue_mail(db, append_sent=False)
    sender.process_due()
    row = item(db, item_id)
    assert row.status == "sent" and row.appended_at is not None
    assert item(db, other_id).appended_at is None
    [uid] = dovecot.uids(imap_user, "Sent")
    assert b"\\Seen" in dovecot.flags(imap_user, "Sent")[uid]

    # Crash after the server stored the copy but before we recorded it: the retry finds the
    # copy by its Message-ID and makes no second one.
    with db.session() as s:
        s.execute(update(OutboxItem).where(OutboxItem.id == item_id)
                  .values(appended_at=None, next_attempt_at=utcnow()))
    assert sender.append_copies() == 0
    assert sender.append_copies() == 0
    assert item(db, item_id).appended_at is not None
    assert dovecot.uids(imap_user, "Sent") == [uid]
    assert smtp_server.message_ids().count(mid) == 1


def test_failed_copy_is_retried_and_never_resends(db: Database, smtp_server: SmtpServer,
                                                  tmp_path: Path, dovecot: Dovecot,
                                                  imap_user: ImapUser) -> None:
    sender = _sender(db, tmp_path, smtp_server, dovecot, imap_user)  # no Sent folder yet
    item_id, mid = queue_mail(db, append_sent=True)
    t0 = utcnow()
    sender.process_due(now=t0)
    row = item(db, item_id)
    assert row.status == "sent" and row.appended_at is None
    assert "Sent copy failed" in (row.last_error or "")
    dovecot.create_folder(imap_user, "Sent")
    assert sender.append_copies(now=t0 + timedelta(seconds=5)) == 0  # backoff: not yet
    sender.process_due(now=t0 + timedelta(seconds=11))
    assert item(db, item_id).appended_at is not None
    assert len(dovecot.uids(imap_user, "Sent")) == 1
    assert smtp_server.message_ids() == [mid]


def _crash(db: Database, item_id: int, at: Any) -> None:
    with db.session() as s:
        s.execute(update(OutboxItem).where(OutboxItem.id == item_id)
                  .values(status="sending", attempts=1, claimed_at=at))


def test_recover_finds_the_copy_the_server_saved(db: Database, smtp_server: SmtpServer,
                                                 tmp_path: Path, dovecot: Dovecot,
                                                 imap_user: ImapUser) -> None:
    dovecot.create_folder(imap_user, "Sent")
    sender = _sender(db, tmp_path, smtp_server, dovecot, imap_user, server_saves_sent=True)
    item_id, _mid = queue_mail(db, append_sent=True)
    other_id, _ = queue_mail(db)
    t0 = utcnow()
    _crash(db, item_id, t0)
    _crash(db, other_id, t0)
    dovecot.append(imap_user, _raw(db, item_id), folder="Sent", flags=(b"\\Seen",))
    later = t0 + sender.lease + timedelta(seconds=1)
    assert sender.recover(now=later) == 2
    assert item(db, item_id).status == "sent"
    assert item(db, other_id).status == "queued"  # not in Sent: it never went out
    assert alerts(db) == []
    sender.process_due(now=later)
    assert item(db, other_id).status == "sent"
    # Only the one that was missing went out; the server files copies, so we append none.
    assert smtp_server.message_ids() == [item(db, other_id).message_id]
    assert len(dovecot.uids(imap_user, "Sent")) == 1


def test_lost_reply_is_settled_by_the_sent_folder(db: Database, smtp_server: SmtpServer,
                                                  tmp_path: Path, dovecot: Dovecot,
                                                  imap_user: ImapUser) -> None:
    """The connection died after our end of data; the Sent folder decides, after the lease."""
    dovecot.create_folder(imap_user, "Sent")
    sender = _sender(db, tmp_path, smtp_server, dovecot, imap_user, server_saves_sent=True)
    item_id, mid = queue_mail(db)
    smtp_server.drop("DATA")  # nothing stored, so the server files no copy either
    t0 = utcnow()
    sender.process_due(now=t0)
    assert item(db, item_id).status == "sending"
    sender.process_due(now=t0 + timedelta(seconds=30))  # within the lease: wait
    assert item(db, item_id).status == "sending" and smtp_server.messages() == []
    sender.process_due(now=t0 + sender.lease + timedelta(seconds=1))
    assert item(db, item_id).status == "sent"
    assert smtp_server.message_ids() == [mid]
    assert alerts(db) == []
