"""Header signals for mail that must get no automatic reply (RFC 3834, RFC 3464, RFC 2369/2919).

Each function answers one question about a parsed message; rules.py orders them.
"""

from __future__ import annotations

import re

from classifiers.mime import ParsedMail

_BOUNCE_FROM = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|bounce[s]?)@", re.I)
_AUTO_SUBJECT = re.compile(
    r"^(auto(matic)?[ -]?(reply|response|svar|vastaus)|out of (the )?office|"
    r"automaattinen vastaus|poissa toimistolta|lomavastaaja|frånvaro|abwesenheit|"
    r"absence|ausente|fuori sede|afwezig)",
    re.I,
)


def is_bounce(mail: ParsedMail) -> bool:
    """RFC 3464 delivery status notification, or the classic bounce sender with <> path."""
    if mail.content_type == "multipart/report" and mail.report_type == "delivery-status":
        return True
    null_path = (mail.return_path or "").strip() in ("<>", "")
    return bool(mail.from_addr and _BOUNCE_FROM.match(mail.from_addr) and null_path)


def is_auto_submitted(mail: ParsedMail) -> bool:
    """RFC 3834 §5: Auto-Submitted other than "no", plus the common vendor equivalents."""
    if mail.auto_submitted and mail.auto_submitted.split(";", 1)[0].strip() != "no":
        return True
    if mail.auto_reply_headers:
        return True
    if mail.precedence in ("bulk", "junk", "auto_reply"):
        return True
    return bool(_AUTO_SUBJECT.match(mail.subject or ""))


def is_list_mail(mail: ParsedMail) -> bool:
    """RFC 2919 List-Id / RFC 2369 list headers or Precedence: list (RFC 3834 §2)."""
    return bool(mail.list_id or mail.list_unsubscribe or mail.precedence == "list")


def has_null_return_path(mail: ParsedMail) -> bool:
    return (mail.return_path or "").strip() == "<>"


def no_auto_reply_reason(mail: ParsedMail) -> str | None:
    """Why we must not answer automatically (RFC 3834 §2), or None when we may."""
    if has_null_return_path(mail):
        return "null_return_path"
    if is_auto_submitted(mail):
        return "auto_submitted"
    if is_list_mail(mail):
        return "list_mail"
    return None
