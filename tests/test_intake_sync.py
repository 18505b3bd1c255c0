"""MailboxWatcher.sync_once against a real Dovecot: windows, positions, dedupe, flags, sizes."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

import bot.intake.watcher as watcher_mod
from bot.config import Config
from bot.intake.store import get_position
from bot.intake.watcher import MailboxWatcher
from storage.clock import aware
from storage.db import Database
from storage.models import Message
from tests.fixtures.dovecot import Dovecot, ImapUser, make_mail

pytestmark = pytest.mark.server

HELSINKI = timezone(timedelta(hours=2))


def _days_ago(days: int) -> datetime:
    return (datetime.now(UTC) - timedelta(days=days)).astimezone(HELSINKI).replace(microsecond=0)


def _messages(db: Database) -> list[Message]:
    with db.session() as s:
        return list(s.scalars(select(Message).order_by(Message.id)))


def _watcher(db: Database, cfg: Config, calls: list[int] | None = None) -> MailboxWatcher:
    return MailboxWatcher(db, cfg, cfg.mailboxes[0],
                          on_new=calls.append if calls is not None else None)


@pytest.fixture
def sqlite_db(sqlite_url: str) -> Iterator[Database]:
    d = Database(sqlite_url)
    yield d
    d.dispose()


def test_first_sync_takes_mail_since_start_days_back(
    sqlite_db: Database, dovecot: Dovecot, imap_user: ImapUser,
    imap_config: Callable[..., Config],
) -> None:
    db = sqlite_db
    old = make_mail("old request")
    recent = make_mail("recent request")
    recent_date = _days_ago(30)
    today = make_mail("today")
    dovecot.append(imap_user, old, when=_days_ago(40))
    dovecot.append(imap_user, recent, when=recent_date)
    dovecot.append(imap_user, today, when=_days_ago(0))
    calls: list[int] = []
    w = _watcher(db, imap_config(imap_user, start_days_back=35), calls)
    try:
        assert w.sync_once() == 2
        assert calls == [2]
        rows = _messages(db)
        assert [r.raw for r in rows] == [recent, today]
        assert all(r.stage == "new" for r in rows)
        assert aware(rows[0].internaldate) == recent_date  # INTERNALDATE, not arrival
        # Mail arriving later is new whatever its INTERNALDATE (e.g. moved in from elsewhere).
        moved_in = make_mail("moved in")
        dovecot.append(imap_user, moved_in, when=_days_ago(60))
        assert w.sync_once() == 1
        assert _messages(db)[-1].raw == moved_in
        assert w.sync_once() == 0
        assert calls == [2, 1]
    finally:
        w.close()


def test_first_sync_honours_configured_start_date(
    sqlite_db: Database, dovecot: Dovecot, imap_user: ImapUser,
    imap_config: Callable[..., Config],
) -> None:
    dovecot.append(imap_user, make_mail("before"), when=_days_ago(10))
    after = make_mail("after")
    dovecot.append(imap_user, after, when=_days_ago(3))
    start: date = (datetime.now(UTC) - timedelta(days=5)).date()
    w = _watcher(sqlite_db, imap_config(imap_user, start_date=start.isoformat()))
    try:
        assert w.sync_once() == 1
        assert [r.raw for r in _messages(sqlite_db)] == [after]
    finally:
        w.close()


def test_restart_resumes_from_the_stored_position(
    sqlite_db: Database, dovecot: Dovecot, imap_user: ImapUser,
    imap_config: Callable[..., Config],
) -> None:
    cfg = imap_config(imap_user)
    for i in range(3):
        dovecot.append(imap_user, make_mail(f"m{i}"))
    first = _watcher(sqlite_db, cfg)
    assert first.sync_once() == 3
    first.close()
    last = dovecot.append(imap_user, make_mail("after restart"))
    second = _watcher(sqlite_db, cfg)
    try:
        assert second.sync_once() == 1
        assert len(_messages(sqlite_db)) == 4
        with sqlite_db.session() as s:
            assert get_position(s, second.mailbox_id, "INBOX").last_uid == last  # type: ignore[union-attr]
    finally:
        second.close()


def test_crash_during_first_sync_keeps_the_start_date_window(
    sqlite_db: Database, dovecot: Dovecot, imap_user: ImapUser,
    imap_config: Callable[..., Config], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Batches of one; the process dies after the first: the restart must not take old mail."""
    recent1, recent2 = make_mail("recent 1"), make_mail("recent 2")
    dovecot.append(imap_user, recent1, when=_days_ago(2))
    dovecot.append(imap_user, make_mail("ancient"), when=_days_ago(400))
    dovecot.append(imap_user, recent2, when=_days_ago(1))
    cfg = imap_config(imap_user, fetch_batch=1)
    real_store = watcher_mod.store_batch
    stored_batches: list[int] = []

    def dying_store(*args: object, **kw: object) -> int:
        if stored_batches:
            raise SystemExit("simulated crash")  # not an Exception: nothing catches it
        stored_batches.append(1)
        return real_store(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(watcher_mod, "store_batch", dying_store)
    w = _watcher(sqlite_db, cfg)
    with pytest.raises(SystemExit):
        w.sync_once()
    w.close()
    monkeypatch.setattr(watcher_mod, "store_batch", real_store)
    assert [r.raw for r in _messages(sqlite_db)] == [recent1]
    w2 = _watcher(sqlite_db, cfg)
    try:
        assert w2.sync_once() == 1
        assert [r.raw for r in _messages(sqlite_db)] == [recent1, recent2]
    finally:
        w2.close()


def test_uidvalidity_change_resyncs_without_duplicates(
    db: Database, dovecot: Dovecot, imap_user: ImapUser, imap_config: Callable[..., Config],
) -> None:
    dovecot.create_folder(imap_user, "Requests")
    mails = [make_mail(f"r{i}") for i in range(3)]
    for m in mails:
        dovecot.append(imap_user, m, folder="Requests")
    cfg = imap_config(imap_user, folders=["Requests"])
    w = _watcher(db, cfg)
    try:
        assert w.sync_once() == 3
        new_validity = dovecot.recreate_folder(imap_user, "Requests")
        # The new folder starts at UID 1 again: a watcher ignoring UIDVALIDITY would skip
        # UIDs 1-3 and take only UID 4 (a duplicate), losing the new mail at UID 1.
        fresh = make_mail("arrived during the migration")
        for m in [fresh, *mails]:
            dovecot.append(imap_user, m, folder="Requests")
        assert w.sync_once() == 1
        rows = _messages(db)
        assert len(rows) == 4 and rows[-1].raw == fresh
        assert rows[-1].uidvalidity == new_validity and rows[-1].uid == 1
        with db.session() as s:
            assert get_position(s, w.mailbox_id, "Requests")[:2] == (new_validity, 4)  # type: ignore[index]
    finally:
        w.close()


def test_two_watchers_of_one_mailbox_store_each_message_once(
    db: Database, dovecot: Dovecot, imap_user: ImapUser, imap_config: Callable[..., Config],
) -> None:
    for i in range(24):
        dovecot.append(imap_user, make_mail(f"m{i}"))
    cfg = imap_config(imap_user, fetch_batch=4)
    watchers = [_watcher(db, cfg), _watcher(db, cfg)]
    counts: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def sync(w: MailboxWatcher) -> None:
        try:
            barrier.wait()
            counts.append(w.sync_once())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=sync, args=(w,)) for w in watchers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for w in watchers:
        w.close()
    assert not errors
    assert sum(counts) == 24
    assert len(_messages(db)) == 24
    assert len({r.dedupe_key for r in _messages(db)}) == 24


def test_mail_is_left_untouched_by_default(
    sqlite_db: Database, dovecot: Dovecot, imap_user: ImapUser,
    imap_config: Callable[..., Config],
) -> None:
    for i in range(3):
        dovecot.append(imap_user, make_mail(f"m{i}"), flags=(b"\\Flagged",) if i == 0 else ())
    before = dovecot.flags(imap_user)
    w = _watcher(sqlite_db, imap_config(imap_user))
    try:
        assert w.sync_once() == 3
    finally:
        w.close()
    after = dovecot.flags(imap_user)
    assert after == before
    assert not any(b"\\Seen" in f for f in after.values())


def test_mark_seen_and_move_only_when_configured(
    sqlite_db: Database, dovecot: Dovecot, imap_config: Callable[..., Config],
) -> None:
    seen_user, move_user = dovecot.add_user(), dovecot.add_user()
    for user in (seen_user, move_user):
        for i in range(2):
            dovecot.append(user, make_mail(f"m{i}"))
    w = _watcher(sqlite_db, imap_config(seen_user, name="seen", mark_seen=True))
    try:
        assert w.sync_once() == 2
    finally:
        w.close()
    assert all(b"\\Seen" in f for f in dovecot.flags(seen_user).values())
    w = _watcher(sqlite_db, imap_config(move_user, name="moved", move_processed_to="Processed"))
    try:
        assert w.sync_once() == 2
    finally:
        w.close()
    assert dovecot.uids(move_user) == []
    assert len(dovecot.uids(move_user, "Processed")) == 2
    assert all(b"\\Seen" not in f for f in dovecot.flags(move_user, "Processed").values())


_HUGE: bytes | None = None


def _huge_mail() -> bytes:
    """~20 MB: a base64 attachment in 76-character CRLF lines (built once per session)."""
    global _HUGE
    if _HUGE is None:
        line = (b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx"
                b"MjM0\r\n")
        _HUGE = make_mail("a very large attachment", extra=line * (20 * 1024 * 1024 // 78))
    return _HUGE


def test_a_huge_message_is_stored_intact(
    db: Database, dovecot: Dovecot, imap_user: ImapUser, imap_config: Callable[..., Config],
) -> None:
    huge = _huge_mail()
    assert len(huge) > 20_000_000
    small = make_mail("small one after it")
    dovecot.append(imap_user, huge)
    dovecot.append(imap_user, small)
    w = _watcher(db, imap_config(imap_user))
    try:
        assert w.sync_once() == 2
    finally:
        w.close()
    rows = _messages(db)
    assert rows[0].size == len(huge) and rows[0].raw == huge
    assert rows[1].raw == small


def test_messages_without_message_id_are_deduped_by_content(
    sqlite_db: Database, dovecot: Dovecot, imap_user: ImapUser,
    imap_config: Callable[..., Config],
) -> None:
    """The same bare mail twice in INBOX and once in a second watched folder: stored once."""
    bare = make_mail("no id", message_id=None)
    other = make_mail("no id", message_id=None, body="different words")
    dovecot.create_folder(imap_user, "Archive")
    dovecot.append(imap_user, bare)
    dovecot.append(imap_user, bare)
    dovecot.append(imap_user, bare, folder="Archive")
    dovecot.append(imap_user, other, folder="Archive")
    w = _watcher(sqlite_db, imap_config(imap_user, folders=["INBOX", "Archive"]))
    try:
        assert w.sync_once() == 2
    finally:
        w.close()
    rows = _messages(sqlite_db)
    assert sorted(r.raw for r in rows) == sorted([bare, other])
    assert all(r.message_id is None for r in rows)
