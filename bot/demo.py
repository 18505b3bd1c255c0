"""`rightsdesk demo`: the whole product on loopback servers, with nothing installed but .venv.

An embedded IMAP server (pymap, in-memory) is seeded with the example company's sample mail,
an embedded SMTP server (aiosmtpd) writes every mail it receives to DATA_DIR/sent/*.eml, and the
real daemon runs against both with SQLite in DATA_DIR.  State survives between runs, so
`rightsdesk --config DATA_DIR/rightsdesk.toml cases --json` shows what happened.
"""

from __future__ import annotations

import hashlib
import secrets
import socket
import subprocess
import sys
import time
import tomllib
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, TextIO

import tomli_w
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session
from imapclient import IMAPClient
from sqlalchemy import func, select

from bot.config import load_config
from storage.models import Case, Draft, Message

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
MAILBOX_PASSWORD_FILE = "secrets/imap_password"
SECRET_KEY_FILE = "secrets/secret_key"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SentMailbox:
    """aiosmtpd handler: every received mail becomes DATA_DIR/sent/NNNN-<hash>.eml."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        n = len(list(self.folder.glob("*.eml"))) + 1
        digest = hashlib.sha256(data).hexdigest()[:10]
        (self.folder / f"{n:04d}-{digest}.eml").write_bytes(data)
        return "250 OK"


class EmbeddedImap:
    """pymap's in-memory backend in a child process, one user: the company mailbox."""

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password, self.port = user, password, _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        code = "import sys; from pymap.main import main; sys.exit(main())"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code, "--host", "127.0.0.1", "--port", str(self.port),
             "--no-tls", "dict", "--demo-user", self.user, "--demo-password", self.password],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the embedded IMAP server did not start")

    def seed(self, files: list[Path]) -> int:
        """APPEND each .eml with an INTERNALDATE inside the first-start window."""
        now = datetime.now(UTC)
        with IMAPClient("127.0.0.1", self.port, ssl=False, timeout=10) as c:
            c.login(self.user, self.password)
            for i, f in enumerate(files):
                raw = f.read_bytes()
                c.append("INBOX", raw, msg_time=_received_time(raw, now, len(files) - i))
        return len(files)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def _received_time(raw: bytes, now: datetime, rank: int) -> datetime:
    """The mail's Date if it is within the last 30 days, else spread over recent days."""
    for line in raw.split(b"\n", 60):
        if line.lower().startswith(b"date:"):
            try:
                d = parsedate_to_datetime(line[5:].decode("ascii", "replace").strip())
            except (TypeError, ValueError, IndexError):
                break
            if d.tzinfo and now - timedelta(days=30) <= d <= now:
                return d
            break
    return now - timedelta(days=min(rank, 28), hours=rank % 7)


def write_config(data_dir: Path, company: str, imap_port: int, smtp_port: int) -> Path:
    """DATA_DIR/rightsdesk.toml: the example company's notice, pointed at the loopback servers."""
    example = EXAMPLES / company / "rightsdesk.toml"
    cfg: dict[str, Any] = tomllib.loads(example.read_text(encoding="utf-8"))
    cfg["secret_key"] = {"file": SECRET_KEY_FILE}
    cfg["storage"] = {"url": "sqlite:///rightsdesk.db"}
    for mb in cfg["mailboxes"]:
        mb["imap"] = {"host": "127.0.0.1", "port": imap_port, "security": "none",
                      "username": mb["address"], "password": {"file": MAILBOX_PASSWORD_FILE},
                      "folders": ["INBOX"], "idle": True, "poll_seconds": 10}
    cfg["smtp"] = {"host": "127.0.0.1", "port": smtp_port, "security": "none", "auth": "none"}
    cfg["outbox"] = {"backoff_seconds": 2.0}
    for reg in cfg.get("registers", []):
        store = reg.get("store")
        if store and store.get("url", "").startswith("sqlite:///"):
            rel = store["url"][len("sqlite:///"):]
            store["url"] = "sqlite:///" + str((EXAMPLES / company / rel).resolve())
    path = data_dir / "rightsdesk.toml"
    header = (f"# Written by `rightsdesk demo` from examples/{company}/rightsdesk.toml; the "
              "servers are the demo's loopback ones.\n")
    path.write_text(header + tomli_w.dumps(cfg), encoding="utf-8")
    return path


def _ensure_secrets(data_dir: Path) -> str:
    sec = data_dir / "secrets"
    sec.mkdir(parents=True, exist_ok=True)
    sec.chmod(0o700)
    for name in ("imap_password", "secret_key"):
        f = sec / name
        if not f.exists():
            f.write_text(secrets.token_urlsafe(24), encoding="utf-8")
            f.chmod(0o600)
    return (sec / "imap_password").read_text(encoding="utf-8").strip()


def summary(db: Any, out: TextIO, show_drafts: bool = True) -> None:
    with db.session() as s:
        n_msgs = s.scalar(select(func.count()).select_from(Message)) or 0
        outcomes = Counter(dict(s.execute(
            select(Message.outcome, func.count()).group_by(Message.outcome)).all()))
        all_cases = list(s.scalars(select(Case).order_by(Case.id)))
        by_type: Counter[str] = Counter(t for c in all_cases for t in c.types)
        waiting = list(s.scalars(select(Draft).where(Draft.status == "pending")
                                 .order_by(Draft.id)))
        quarantined = list(s.scalars(select(Message).where(Message.stage == "quarantined")))
        out.write("\n=== rightsdesk demo summary ===\n")
        out.write(f"messages:        {n_msgs}  "
                  + ", ".join(f"{k or 'pending'} {v}" for k, v in sorted(
                      outcomes.items(), key=lambda kv: str(kv[0]))) + "\n")
        out.write(f"cases:           {len(all_cases)}  by type: "
                  + ", ".join(f"{k} {v}" for k, v in sorted(by_type.items())) + "\n")
        out.write(f"drafts waiting:  {len(waiting)}\n")
        out.write(f"quarantined:     {len(quarantined)}"
                  + "".join(f"\n  message {m.id}: {m.outcome_reason}" for m in quarantined) + "\n")
        if show_drafts:
            for d in waiting:
                case = d.case
                kinds = ", ".join(case.types) or "needs triage"
                out.write(f"\n--- draft reply for case {case.token} ({kinds}; {d.language}; "
                          f"deadline {case.deadline}) to {d.to_addr}\n")
                out.write(f"Subject: {d.subject}\n")
                lines = d.body.splitlines()
                out.write("\n".join(lines[:14]) + ("\n  [...]\n" if len(lines) > 14 else "\n"))


def run_demo(data_dir: Path, once: bool, extra_mail: Path | None, company: str,
             out: TextIO) -> int:
    from bot.daemon import Daemon

    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    password = _ensure_secrets(data_dir)
    sample = sorted((EXAMPLES / company / "sample-mail").glob("*.eml"))
    if extra_mail is not None:
        if not extra_mail.is_dir():
            print(f"rightsdesk: --extra-mail {extra_mail} is not a directory", file=sys.stderr)
            return 2
        sample += sorted(extra_mail.glob("*.eml"))
    smtp = Controller(SentMailbox(data_dir / "sent"), hostname="127.0.0.1", port=_free_port())
    smtp.start()
    example_cfg = tomllib.loads((EXAMPLES / company / "rightsdesk.toml").read_text("utf-8"))
    imap = EmbeddedImap(example_cfg["mailboxes"][0]["address"], password)
    try:
        imap.start()
        seeded = imap.seed(sample)
        path = write_config(data_dir, company, imap.port, smtp.port)
        cfg = load_config(path)
        cfg.resolve_secrets()
        out.write(f"demo: {cfg.company.name}; IMAP 127.0.0.1:{imap.port} seeded with {seeded} "
                  f"mail(s); SMTP 127.0.0.1:{smtp.port} -> {data_dir / 'sent'}\n")
        daemon = Daemon(cfg)
        t0 = time.monotonic()
        daemon.drain()
        out.write(f"demo: processed in {time.monotonic() - t0:.1f} s\n")
        summary(daemon.db, out)
        out.write(f"\nNext: rightsdesk --config {path} cases\n"
                  f"      rightsdesk --config {path} show CASE\n"
                  f"      rightsdesk --config {path} approve CASE\n")
        if once:
            daemon.db.dispose()
            return 0
        out.write("\ndemo: the daemon keeps running (IDLE on the embedded mailbox); approve a "
                  "case from another terminal and watch sent/; Ctrl-C stops.\n")
        out.flush()
        daemon.run_forever()
        return 0
    finally:
        imap.stop()
        smtp.stop()
