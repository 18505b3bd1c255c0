"""Failures against a real Dovecot: dropped connections, refused logins, TLS trust, no PII."""

from __future__ import annotations

import logging
import shutil
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

import bot.intake.watcher as watcher_mod
from bot.config import Config
from bot.intake.errors import (
    AuthError,
    ConnectionLost,
    FolderError,
    TemporaryIntakeError,
    TLSError,
)
from bot.intake.imapconn import open_imap
from bot.intake.watcher import MailboxWatcher
from storage.clock import aware
from storage.db import Database
from storage.models import Mailbox, Message
from tests.fixtures.dovecot import Dovecot, ImapUser, make_mail, running, wait_until
from tests.fixtures.servers import free_port

pytestmark = pytest.mark.server

SENDER = "matti.meikalainen@example.test"
SUBJECT = "Tietopyynto Matti Meikalainen"


@pytest.fixture
def sqlite_db(sqlite_url: str) -> Iterator[Database]:
    d = Database(sqlite_url)
    yield d
    d.dispose()


def _row(db: Database) -> Mailbox:
    with db.session() as s:
        row = s.scalars(select(Mailbox)).one_or_none()
        if row is None:
            return Mailbox(name="(not yet)")
        s.expunge(row)
        return row


def _count(db: Database) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(Message)) or 0


def _no_personal_data(text: str, user: ImapUser) -> None:
    for secret in (user.name, user.name.split("@")[0], SENDER, SUBJECT, user.password):
        assert secret not in text


def test_reconnects_after_the_server_drops_the_connection(
    sqlite_db: Database, dovecot: Dovecot, imap_user: ImapUser,
    imap_config: Callable[..., Config], caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    cfg = imap_config(imap_user, poll_seconds=3600)
    w = MailboxWatcher(sqlite_db, cfg, cfg.mailboxes[0], backoff_initial=0.05, backoff_max=0.2)
    dovecot.append(imap_user, make_mail(SUBJECT, sender=SENDER))
    with running(w):
        assert wait_until(lambda: _row(sqlite_db).last_success_at is not None, timeout=5)
        assert _row(sqlite_db).last_error is None
        dovecot.kick(imap_user)
        assert wait_until(lambda: _row(sqlite_db).last_error is not None, timeout=5)
        dovecot.append(imap_user, make_mail(SUBJECT + " again", sender=SENDER))
        assert wait_until(lambda: _count(sqlite_db) == 2, timeout=6)
        assert wait_until(lambda: aware(_row(sqlite_db).last_success_at)  # type: ignore[arg-type]
                          > aware(_row(sqlite_db).last_error_at), timeout=5)  # type: ignore[arg-type]
    row = _row(sqlite_db)
    assert row.last_error is not None
    assert row.last_error.startswith(ConnectionLost.__name__ + ": IDLE")
    _no_personal_data(row.last_error, imap_user)
    _no_personal_data(caplog.text, imap_user)
    assert "retrying" in caplog.text


def test_wrong_password_is_recorded_and_retried_without_crashing(
    sqlite_db: Database, dovecot: Dovecot, imap_user: ImapUser,
    imap_config: Callable[..., Config], monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    cfg = imap_config(imap_user, password="not-the-password", idle=False)
    dovecot.append(imap_user, make_mail(SUBJECT, sender=SENDER))
    attempts: list[int] = []
    real_open = watcher_mod.open_imap

    def counting_open(*args: object, **kw: object) -> object:
        attempts.append(1)
        return real_open(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(watcher_mod, "open_imap", counting_open)
    w = MailboxWatcher(sqlite_db, cfg, cfg.mailboxes[0], backoff_initial=0.05, backoff_max=0.2)
    with pytest.raises(AuthError):
        w.sync_once()
    assert _row(sqlite_db).last_error == "AuthError: LOGIN AUTHENTICATIONFAILED"
    with running(w) as thread:
        assert wait_until(lambda: len(attempts) >= 4, timeout=5)
        assert thread.is_alive() and _count(sqlite_db) == 0
        assert _row(sqlite_db).last_success_at is None
        dovecot.set_password(imap_user.name, "not-the-password")  # the admin fixes it
        assert wait_until(lambda: _count(sqlite_db) == 1, timeout=6)
    row = _row(sqlite_db)
    assert row.last_success_at is not None and row.last_error is not None
    _no_personal_data(row.last_error, imap_user)
    _no_personal_data(caplog.text, imap_user)
    assert "not-the-password" not in caplog.text


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_tls_with_a_private_ca(
    security: str, sqlite_db: Database, dovecot: Dovecot, imap_user: ImapUser,
    imap_config: Callable[..., Config], tmp_path: Path,
) -> None:
    shutil.copy(dovecot.ca_file, tmp_path / "private-ca.pem")
    cfg = imap_config(imap_user, security=security, ca_file="private-ca.pem")  # relative
    client = open_imap(cfg.mailboxes[0].imap, cfg.base_dir)
    try:
        assert isinstance(client.socket(), ssl.SSLSocket)
    finally:
        client.logout()
    dovecot.append(imap_user, make_mail("over TLS"))
    w = MailboxWatcher(sqlite_db, cfg, cfg.mailboxes[0])
    try:
        assert w.sync_once() == 1
    finally:
        w.close()
    # Without the private CA the same server is not trusted (system CAs only).
    untrusting = imap_config(imap_user, security=security)
    with pytest.raises(TLSError, match="certificate not trusted"):
        open_imap(untrusting.mailboxes[0].imap, untrusting.base_dir)


def test_unreachable_server_is_a_temporary_error(
    sqlite_db: Database, imap_user: ImapUser, imap_config: Callable[..., Config],
) -> None:
    cfg = imap_config(imap_user, port=free_port())
    w = MailboxWatcher(sqlite_db, cfg, cfg.mailboxes[0])
    with pytest.raises(TemporaryIntakeError) as info:
        w.sync_once()
    assert not isinstance(info.value, AuthError)
    assert _row(sqlite_db).last_error == "TemporaryIntakeError: CONNECT ECONNREFUSED"


def test_a_missing_folder_is_a_permanent_error(
    sqlite_db: Database, imap_user: ImapUser, imap_config: Callable[..., Config],
) -> None:
    cfg = imap_config(imap_user, folders=["INBOX", "No such folder"])
    w = MailboxWatcher(sqlite_db, cfg, cfg.mailboxes[0])
    with pytest.raises(FolderError):
        w.sync_once()
    assert (_row(sqlite_db).last_error or "").startswith("FolderError: SELECT")
