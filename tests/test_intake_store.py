"""store_batch on SQLite and PostgreSQL: each message once per mailbox, position in the same txn."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from bot.intake.store import (
    Fetched,
    begin_folder,
    dedupe_key,
    ensure_mailbox,
    get_position,
    message_id_of,
    store_batch,
)
from storage.clock import aware
from storage.db import Database
from storage.models import FolderPosition, Mailbox, Message
from tests.fixtures.dovecot import make_mail

HELSINKI = timezone(timedelta(hours=3))
WHEN = datetime(2025, 6, 2, 10, 0, tzinfo=HELSINKI)


def _mailbox(db: Database, name: str = "info") -> int:
    with db.session() as s:
        return ensure_mailbox(s, name).id


def _count(db: Database) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(Message)) or 0


def test_stores_new_mail_and_advances_position(db: Database) -> None:
    mid = _mailbox(db)
    raws = [make_mail("one", message_id="<one@example.test>"), make_mail("two")]
    items = [Fetched(uid=i + 1, raw=r, internaldate=WHEN) for i, r in enumerate(raws)]
    with db.session() as s:
        assert store_batch(s, mid, "INBOX", 77, items) == 2
    with db.session() as s:
        assert get_position(s, mid, "INBOX") == (77, 2, None)
        rows = s.scalars(select(Message).order_by(Message.uid)).all()
    assert [r.raw for r in rows] == raws
    one = rows[0]
    assert one.stage == "new" and one.uidvalidity == 77 and one.folder == "INBOX"
    assert one.message_id == "<one@example.test>"
    assert one.size == len(raws[0])
    content = hashlib.sha256(raws[0]).hexdigest()
    assert one.content_sha256 == content
    assert one.dedupe_key == hashlib.sha256(f"<one@example.test>\0{content}".encode()).hexdigest()
    assert aware(one.internaldate) == WHEN  # the instant survives, stored as UTC
    # The same batch again (a re-fetch after a crash): nothing new, position unchanged.
    with db.session() as s:
        assert store_batch(s, mid, "INBOX", 77, items) == 0
    assert _count(db) == 2


@pytest.fixture
def sqlite_db(sqlite_url: str) -> Iterator[Database]:
    d = Database(sqlite_url)
    yield d
    d.dispose()


def test_a_failed_transaction_keeps_neither_mail_nor_position(sqlite_db: Database) -> None:
    db = sqlite_db
    mid = _mailbox(db)
    with pytest.raises(RuntimeError), db.session() as s:
        store_batch(s, mid, "INBOX", 5, [Fetched(1, make_mail(), WHEN)])
        raise RuntimeError("crash before commit")
    with db.session() as s:
        assert get_position(s, mid, "INBOX") is None
    assert _count(db) == 0


def test_dedupe_by_content_when_there_is_no_message_id(db: Database) -> None:
    mid = _mailbox(db)
    bare = make_mail("no id", message_id=None)
    other = make_mail("no id", message_id=None, body="another text")
    same_id_new_text = [make_mail("a", message_id="<x@example.test>"),
                        make_mail("a", message_id="<x@example.test>", body="edited")]
    with db.session() as s:
        n = store_batch(s, mid, "INBOX", 1, [Fetched(1, bare, WHEN), Fetched(2, bare, WHEN)])
        n += store_batch(s, mid, "Archive", 1, [Fetched(9, bare, WHEN), Fetched(10, other, WHEN)])
        n += store_batch(s, mid, "INBOX", 1, [Fetched(3 + i, r, WHEN)
                                             for i, r in enumerate(same_id_new_text)])
    assert n == 4  # bare once, other, and both texts under one Message-ID
    with db.session() as s:
        rows = s.scalars(select(Message).where(Message.raw == bare)).all()
    assert len(rows) == 1 and rows[0].message_id is None
    # Another mailbox is another scope.
    mid2 = _mailbox(db, "sales")
    with db.session() as s:
        assert store_batch(s, mid2, "INBOX", 1, [Fetched(1, bare, WHEN)]) == 1


def test_position_never_moves_back_nor_to_an_older_uidvalidity(db: Database) -> None:
    mid = _mailbox(db)
    mails = [make_mail(f"m{i}") for i in range(6)]
    with db.session() as s:
        store_batch(s, mid, "INBOX", 7, [Fetched(i + 1, mails[i], WHEN) for i in range(5)])
        store_batch(s, mid, "INBOX", 7, [Fetched(3, mails[2], WHEN)])
        assert get_position(s, mid, "INBOX") == (7, 5, None)
        # Skipped UIDs (older than the start date, expunged) advance the position too.
        store_batch(s, mid, "INBOX", 7, [], upto=9)
        assert get_position(s, mid, "INBOX") == (7, 9, None)
    with db.session() as s:  # the server changed UIDVALIDITY: start over under the new one
        assert begin_folder(s, mid, "INBOX", 8, 4) == (8, 0, 4)
        assert begin_folder(s, mid, "INBOX", 8, 6) == (8, 0, 4)  # a second watcher: kept
    with db.session() as s:  # a watcher that has not noticed yet: mail kept, position not
        assert store_batch(s, mid, "INBOX", 7, [Fetched(6, mails[5], WHEN)]) == 1
        assert get_position(s, mid, "INBOX") == (8, 0, 4)
        s.execute(select(FolderPosition))  # still one row per folder
        assert s.scalar(select(func.count()).select_from(FolderPosition)) == 1


def test_concurrent_writers_store_each_message_once(db: Database) -> None:
    """Two watchers of one mailbox race: one mailbox row, each message once, no errors."""
    mails = [Fetched(i + 1, make_mail(f"c{i}"), WHEN) for i in range(20)]
    results: list[int] = []
    ids: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def writer(offset: int) -> None:
        try:
            barrier.wait()
            with db.session() as s:
                mid = ensure_mailbox(s, "racy").id
            ids.append(mid)
            batch = mails[offset:] + mails[:offset]
            for i in range(0, 20, 5):
                with db.session() as s:
                    results.append(store_batch(s, mid, "INBOX", 3, batch[i:i + 5]))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k * 3,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert len(set(ids)) == 1
    assert sum(results) == 20
    assert _count(db) == 20
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Mailbox)) == 1
        assert get_position(s, ids[0], "INBOX") == (3, 20, None)


def test_internaldate_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError):
        Fetched(1, b"x", datetime(2025, 1, 1, 12, 0))
    assert Fetched(1, b"x", datetime(2025, 1, 1, 12, 0, tzinfo=UTC)).uid == 1


def test_message_id_is_read_from_the_header_only_and_normalised() -> None:
    folded = (b"Subject: x\r\nMessage-ID:\r\n  <folded@example.test>  \r\n\r\n"
              b"Message-ID: <body@x>\r\n")
    assert message_id_of(folded) == "<folded@example.test>"
    assert message_id_of(b"Subject: x\r\n\r\nMessage-ID: <in-body@example.test>\r\n") is None
    assert message_id_of(b"Message-ID: no-angles@example.test\n\nbody") == "no-angles@example.test"
    assert message_id_of(b"") is None
    assert dedupe_key(None, "ab") == hashlib.sha256(b"\0ab").hexdigest()
