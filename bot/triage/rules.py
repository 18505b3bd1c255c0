"""The triage table: ordered (rule, outcome) pairs; the first rule that matches decides.

Why a table: each rule is one small, testable question, and the order is the policy — read top
to bottom it says what happens to a message (the GNU Mailman "chain" idea).  A rights request
that arrived auto-submitted still opens a case; only the automatic reply is skipped
(shared/domain.md §4, RFC 3834).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy.orm import Session

from bot.triage import signals
from bot.triage.threading import case_by_reference, case_by_subject_token, case_of_bounced_mail
from classifiers.api import Classification
from classifiers.mime import FATAL_DEFECTS, ParsedMail


class Outcome(StrEnum):
    CASE = "case"
    NOT_A_REQUEST = "not_a_request"
    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"
    THREAD = "thread"
    QUARANTINED = "quarantined"


@dataclass
class Context:
    """What the rules may look at; the classification is computed at most once, on demand."""

    session: Session
    mail: ParsedMail
    raw: bytes
    secret: bytes
    own_addresses: frozenset[str]
    max_bytes: int
    classify: Callable[[ParsedMail], Classification]
    _classification: Classification | None = field(default=None, repr=False)

    @property
    def classification(self) -> Classification:
        if self._classification is None:
            self._classification = self.classify(self.mail)
        return self._classification


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    rule: str
    reason: str = ""
    case_id: int | None = None
    classification: Classification | None = None
    # RFC 3834: None when we may answer automatically, else why not.
    no_auto_reply: str | None = None


Rule = Callable[[Context], Decision | None]


def too_large(ctx: Context) -> Decision | None:
    if len(ctx.raw) > ctx.max_bytes:
        return Decision(Outcome.QUARANTINED, "too_large",
                        f"message larger than {ctx.max_bytes} bytes")
    return None


def broken(ctx: Context) -> Decision | None:
    if ctx.mail.fatal:
        fatal = [d for d in ctx.mail.defects if d.split(":", 1)[0] in FATAL_DEFECTS]
        return Decision(Outcome.QUARANTINED, "broken_mime", ",".join(fatal))
    return None


def bounce(ctx: Context) -> Decision | None:
    """RFC 3464 reports are never requests; one about our mail to a data subject alerts staff."""
    if not signals.is_bounce(ctx.mail):
        return None
    raw_case = case_of_bounced_mail(ctx.session, ctx.secret, ctx.raw)
    return Decision(Outcome.BOUNCE, "bounce", "delivery status notification",
                    case_id=raw_case.id if raw_case else None, no_auto_reply="bounce")


def own_mail(ctx: Context) -> Decision | None:
    """Our own outgoing mail seen again (a Sent copy, a CC to ourselves): never a request."""
    if ctx.mail.from_addr and ctx.mail.from_addr in ctx.own_addresses:
        return Decision(Outcome.NOT_A_REQUEST, "own_mail", "sent by a configured mailbox")
    return None


def thread_by_reference(ctx: Context) -> Decision | None:
    case = case_by_reference(ctx.session, ctx.secret, ctx.mail)
    if case is None:
        return None
    return Decision(Outcome.THREAD, "thread_by_reference", "answers our message", case_id=case.id,
                    no_auto_reply=signals.no_auto_reply_reason(ctx.mail))


def thread_by_token(ctx: Context) -> Decision | None:
    case = case_by_subject_token(ctx.session, ctx.mail)
    if case is None:
        return None
    return Decision(Outcome.THREAD, "thread_by_token", "case token from the data subject",
                    case_id=case.id, no_auto_reply=signals.no_auto_reply_reason(ctx.mail))


def rights_request(ctx: Context) -> Decision | None:
    """A recognised request, or a doubtful one that staff must look at (never guessed)."""
    c = ctx.classification
    if not c.labels and not c.needs_triage:
        return None
    if not c.labels and (signals.is_list_mail(ctx.mail) or signals.is_auto_submitted(ctx.mail)):
        return None  # a doubtful newsletter or auto-reply is not worth a staff case
    return Decision(Outcome.CASE, "rights_request", ",".join(c.labels) or "needs_triage",
                    classification=c, no_auto_reply=signals.no_auto_reply_reason(ctx.mail))


def auto_reply(ctx: Context) -> Decision | None:
    if signals.is_auto_submitted(ctx.mail) or signals.has_null_return_path(ctx.mail):
        return Decision(Outcome.AUTO_REPLY, "auto_reply", "auto-submitted, no request",
                        classification=ctx.classification, no_auto_reply="auto_submitted")
    return None


def not_a_request(ctx: Context) -> Decision:
    return Decision(Outcome.NOT_A_REQUEST, "not_a_request", "no rights request recognised",
                    classification=ctx.classification)


#: The policy, top to bottom.
RULES: tuple[tuple[str, Rule], ...] = (
    ("too_large", too_large),
    ("broken_mime", broken),
    ("bounce", bounce),
    ("own_mail", own_mail),
    ("thread_by_reference", thread_by_reference),
    ("thread_by_token", thread_by_token),
    ("rights_request", rights_request),
    ("auto_reply", auto_reply),
    ("not_a_request", not_a_request),
)


def decide(ctx: Context) -> Decision:
    for _name, rule in RULES:
        decision = rule(ctx)
        if decision is not None:
            return decision
    raise AssertionError("the last rule always decides")  # pragma: no cover
