"""Every hand-made malformed mail in tests/corpus/broken/ goes through the real pipeline.

Nothing may stay "new", nothing may raise, nothing may be lost; a quarantined message says why.
Each file also has the outcome it should get, so a parser regression (e.g. every 8-bit body
turned "undecodable") shows up as a wrong outcome, not only as a crash.
"""

from __future__ import annotations

import base64
import random
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.pipeline import Pipeline
from classifiers.api import Classification
from classifiers.mime import ParsedMail, parse_message
from storage.db import Database
from storage.models import Case, Message, OutboxItem
from tests import test_triage_rules as shared
from tests.test_triage_rules import classification, make_config, message_row, store

# The shared database fixtures (both backends, one database per module, emptied per test).
module_db = shared.module_db
fresh_db = shared.fresh_db

CORPUS = Path(__file__).resolve().parent / "corpus" / "broken"
FILES = sorted(CORPUS.glob("*.eml"))

#: file -> (outcome, rule prefix of outcome_reason).  "case" means the Finnish request text was
#: recovered well enough for the keyword stub to find it.
EXPECTED: dict[str, tuple[str, str]] = {
    "01-unknown-charset.eml": ("case", "rights_request"),
    "02-latin1-declared-utf8.eml": ("case", "rights_request"),
    "03-latin1-declared-ascii.eml": ("case", "rights_request"),
    "04-base64-bad-chars.eml": ("case", "rights_request"),
    "05-base64-wrong-padding.eml": ("case", "rights_request"),
    "06-base64-truncated.eml": ("case", "rights_request"),
    "07-qp-broken.eml": ("case", "rights_request"),
    "08-rfc2047-unknown-charset.eml": ("case", "rights_request"),
    "09-rfc2047-split-mid-char.eml": ("case", "rights_request"),
    "10-rfc2047-malformed.eml": ("case", "rights_request"),
    "11-rfc2231-broken-continuation.eml": ("case", "rights_request"),
    "12-html-only.eml": ("case", "rights_request"),
    "13-no-message-id.eml": ("case", "rights_request"),
    "14-no-from.eml": ("quarantined", "broken_mime"),
    "15-from-without-at.eml": ("quarantined", "broken_mime"),
    "16-duplicate-headers.eml": ("case", "rights_request"),
    "17-header-only.eml": ("not_a_request", "not_a_request"),
    "18-body-only.eml": ("quarantined", "broken_mime"),
    "19-nul-bytes.eml": ("case", "rights_request"),
    "20-cr-only.eml": ("case", "rights_request"),
    "21-lf-only.eml": ("case", "rights_request"),
    "22-mixed-crlf.eml": ("case", "rights_request"),
    "23-nested-200.eml": ("case", "rights_request"),
    "24-missing-boundary.eml": ("not_a_request", "not_a_request"),
    "25-boundary-never-closed.eml": ("case", "rights_request"),
    "26-message-rfc822-inside.eml": ("not_a_request", "not_a_request"),
    "27-dsn-bounce.eml": ("bounce", "bounce"),
    "28-8bit-header.eml": ("case", "rights_request"),
    "29-long-header.eml": ("case", "rights_request"),
    "30-injection.eml": ("case", "rights_request"),
    "31-spoofed-own-from.eml": ("not_a_request", "own_mail"),
    "32-content-type-no-subtype.eml": ("case", "rights_request"),
    "33-empty.eml": ("quarantined", "broken_mime"),
    "34-binary-garbage.eml": ("quarantined", "broken_mime"),
    "35-unknown-cte.eml": ("case", "rights_request"),
    "36-multipart-no-parts.eml": ("not_a_request", "not_a_request"),
    "37-whitespace-only.eml": ("quarantined", "broken_mime"),
    "38-base64-undecodable.eml": ("not_a_request", "not_a_request"),
    "39-charset-utf7-and-bad-param.eml": ("case", "rights_request"),
    "40-auto-submitted-list-request.eml": ("case", "rights_request"),
    "41-overlong-display-name.eml": ("case", "rights_request"),
    "42-overlong-address.eml": ("quarantined", "broken_mime"),
}


def keyword_classify(mail: ParsedMail) -> Classification:
    """A stand-in for the model: a request when the decoded text has the Finnish words."""
    text = " ".join((mail.subject, mail.text_plain or "", mail.text_html or "")).lower()
    return classification(("access",) if "käsittely" in text else ())


def test_corpus_is_complete() -> None:
    assert len(FILES) >= 25
    assert {f.name for f in FILES} == set(EXPECTED)
    assert sum(f.stat().st_size for f in FILES) < 1_000_000  # no huge files committed


@pytest.mark.parametrize("path", FILES, ids=[f.name for f in FILES])
def test_parse_never_raises_and_fatal_only_when_unusable(path: Path) -> None:
    parsed = parse_message(path.read_bytes())
    quarantined = EXPECTED[path.name][0] == "quarantined"
    assert parsed.fatal is quarantined, parsed.defects


def test_whole_corpus_through_the_pipeline(fresh_db: Database, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    db = fresh_db
    cfg, _ = make_config(tmp_path, db.url, monkeypatch)
    ids = {store(db, f.read_bytes(), internaldate=datetime(2026, 3, 5, 8, tzinfo=UTC)): f.name
           for f in FILES}
    done = Pipeline(db, cfg, classify=keyword_classify).process_pending()
    # Nothing lost: every message processed once (no retries: nothing raised).
    assert Counter(p.message_id for p in done) == Counter(ids.keys())
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == len(FILES)
        assert s.scalar(select(func.count()).where(Message.stage == "new")) == 0
        rows = {m.id: m for m in s.scalars(select(Message))}
        for mid, name in ids.items():
            m = rows[mid]
            assert m.attempts == 1, name
            assert m.stage in ("done", "quarantined"), name
            assert m.outcome_reason, name
            outcome, rule = EXPECTED[name]
            assert (m.outcome, m.outcome_reason.split(":", 1)[0]) == (outcome, rule), name
            assert (m.stage == "quarantined") == (outcome == "quarantined"), name
            assert (m.case_id is not None) == (outcome == "case"), name
        n_cases = sum(1 for o, _ in EXPECTED.values() if o == "case")
        assert s.scalar(select(func.count()).select_from(Case)) == n_cases
        # The auto-submitted list request got a case but no automatic reply; every other case
        # got exactly one acknowledgement.
        auto = next(m for m in rows.values() if ids[m.id].startswith("40-"))
        items = s.scalars(select(OutboxItem)).all()
        assert auto.case_id not in {i.case_id for i in items}
        assert len(items) == n_cases - 1
        # The injection payload is stored as data, and the case holds it verbatim.
        inj = next(m for m in rows.values() if ids[m.id].startswith("30-"))
        case = s.get(Case, inj.case_id)
        assert case is not None
        assert case.subject_name == "Robert'); DROP TABLE cases;--"
        reply = next(d for d in case.drafts if d.kind == "reply")
        assert "DROP TABLE messages" in reply.subject  # not executed, not dropped
        assert "{{ 7*7 }}" in reply.subject and "49" not in reply.subject  # never templated
        # A 360-character display name is cut to the column (PostgreSQL would refuse it).
        long_name = next(m for m in rows.values() if ids[m.id].startswith("41-"))
        case = s.get(Case, long_name.case_id)
        assert case is not None and case.subject_name is not None
        assert case.subject_name.startswith("Meikäläinen Meikäläinen")
        assert len(case.subject_name) == 200


def test_ten_megabyte_attachment(fresh_db: Database, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A 10 MB mail with a readable request goes through (below triage.max_message_bytes)."""
    db = fresh_db
    cfg, _ = make_config(tmp_path, db.url, monkeypatch)
    payload = base64.encodebytes(random.Random(7).randbytes(7_700_000))
    raw = (b"From: Matti <matti@example.fi>\r\nTo: sales@kespet.fi\r\nSubject: liite\r\n"
           b"Message-ID: <big@example.fi>\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\n"
           b"Content-Type: text/plain; charset=utf-8\r\n\r\nPyyd\xc3\xa4n tietojen "
           b"k\xc3\xa4sittely\xc3\xa4 koskevat tiedot.\r\n--B\r\n"
           b"Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"a.pdf\""
           b"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + payload + b"--B--\r\n")
    assert len(raw) > 10_000_000
    mid = store(db, raw)
    done = Pipeline(db, cfg, classify=keyword_classify).process_pending()
    assert [(p.message_id, p.outcome) for p in done] == [(mid, "case")]
    parsed = parse_message(raw)
    assert [a.filename for a in parsed.attachments] == ["a.pdf"]
    assert abs(parsed.attachments[0].size - 7_700_000) < 7_700_000 // 50  # decoded size
    assert message_row(db, mid).size == len(raw)


def test_too_large_mail_is_quarantined_not_parsed(fresh_db: Database, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    db = fresh_db
    cfg, _ = make_config(tmp_path, db.url, monkeypatch, extra="max_message_bytes = 1048576")
    mid = store(db, (CORPUS / "02-latin1-declared-utf8.eml").read_bytes() + b"x" * 1_100_000)
    done = Pipeline(db, cfg, classify=keyword_classify).process_pending()
    assert [p.outcome for p in done] == ["quarantined"]
    reason = message_row(db, mid).outcome_reason or ""
    assert reason.startswith("too_large")
