"""Fetched mail into the database: each message once, in the transaction that moves the position.

Why one transaction: the position ``(UIDVALIDITY, last UID)`` says "everything up to here is
stored" (RFC 3501 §2.3.1.1: UIDs only grow within one UIDVALIDITY).  Advancing it anywhere
else could skip mail after a crash; storing without advancing only costs a re-fetch, which the
dedupe absorbs.  Dedupe is the unique constraint ``uq_message_dedupe`` on
``sha256(Message-ID + "\\0" + sha256(raw))`` per mailbox, inserted with ``ON CONFLICT DO
NOTHING`` (SQLite, PostgreSQL) so a re-sync after a UIDVALIDITY change, a copy in a second
watched folder, or two watchers of one mailbox never store a message twice.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any, NamedTuple, cast

from sqlalchemy import CursorResult, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.clock import utcnow
from storage.models import FolderPosition, Mailbox, Message

MAX_HEADER_BYTES = 1024 * 1024  # a header block larger than this is not mail we parse for IDs
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_ANGLE_ID = re.compile(r"<[^<>\s]+>")


@dataclass(frozen=True)
class Fetched:
    """One message as the server gave it: UID, exact bytes, INTERNALDATE (timezone-aware)."""

    uid: int
    raw: bytes
    internaldate: datetime

    def __post_init__(self) -> None:
        if self.internaldate.tzinfo is None:
            raise ValueError("INTERNALDATE must be timezone-aware (RFC 3501 date-time has a zone)")


class Position(NamedTuple):
    """A committed folder position, detached from any session."""

    uidvalidity: int
    last_uid: int
    backfill_until_uid: int | None


def message_id_of(raw: bytes) -> str | None:
    """The Message-ID (RFC 5322 §3.6.4) from the header block only, normalised for dedupe."""
    m = _HEADER_END.search(raw, 0, MAX_HEADER_BYTES)
    head = raw[: m.end()] if m else raw[:MAX_HEADER_BYTES]
    value = BytesHeaderParser(policy=compat32).parsebytes(head).get("Message-ID")
    if value is None:
        return None
    text = str(value).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    text = " ".join(text.split()).replace("\x00", "")
    angle = _ANGLE_ID.search(text)
    return (angle.group(0) if angle else text)[:998] or None


def dedupe_key(message_id: str | None, content_sha256: str) -> str:
    """sha256(Message-ID or "" + NUL + sha256(raw)), hex: the per-mailbox identity of a mail."""
    return hashlib.sha256(f"{message_id or ''}\0{content_sha256}".encode()).hexdigest()


def _insert_ignore(session: Session, model: Any, values: dict[str, Any], keys: list[str]) -> bool:
    """INSERT unless the unique key ``keys`` exists; True if a row was inserted.

    ``ON CONFLICT DO NOTHING`` waits for a concurrent inserter of the same key to commit
    (PostgreSQL) or is serialised by ``BEGIN IMMEDIATE`` (SQLite), so racing watchers never
    fail and never duplicate.  Other databases: a savepoint around a plain INSERT.
    """
    dialect = session.get_bind().dialect.name
    conn = session.connection()
    if dialect == "postgresql":
        # PostgreSQL fetches the new key with RETURNING, which leaves rowcount at 0: ask for it.
        pk = model.__table__.primary_key.columns
        stmt: Any = pg_insert(model).values(**values).on_conflict_do_nothing(index_elements=keys)
        return conn.execute(stmt.returning(*pk)).first() is not None
    if dialect == "sqlite":
        stmt = sqlite_insert(model).values(**values).on_conflict_do_nothing(index_elements=keys)
        return cast(CursorResult[Any], conn.execute(stmt)).rowcount == 1
    try:  # pragma: no cover - only SQLite and PostgreSQL are deployed
        with session.begin_nested():
            conn.execute(insert(model).values(**values))
    except IntegrityError:
        return False
    return True


def ensure_mailbox(session: Session, name: str) -> Mailbox:
    """The row of a configured mailbox, created on first use (safe against a racing creator)."""
    query = select(Mailbox).where(Mailbox.name == name)
    mailbox = session.scalars(query).one_or_none()
    if mailbox is None:
        _insert_ignore(session, Mailbox, {"name": name}, ["name"])
        mailbox = session.scalars(query).one()
    return mailbox


def _locked_position(
    session: Session, mailbox_id: int, folder: str, uidvalidity: int, backfill: int | None
) -> FolderPosition:
    """The folder's position row, created if missing, locked for this transaction."""
    _insert_ignore(
        session,
        FolderPosition,
        {
            "mailbox_id": mailbox_id,
            "folder": folder,
            "uidvalidity": uidvalidity,
            "last_uid": 0,
            "backfill_until_uid": backfill,
            "updated_at": utcnow(),
        },
        ["mailbox_id", "folder"],
    )
    query = (
        select(FolderPosition)
        .where(FolderPosition.mailbox_id == mailbox_id, FolderPosition.folder == folder)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.scalars(query).one()


def get_position(session: Session, mailbox_id: int, folder: str) -> Position | None:
    """The committed position of a folder, or None before its first sync."""
    row = session.scalars(
        select(FolderPosition).where(
            FolderPosition.mailbox_id == mailbox_id, FolderPosition.folder == folder
        )
    ).one_or_none()
    if row is None:
        return None
    return Position(row.uidvalidity, row.last_uid, row.backfill_until_uid)


def begin_folder(
    session: Session, mailbox_id: int, folder: str, uidvalidity: int, backfill_until_uid: int
) -> Position:
    """Start (or restart, after a UIDVALIDITY change) following a folder.

    UIDs up to ``backfill_until_uid`` (UIDNEXT - 1 at SELECT) were there before us: the watcher
    takes only those since the start date.  A position another watcher already began for the
    same UIDVALIDITY is kept as it is.
    """
    pos = _locked_position(session, mailbox_id, folder, uidvalidity, backfill_until_uid)
    if pos.uidvalidity != uidvalidity:
        pos.uidvalidity = uidvalidity
        pos.last_uid = 0
        pos.backfill_until_uid = backfill_until_uid
        pos.updated_at = utcnow()
    session.flush()
    return Position(pos.uidvalidity, pos.last_uid, pos.backfill_until_uid)


def store_batch(
    session: Session,
    mailbox_id: int,
    folder: str,
    uidvalidity: int,
    items: Sequence[Fetched],
    *,
    upto: int | None = None,
) -> int:
    """Store the new messages of ``items`` and advance the position; return how many were new.

    The position moves to the highest UID in ``items`` (or ``upto``, for UIDs we looked at and
    deliberately skipped: older than the start date, or expunged before FETCH), never back.
    A batch fetched under an older UIDVALIDITY than the stored one (a second watcher that has
    not noticed the change yet) is stored, deduped, but does not move the position.
    """
    pos = _locked_position(session, mailbox_id, folder, uidvalidity, None)
    stored = 0
    now = utcnow()
    for item in items:
        content = hashlib.sha256(item.raw).hexdigest()
        mid = message_id_of(item.raw)
        values = {
            "mailbox_id": mailbox_id,
            "folder": folder,
            "uidvalidity": uidvalidity,
            "uid": item.uid,
            "message_id": mid,
            "dedupe_key": dedupe_key(mid, content),
            "content_sha256": content,
            "internaldate": item.internaldate.astimezone(UTC),
            "size": len(item.raw),
            "raw": item.raw,
            "ingested_at": now,
            "stage": "new",
            "attempts": 0,
            "flags": [],
        }
        if _insert_ignore(session, Message, values, ["mailbox_id", "dedupe_key"]):
            stored += 1
    if pos.uidvalidity == uidvalidity:
        new_last = max([item.uid for item in items] + [upto or 0])
        if new_last > pos.last_uid:
            pos.last_uid = new_last
            pos.updated_at = now
    session.flush()
    return stored
