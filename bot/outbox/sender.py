"""The outbox runner: claim a due mail, submit it, record the outcome — at most once.

Every mail goes through three commits: *claim* (status "sending", attempts+1, claimed_at),
then SMTP outside any transaction, then the *outcome*.  A crash between the SMTP ``250`` and the
outcome commit leaves the item in "sending"; nothing can tell from the database whether it went
out, so ``recover`` either asks the Sent folder of a server that files submitted mail itself
(``smtp.server_saves_sent``) or marks it "unknown" and alerts staff.  It never re-sends on a
guess: a data subject must not get the same reply twice, and staff decide with
``resend``/``mark_sent``.

Several processes may share the queue: on PostgreSQL a claim is ``SELECT … FOR UPDATE SKIP
LOCKED``; on SQLite every transaction starts with ``BEGIN IMMEDIATE`` (storage/db.py), which
serialises claims.  Each outcome is a compare-and-set on (status, claimed_at), so a claim that
was recovered by another process in the meantime is never overwritten.  A claim is considered
abandoned only after a *lease* longer than any SMTP transaction can take.

The API is synchronous (the daemon is threaded); ``smtp.deliver`` runs on a private loop.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from imapclient import IMAPClient
from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from bot.config import Config, Imap, Smtp
from bot.config import Mailbox as MailboxConfig
from bot.intake.imapconn import open_imap
from bot.intake.oauth import TokenProvider, token_provider_for
from bot.outbox import sentcopy
from bot.outbox.alerts import raise_alert
from bot.outbox.errors import DeliveryUnknown, OutboxError, PermanentFailure, TemporaryFailure
from bot.outbox.retry import backoff_seconds
from bot.outbox.smtp import deliver
from storage.clock import aware, utcnow
from storage.db import Database, is_postgres
from storage.models import Alert, Mailbox, OutboxItem

log = logging.getLogger("rightsdesk.outbox")

#: SMTP steps one transaction can wait on (connect, greeting, EHLO, STARTTLS, EHLO, AUTH ×2,
#: MAIL, RCPT, DATA, end of data), each bounded by the server's timeout.
_STEPS = 11


class OutboxStateError(Exception):
    """A staff action does not fit the item's status (e.g. resending a sent mail)."""


@dataclass(frozen=True)
class _Claim:
    """What one attempt needs, copied out of the claiming transaction."""

    id: int
    mailbox_id: int
    kind: str
    message_id: str
    mail_from: str
    rcpt_to: list[str]
    raw: bytes
    attempts: int
    claimed_at: datetime


class OutboxSender:
    """Sends due outbox items; one instance per thread, any number per database."""

    def __init__(self, db: Database, cfg: Config, secret: bytes, *,
                 lease_seconds: float | None = None, rng: random.Random | None = None) -> None:
        self.db = db
        self.cfg = cfg
        self.secret = secret
        if lease_seconds is None:
            slowest = max(cfg.smtp_for(m).timeout_seconds for m in cfg.mailboxes)
            lease_seconds = _STEPS * slowest + 60.0
        self.lease = timedelta(seconds=lease_seconds)
        self._rng = rng or random.Random()
        self._names: dict[int, str] = {}
        self._tokens: dict[tuple[str, str], TokenProvider | None] = {}
        self._postgres = is_postgres(db.engine)

    # -- sending ---------------------------------------------------------------------------

    def process_due(self, now: datetime | None = None) -> int:
        """Attempt every due item once; return how many attempts were made.

        Also resolves abandoned claims (``recover``) and files pending Sent copies.
        """
        self.recover(now)
        attempts = 0
        with asyncio.Runner() as runner:
            while True:
                at = now or utcnow()
                claim = self._claim(at)
                if claim is None:
                    break
                attempts += 1
                self._attempt(runner, claim, at)
        self.append_copies(now)
        return attempts

    def _locking(self, query: Select[Any]) -> Select[Any]:
        return query.with_for_update(skip_locked=True) if self._postgres else query

    def _claim(self, at: datetime) -> _Claim | None:
        with self.db.session() as s:
            item = s.scalars(self._locking(
                select(OutboxItem)
                .where(OutboxItem.status == "queued", OutboxItem.next_attempt_at <= at)
                .order_by(OutboxItem.next_attempt_at, OutboxItem.id)
                .limit(1)
            )).first()
            if item is None:
                return None
            item.status = "sending"
            item.attempts += 1
            item.claimed_at = at
            item.last_error = None  # from here on it describes this attempt only
            return _Claim(item.id, item.mailbox_id, item.kind, item.message_id, item.mail_from,
                          list(item.rcpt_to), item.raw, item.attempts, at)

    def _attempt(self, runner: asyncio.Runner, claim: _Claim, at: datetime) -> None:
        try:
            mb = self._mailbox_config(claim.mailbox_id)
            if mb is None:
                raise PermanentFailure("mailbox is no longer configured")
            server = self.cfg.smtp_for(mb)
            tokens = self._token_provider(mb.name, server)
            runner.run(deliver(claim.raw, claim.mail_from, claim.rcpt_to, server,
                               self.cfg.base_dir, tokens))
        except TemporaryFailure as exc:
            self._temporary(claim, exc, at)
        except PermanentFailure as exc:
            log.warning("outbox item %d failed permanently: %s", claim.id, exc)
            self._fail(claim, str(exc), at)
        except DeliveryUnknown as exc:
            log.warning("outbox item %d: delivery unknown: %s", claim.id, exc)
            self._in_doubt(claim, exc, at)
        except OutboxError as exc:  # pragma: no cover - every subclass is handled above
            self._temporary(claim, TemporaryFailure(str(exc)), at)
        except Exception as exc:
            # A token refresh or a secret lookup broke before anything reached SMTP.
            log.warning("outbox item %d: %s before sending", claim.id, type(exc).__name__)
            self._temporary(claim, TemporaryFailure(f"unexpected {type(exc).__name__}"), at)
        else:
            self._sent(claim, at)

    def _cas(self, s: Session, claim: _Claim, **values: Any) -> bool:
        """Apply ``values`` only if the item is still in the claim we made."""
        result = s.execute(
            update(OutboxItem)
            .where(OutboxItem.id == claim.id, OutboxItem.status == "sending",
                   OutboxItem.claimed_at == claim.claimed_at)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            log.warning("outbox item %d: claim lost before its outcome was recorded", claim.id)
            return False
        return True

    def _sent(self, claim: _Claim, at: datetime) -> None:
        with self.db.session() as s:
            # next_attempt_at now schedules the Sent copy (append_copies).
            self._cas(s, claim, status="sent", sent_at=utcnow(), last_error=None,
                      next_attempt_at=at)
        log.info("outbox item %d sent (%s)", claim.id, claim.kind)

    def _temporary(self, claim: _Claim, exc: OutboxError, at: datetime) -> None:
        if claim.attempts >= self.cfg.outbox.max_attempts:
            log.warning("outbox item %d: giving up after %d attempts: %s",
                        claim.id, claim.attempts, exc)
            self._fail(claim, f"gave up after {claim.attempts} attempts; last: {exc}", at)
            return
        delay = backoff_seconds(claim.attempts, self.cfg.outbox, self._rng)
        log.info("outbox item %d: temporary failure (%s); retry in %.0f s",
                 claim.id, exc, delay)
        with self.db.session() as s:
            self._cas(s, claim, status="queued", last_error=str(exc)[:500],
                      next_attempt_at=at + timedelta(seconds=delay))

    def _fail(self, claim: _Claim, detail: str, at: datetime) -> None:
        with self.db.session() as s:
            if self._cas(s, claim, status="failed", last_error=detail[:500]):
                item = s.get(OutboxItem, claim.id)
                assert item is not None
                raise_alert(s, self.cfg, self.secret, item, kind="send_failed",
                            detail=detail, now=at)

    def _in_doubt(self, claim: _Claim, exc: DeliveryUnknown, at: datetime) -> None:
        """The reply to our end of data never came: same question as after a crash."""
        mb = self._mailbox_config(claim.mailbox_id)
        with self.db.session() as s:
            if mb is not None and self._sent_folder_answers(mb):
                # Let the server file its copy; recover() asks the Sent folder after the lease.
                self._cas(s, claim, last_error=str(exc)[:500])
            elif self._cas(s, claim, status="unknown", last_error=str(exc)[:500]):
                item = s.get(OutboxItem, claim.id)
                assert item is not None
                raise_alert(s, self.cfg, self.secret, item, kind="send_unknown",
                            detail=str(exc), now=at)

    # -- crash recovery --------------------------------------------------------------------

    def recover(self, now: datetime | None = None) -> int:
        """Resolve items left in "sending" longer than the lease; return how many.

        Sent folder answers (server files submitted mail itself): found → "sent", not found →
        "queued" again.  Otherwise → "unknown" plus a ``send_unknown`` alert; never re-sent.
        """
        at = now or utcnow()
        cutoff = at - self.lease
        resolved = 0
        while True:
            with self.db.session() as s:
                item = s.scalars(self._locking(
                    select(OutboxItem)
                    .where(OutboxItem.status == "sending", OutboxItem.claimed_at < cutoff)
                    .order_by(OutboxItem.id)
                    .limit(1)
                )).first()
                if item is None:
                    return resolved
                mb = self._mailbox_config(item.mailbox_id, s)
                if mb is None or not self._sent_folder_answers(mb):
                    item.status = "unknown"
                    detail = item.last_error or "the process stopped while sending"
                    item.last_error = detail[:500]
                    raise_alert(s, self.cfg, self.secret, item, kind="send_unknown",
                                detail=detail, now=at)
                    log.warning("outbox item %d: delivery unknown after interruption", item.id)
                    resolved += 1
                    continue
                attempted_at = aware(item.claimed_at) if item.claimed_at else at
                item.claimed_at = at  # renew the claim while we ask the Sent folder
                claim = _Claim(item.id, item.mailbox_id, item.kind, item.message_id,
                               item.mail_from, list(item.rcpt_to), b"", item.attempts, at)
            if self._resolve_from_sent(claim, mb, attempted_at, at):
                resolved += 1

    def _resolve_from_sent(self, claim: _Claim, mb: MailboxConfig, attempted_at: datetime,
                           at: datetime) -> bool:
        folder = mb.imap.sent_folder
        assert folder is not None
        try:
            with self._open_imap(mb) as client:
                found = sentcopy.copy_present(client, folder, claim.message_id)
        except Exception as exc:
            # Stays "sending" with a fresh claim: asked again after the next lease.
            log.warning("outbox item %d: Sent folder not readable (%s)",
                        claim.id, type(exc).__name__)
            return False
        with self.db.session() as s:
            if found:
                log.info("outbox item %d found in Sent: it was sent", claim.id)
                return self._cas(s, claim, status="sent", sent_at=attempted_at,
                                 last_error=None)
            log.info("outbox item %d not in Sent: queued again", claim.id)
            return self._cas(s, claim, status="queued", next_attempt_at=at,
                             last_error="not in the Sent folder after an interrupted send")

    def _sent_folder_answers(self, mb: MailboxConfig) -> bool:
        return self.cfg.smtp_for(mb).server_saves_sent and mb.imap.sent_folder is not None

    # -- staff actions ---------------------------------------------------------------------

    def resend(self, item_id: int, now: datetime | None = None) -> None:
        """Staff decided the mail did not arrive: queue it again (same Message-ID)."""
        self._staff_resolve(item_id, ("unknown", "failed"), now, status="queued", attempts=0,
                            claimed_at=None, last_error=None, next_attempt_at=now or utcnow())

    def mark_sent(self, item_id: int, now: datetime | None = None) -> None:
        """Staff found the mail delivered: record it as sent (a Sent copy may still follow)."""
        with self.db.session() as s:
            item = s.get(OutboxItem, item_id)
            when = aware(item.claimed_at) if item is not None and item.claimed_at else None
        self._staff_resolve(item_id, ("unknown",), now, status="sent",
                            sent_at=when or now or utcnow(), last_error=None,
                            next_attempt_at=now or utcnow())

    def _staff_resolve(self, item_id: int, allowed: tuple[str, ...], now: datetime | None,
                       **values: Any) -> None:
        at = now or utcnow()
        with self.db.session() as s:
            item = s.get(OutboxItem, item_id, with_for_update=True)  # ignored by SQLite
            if item is None:
                raise OutboxStateError(f"no outbox item {item_id}")
            if item.status not in allowed:
                raise OutboxStateError(
                    f"outbox item {item_id} is {item.status!r}, expected {' or '.join(allowed)}")
            for key, value in values.items():
                setattr(item, key, value)
            s.execute(update(Alert)
                      .where(Alert.outbox_id == item_id, Alert.resolved_at.is_(None))
                      .values(resolved_at=at)
                      .execution_options(synchronize_session=False))

    # -- Sent copies -----------------------------------------------------------------------

    def append_copies(self, now: datetime | None = None) -> int:
        """File a \\Seen copy of each sent mail that asks for one; return how many were made.

        Only for mailboxes with ``imap.sent_folder`` whose SMTP server does not file copies
        itself.  A failure is retried after ``outbox.backoff_seconds``; it never re-sends.
        """
        at = now or utcnow()
        mailboxes = self._append_mailboxes()
        made = 0
        while mailboxes:
            with self.db.session() as s:
                item = s.scalars(self._locking(
                    select(OutboxItem)
                    .where(OutboxItem.status == "sent", OutboxItem.append_sent.is_(True),
                           OutboxItem.appended_at.is_(None), OutboxItem.next_attempt_at <= at,
                           OutboxItem.mailbox_id.in_(list(mailboxes)))
                    .order_by(OutboxItem.id)
                    .limit(1)
                )).first()
                if item is None:
                    break
                mb = mailboxes[item.mailbox_id]
                # Our claim on this copy: longer than login, SELECT, SEARCH and APPEND can take.
                until = at + timedelta(seconds=6 * mb.imap.timeout_seconds + 60.0)
                item.next_attempt_at = until
                item_id, mailbox_id, message_id, raw = (
                    item.id, item.mailbox_id, item.message_id, item.raw)
            folder = mb.imap.sent_folder
            assert folder is not None
            try:
                with self._open_imap(mb) as client:
                    fresh = sentcopy.ensure_copy(client, folder, raw, message_id)
            except Exception as exc:
                log.warning("outbox item %d: Sent copy failed (%s); will retry",
                            item_id, type(exc).__name__)
                del mailboxes[mailbox_id]  # the server is unwell: next batch
                retry_at = at + timedelta(seconds=self.cfg.outbox.backoff_seconds)
                values: dict[str, Any] = {
                    "next_attempt_at": retry_at,
                    "last_error": f"Sent copy failed: {type(exc).__name__}"}
            else:
                made += int(fresh)
                values = {"appended_at": utcnow()}
            with self.db.session() as s:
                s.execute(update(OutboxItem)
                          .where(OutboxItem.id == item_id, OutboxItem.appended_at.is_(None),
                                 OutboxItem.next_attempt_at == until)
                          .values(**values)
                          .execution_options(synchronize_session=False))
        return made

    def _append_mailboxes(self) -> dict[int, MailboxConfig]:
        wanted = {m.name: m for m in self.cfg.mailboxes
                  if m.imap.sent_folder is not None and not self.cfg.smtp_for(m).server_saves_sent}
        if not wanted:
            return {}
        with self.db.session() as s:
            rows = s.execute(select(Mailbox.id, Mailbox.name)
                             .where(Mailbox.name.in_(list(wanted)))).all()
        return {row.id: wanted[row.name] for row in rows}

    # -- configuration lookups -------------------------------------------------------------

    def _mailbox_config(self, mailbox_id: int, s: Session | None = None) -> MailboxConfig | None:
        """The configured mailbox of a row; pass the open session when inside one (SQLite
        would otherwise wait on its own write lock)."""
        name = self._names.get(mailbox_id)
        if name is None:
            if s is None:
                with self.db.session() as own:
                    row = own.get(Mailbox, mailbox_id)
            else:
                row = s.get(Mailbox, mailbox_id)
            if row is None:
                return None
            name = self._names[mailbox_id] = row.name
        try:
            return self.cfg.mailbox(name)
        except KeyError:
            return None

    def _token_provider(self, name: str, server: Smtp | Imap) -> TokenProvider | None:
        if server.auth != "xoauth2":
            return None
        key = (name, "smtp" if isinstance(server, Smtp) else "imap")
        if key not in self._tokens:
            self._tokens[key] = token_provider_for(self.db, name, server, self.cfg.base_dir)
        return self._tokens[key]

    def _open_imap(self, mb: MailboxConfig) -> IMAPClient:
        return open_imap(mb.imap, self.cfg.base_dir, self._token_provider(mb.name, mb.imap))
