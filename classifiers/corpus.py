"""The training corpus (data/corpus/*.jsonl, see data/GUIDELINES.md) and its fixed splits.

Why hash splits: the held-out part must be the same on every machine and for every seed, and
must not shift when new messages are appended, so membership depends on the id alone
(sha256 of the id, ~20 % held out).  The calibration folds of the training part use a different
slice of the same hash, so they are independent of the held-out split.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from classifiers.labels import LABELS

CORPUS_DIR = Path(__file__).parent / "data" / "corpus"
HELDOUT_PERCENT = 20
CALIBRATION_FOLDS = 5


@dataclass(frozen=True, slots=True)
class Record:
    id: str
    lang: str
    subject: str
    body: str
    html: bool
    labels: tuple[str, ...]
    kind: str

    @property
    def plain(self) -> str | None:
        return None if self.html else self.body

    @property
    def html_body(self) -> str | None:
        return self.body if self.html else None


def _digest(record_id: str) -> bytes:
    return hashlib.sha256(record_id.encode("utf-8")).digest()


def is_heldout(record_id: str) -> bool:
    """True for the ~20 % of ids reserved for ``rightsdesk eval``; never trained on."""
    return int.from_bytes(_digest(record_id)[:4], "big") % 100 < HELDOUT_PERCENT


def calibration_fold(record_id: str) -> int:
    """Fold (0..CALIBRATION_FOLDS-1) of a training record for out-of-fold calibration."""
    return int.from_bytes(_digest(record_id)[4:8], "big") % CALIBRATION_FOLDS


def load_corpus(corpus_dir: Path = CORPUS_DIR) -> tuple[list[Record], int]:
    """All well-formed records, sorted by id, and the number of lines skipped as malformed.

    Lines that are not valid records (e.g. a line still being written) are skipped, not fatal.
    """
    records: dict[str, Record] = {}
    skipped = 0
    for path in sorted(corpus_dir.glob("*.jsonl")):
        for record in _read(path):
            if record is None or record.id in records:
                skipped += 1
            else:
                records[record.id] = record
    return [records[k] for k in sorted(records)], skipped


def _read(path: Path) -> Iterator[Record | None]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                labels = tuple(str(x) for x in data.get("labels", []))
                if any(label not in LABELS for label in labels):
                    raise ValueError("unknown label")
                yield Record(
                    id=str(data["id"]),
                    lang=str(data.get("lang", "")),
                    subject=str(data.get("subject") or ""),
                    body=str(data.get("body") or ""),
                    html=bool(data.get("html", False)),
                    labels=tuple(label for label in LABELS if label in labels),
                    kind=str(data.get("kind", "")),
                )
            except (ValueError, KeyError, TypeError, AttributeError):
                yield None
