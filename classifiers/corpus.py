"""The training corpus (data/corpus/*.jsonl, see data/GUIDELINES.md) and its fixed splits.

Why hash splits: the held-out part must be the same on every machine and for every seed, and
must not shift when new messages are appended, so membership depends on the id alone
(sha256 of the id, ~20 % held out).  The calibration folds of the training part group whole
writer batches (``calibration_folds``).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from classifiers.labels import LABELS

CORPUS_DIR = Path(__file__).parent / "data" / "corpus"
#: Messages by writers whose mail is not in the corpus, for ``rightsdesk eval`` only: the
#: held-out part shares writers with the training part, so it flatters the model.
TESTSET_DIR = Path(__file__).parent / "data" / "testset"
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


def part_of(record_id: str) -> str:
    """The batch a record was written in ("fi1" of "fi1-0042"): one writer, one style."""
    return record_id.rpartition("-")[0] or record_id


def calibration_folds(record_ids: Sequence[str], folds: int = CALIBRATION_FOLDS) -> list[int]:
    """Fold (0..folds-1) of each training record for out-of-fold calibration, by writer batch.

    Why whole batches: a batch shares its writer's phrasing, so a model trained on the rest of
    a batch is too sure of its siblings; out-of-fold scores, and the thresholds fitted on them,
    then promise more than new writers get (a batch of 320 kept out of training drew false
    rights on 9 % of its no-label mail against 1.5 % out-of-fold).  Batches go to the fold with
    the fewest records so far, largest first (ties by name): deterministic for a given corpus.
    """
    sizes = Counter(part_of(i) for i in record_ids)
    totals = [0] * folds
    fold_of_part: dict[str, int] = {}
    for part, size in sorted(sizes.items(), key=lambda item: (-item[1], item[0])):
        fold = min(range(folds), key=lambda k: (totals[k], k))
        fold_of_part[part] = fold
        totals[fold] += size
    return [fold_of_part[part_of(i)] for i in record_ids]


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
