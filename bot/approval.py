"""Staff decisions on drafts: nothing but acknowledgements and unsubscribes leaves without them.

Approving queues the reply in the durable outbox; rejecting keeps the case open with the reason
in its history.  Both are idempotent per draft.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import cases
from bot.config import Config
from bot.pipeline import queue_draft, start_case
from bot.triage.signals import no_auto_reply_reason
from classifiers.api import LABELS
from classifiers.mime import parse_message
from storage.clock import utcnow
from storage.models import Case, Draft, Message, OutboxItem


class ApprovalError(Exception):
    """A staff action that cannot be done; the message is safe to show (no personal data)."""


def pending_reply(case: Case) -> Draft | None:
    for d in reversed(case.drafts):
        if d.kind == "reply" and d.status == "pending":
            return d
    return None


def _case(s: Session, ref: str) -> Case:
    case = cases.find_case(s, ref)
    if case is None:
        raise ApprovalError(f"no case {ref}")
    return case


def approve(s: Session, cfg: Config, secret: bytes, ref: str, actor: str,
            body: str | None = None) -> Case:
    """Approve the pending reply (optionally with an edited body) and queue it for sending."""
    case = _case(s, ref)
    draft = pending_reply(case)
    if draft is None:
        raise ApprovalError(f"case {case.token} has no reply draft waiting for approval "
                            f"(status {case.status})")
    if body is not None:
        draft.body = body
    draft.status = "approved"
    draft.decided_at = utcnow()
    draft.decided_by = actor
    queue_draft(s, cfg, secret, case, draft)
    cases.set_status(case, "approved", actor, note="reply approved")
    return case


def reject(s: Session, ref: str, actor: str, reason: str) -> Case:
    case = _case(s, ref)
    draft = pending_reply(case)
    if draft is None:
        raise ApprovalError(f"case {case.token} has no reply draft waiting for approval")
    if not reason.strip():
        raise ApprovalError("a reason is required")
    draft.status = "rejected"
    draft.decided_at = utcnow()
    draft.decided_by = actor
    draft.reason = reason
    cases.set_status(case, "draft_rejected", actor, note=reason)
    return case


def set_types(s: Session, cfg: Config, secret: bytes, ref: str, types: list[str],
              actor: str) -> Case:
    """Staff decide what a doubtful message asks; then it proceeds like any request."""
    case = _case(s, ref)
    if case.status != "needs_triage":
        raise ApprovalError(f"case {case.token} is {case.status}, not waiting for triage")
    bad = [t for t in types if t not in LABELS]
    if bad or not types:
        raise ApprovalError(f"types must be some of: {', '.join(LABELS)}")
    case.types = [t for t in LABELS if t in types]
    case.needs_triage = False
    msg = s.get(Message, case.opening_message_id)
    assert msg is not None
    mail = parse_message(msg.raw)
    cases.set_status(case, "new", actor, note=f"types set: {', '.join(case.types)}")
    start_case(s, cfg, secret, case, mail, no_auto_reply_reason(mail), actor=actor)
    return case


def dismiss(s: Session, ref: str, actor: str, reason: str) -> Case:
    """Staff decide a doubtful message is not a rights request."""
    case = _case(s, ref)
    if case.status != "needs_triage":
        raise ApprovalError(f"case {case.token} is {case.status}, not waiting for triage")
    cases.set_status(case, "dismissed", actor, note=reason or "not a rights request")
    return case


def mark_answered(s: Session) -> int:
    """Approved cases whose reply has left the outbox are answered."""
    rows = s.execute(
        select(Case, OutboxItem).join(OutboxItem, OutboxItem.case_id == Case.id)
        .where(Case.status == "approved", OutboxItem.kind == "reply", OutboxItem.status == "sent")
    ).all()
    for case, _item in rows:
        cases.set_status(case, "answered", "outbox", note="reply sent")
    return len(rows)
