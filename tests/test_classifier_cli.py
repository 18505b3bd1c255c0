"""``rightsdesk classify`` output: one JSON line per file, errors as lines, the run goes on."""

from __future__ import annotations

import io
import json
from email.message import EmailMessage
from pathlib import Path

import pytest

from classifiers import cli
from classifiers.cli import classify_command
from classifiers.labels import LABELS

STABLE_KEYS = {"file", "labels", "scores", "language", "needs_triage"}


def eml(path: Path, subject: str, body: str) -> Path:
    msg = EmailMessage()
    msg["From"] = "Matti Meikäläinen <matti@example.fi>"
    msg["To"] = "info@example.fi"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{path.stem}@example.fi>"
    msg.set_content(body)
    path.write_bytes(msg.as_bytes())
    return path


def test_classify_prints_one_json_line_per_file_and_survives_bad_files(tmp_path: Path) -> None:
    good = eml(
        tmp_path / "erasure.eml",
        "Tietojeni poisto",
        "Hei,\n\npoistakaa kaikki tietoni asiakasrekisteristänne.\n\nTerveisin\nMatti",
    )
    missing = str(tmp_path / "does-not-exist.eml")
    empty = tmp_path / "empty.eml"
    empty.write_bytes(b"")
    also_good = eml(tmp_path / "neg.eml", "Lasku", "Liitteenä lasku 2024-118, eräpäivä 14 pv.")
    out = io.StringIO()

    code = classify_command([str(good), missing, str(empty), str(also_good)], out)

    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["file"] for line in lines] == [str(good), missing, str(empty), str(also_good)]
    assert code == 1  # some files failed, but every file got its line
    ok, unreadable, unparseable, negative = lines
    assert set(ok) >= STABLE_KEYS and "error" not in ok
    assert set(ok["scores"]) == set(LABELS)
    assert all(isinstance(v, float) for v in ok["scores"].values())
    assert ok["labels"] == ["erasure"] and ok["language"] == "fi"
    assert isinstance(ok["needs_triage"], bool)
    assert ok["reply_language"] == "fi" and "details" in ok
    assert set(unreadable) == {"file", "error"} and "cannot read" in unreadable["error"]
    assert set(unparseable) == {"file", "error"} and "cannot parse" in unparseable["error"]
    assert negative["labels"] == [] and "error" not in negative


def test_all_good_files_exit_zero(tmp_path: Path) -> None:
    good = eml(tmp_path / "a.eml", "Newsletter", "Please unsubscribe me from your newsletter.")
    out = io.StringIO()
    assert classify_command([str(good)], out) == 0
    assert json.loads(out.getvalue())["labels"] == ["unsubscribe"]


def test_eval_reports_held_out_part_and_independent_test_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    testset = tmp_path / "testset"
    testset.mkdir()
    rows = [
        {"id": "tz-0001", "lang": "fi", "subject": "Tietoni", "body": "Poistakaa kaikki tietoni.",
         "labels": ["erasure"], "kind": "t"},
        {"id": "tz-0002", "lang": "en", "subject": "Order 1234", "body": "Where is my parcel?",
         "labels": [], "kind": "t"},
    ]  # fmt: skip
    (testset / "t.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n", "utf-8")
    monkeypatch.setattr(cli, "TESTSET_DIR", testset)
    out = io.StringIO()
    assert cli.eval_command(out) == 0
    report = out.getvalue()
    held, _, independent = report.partition("### independent test set: 2 messages")
    assert "== fi+sv+en:" in held and "macro-F1" in held
    assert independent, report[-500:]
    assert "== fi: 1 test-set messages ==" in independent
    assert "false right on no-label messages: 0/1" in independent or "1/1" in independent
