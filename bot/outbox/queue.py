"""Putting a mail into the outbox: recorded with its Message-ID before any send attempt.

Why the Message-ID is fixed here: it is what makes the outbox idempotent (unique column) and
what a crash recovery looks for in the Sent folder, so it must exist, and match the header in
the raw bytes, before a byte goes to the SMTP server.  Enqueueing the same draft twice (a
retried approval, a re-run stage) returns the row already there instead of a second mail.
"""

from __future__ import annotations

from datetime import datetime
from email.parser import BytesHeaderParser
from email.policy import compat32

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.clock import utcnow
from storage.models import OutboxItem


def header_message_id(raw: bytes) -> str | None:
    """The Message-ID header of raw mail, unfolded and stripped."""
    value = BytesHeaderParser(policy=compat32).parsebytes(raw).get("Message-ID")
    return " ".join(str(value).split()) if value else None


def _existing(session: Session, message_id: str, draft_id: int | None) -> OutboxItem | None:
    if draft_id is not None:
        row = session.scalars(select(OutboxItem).where(OutboxItem.draft_id == draft_id)).first()
        if row is not None:
            return row
    return session.scalars(select(OutboxItem).where(OutboxItem.message_id == message_id)).first()


def enqueue(
    session: Session,
    *,
    mailbox_id: int,
    kind: str,
    message_id: str,
    mail_from: str,
    rcpt_to: list[str],
    raw: bytes,
    case_id: int | None = None,
    draft_id: int | None = None,
    append_sent: bool = False,
    not_before: datetime | None = None,
) -> OutboxItem:
    """Queue one mail in the caller's transaction; idempotent by draft and by Message-ID.

    ``not_before`` delays the first attempt (default: due now).
    """
    if not rcpt_to:
        raise ValueError("an outbox item needs at least one recipient")
    if header_message_id(raw) != message_id:
        raise ValueError("raw message's Message-ID header differs from message_id")
    found = _existing(session, message_id, draft_id)
    if found is not None:
        return found
    item = OutboxItem(
        mailbox_id=mailbox_id,
        kind=kind,
        message_id=message_id,
        mail_from=mail_from,
        rcpt_to=list(rcpt_to),
        raw=raw,
        case_id=case_id,
        draft_id=draft_id,
        append_sent=append_sent,
        status="queued",
        attempts=0,
        next_attempt_at=not_before or utcnow(),
    )
    try:
        # A concurrent enqueue of the same draft (PostgreSQL) fails here: keep theirs.
        with session.begin_nested():
            session.add(item)
            session.flush()
    except IntegrityError:
        found = _existing(session, message_id, draft_id)
        if found is None:
            raise
        return found
    return item
