"""Follow-ups thread into their case (RFC 5322 §3.6.4; shared/domain.md §4).

Order: our own HMAC-signed Message-IDs in In-Reply-To/References first (unforgeable), then a case
token in the subject — the token alone counts only when the sender is the case's data subject,
so a stranger quoting a token cannot attach mail to someone else's case.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.ids import case_token_from_message_id, find_case_tokens
from classifiers.mime import ParsedMail
from storage.models import Case

_OUR_MID = re.compile(
    rb"<rd\.RD-[A-Z2-9]{4}-[A-Z2-9]{4}\.[a-z]+\.[a-z0-9]{10}\.[a-z0-9]{16}@[^>\s]+>"
)


def case_by_token(session: Session, token: str) -> Case | None:
    return session.scalars(select(Case).where(Case.token == token)).first()


def case_by_reference(session: Session, secret: bytes, mail: ParsedMail) -> Case | None:
    """The case named by a verified Message-ID of ours that this mail answers."""
    for mid in (*mail.in_reply_to, *reversed(mail.references)):
        token = case_token_from_message_id(secret, mid)
        if token:
            case = case_by_token(session, token)
            if case is not None:
                return case
    return None


def case_by_subject_token(session: Session, mail: ParsedMail) -> Case | None:
    """A case token in the subject, accepted only from that case's data subject."""
    for token in find_case_tokens(mail.subject):
        case = case_by_token(session, token)
        if case is not None and mail.from_addr and case.subject_email == mail.from_addr:
            return case
    return None


def case_of_bounced_mail(session: Session, secret: bytes, raw: bytes) -> Case | None:
    """A DSN quotes the headers of the mail that bounced: find our signed Message-ID in it."""
    for m in _OUR_MID.finditer(raw[:2_000_000]):
        token = case_token_from_message_id(secret, m.group().decode("ascii"))
        if token:
            return case_by_token(session, token)
    return None
