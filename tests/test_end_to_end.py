"""The product path on real servers, as an admin and staff use it.

A private Dovecot holds the company mailbox, aiosmtpd is the outgoing server, and the daemon is
`rightsdesk run --config FILE` in a child process (SQLite, and once on PostgreSQL).  Staff act
through the CLI (`approve`, `cases --json`, `messages --json`); the test process reads the
database only to wait cheaply and to look at what the CLI does not show (alerts, outbox rows).

What each test protects:
- request → case → acknowledgement → approval → one threaded reply with our signed Message-ID,
  a follow-up threaded into the case, a DSN about our reply raising an alert, nothing re-sent
  after a restart (`test_request_approve_reply_followup_bounce`);
- an auto-submitted request still opens a case, without an automatic reply (RFC 3834);
- IDLE: mail appended while the daemon runs is taken within a few seconds;
- SIGTERM stops the daemon cleanly within a few seconds.

Helpers here (config writer, daemon process, CLI) are reused by tests/test_crash.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any, TypeVar

import pytest
import tomli_w
from sqlalchemy import select

from bot.ids import case_token_from_message_id
from storage.db import Database
from storage.models import Alert, Case, Message, OutboxItem
from tests.fixtures.dovecot import Dovecot, ImapUser
from tests.fixtures.smtp import Received, SmtpServer

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "kespet"
_SCRIPT = Path(sys.executable).with_name("rightsdesk")
RIGHTSDESK: list[str] = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "bot.cli"]
SECRET = "e2e-secret-key-0123456789"
READY_LINE = "rightsdesk running"
STAFF = "privacy-staff@example.test"

REQUEST_EN = "Please delete all my personal data from your customer register."
REQUEST_FI = "Poistakaa kaikki henkilötietoni asiakasrekisteristänne."
NEGATIVE_EN = ("Hello, when will my order of twenty bags of dog food be delivered? "
               "The order number is 55123. Best regards, Pekka")

T = TypeVar("T")


# -- mail -------------------------------------------------------------------------------------
def make_mail(*, sender: str, to: str, subject: str, body: str, name: str = "",
              headers: dict[str, str] | None = None, msgid: str | None = None) -> tuple[str, bytes]:
    """(Message-ID, CRLF bytes) of a plain-text mail such as a data subject would write."""
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["From"] = f"{name} <{sender}>" if name else sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    mid = msgid or make_msgid(domain=sender.rsplit("@", 1)[-1])
    msg["Message-ID"] = mid
    for key, value in (headers or {}).items():
        msg[key] = value
    msg.set_content(body, charset="utf-8")
    return mid, msg.as_bytes()


def header_block(raw: bytes) -> bytes:
    """The header section of a mail (what a DSN's text/rfc822-headers part quotes)."""
    for sep in (b"\r\n\r\n", b"\n\n"):
        if sep in raw:
            return raw.split(sep, 1)[0].replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return raw


def make_dsn(*, to: str, failed_rcpt: str, original: bytes) -> tuple[str, bytes]:
    """An RFC 3464 delivery status notification for ``original`` (a 5.1.1 hard bounce)."""
    mid = make_msgid(domain="mx.example.net")
    boundary = "dsn-boundary-e2e"
    lines = [
        "Return-Path: <>",
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>",
        f"To: {to}",
        "Subject: Undelivered Mail Returned to Sender",
        f"Date: {format_datetime(datetime.now(UTC))}",
        f"Message-ID: {mid}",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"',
        "",
        f"--{boundary}",
        "Content-Type: text/plain; charset=us-ascii",
        "",
        "This is the mail system at host mx.example.net.",
        "Your message could not be delivered to one or more recipients.",
        "",
        f"--{boundary}",
        "Content-Type: message/delivery-status",
        "",
        "Reporting-MTA: dns; mx.example.net",
        "",
        f"Final-Recipient: rfc822; {failed_rcpt}",
        "Action: failed",
        "Status: 5.1.1",
        "Diagnostic-Code: smtp; 550 5.1.1 mailbox unknown",
        "",
        f"--{boundary}",
        "Content-Type: text/rfc822-headers",
        "",
    ]
    head = "\r\n".join(lines).encode() + b"\r\n" + header_block(original)
    tail = f"\r\n\r\n--{boundary}--\r\n".encode()
    return mid, head + tail


def header(received: Received, name: str) -> str | None:
    value = BytesHeaderParser().parsebytes(received.content).get(name)
    return " ".join(str(value).split()) if value is not None else None


# -- waiting ----------------------------------------------------------------------------------
def wait_until(fn: Callable[[], T | None], timeout: float, what: str,
               interval: float = 0.1) -> T:
    """Poll ``fn`` until it returns something truthy; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


# -- the installed product ----------------------------------------------------------------------
def write_config(directory: Path, *, dovecot: Dovecot, user: ImapUser, smtp: SmtpServer,
                 db_url: str, smtp_timeout: float = 10.0, imap: dict[str, Any] | None = None,
                 outbox: dict[str, Any] | None = None) -> Path:
    """rightsdesk.toml for the Kespet example notice, pointed at the test servers.

    Secrets are files next to the config, as an admin would keep them.
    """
    cfg: dict[str, Any] = tomllib.loads((EXAMPLE / "rightsdesk.toml").read_text("utf-8"))
    secrets_dir = directory / "secrets"
    secrets_dir.mkdir(parents=True, exist_ok=True)
    (secrets_dir / "secret_key").write_text(SECRET)
    (secrets_dir / "imap_password").write_text(user.password)
    cfg["secret_key"] = {"file": "secrets/secret_key"}
    cfg["storage"] = {"url": db_url}
    cfg["mailboxes"] = [{
        "name": "sales",
        "address": user.name,
        "imap": {"host": "127.0.0.1", "port": dovecot.imap_port, "security": "none",
                 "username": user.name, "password": {"file": "secrets/imap_password"},
                 "folders": ["INBOX"], "idle": True, "timeout_seconds": 10,
                 # The safety-net sync; test_idle_picks_up_mail... sets 600 to test IDLE alone.
                 "poll_seconds": 15, **(imap or {})},
    }]
    cfg["smtp"] = {"host": smtp.host, "port": smtp.port, "security": "none", "auth": "none",
                   "timeout_seconds": smtp_timeout}
    cfg["staff"] = {"alert_to": [STAFF]}
    cfg["outbox"] = {"backoff_seconds": 1.0, "backoff_max_seconds": 5.0, **(outbox or {})}
    for reg in cfg.get("registers", []):
        store = reg.get("store")
        if store and str(store.get("url", "")).startswith("sqlite:///"):
            store["url"] = "sqlite:///" + str((EXAMPLE / store["url"][10:]).resolve())
    path = directory / "rightsdesk.toml"
    path.write_text(tomli_w.dumps(cfg), encoding="utf-8")
    return path


@dataclass
class DaemonProcess:
    """One `rightsdesk run` child process; its log (stderr) goes to a file."""

    proc: subprocess.Popen[bytes]
    log: Path
    started: float

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_ready(self, timeout: float = 60.0) -> float:
        """Seconds from spawn until the daemon said it is running (threads started)."""
        def ready() -> bool:
            if self.proc.poll() is not None:
                pytest.fail(f"daemon exited with {self.proc.returncode}:\n"
                            f"{self.log_text()[-3000:]}")
            return READY_LINE in self.log_text()
        wait_until(ready, timeout, "the daemon to start", interval=0.02)
        return time.monotonic() - self.started

    def terminate(self, timeout: float = 20.0) -> tuple[int, float]:
        """SIGTERM; (exit status, seconds until it exited)."""
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"daemon ignored SIGTERM for {timeout} s:\n{self.log_text()[-3000:]}")
        return rc, time.monotonic() - t0

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


@dataclass
class Desk:
    """The installation under test: config, servers, database, and its CLI."""

    directory: Path
    config: Path
    db_url: str
    dovecot: Dovecot
    user: ImapUser
    smtp: SmtpServer
    processes: list[DaemonProcess] = field(default_factory=list)
    _db: Database | None = None

    @property
    def address(self) -> str:
        return self.user.name

    # servers
    def append(self, raw: bytes) -> int:
        return self.dovecot.append(self.user, raw)

    def start(self) -> DaemonProcess:
        n = len(self.processes) + 1
        log = self.directory / f"daemon-{n:02d}.log"
        with log.open("wb") as err:
            proc = subprocess.Popen(
                [*RIGHTSDESK, "--config", str(self.config), "run"], cwd=self.directory,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        daemon = DaemonProcess(proc, log, time.monotonic())
        self.processes.append(daemon)
        return daemon

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([*RIGHTSDESK, "--config", str(self.config), *args],
                              cwd=self.directory, capture_output=True, text=True, timeout=120,
                              check=False)
        if check:
            assert proc.returncode == 0, f"rightsdesk {' '.join(args)}: {proc.stderr[-2000:]}"
        return proc

    def cli_json(self, *args: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.cli(*args, "--json").stdout.splitlines()]

    # database (read-only use: waiting and looking at what the CLI does not show)
    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = Database(self.db_url, migrate=False)
        return self._db

    def message_row(self, message_id: str) -> Message | None:
        # The daemon may not have made the schema yet.
        with contextlib.suppress(Exception), self.db.session() as s:
            return s.scalars(select(Message).where(Message.message_id == message_id)).first()
        return None

    def case_status(self, case_id: int) -> str | None:
        with self.db.session() as s:
            case = s.get(Case, case_id)
            return case.status if case is not None else None

    def processed(self, message_id: str, timeout: float = 30.0) -> Message:
        """Wait until the daemon stored and triaged the mail with this Message-ID."""
        def done() -> Message | None:
            row = self.message_row(message_id)
            return row if row is not None and row.stage != "new" else None
        return wait_until(done, timeout, f"message {message_id} to be triaged")

    def close(self) -> None:
        for p in self.processes:
            p.kill()
        if self._db is not None:
            self._db.dispose()


DeskFactory = Callable[..., Desk]


@pytest.fixture
def make_desk(dovecot: Dovecot, imap_user: ImapUser, smtp_server: SmtpServer,
              tmp_path: Path) -> Iterator[DeskFactory]:
    """``make_desk(db_url, **write_config options)``: a configured installation."""
    desks: list[Desk] = []

    def make(db_url: str, **options: Any) -> Desk:
        directory = tmp_path / "desk"
        config = write_config(directory, dovecot=dovecot, user=imap_user, smtp=smtp_server,
                              db_url=db_url, **options)
        desk = Desk(directory, config, db_url, dovecot, imap_user, smtp_server)
        desks.append(desk)
        return desk

    yield make
    for desk in desks:
        desk.close()


def assert_clean_stop(daemon: DaemonProcess, limit: float = 5.0) -> float:
    rc, seconds = daemon.terminate()
    log = daemon.log_text()
    assert rc == 0, f"exit status {rc} after SIGTERM:\n{log[-3000:]}"
    assert seconds < limit, f"SIGTERM took {seconds:.1f} s (limit {limit} s)"
    assert "Traceback" not in log, log[-3000:]
    return seconds


def to(smtp: SmtpServer, address: str) -> list[Received]:
    return [m for m in smtp.messages() if address in m.rcpt_tos]


# -- tests ------------------------------------------------------------------------------------
@pytest.mark.server
def test_request_approve_reply_followup_bounce(make_desk: DeskFactory, db_url: str) -> None:
    desk = make_desk(db_url)
    person = "anna.virtanen@customer.example"
    other = "pekka.order@customer.example"
    req_mid, req = make_mail(sender=person, name="Anna Virtanen", to=desk.address,
                             subject="Personal data", body=REQUEST_EN + "\n\nAnna Virtanen")
    neg_mid, neg = make_mail(sender=other, to=desk.address, subject="Order 55123",
                             body=NEGATIVE_EN)
    desk.append(req)
    desk.append(neg)
    daemon = desk.start()
    daemon.wait_ready()

    # The request became a case; the ordinary mail did not.
    desk.processed(req_mid)
    desk.processed(neg_mid)
    cases = desk.cli_json("cases")
    assert len(cases) == 1, cases
    case = cases[0]
    assert case["message_id"] == req_mid
    assert case["from"] == person
    assert "erasure" in case["types"]
    assert case["status"] == "awaiting_approval"
    assert case["token"].startswith("RD-")
    by_mid = {m["message_id"]: m for m in desk.cli_json("messages")}
    assert by_mid[req_mid]["outcome"] == "case"
    assert by_mid[req_mid]["case_id"] == case["id"]
    assert by_mid[neg_mid]["outcome"] == "not_a_request", by_mid[neg_mid]
    assert by_mid[neg_mid]["case_id"] is None

    # The acknowledgement goes out at once, automatic and threaded; the reply waits for staff.
    acks = wait_until(lambda: to(desk.smtp, person), 15, "the acknowledgement")
    assert len(acks) == 1
    ack = acks[0]
    assert header(ack, "In-Reply-To") == req_mid
    assert header(ack, "Auto-Submitted") == "auto-replied"
    assert case_token_from_message_id(SECRET.encode(), ack.message_id or "") == case["token"]
    assert to(desk.smtp, other) == []

    # Staff approve with the CLI; the reply arrives once, threaded, with our Message-ID.
    approved = desk.cli("approve", case["token"], "--by", "tester")
    assert f"approved {case['token']}" in approved.stdout
    # The daemon finds the approval by its outbox sweep (every 10 s).
    wait_until(lambda: len(to(desk.smtp, person)) >= 2, 25, "the approved reply")
    reply = to(desk.smtp, person)[1]
    reply_mid = reply.message_id
    assert reply_mid is not None and reply_mid != ack.message_id
    assert header(reply, "In-Reply-To") == req_mid
    assert req_mid in (header(reply, "References") or "")
    assert case_token_from_message_id(SECRET.encode(), reply_mid) == case["token"]
    assert header(reply, "Auto-Submitted") is None  # a human's answer (RFC 3834 §5)
    with desk.db.session() as s:
        item = s.scalars(select(OutboxItem).where(OutboxItem.kind == "reply")).one()
        assert (item.message_id, item.status) == (reply_mid, "sent")
    wait_until(lambda: desk.case_status(case["id"]) == "answered", 15, "the case to be answered")

    # The person answers our reply: threaded into the same case, no new case.
    fu_mid, followup = make_mail(
        sender=person, name="Anna Virtanen", to=desk.address,
        subject=f"Re: {header(reply, 'Subject')}",
        body="Thank you. Please also delete the notes about my phone calls.\n\nAnna",
        headers={"In-Reply-To": reply_mid, "References": f"{req_mid} {reply_mid}"})
    desk.append(followup)
    desk.processed(fu_mid)

    # A DSN about our reply: never a request; staff are alerted.
    dsn_mid, dsn = make_dsn(to=desk.address, failed_rcpt=person, original=reply.content)
    desk.append(dsn)
    dsn_row = desk.processed(dsn_mid)

    by_mid = {m["message_id"]: m for m in desk.cli_json("messages")}
    assert (by_mid[fu_mid]["outcome"], by_mid[fu_mid]["case_id"]) == ("thread", case["id"])
    assert (by_mid[dsn_mid]["outcome"], by_mid[dsn_mid]["case_id"]) == ("bounce", case["id"])
    assert len(desk.cli_json("cases")) == 1
    with desk.db.session() as s:
        alerts = list(s.scalars(select(Alert).where(Alert.kind == "bounce")))
        assert [(a.case_id, a.message_id) for a in alerts] == [(case["id"], dsn_row.id)]

    assert_clean_stop(daemon)

    # A restart re-reads the mailbox position, not the mail: nothing stored or sent twice.
    sent_before = len(desk.smtp.messages())
    n_messages = len(desk.cli_json("messages"))
    again = desk.start()
    again.wait_ready()
    with desk.db.session() as s:
        mark = s.scalars(select(Message.id).order_by(Message.id.desc())).first()
    probe_mid, probe = make_mail(sender="probe@customer.example", to=desk.address,
                                 subject="Delivery", body=NEGATIVE_EN)
    desk.append(probe)  # once this is triaged, the restarted daemon has synced the folder
    probe_row = desk.processed(probe_mid)
    assert probe_row.id > (mark or 0)
    time.sleep(1.0)
    assert_clean_stop(again)
    assert len(desk.cli_json("messages")) == n_messages + 1
    replies = [m for m in desk.smtp.messages() if m.message_id == reply_mid]
    assert len(replies) == 1
    assert len(to(desk.smtp, person)) == 2  # ack + reply, each once
    assert probe_row.outcome == "not_a_request"
    assert len(desk.smtp.messages()) == sent_before


@pytest.mark.server
def test_auto_submitted_request_opens_case_without_ack(make_desk: DeskFactory,
                                                       sqlite_url: str) -> None:
    desk = make_desk(sqlite_url)
    relayed = "liisa.form@customer.example"
    control = "olli.control@customer.example"
    auto_mid, auto = make_mail(sender=relayed, name="Liisa Tuominen", to=desk.address,
                               subject="Yhteydenotto", body=REQUEST_FI + "\n\nLiisa Tuominen",
                               headers={"Auto-Submitted": "auto-generated"})
    ctl_mid, ctl = make_mail(sender=control, to=desk.address, subject="My data",
                             body=REQUEST_EN)
    desk.append(auto)  # first, so its acknowledgement (if any) would leave first
    desk.append(ctl)
    daemon = desk.start()
    daemon.wait_ready()
    desk.processed(auto_mid)
    desk.processed(ctl_mid)
    # The control request is acknowledged: the outbox is working.
    wait_until(lambda: to(desk.smtp, control), 15, "the control acknowledgement")
    assert_clean_stop(daemon)

    cases = {c["message_id"]: c for c in desk.cli_json("cases")}
    assert set(cases) == {auto_mid, ctl_mid}
    auto_case = cases[auto_mid]
    assert auto_case["from"] == relayed
    assert auto_case["status"] == "awaiting_approval"
    assert auto_case["types"], auto_case
    by_mid = {m["message_id"]: m for m in desk.cli_json("messages")}
    assert (by_mid[auto_mid]["outcome"], by_mid[auto_mid]["case_id"]) == ("case", auto_case["id"])
    assert to(desk.smtp, relayed) == []  # RFC 3834: no automatic reply
    with desk.db.session() as s:
        items = list(s.scalars(select(OutboxItem).where(OutboxItem.case_id == auto_case["id"])))
        assert items == []
        case = s.get(Case, auto_case["id"])
        assert case is not None
        assert any("no automatic reply" in (e.note or "") for e in case.events)


@pytest.mark.server
def test_idle_picks_up_mail_appended_while_running(make_desk: DeskFactory,
                                                   sqlite_url: str) -> None:
    # A poll would take minutes: only IDLE (RFC 2177) can be this fast.
    desk = make_desk(sqlite_url, imap={"poll_seconds": 600, "idle_renew_seconds": 600})
    first_mid, first = make_mail(sender="first@customer.example", to=desk.address,
                                 subject="Hello", body=NEGATIVE_EN)
    desk.append(first)
    daemon = desk.start()
    daemon.wait_ready()
    desk.processed(first_mid)
    time.sleep(1.5)  # the watcher is in IDLE now

    timings: list[float] = []
    for i, body in enumerate((REQUEST_FI, REQUEST_EN)):
        mid, raw = make_mail(sender=f"idle{i}@customer.example", to=desk.address,
                             subject="Tietopyyntö" if i == 0 else "Data", body=body)
        t0 = time.monotonic()
        desk.append(raw)
        row = desk.processed(mid, timeout=10)
        timings.append(time.monotonic() - t0)
        assert row.outcome == "case"
        time.sleep(1.0)
    assert_clean_stop(daemon)
    print(f"IDLE pick-up to triaged: {', '.join(f'{t:.2f} s' for t in timings)}")
    assert max(timings) < 5.0, timings


@pytest.mark.server
def test_sigterm_stops_cleanly(make_desk: DeskFactory, sqlite_url: str) -> None:
    desk = make_desk(sqlite_url)
    mid, raw = make_mail(sender="term@customer.example", to=desk.address, subject="Data",
                         body=REQUEST_EN)
    desk.append(raw)
    daemon = desk.start()
    daemon.wait_ready()
    desk.processed(mid)
    wait_until(lambda: to(desk.smtp, "term@customer.example"), 15, "the acknowledgement")
    time.sleep(1.0)  # every thread waiting: IDLE, triage and outbox loops
    seconds = assert_clean_stop(daemon, limit=5.0)
    print(f"SIGTERM to exit: {seconds:.2f} s")
    log = daemon.log_text()
    assert "stopping" in log
    assert "mailbox sales: stopped" in log
