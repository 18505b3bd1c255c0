"""Telling staff that a mail did not (or may not have) gone out.

An ``Alert`` row is always written (the web UI lists them).  A mail to ``staff.alert_to`` is
queued as well, except when the failed mail was itself an alert: alerting about an alert could
loop for as long as the mail server is down.  The alert mail is ``Auto-Submitted:
auto-generated`` (RFC 3834 §5) so that no auto-responder answers it, and names the case only by
its public token: no address, no subject, no text of the person's mail (data minimisation,
GDPR Art. 5(1)(c)).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from sqlalchemy.orm import Session

from bot.config import Config
from bot.outbox.queue import enqueue
from storage.models import Alert, Case, Mailbox, OutboxItem

HEADLINES = {
    "send_failed": "A mail could not be sent",
    "send_unknown": "A mail may or may not have been sent",
}


def alert_message_id(secret: bytes, domain: str) -> str:
    """A Message-ID we can recognise as one of our alerts (keyed, so it cannot be faked)."""
    nonce = base64.b32encode(secrets.token_bytes(10)).decode().lower()
    mac = hmac.new(secret, f"alert.{nonce}".encode(), hashlib.sha256).hexdigest()[:16]
    return f"<rd-alert.{nonce}.{mac}@{domain}>"


def is_alert_message_id(secret: bytes, message_id: str) -> bool:
    inner = message_id.strip().strip("<>")
    parts = inner.split("@", 1)[0].split(".")
    if len(parts) != 3 or parts[0] != "rd-alert":
        return False
    mac = hmac.new(secret, f"alert.{parts[1]}".encode(), hashlib.sha256).hexdigest()[:16]
    return hmac.compare_digest(mac, parts[2])


def alert_mail(*, message_id: str, from_addr: str, to_addr: str, subject: str,
               body: str, now: datetime) -> bytes:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = from_addr
    msg["To"] = to_addr
    msg["Subject"] = subject
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834 §5
    msg["X-Auto-Response-Suppress"] = "All"   # Exchange: no out-of-office replies to this
    msg["Content-Language"] = "en"
    msg.set_content(body, charset="utf-8", cte="quoted-printable")
    return msg.as_bytes()


def raise_alert(session: Session, cfg: Config, secret: bytes, item: OutboxItem, *,
                kind: str, detail: str, now: datetime) -> Alert:
    """Record an Alert for ``item`` and, unless it was an alert mail, queue mails to staff.

    ``detail`` must already be free of personal data (outbox error texts are).
    """
    token = None
    if item.case_id is not None:
        case = session.get(Case, item.case_id)
        token = case.token if case is not None else None
    mailbox = session.get(Mailbox, item.mailbox_id)
    mailbox_name = mailbox.name if mailbox is not None else f"#{item.mailbox_id}"
    about = f"outbox item {item.id} ({item.kind}" + (f", case {token})" if token else ")")
    text = f"{HEADLINES.get(kind, kind)}: {about} from mailbox {mailbox_name}: {detail}"
    alert = Alert(kind=kind, case_id=item.case_id, outbox_id=item.id, text=text,
                  created_at=now, notified=False)
    session.add(alert)
    if item.kind == "alert":
        return alert  # never alert about an alert
    try:
        mb = cfg.mailbox(mailbox_name)
    except KeyError:
        return alert  # mailbox no longer configured: the row is all we can do
    domain = cfg.outbox.message_id_domain or mb.address.rsplit("@", 1)[-1]
    subject = f"[rightsdesk] {HEADLINES.get(kind, kind)}" + (f" ({token})" if token else "")
    body = (
        f"{text}\n\n"
        + ("It will NOT be sent again automatically, so that nobody gets it twice. Check "
           "whether it arrived, then resend it or mark it as sent.\n"
           if kind == "send_unknown" else
           "Nothing more will be tried. Check the case and resend once the cause is fixed.\n")
        + "\nThis alert was generated automatically by rightsdesk.\n"
    )
    for to_addr in cfg.staff.alert_to:
        mid = alert_message_id(secret, domain)
        raw = alert_mail(message_id=mid, from_addr=mb.address, to_addr=to_addr,
                         subject=subject, body=body, now=now)
        enqueue(session, mailbox_id=item.mailbox_id, kind="alert", message_id=mid,
                mail_from=mb.address, rcpt_to=[to_addr], raw=raw, case_id=item.case_id,
                not_before=now)
    alert.notified = True
    return alert
