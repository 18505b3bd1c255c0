"""MailboxWatcher.run against a real Dovecot: IDLE (RFC 2177), renewal, polling, quick stop."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator

import pytest
from imapclient import IMAPClient
from sqlalchemy import func, select

from bot.config import Config
from bot.intake.watcher import MailboxWatcher
from storage.db import Database
from storage.models import Mailbox, Message
from tests.fixtures.dovecot import Dovecot, ImapUser, make_mail, running, wait_until

pytestmark = pytest.mark.server


@pytest.fixture
def sqlite_db(sqlite_url: str) -> Iterator[Database]:
    d = Database(sqlite_url)
    yield d
    d.dispose()


@pytest.fixture
def idle_calls(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Times at which any IMAPClient entered IDLE."""
    calls: list[float] = []
    real = IMAPClient.idle

    def spy(self: IMAPClient) -> object:
        calls.append(time.monotonic())
        return real(self)

    monkeypatch.setattr(IMAPClient, "idle", spy)
    return calls


def _count(db: Database) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(Message)) or 0


def _last_success(db: Database) -> bool:
    with db.session() as s:
        return s.scalar(select(Mailbox.last_success_at)) is not None


def _tweak(cfg: Config, **imap: object) -> Config:
    """Settings below the production minimums (model_copy skips validation on purpose)."""
    mb = cfg.mailboxes[0]
    return cfg.model_copy(update={"mailboxes": [
        mb.model_copy(update={"imap": mb.imap.model_copy(update=imap)})]})


def test_idle_notices_new_mail_within_seconds_and_stops_quickly(
    sqlite_db: Database, dovecot: Dovecot, imap_user: ImapUser,
    imap_config: Callable[..., Config], idle_calls: list[float],
) -> None:
    # Polling once an hour: only IDLE can explain a quick pick-up.
    cfg = imap_config(imap_user, idle=True, poll_seconds=3600)
    notified: list[int] = []
    w = MailboxWatcher(sqlite_db, cfg, cfg.mailboxes[0], on_new=notified.append)
    with running(w, join_within=2.5) as thread:
        assert wait_until(lambda: idle_calls, timeout=5)
        for n in (1, 2):
            started = time.monotonic()
            dovecot.append(imap_user, make_mail(f"live {n}"))
            assert wait_until(lambda n=n: _count(sqlite_db) == n, timeout=5)  # type: ignore[misc]
            assert time.monotonic() - started < 4
        assert wait_until(lambda: len(idle_calls) >= 3, timeout=5)  # back in IDLE each time
        assert _count(sqlite_db) == 2 and sum(notified) == 2
        stop_at = time.monotonic()
        w.stop.set()
        thread.join(2.5)
        assert not thread.is_alive()
        assert time.monotonic() - stop_at < 2.0


def test_idle_is_renewed(
    sqlite_db: Database, dovecot: Dovecot, imap_user: ImapUser,
    imap_config: Callable[..., Config], idle_calls: list[float],
) -> None:
    cfg = _tweak(imap_config(imap_user, poll_seconds=3600), idle_renew_seconds=0.5)
    w = MailboxWatcher(sqlite_db, cfg, cfg.mailboxes[0])
    with running(w):
        assert wait_until(lambda: len(idle_calls) >= 4, timeout=4)
        gaps = [b - a for a, b in itertools.pairwise(idle_calls)]
        assert all(0.4 < g < 1.5 for g in gaps), gaps
        dovecot.append(imap_user, make_mail("still works"))
        assert wait_until(lambda: _count(sqlite_db) == 1, timeout=4)


def test_polls_when_idle_is_off(
    sqlite_db: Database, dovecot: Dovecot, imap_user: ImapUser,
    imap_config: Callable[..., Config], idle_calls: list[float],
) -> None:
    cfg = _tweak(imap_config(imap_user, idle=False), poll_seconds=1)
    w = MailboxWatcher(sqlite_db, cfg, cfg.mailboxes[0])
    with running(w):
        assert wait_until(lambda: _last_success(sqlite_db), timeout=5)
        dovecot.append(imap_user, make_mail("polled"))
        assert wait_until(lambda: _count(sqlite_db) == 1, timeout=4)
    assert idle_calls == []


def test_other_folders_are_polled_while_idling_on_the_first(
    sqlite_db: Database, dovecot: Dovecot, imap_user: ImapUser,
    imap_config: Callable[..., Config], idle_calls: list[float],
) -> None:
    dovecot.create_folder(imap_user, "Requests")
    cfg = _tweak(imap_config(imap_user, folders=["INBOX", "Requests"]), poll_seconds=1)
    w = MailboxWatcher(sqlite_db, cfg, cfg.mailboxes[0])
    with running(w):
        assert wait_until(lambda: idle_calls, timeout=5)
        dovecot.append(imap_user, make_mail("second folder"), folder="Requests")
        assert wait_until(lambda: _count(sqlite_db) == 1, timeout=4)
        dovecot.append(imap_user, make_mail("first folder"))
        assert wait_until(lambda: _count(sqlite_db) == 2, timeout=4)
