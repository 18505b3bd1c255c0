"""Stable output formats of `rightsdesk cases` and `rightsdesk messages` (shared/design.md: extend
with new keys, never rename), on a database filled through the real pipeline."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot import cli
from bot.pipeline import Pipeline
from classifiers.api import Classification
from classifiers.mime import ParsedMail
from storage.db import Database
from tests import test_triage_rules as shared
from tests.test_triage_rules import classification, mail, make_config, store

# The shared database fixtures (both backends, one database per module, emptied per test).
module_db = shared.module_db
fresh_db = shared.fresh_db

CASE_KEYS = {"id", "types", "language", "status", "received_date", "deadline", "from",
             "message_id"}
MESSAGE_KEYS = {"mailbox", "uid", "message_id", "received", "outcome"}


def by_subject(m: ParsedMail) -> Classification:
    if "unsubscribe" in m.subject:
        return classification(("unsubscribe",))
    if "request" in m.subject:
        return classification(("access", "erasure"), language="en")
    return classification(())


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stderr(err):
        rc = cli.main(argv, out=out)
    return rc, out.getvalue(), err.getvalue()


def json_lines(text: str) -> list[dict[str, Any]]:
    lines = text.splitlines()
    assert lines and all(line.startswith("{") for line in lines)
    return [json.loads(line) for line in lines]


@pytest.fixture
def filled(fresh_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[
        Path, dict[str, int]]:
    """One of each outcome: case, unsubscribe case, not a request, thread, quarantined."""
    db = fresh_db
    cfg, path = make_config(tmp_path, db.url, monkeypatch)
    ids: dict[str, int] = {}
    ids["request"] = store(db, mail(subject="GDPR request", message_id="<req@example.fi>",
                                    frm="Anna <anna@example.fi>"),
                           internaldate=datetime(2026, 3, 4, 22, 30, tzinfo=UTC))
    ids["unsub"] = store(db, mail(subject="unsubscribe", message_id="<uns@example.fi>",
                                  frm="bo@example.se"),
                         internaldate=datetime(2026, 1, 31, 9, 0, tzinfo=UTC))
    ids["other"] = store(db, mail(subject="Tarjouspyyntö", message_id="<quote@example.fi>"))
    ids["broken"] = store(db, b"To: sales@kespet.fi\r\nSubject: kuka\r\n\r\nei lahettajaa\r\n")
    Pipeline(db, cfg, classify=by_subject).process_pending()
    rc, out, _ = run(["--config", str(path), "cases", "--json"])
    assert rc == 0
    token = next(c for c in json_lines(out) if c["types"] == ["access", "erasure"])["token"]
    ids["thread"] = store(db, mail(subject=f"Re: [{token}] lisätietoa",
                                   frm="anna@example.fi"))
    Pipeline(db, cfg, classify=by_subject).process_pending()
    return path, ids


def test_cases_json(filled: tuple[Path, dict[str, int]]) -> None:
    path, _ = filled
    rc, out, err = run(["--config", str(path), "cases", "--json"])
    assert (rc, err) == (0, "")
    cases = json_lines(out)
    assert len(cases) == 2
    for c in cases:
        assert set(c) >= CASE_KEYS
        assert isinstance(c["id"], int)
        assert isinstance(c["types"], list)
    # Ordered by deadline: the unsubscribe (31 Jan) before the request (5 Mar Helsinki time).
    unsub, req = cases
    assert unsub["types"] == ["unsubscribe"]
    assert unsub["status"] == "completed"
    assert (unsub["received_date"], unsub["deadline"]) == ("2026-01-31", "2026-03-02")
    assert unsub["from"] == "bo@example.se"
    assert unsub["message_id"] == "<uns@example.fi>"
    assert req["types"] == ["access", "erasure"]
    assert req["language"] == "en"
    assert req["status"] == "awaiting_approval"
    # INTERNALDATE 4 Mar 22:30 UTC is 5 Mar in Helsinki.
    assert (req["received_date"], req["deadline"]) == ("2026-03-05", "2026-04-07")
    assert req["extended_deadline"] == "2026-06-05"
    assert req["from"] == "anna@example.fi"
    assert req["message_id"] == "<req@example.fi>"
    assert req["token"].startswith("RD-")


def test_cases_status_filter_and_text(filled: tuple[Path, dict[str, int]]) -> None:
    path, _ = filled
    rc, out, _ = run(["--config", str(path), "cases", "--json", "--status", "completed"])
    assert rc == 0
    assert [c["types"] for c in json_lines(out)] == [["unsubscribe"]]
    rc, out, _ = run(["--config", str(path), "cases", "--json", "--status", "closed"])
    assert (rc, out) == (0, "")
    rc, out, _ = run(["--config", str(path), "cases"])
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "CASE", "DEADLINE", "STATUS", "LANG", "TYPES"]
    assert "2026-03-02" in lines[1] and "completed" in lines[1]
    assert "access,erasure" in lines[2]


def test_messages_json(filled: tuple[Path, dict[str, int]]) -> None:
    path, ids = filled
    rc, out, err = run(["--config", str(path), "messages", "--json"])
    assert (rc, err) == (0, "")
    rows = {m["id"]: m for m in json_lines(out)}
    assert set(rows) == set(ids.values())
    for m in rows.values():
        assert set(m) >= MESSAGE_KEYS
        assert m["mailbox"] == "sales"
        assert isinstance(m["uid"], int)
        received = datetime.fromisoformat(m["received"])
        assert received.utcoffset() is not None  # same on SQLite and PostgreSQL
    req = rows[ids["request"]]
    assert req["outcome"] == "case"
    assert isinstance(req["case_id"], int)
    assert req["message_id"] == "<req@example.fi>"
    assert datetime.fromisoformat(req["received"]) == datetime(2026, 3, 4, 22, 30, tzinfo=UTC)
    thread = rows[ids["thread"]]
    assert (thread["outcome"], thread["case_id"]) == ("thread", req["case_id"])
    assert rows[ids["unsub"]]["outcome"] == "case"
    assert rows[ids["unsub"]]["case_id"] not in (None, req["case_id"])
    assert rows[ids["other"]]["outcome"] == "not_a_request"
    assert rows[ids["other"]]["case_id"] is None
    broken = rows[ids["broken"]]
    assert broken["outcome"] == "quarantined"
    assert broken["message_id"] is None  # null allowed
    assert broken["reason"].startswith("broken_mime")
    assert "no_from" in broken["reason"]


def test_pending_message_is_listed_as_pending(fresh_db: Database, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    db = fresh_db
    _, path = make_config(tmp_path, db.url, monkeypatch)
    store(db, mail(message_id="<waiting@example.fi>"))
    rc, out, _ = run(["--config", str(path), "messages", "--json"])
    (m,) = json_lines(out)
    assert (rc, m["outcome"], m["message_id"], m["case_id"]) == (
        0, "pending", "<waiting@example.fi>", None)


def test_quarantine_listing(filled: tuple[Path, dict[str, int]]) -> None:
    path, ids = filled
    rc, out, _ = run(["--config", str(path), "quarantine", "--json"])
    assert rc == 0
    assert [m["id"] for m in json_lines(out)] == [ids["broken"]]
    rc, out, _ = run(["--config", str(path), "quarantine"])
    assert "quarantined" in out and "no_from" in out
    assert out.count("\n") == 1


def test_empty_database(fresh_db: Database, tmp_path: Path,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    _, path = make_config(tmp_path, fresh_db.url, monkeypatch)
    assert run(["--config", str(path), "cases", "--json"])[:2] == (0, "")
    assert run(["--config", str(path), "cases"])[1] == "no cases\n"
    assert run(["--config", str(path), "messages"])[1] == "no messages\n"
    assert run(["--config", str(path), "quarantine"])[1] == "quarantine is empty\n"
