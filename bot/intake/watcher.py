"""One mailbox's watcher: fetch what is new in every configured folder, then wait for more.

Why this shape:
- Position per folder is ``(UIDVALIDITY, last UID)`` (RFC 3501 / RFC 9051 §2.3.1.1).  "New"
  is ``UID SEARCH UID last+1:*``; a changed UIDVALIDITY means the old UIDs are meaningless, so
  the folder is read again from the start date and the dedupe key keeps that free of duplicates.
- The first look at a folder takes only mail since ``imap.start_date`` (else
  ``start_days_back`` days back) with ``SEARCH SINCE``: an unanswered request from last month
  is still found, years of archive are not.  The UIDs this applies to are kept in the position
  (``backfill_until_uid``), so a crash half-way does not widen the window.
- Mail is read with ``BODY.PEEK[]`` on an ``EXAMINE``d folder (RFC 3501 §6.3.2, §6.4.5): the bot
  observes and changes nothing, unless ``mark_seen`` or ``move_processed_to`` say otherwise; those
  act only after the batch is committed (MOVE, RFC 6851; else COPY + UID EXPUNGE, RFC 4315).
- Batches: ``fetch_batch`` UIDs, split further so one round trip stays under
  ``MAX_FETCH_BYTES`` (a 20 MB mail travels alone).  Each batch is one transaction with the
  position (``store.store_batch``): a crash loses nothing and stores nothing twice.
- Waiting: IDLE (RFC 2177) on the first folder, re-issued every ``idle_renew_seconds`` (servers
  may drop an IDLE after 30 minutes) and checked every second so a stop is quick; other folders
  are polled every ``poll_seconds`` meanwhile (IDLE watches one folder per connection).  Without
  IDLE (or ``idle = false``) everything is polled.
- Errors never end ``run``: they are recorded (class and response code only, no personal data)
  and the connection is reopened after an exponential backoff with jitter.
"""

from __future__ import annotations

import imaplib
import logging
import random
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from datetime import date, timedelta
from typing import Any

from imapclient import DELETED, SEEN, IMAPClient
from sqlalchemy.exc import SQLAlchemyError

from bot.config import Config, Imap
from bot.config import Mailbox as MailboxConfig
from bot.intake.errors import (
    ConnectionLost,
    IntakeError,
    PermanentIntakeError,
    TemporaryIntakeError,
    classify,
)
from bot.intake.imapconn import drop, open_imap
from bot.intake.oauth import TokenProvider, token_provider_for
from bot.intake.store import Fetched, begin_folder, ensure_mailbox, get_position, store_batch
from storage.clock import utcnow
from storage.db import Database
from storage.models import Mailbox as MailboxRow

log = logging.getLogger(__name__)

MAX_FETCH_BYTES = 32 * 1024 * 1024  # per FETCH round trip and per transaction (unless one mail)
IDLE_CHECK_SECONDS = 1.0  # how soon a stop request ends an IDLE
LONG_POLL_SECONDS = 25 * 60  # RFC 3501 §5.4: servers may log out after 30 idle minutes
PERMANENT_BACKOFF_FLOOR = 60.0  # a refused login is not retried every second


class Backoff:
    """Exponential backoff with jitter ("equal jitter": half fixed, half random)."""

    def __init__(self, initial: float, maximum: float, rng: Callable[[], float] = random.random):
        self.initial = initial
        self.maximum = maximum
        self._rng = rng
        self._failures = 0

    def next(self, permanent: bool = False) -> float:
        base = min(self.maximum, self.initial * 2 ** min(self._failures, 30))
        if permanent:
            base = max(base, min(self.maximum, PERMANENT_BACKOFF_FLOOR))
        self._failures += 1
        return base / 2 + base / 2 * self._rng()

    def reset(self) -> None:
        self._failures = 0


def _chunks(items: Sequence[int], size: int) -> Iterable[Sequence[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _by_size(uids: Sequence[int], sizes: dict[int, dict[bytes, Any]]) -> list[list[int]]:
    """Group UIDs so each FETCH stays under MAX_FETCH_BYTES; vanished UIDs are left out."""
    groups: list[list[int]] = []
    current: list[int] = []
    total = 0
    for uid in uids:
        if uid not in sizes:
            continue  # expunged since SEARCH
        size = int(sizes[uid].get(b"RFC822.SIZE", 0))
        if current and total + size > MAX_FETCH_BYTES:
            groups.append(current)
            current, total = [], 0
        current.append(uid)
        total += size
    if current:
        groups.append(current)
    return groups


def _untagged(client: IMAPClient) -> dict[str, list[Any]]:
    """imaplib's store of untagged responses seen during other commands.

    An ``EXISTS`` that arrives with a FETCH response is kept here and would be missed by
    ``idle_check``; reading it closes the gap between the last SEARCH and IDLE.
    """
    responses: dict[str, list[Any]] = client._imap.untagged_responses
    return responses


class MailboxWatcher:
    """Fetches new mail of one configured mailbox into the database.

    ``sync_once`` and ``run`` belong to one thread; run several watchers for several mailboxes.
    """

    def __init__(
        self,
        db: Database,
        cfg: Config,
        mailbox: MailboxConfig,
        on_new: Callable[[int], None] | None = None,
        stop: threading.Event | None = None,
        *,
        backoff_initial: float = 1.0,
        backoff_max: float = 300.0,
    ) -> None:
        self.db = db
        self.cfg = cfg
        self.mailbox = mailbox
        self.imap: Imap = mailbox.imap
        self.on_new = on_new
        self.stop = stop if stop is not None else threading.Event()
        self.backoff = Backoff(backoff_initial, backoff_max)
        self._client: IMAPClient | None = None
        self._tokens: TokenProvider | None = None
        self._mailbox_id: int | None = None
        self._step = "CONNECT"
        self._stored = 0  # messages stored by the sync in progress
        # EXAMINE (read-only) unless the config allows us to change mail.
        self._readonly = not (self.imap.mark_seen or self.imap.move_processed_to)

    # -- public -------------------------------------------------------------------------------
    def sync_once(self) -> int:
        """Fetch everything new in every folder; return how many messages were stored.

        Connects if needed.  On failure the error is recorded on the mailbox row, the
        connection dropped, and an ``IntakeError`` raised.
        """
        self._stored = 0
        try:
            client = self._connected()
            # The IDLE folder last, so IDLE starts where its sync ended.
            for folder in [*self.imap.folders[1:], self.imap.folders[0]]:
                self._sync_folder(client, folder)
        except Exception as exc:
            self._notify(self._stored)  # batches committed before the failure are triaged now
            raise self._failed(exc) from None
        self._record(error=None)
        self._notify(self._stored)
        return self._stored

    def run(self) -> None:
        """Sync, wait (IDLE or poll), repeat until ``stop`` is set.  Never raises."""
        log.info("mailbox %s: watching %d folder(s)", self.mailbox.name, len(self.imap.folders))
        while not self.stop.is_set():
            try:
                self.sync_once()
                self._wait_for_mail()
                self.backoff.reset()
                continue
            except IntakeError as exc:
                err = exc if self._client is None else self._failed(exc)
            except Exception as exc:  # a bug or a database outage: recorded, then retried
                err = self._failed(exc)
            delay = self.backoff.next(permanent=isinstance(err, PermanentIntakeError))
            log.warning("mailbox %s: %s; retrying in %.1f s", self.mailbox.name,
                        err.safe_text(), delay)
            self.stop.wait(delay)
        self.close()
        log.info("mailbox %s: stopped", self.mailbox.name)

    def close(self) -> None:
        """Log out (best effort) and forget the connection."""
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.logout()
        except Exception:
            drop(client)

    # -- connection and bookkeeping -------------------------------------------------------------
    @property
    def mailbox_id(self) -> int:
        if self._mailbox_id is None:
            with self.db.session() as s:
                self._mailbox_id = ensure_mailbox(s, self.mailbox.name).id
        return self._mailbox_id

    def _connected(self) -> IMAPClient:
        if self._client is not None:
            return self._client
        self._step = "CONNECT"
        if self._tokens is None:
            self._tokens = token_provider_for(
                self.db, self.mailbox.name, self.imap, self.cfg.base_dir
            )
        client = open_imap(self.imap, self.cfg.base_dir, self._tokens)
        self._client = client
        dest = self.imap.move_processed_to
        if dest is not None:
            self._step = "CREATE"
            if not client.folder_exists(dest):
                client.create_folder(dest)
        return client

    def _failed(self, exc: BaseException) -> IntakeError:
        """Record the failure (safe text only), drop the connection, return the IntakeError."""
        if isinstance(exc, SQLAlchemyError):
            err: IntakeError = TemporaryIntakeError(f"database {type(exc).__name__}")
        else:
            err = classify(exc, self._step)
        if not isinstance(exc, IntakeError) and not _is_io_error(exc):
            # Frames only: an exception's text may quote mail or an address.
            frames = "".join(traceback.format_tb(exc.__traceback__))
            log.error("mailbox %s: unexpected %s\n%s", self.mailbox.name,
                      type(exc).__name__, frames)
        client, self._client = self._client, None
        if client is not None:
            drop(client)
        self._record(error=err)
        return err

    def _record(self, error: IntakeError | None) -> None:
        """``last_success_at`` after a full sync; ``last_error``/``_at`` on failure (kept after
        recovery, so staff can see what happened; compare the two times for the current state).
        """
        try:
            with self.db.session() as s:
                row = s.get(MailboxRow, self.mailbox_id)
                assert row is not None
                if error is None:
                    row.last_success_at = utcnow()
                else:
                    row.last_error = error.safe_text()[:500]
                    row.last_error_at = utcnow()
        except Exception as exc:  # the database may be what failed
            log.error("mailbox %s: cannot record status: %s", self.mailbox.name,
                      type(exc).__name__)

    def _notify(self, count: int) -> None:
        if count <= 0:
            return
        log.info("mailbox %s: stored %d new message(s)", self.mailbox.name, count)
        if self.on_new is None:
            return
        try:
            self.on_new(count)
        except Exception as exc:  # the mail is stored; triage will find it anyway
            log.error("mailbox %s: on_new failed: %s", self.mailbox.name, type(exc).__name__)

    # -- syncing --------------------------------------------------------------------------------
    def _start_date(self) -> date:
        if self.imap.start_date is not None:
            return self.imap.start_date
        return (utcnow() - timedelta(days=self.imap.start_days_back)).date()

    def _sync_folder(self, client: IMAPClient, folder: str) -> None:
        self._step = "SELECT"
        info = client.select_folder(folder, readonly=self._readonly)
        _untagged(client).pop("EXISTS", None)  # from here on, EXISTS means newly arrived mail
        uidvalidity = int(info[b"UIDVALIDITY"])
        with self.db.session() as s:
            pos = get_position(s, self.mailbox_id, folder)
        if pos is None or pos.uidvalidity != uidvalidity:
            if pos is not None:
                log.warning("mailbox %s folder %s: UIDVALIDITY changed, re-syncing",
                            self.mailbox.name, folder)
            uidnext = info.get(b"UIDNEXT")
            if uidnext is not None:
                horizon = int(uidnext) - 1
            else:  # RFC 3501 requires UIDNEXT, but do not trust it blindly
                self._step = "SEARCH"
                horizon = max(client.search(["ALL"]), default=0)
            with self.db.session() as s:
                pos = begin_folder(s, self.mailbox_id, folder, uidvalidity, horizon)
        last = pos.last_uid
        backfill = pos.backfill_until_uid or 0
        if last < backfill:
            self._step = "SEARCH"
            found = client.search(["UID", f"{last + 1}:{backfill}", "SINCE", self._start_date()])
            uids = sorted(u for u in found if last < u <= backfill)
            self._fetch_and_store(client, folder, uidvalidity, uids, upto=backfill)
            last = backfill
        self._step = "SEARCH"
        uids = sorted(u for u in client.search(["UID", f"{last + 1}:*"]) if u > last)
        if uids:
            self._fetch_and_store(client, folder, uidvalidity, uids, upto=uids[-1])

    def _fetch_and_store(
        self, client: IMAPClient, folder: str, uidvalidity: int, uids: Sequence[int], upto: int
    ) -> None:
        """Fetch ``uids`` in batches, each stored with its position; end at ``upto``."""
        advanced = 0
        for chunk in _chunks(uids, self.imap.fetch_batch):
            self._step = "FETCH"
            sizes = client.fetch(chunk, ["RFC822.SIZE"])
            for group in _by_size(chunk, sizes):
                items = self._fetch_group(client, group)
                with self.db.session() as s:
                    n = store_batch(s, self.mailbox_id, folder, uidvalidity, items, upto=group[-1])
                self._stored += n  # committed
                advanced = group[-1]
                self._after_commit(client, [item.uid for item in items])
        if upto > advanced:  # skipped or vanished UIDs at the end: nothing to store
            with self.db.session() as s:
                store_batch(s, self.mailbox_id, folder, uidvalidity, [], upto=upto)

    def _fetch_group(self, client: IMAPClient, group: Sequence[int]) -> list[Fetched]:
        self._step = "FETCH"
        resp = client.fetch(group, ["BODY.PEEK[]", "INTERNALDATE"])
        items: list[Fetched] = []
        for uid in group:
            data = resp.get(uid)
            if data is None:
                continue  # expunged between SEARCH and FETCH
            raw = data.get(b"BODY[]")
            when = data.get(b"INTERNALDATE")
            if raw is None or when is None:
                # Storing without it would lose the mail; advancing past it would too.
                raise TemporaryIntakeError("FETCH incomplete")
            items.append(Fetched(uid=uid, raw=bytes(raw), internaldate=when))
        return items

    def _after_commit(self, client: IMAPClient, uids: list[int]) -> None:
        """Only what the config allows, and only once the mail is safely stored."""
        if not uids:
            return
        if self.imap.mark_seen:
            self._step = "STORE"
            client.add_flags(uids, [SEEN], silent=True)
        dest = self.imap.move_processed_to
        if dest is not None:
            self._step = "MOVE"
            if client.has_capability("MOVE"):
                client.move(uids, dest)
            else:
                client.copy(uids, dest)
                client.add_flags(uids, [DELETED], silent=True)
                if client.has_capability("UIDPLUS"):  # never a plain EXPUNGE of others' mail
                    client.uid_expunge(uids)

    # -- waiting --------------------------------------------------------------------------------
    def _wait_for_mail(self) -> None:
        client = self._client
        if client is None or not self.imap.idle or not client.has_capability("IDLE"):
            if self.imap.poll_seconds >= LONG_POLL_SECONDS:
                self.close()
            self.stop.wait(self.imap.poll_seconds)
            return
        if _untagged(client).get("EXISTS"):
            return  # mail arrived during the last sync: fetch it before idling
        # IDLE ends at the renewal time or after poll_seconds, whichever is first, and a full
        # sync follows: a notification lost in the gap between the last SEARCH and IDLE (or by
        # a server that drops it) then delays mail by at most poll_seconds, never a whole
        # renewal period.  Other folders are polled on the same beat.
        timeout = min(float(self.imap.idle_renew_seconds), float(self.imap.poll_seconds))
        self._step = "IDLE"
        client.idle()
        self._idle_until(client, time.monotonic() + timeout)
        client.idle_done()

    def _idle_until(self, client: IMAPClient, deadline: float) -> None:
        """Return on new mail, at ``deadline`` (renewal) or within a second of ``stop``."""
        while not self.stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            wait = min(IDLE_CHECK_SECONDS, left)
            started = time.monotonic()
            responses = client.idle_check(timeout=wait)
            for resp in responses:
                if resp and resp[0] == b"BYE":
                    raise ConnectionLost("IDLE BYE")
                if len(resp) > 1 and resp[1] in (b"EXISTS", b"RECENT"):
                    return
            if not responses and time.monotonic() - started < wait / 2:
                # idle_check swallows EOF and returns at once; DONE will tell for sure.
                return


def _is_io_error(exc: BaseException) -> bool:
    return isinstance(exc, OSError | imaplib.IMAP4.error)
