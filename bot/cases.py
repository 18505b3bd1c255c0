"""Cases: one per request message, carrying every request type it contains (GDPR Art. 12).

The legal clock starts at the server's INTERNALDATE (shared/domain.md §1), never the forgeable
Date: header.  Status changes are appended to the case's history, with the actor.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.config import Config
from bot.deadline import Calendar
from bot.ids import new_case_token
from classifiers.api import Classification
from classifiers.mime import ParsedMail
from storage.clock import aware, utcnow
from storage.models import Case, CaseEvent, Message

#: The life of a case, in order.  "completed" is reached at once for unsubscribe-only cases.
STATUSES = (
    "new",                # created, drafts not yet made
    "needs_triage",       # the classifier was unsure: staff set the types or dismiss it
    "dismissed",          # staff decided it is not a rights request
    "awaiting_approval",  # a reply draft waits for staff
    "draft_rejected",     # staff rejected the draft; needs a new one
    "approved",           # reply approved and queued in the outbox
    "answered",           # reply sent
    "completed",          # nothing left to do (e.g. unsubscribe processed)
    "closed",
)


def calendar_for(cfg: Config) -> Calendar:
    d = cfg.deadlines
    return Calendar(d.holiday_country, d.working_day_holidays, d.timezone)


def set_status(case: Case, status: str, actor: str, note: str | None = None,
               message_id: int | None = None) -> None:
    """Move a case and record it in its history (who, when, why — never message text)."""
    assert status in STATUSES, status
    case.status = status
    case.updated_at = utcnow()
    case.events.append(CaseEvent(status=status, actor=actor, note=note, message_id=message_id))


def open_case(session: Session, cfg: Config, msg: Message, mail: ParsedMail,
              c: Classification) -> Case:
    """Create the case for a request message, with its deadlines (domain.md §1)."""
    assert mail.from_addr is not None  # broken mail without From is quarantined before
    dl = calendar_for(cfg).deadlines(aware(msg.internaldate),
                                     cfg.deadlines.target_working_days_before)
    details: dict[str, Any] = asdict(c.details)
    details["scores"] = {k: round(v, 4) for k, v in c.scores.items()}
    details["needs_triage"] = c.needs_triage
    case = Case(
        token=new_case_token(),
        mailbox_id=msg.mailbox_id,
        opening_message_id=msg.id,
        types=list(c.labels),
        language=c.reply_language,
        detected_language=c.language,
        status="new",
        needs_triage=c.needs_triage,
        subject_email=mail.from_addr,
        subject_name=mail.from_name[:200] or None,  # the column's length (PostgreSQL checks)
        received_at=aware(msg.internaldate),
        received_date=dl.received_date,
        deadline=dl.deadline,
        extended_deadline=dl.extended_deadline,
        target_date=dl.target_date,
        details=details,
    )
    session.add(case)
    session.flush()
    set_status(case, "new", "triage", note="opened from message", message_id=msg.id)
    return case


def add_followup(session: Session, case: Case, msg: Message) -> None:
    """A reply from the person (or about the case) joins the case's history."""
    reopen = case.status in ("answered", "completed", "closed")
    case.events.append(CaseEvent(status=case.status, actor="triage", note="follow-up received",
                                 message_id=msg.id))
    if reopen:
        set_status(case, "awaiting_approval" if any(d.status == "pending" for d in case.drafts)
                   else "draft_rejected", "triage", note="reopened by follow-up",
                   message_id=msg.id)


def find_case(session: Session, ref: str) -> Case | None:
    """A case by numeric id or public token (CLI and web UI accept both)."""
    ref = ref.strip()
    if ref.isdigit():
        return session.get(Case, int(ref))
    return session.scalars(select(Case).where(Case.token == ref.upper())).first()
