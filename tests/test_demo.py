"""`rightsdesk demo --once` as a user runs it: embedded IMAP + SMTP, sample mail, real daemon."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DemoRun = tuple[Path, subprocess.CompletedProcess[str], float]
RIGHTSDESK = [sys.executable, "-m", "bot.cli"]

EXTRA = b"""From: Liisa Tuominen <liisa.tuominen@example.fi>
To: sales@kespet.fi
Subject: henkilotietojen poisto
Date: Fri, 20 Nov 2026 10:00:00 +0200
Message-ID: <extra-0001@example.fi>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Hei, poistakaa kaikki minun henkilotietoni asiakasrekisteristanne. Kiitos.
Liisa Tuominen
"""


def _run(args: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*RIGHTSDESK, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    base = tmp_path_factory.mktemp("demo")
    extra = base / "extra"
    extra.mkdir()
    (extra / "liisa.eml").write_bytes(EXTRA)
    data = base / "data"
    t0 = time.monotonic()
    proc = _run(["demo", "--once", "--data-dir", str(data), "--extra-mail", str(extra)], ROOT)
    return data, proc, time.monotonic() - t0


def _cases(data: Path) -> list[dict[str, object]]:
    proc = _run(["--config", str(data / "rightsdesk.toml"), "cases", "--json"], ROOT)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_demo_once_exits_zero_quickly_with_summary(demo_run: DemoRun) -> None:
    data, proc, seconds = demo_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert seconds < 60
    out = proc.stdout
    for heading in ("messages:", "cases:", "drafts waiting:", "quarantined:"):
        assert heading in out
    assert "--- draft reply for case RD-" in out
    assert (data / "rightsdesk.toml").is_file()
    assert (data / "rightsdesk.db").is_file()


def test_demo_cases_json_shows_sample_requests(demo_run: DemoRun) -> None:
    data, proc, _ = demo_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    cases = _cases(data)
    by_mid = {c["message_id"]: c for c in cases}
    for key in ("id", "types", "language", "status", "received_date", "deadline", "from",
                "message_id"):
        assert all(key in c for c in cases)
    # Clear requests from the sample mailbox and the --extra-mail directory.
    assert "access" in by_mid["<cafe0001@mail.example.fi>"]["types"]  # type: ignore[operator]
    assert by_mid["<cafe0001@mail.example.fi>"]["language"] == "fi"
    assert "erasure" in by_mid["<CAH7x-0003@mail.example.com>"]["types"]  # type: ignore[operator]
    assert by_mid["<CAH7x-0003@mail.example.com>"]["language"] == "en"
    assert "erasure" in by_mid["<extra-0001@example.fi>"]["types"]  # type: ignore[operator]
    unsub = by_mid["<AM0PR01-0004@example.fi>"]
    assert unsub["types"] == ["unsubscribe"] and unsub["status"] == "completed"
    # Not requests: order cancellation, invoice, newsletter, out-of-office, bounce.
    for mid in ("<0005.tilaus@example.fi>", "<0012.lasku@yritys-example.fi>",
                "<nl-0013@byggnytt.example.se>", "<ooo-0006@partner.example.com>",
                "<dsn-0007@mx.example.net>"):
        assert mid not in by_mid


def test_demo_sent_acks_and_quarantine(demo_run: DemoRun) -> None:
    data, proc, _ = demo_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    sent = sorted((data / "sent").glob("*.eml"))
    assert sent, "acknowledgements reach the embedded SMTP server"
    raw = [p.read_bytes() for p in sent]
    assert all(b"Auto-Submitted: auto-replied" in r for r in raw)
    # The auto-submitted web-form request opens a case but gets no automatic reply (RFC 3834).
    assert not any(b"noreply@kespet.fi" in r.split(b"\n\n", 1)[0] for r in raw)
    msgs = _run(["--config", str(data / "rightsdesk.toml"), "messages", "--json"], ROOT)
    rows = [json.loads(line) for line in msgs.stdout.splitlines()]
    outcomes = {r["message_id"]: r["outcome"] for r in rows}
    assert outcomes["<dsn-0007@mx.example.net>"] == "bounce"
    assert outcomes["<ooo-0006@partner.example.com>"] == "auto_reply"
    assert [r for r in rows if r["outcome"] == "quarantined" and r["message_id"] is None]
    assert all(r["outcome"] != "pending" for r in rows)


def test_demo_rerun_keeps_state_without_duplicates(demo_run: DemoRun) -> None:
    data, proc, _ = demo_run
    assert proc.returncode == 0
    before = _cases(data)
    again = _run(["demo", "--once", "--data-dir", str(data)], ROOT)
    assert again.returncode == 0, again.stderr[-3000:]
    after = _cases(data)
    assert sorted(c["id"] for c in after) == sorted(c["id"] for c in before)  # type: ignore[type-var]
