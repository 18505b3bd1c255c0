"""Turn a draft into RFC 5322 bytes ready for the outbox.

Auto-Submitted (RFC 3834 §5): acknowledgements and unsubscribe confirmations are automatic
replies ("auto-replied"); staff alerts are "auto-generated"; a reply that staff approved is a
human's answer and carries none.  Replies thread to the person's message (In-Reply-To,
References) and carry our signed Message-ID so their answer threads back to the case.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr

from bot.ids import make_message_id
from storage.clock import utcnow

AUTO_SUBMITTED = {"ack": "auto-replied", "unsubscribed": "auto-replied",
                  "alert": "auto-generated", "reminder": "auto-generated"}


def domain_of(address: str) -> str:
    return address.rsplit("@", 1)[-1]


def build(*, kind: str, secret: bytes, case_token: str, from_name: str, from_addr: str,
          to_addr: str, subject: str, body: str, language: str,
          in_reply_to: str | None = None, references: tuple[str, ...] = (),
          id_domain: str | None = None) -> tuple[str, bytes]:
    """(Message-ID, raw bytes).  The Message-ID is fixed here, before any send attempt."""
    mid = make_message_id(secret, case_token, kind, id_domain or domain_of(from_addr))
    msg = EmailMessage(policy=SMTP)
    msg["From"] = formataddr((from_name, from_addr))
    msg["To"] = to_addr
    msg["Subject"] = subject
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = mid
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = " ".join((*references[-10:], in_reply_to))
    if kind in AUTO_SUBMITTED:
        msg["Auto-Submitted"] = AUTO_SUBMITTED[kind]
        msg["X-Auto-Response-Suppress"] = "All"  # keeps Exchange auto-replies from looping
    msg.set_content(body, charset="utf-8", cte="quoted-printable")
    # After set_content: it clears every Content-* header set before it (RFC 3282 header).
    msg["Content-Language"] = language
    return mid, msg.as_bytes()
