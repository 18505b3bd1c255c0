"""The triage-and-case stage: claims stored messages and decides each in one transaction.

Why claim with a committed attempt counter first: a message that crashes the process (or raises
every time) must not block the queue or loop forever.  After ``triage.max_attempts`` tries it is
quarantined with the reason and shown to staff; it is never dropped (shared/design.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot import cases, compose, drafts
from bot.config import Config
from bot.ids import email_hash
from bot.outbox.queue import enqueue
from bot.triage.classify import ClassifyFn, default_classify
from bot.triage.rules import Context, Decision, Outcome, decide
from classifiers.mime import ParsedMail, parse_message
from storage.db import Database, is_postgres
from storage.models import Alert, Case, Mailbox, Message, Suppression

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Processed:
    message_id: int
    outcome: str
    case_id: int | None


class Pipeline:
    def __init__(self, db: Database, cfg: Config, classify: ClassifyFn | None = None,
                 on_queued: Callable[[], None] | None = None) -> None:
        self.db = db
        self.cfg = cfg
        self.secret = cfg.secret()
        self._classify = classify
        self.own = frozenset(m.address for m in cfg.mailboxes)
        self.on_queued = on_queued

    @property
    def classify(self) -> ClassifyFn:
        if self._classify is None:
            self._classify = default_classify()
        return self._classify

    # -- claiming -------------------------------------------------------------------------
    def _claim(self) -> tuple[int, int] | None:
        """Take the oldest new message and count the attempt, committed before any work."""
        with self.db.session() as s:
            q = select(Message.id, Message.attempts).where(Message.stage == "new")
            q = q.order_by(Message.id).limit(1)
            if is_postgres(self.db.engine):
                q = q.with_for_update(skip_locked=True)
            row = s.execute(q).first()
            if row is None:
                return None
            s.execute(update(Message).where(Message.id == row.id)
                      .values(attempts=Message.attempts + 1))
            return int(row.id), int(row.attempts) + 1

    def process_pending(self, limit: int = 1000) -> list[Processed]:
        # Load the model before claiming: a crash while it loads (seconds) is not a failure
        # of the message, and counting it would quarantine a healthy request after 3 restarts.
        _ = self.classify
        done: list[Processed] = []
        while len(done) < limit:
            claim = self._claim()
            if claim is None:
                break
            done.append(self._process(*claim))
        if done and self.on_queued:
            self.on_queued()
        return done

    def retry(self, message_id: int) -> Processed | None:
        """Staff re-run one quarantined message (and only that one); None if not quarantined."""
        _ = self.classify
        with self.db.session() as s:
            msg = s.get(Message, message_id)
            if msg is None or msg.stage != "quarantined":
                return None
            msg.stage, msg.attempts, msg.outcome, msg.outcome_reason = "new", 1, None, None
        return self._process(message_id, 1)

    def _process(self, message_id: int, attempt: int) -> Processed:
        if attempt > self.cfg.triage.max_attempts:
            return self._quarantine(message_id, "repeated_failure",
                                    f"failed {attempt - 1} times (crash or error)")
        try:
            with self.db.session() as s:
                msg = s.get(Message, message_id)
                assert msg is not None
                if msg.stage != "new":  # another worker finished it meanwhile
                    return Processed(message_id, msg.outcome or "", msg.case_id)
                return self._decide_and_apply(s, msg)
        except Exception as exc:
            # Never the message text in logs: class name only.
            log.warning("triage failed for message %s (attempt %s): %s", message_id, attempt,
                        type(exc).__name__)
            if attempt >= self.cfg.triage.max_attempts:
                return self._quarantine(message_id, "error", f"{type(exc).__name__}")
            return Processed(message_id, "retry", None)

    def _quarantine(self, message_id: int, rule: str, reason: str) -> Processed:
        with self.db.session() as s:
            msg = s.get(Message, message_id)
            assert msg is not None
            msg.stage = "quarantined"
            msg.outcome = Outcome.QUARANTINED.value
            msg.outcome_reason = f"{rule}: {reason}"[:500]
        return Processed(message_id, Outcome.QUARANTINED.value, None)

    # -- deciding -------------------------------------------------------------------------
    def _decide_and_apply(self, s: Session, msg: Message) -> Processed:
        mail = parse_message(msg.raw)
        ctx = Context(session=s, mail=mail, raw=msg.raw, secret=self.secret,
                      own_addresses=self.own, max_bytes=self.cfg.triage.max_message_bytes,
                      classify=self.classify)
        d = decide(ctx)
        msg.flags = [f for f in mail.defects][:20]
        if d.classification is not None:
            c = d.classification
            msg.classification = {"labels": list(c.labels), "language": c.language,
                                  "scores": {k: round(v, 4) for k, v in c.scores.items()},
                                  "needs_triage": c.needs_triage}
        msg.outcome = d.outcome.value
        msg.outcome_reason = f"{d.rule}: {d.reason}"[:500]
        msg.stage = "quarantined" if d.outcome is Outcome.QUARANTINED else "done"
        if d.outcome is Outcome.CASE:
            msg.case_id = self._open_case(s, msg, mail, d)
        elif d.outcome is Outcome.THREAD and d.case_id is not None:
            case = s.get(Case, d.case_id)
            assert case is not None
            cases.add_followup(s, case, msg)
            msg.case_id = case.id
        elif d.outcome is Outcome.BOUNCE and d.case_id is not None:
            msg.case_id = d.case_id
            s.add(Alert(kind="bounce", case_id=d.case_id, message_id=msg.id,
                        text="A mail to the data subject bounced; the deadline still runs."))
        return Processed(msg.id, msg.outcome, msg.case_id)

    def _open_case(self, s: Session, msg: Message, mail: ParsedMail, d: Decision) -> int:
        assert d.classification is not None
        case = cases.open_case(s, self.cfg, msg, mail, d.classification)
        if not case.types:
            # Unsure what (if anything) is asked: no automatic mail, staff decide first.
            cases.set_status(case, "needs_triage", "triage", note="classifier unsure")
            return case.id
        start_case(s, self.cfg, self.secret, case, mail, d.no_auto_reply)
        return case.id


def start_case(s: Session, cfg: Config, secret: bytes, case: Case, mail: ParsedMail,
               no_auto_reply: str | None, actor: str = "triage") -> None:
    """Process an unsubscribe at once, acknowledge, and draft the reply for staff."""
    types = set(case.types)
    if "unsubscribe" in types:
        # domain.md §2: honour it the same day; keep only a keyed hash of the address.
        h = email_hash(secret, case.subject_email)
        if s.scalars(select(Suppression).where(Suppression.email_hash == h)).first() is None:
            s.add(Suppression(email_hash=h, source="email", case_id=case.id))
        case.events.append(cases.CaseEvent(status=case.status, actor=actor,
                                           note="unsubscribe processed"))
    only_unsub = types == {"unsubscribe"}
    ack_kind = "unsubscribed" if "unsubscribe" in types else "ack"
    if no_auto_reply is None:
        ack = drafts.make_draft(ack_kind, cfg, case, mail.subject, status="approved")
        s.flush()
        queue_draft(s, cfg, secret, case, ack, mail)
    else:
        case.events.append(cases.CaseEvent(status=case.status, actor="triage",
                                           note=f"no automatic reply ({no_auto_reply})"))
    if only_unsub:
        cases.set_status(case, "completed", actor, note="unsubscribe done")
    else:
        drafts.make_draft("reply", cfg, case, mail.subject, status="pending")
        cases.set_status(case, "awaiting_approval", actor, note="reply drafted")


def queue_draft(s: Session, cfg: Config, secret: bytes, case: Case, draft: drafts.Draft,
                mail: ParsedMail | None = None) -> None:
    """Compose a draft and put it in the outbox (Message-ID fixed before any send attempt)."""
    mailbox_row = s.get(Mailbox, case.mailbox_id)
    assert mailbox_row is not None
    mb = cfg.mailbox(mailbox_row.name)
    if mail is None:
        opening = s.get(Message, case.opening_message_id)
        assert opening is not None
        mail = parse_message(opening.raw)
    mid, raw = compose.build(
        kind=draft.kind, secret=secret, case_token=case.token, from_name=cfg.company.name,
        from_addr=mb.address, to_addr=case.subject_email, subject=draft.subject,
        body=draft.body, language=draft.language, in_reply_to=mail.message_id,
        references=mail.references, id_domain=cfg.outbox.message_id_domain)
    s.flush()
    enqueue(s, mailbox_id=case.mailbox_id, kind=draft.kind, message_id=mid,
            mail_from=mb.address, rcpt_to=[case.subject_email], raw=raw, case_id=case.id,
            draft_id=draft.id, append_sent=mb.imap.sent_folder is not None)
    draft.status = "queued"
