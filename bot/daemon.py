"""The daemon: mailbox watchers, the triage stage and the outbox, each in its own thread.

Why threads and events rather than one loop: IDLE blocks per connection, and a slow SMTP server
must not delay triage.  Work hand-offs go through the database (state in the database, not in
memory); the events only shorten the wait.  APScheduler (3.x, in-memory job store, one per
process — shared/machine-notes.md) runs the periodic sweeps that catch anything an event missed,
e.g. work left by a crash or a retry that has come due; the scheduler issue adds reminders here.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from bot import approval
from bot.config import Config
from bot.intake.store import ensure_mailbox
from bot.intake.watcher import MailboxWatcher
from bot.outbox.sender import OutboxSender
from bot.pipeline import Pipeline
from bot.triage.classify import ClassifyFn
from storage.db import Database

log = logging.getLogger(__name__)


@dataclass
class Stats:
    fetched: int = 0
    processed: int = 0
    sent: int = 0
    errors: dict[str, int] = field(default_factory=dict)


class Daemon:
    def __init__(self, cfg: Config, db: Database | None = None,
                 classify: ClassifyFn | None = None) -> None:
        self.cfg = cfg
        self.db = db or Database(cfg.database_url())
        self.stop_event = threading.Event()
        self.new_mail = threading.Event()
        self.outbox_due = threading.Event()
        self.stats = Stats()
        self.pipeline = Pipeline(self.db, cfg, classify, on_queued=self.outbox_due.set)
        self.sender = OutboxSender(self.db, cfg, cfg.secret())
        self.watchers = [
            MailboxWatcher(self.db, cfg, mb, on_new=self._on_new, stop=self.stop_event)
            for mb in cfg.mailboxes
        ]
        self.scheduler = BackgroundScheduler(timezone="UTC")
        self._threads: list[threading.Thread] = []
        with self.db.session() as s:
            for mb in cfg.mailboxes:
                ensure_mailbox(s, mb.name)

    def _on_new(self, count: int) -> None:
        self.stats.fetched += count
        self.new_mail.set()

    # -- one pass of everything (used by `demo --once` and the tests) ------------------------
    def drain(self, sync: bool = True) -> None:
        """Fetch, triage and send until nothing is left to do right now."""
        if sync:
            for w in self.watchers:
                w.sync_once()
        while True:
            done = self.pipeline.process_pending()
            self.stats.processed += len(done)
            sent = self.sender.process_due()
            self.stats.sent += sent
            with self.db.session() as s:
                approval.mark_answered(s)
            if not done and not sent:
                return

    # -- running ------------------------------------------------------------------------------
    def _loop(self, name: str, event: threading.Event, step: Callable[[], Any]) -> None:
        """A loop that one bad message or a database hiccup cannot stop."""
        while not self.stop_event.is_set():
            event.wait(timeout=5.0)
            event.clear()
            if self.stop_event.is_set():
                return
            try:
                step()
            except Exception as exc:  # logged by class only: no personal data in logs
                self.stats.errors[name] = self.stats.errors.get(name, 0) + 1
                log.error("%s step failed: %s", name, type(exc).__name__)
                time.sleep(1.0)

    def _triage_step(self) -> None:
        done = self.pipeline.process_pending()
        self.stats.processed += len(done)
        if done:
            log.info("triaged %d message(s)", len(done))

    def _outbox_step(self) -> None:
        sent = self.sender.process_due()
        self.stats.sent += sent
        with self.db.session() as s:
            answered = approval.mark_answered(s)
        if sent or answered:
            log.info("outbox: %d sent, %d case(s) answered", sent, answered)

    def start(self) -> None:
        recovered = self.sender.recover()
        if recovered:
            log.warning("outbox: %d item(s) were mid-send at the last stop", recovered)
        for w in self.watchers:
            t = threading.Thread(target=w.run, name=f"imap-{w.mailbox.name}", daemon=True)
            self._threads.append(t)
        self._threads.append(threading.Thread(
            target=self._loop, args=("triage", self.new_mail, self._triage_step),
            name="triage", daemon=True))
        self._threads.append(threading.Thread(
            target=self._loop, args=("outbox", self.outbox_due, self._outbox_step),
            name="outbox", daemon=True))
        for t in self._threads:
            t.start()
        self.scheduler.add_job(self.new_mail.set, "interval", seconds=15, id="triage-sweep")
        self.scheduler.add_job(self.outbox_due.set, "interval", seconds=10, id="outbox-sweep")
        self.scheduler.start()
        self.new_mail.set()
        self.outbox_due.set()
        log.info("rightsdesk running: %d mailbox(es)", len(self.watchers))

    def stop(self) -> None:
        self.stop_event.set()
        self.new_mail.set()
        self.outbox_due.set()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        for t in self._threads:
            t.join(timeout=15)

    def run_forever(self) -> None:
        """Run until SIGTERM or SIGINT (systemd stop, Ctrl-C)."""

        def _stop(signum: int, _frame: Any) -> None:
            log.info("signal %d: stopping", signum)
            self.stop_event.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        self.start()
        try:
            while not self.stop_event.wait(1.0):
                pass
        finally:
            self.stop()
