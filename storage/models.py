"""The bot's own state: every stage hands off through these tables, never through memory.

Why one row per stage-state instead of queues: a crash at any moment leaves each message either
before or after a committed transition, so a restart resumes exactly where work stopped
(shared/design.md "Every stage is restartable").
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.clock import utcnow


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[str]: JSON}


class Mailbox(Base):
    """One configured mailbox; health and OAuth state live here, not in the config file."""

    __tablename__ = "mailboxes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(500))
    last_error_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A refresh token rotated by the OAuth2 provider replaces the configured one.
    oauth_refresh_token: Mapped[str | None] = mapped_column(Text)


class FolderPosition(Base):
    """(UIDVALIDITY, last UID) per folder: advanced in the same transaction as the stored mail."""

    __tablename__ = "folder_positions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id"))
    folder: Mapped[str] = mapped_column(String(255))
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    # UIDs up to this one were in the folder when we first saw it (or its new UIDVALIDITY):
    # of those only mail since the start date is taken, also after a crash mid-way.
    backfill_until_uid: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    __table_args__ = (UniqueConstraint("mailbox_id", "folder"),)


class Message(Base):
    """A message as received: raw bytes and INTERNALDATE stored once, then triaged."""

    __tablename__ = "messages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id"))
    folder: Mapped[str] = mapped_column(String(255))
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    uid: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[str | None] = mapped_column(String(998))
    # sha256(Message-ID + "\0" + sha256(raw)): the same mail seen again (UIDVALIDITY change,
    # a copy in another folder) is stored once per mailbox.
    dedupe_key: Mapped[str] = mapped_column(String(64))
    content_sha256: Mapped[str] = mapped_column(String(64))
    internaldate: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    size: Mapped[int] = mapped_column(Integer)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    ingested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # stage: "new" -> "done" | "quarantined"
    stage: Mapped[str] = mapped_column(String(20), default="new", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # outcome: case | not_a_request | auto_reply | bounce | thread | quarantined | duplicate
    outcome: Mapped[str | None] = mapped_column(String(20))
    outcome_reason: Mapped[str | None] = mapped_column(String(500))
    # No FK: cases reference their opening message, and a cycle would complicate migrations.
    case_id: Mapped[int | None] = mapped_column(Integer, index=True)
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    classification: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    __table_args__ = (
        UniqueConstraint("mailbox_id", "dedupe_key", name="uq_message_dedupe"),
        Index("ix_messages_mailbox_uid", "mailbox_id", "folder", "uidvalidity", "uid"),
    )


class Case(Base):
    """One rights request: every type it contains, its legal clock and its history."""

    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(40), unique=True)  # public, HMAC-derived
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id"))
    opening_message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), unique=True)
    types: Mapped[list[str]] = mapped_column(JSON)
    language: Mapped[str] = mapped_column(String(8))
    detected_language: Mapped[str | None] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(20), index=True)
    needs_triage: Mapped[bool] = mapped_column(Boolean, default=False)
    subject_email: Mapped[str] = mapped_column(String(320))
    subject_name: Mapped[str | None] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_date: Mapped[date] = mapped_column(Date)
    deadline: Mapped[date] = mapped_column(Date, index=True)
    extended_deadline: Mapped[date] = mapped_column(Date)
    target_date: Mapped[date] = mapped_column(Date)
    extended: Mapped[bool] = mapped_column(Boolean, default=False)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    events: Mapped[list[CaseEvent]] = relationship(
        back_populates="case", order_by="CaseEvent.id", cascade="all, delete-orphan"
    )
    drafts: Mapped[list[Draft]] = relationship(
        back_populates="case", order_by="Draft.id", cascade="all, delete-orphan"
    )


class CaseEvent(Base):
    """Status history: who moved the case, when, and why (no message text here)."""

    __tablename__ = "case_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    status: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    case: Mapped[Case] = relationship(back_populates="events")


class Draft(Base):
    """A mail we want to send: acknowledgements go straight out, replies wait for staff."""

    __tablename__ = "drafts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # ack | reply | unsubscribed
    language: Mapped[str] = mapped_column(String(8))
    to_addr: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(998))
    body: Mapped[str] = mapped_column(Text)
    # pending (waits for staff) | approved | rejected | queued (in outbox) | skipped
    status: Mapped[str] = mapped_column(String(20), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text)
    case: Mapped[Case] = relationship(back_populates="drafts")


class OutboxItem(Base):
    """A durable outgoing mail; its Message-ID is recorded before the first SMTP attempt."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    draft_id: Mapped[int | None] = mapped_column(ForeignKey("drafts.id"), unique=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id"))
    kind: Mapped[str] = mapped_column(String(20))  # ack | reply | alert | unsubscribed
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    mail_from: Mapped[str] = mapped_column(String(320))
    rcpt_to: Mapped[list[str]] = mapped_column(JSON)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    # queued | sending | sent | failed (permanent) | unknown (crash while sending; see outbox)
    status: Mapped[str] = mapped_column(String(20), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(500))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    append_sent: Mapped[bool] = mapped_column(Boolean, default=False)
    appended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Alert(Base):
    """Something staff must look at: a permanent send failure, a bounce to a data subject."""

    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    notified: Mapped[bool] = mapped_column(Boolean, default=False)


class Suppression(Base):
    """Hashed unsubscribed address (domain.md §2): never re-imported into marketing."""

    __tablename__ = "suppressions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email_hash: Mapped[str] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(40))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
