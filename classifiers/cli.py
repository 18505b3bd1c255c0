"""The classifier's commands: ``rightsdesk classify``, ``train`` and ``eval``.

Why here and not in bot/cli.py: the command bodies belong to the classifier; bot/cli.py only
parses arguments and calls these.  ``classify`` prints one JSON object per file, keys stable
(file, labels, scores, language, needs_triage; extra keys may be added, none renamed), and a
file it cannot read or parse gets an ``error`` line while the run goes on.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TextIO

from classifiers.api import Classification, Classifier, get_classifier
from classifiers.artifact import MODEL_DIR
from classifiers.corpus import TESTSET_DIR, is_heldout, load_corpus
from classifiers.evaluate import evaluate, write_report
from classifiers.labels import LABELS
from classifiers.mime import parse_message

#: Defects after which the bytes are not an e-mail we can classify.
_UNPARSEABLE = ("not_a_message", "undecodable_body")


def result_json(file: str, result: Classification) -> dict[str, object]:
    """The classify output object for one file."""
    return {
        "file": file,
        "labels": list(result.labels),
        "scores": {label: result.scores[label] for label in LABELS},
        "language": result.language,
        "needs_triage": result.needs_triage,
        "reply_language": result.reply_language,
        "request_score": result.request_score,
        "triage_reasons": list(result.triage_reasons),
        "details": {
            "new_values": result.details.new_values,
            "identifiers": result.details.identifiers,
            "on_behalf": result.details.on_behalf,
        },
    }


def classify_command(files: list[str], out: TextIO) -> int:
    """Classify .eml files; 0 if all were classified, 1 if any got an error line."""
    try:
        classifier = get_classifier()
    except (OSError, ValueError) as exc:
        print(f"rightsdesk classify: cannot load the model: {exc}", file=sys.stderr)
        return 2
    failed = False
    for name in files:
        line = _classify_file(classifier, name)
        failed |= "error" in line
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
        out.flush()
    return 1 if failed else 0


def _classify_file(classifier: Classifier, name: str) -> dict[str, object]:
    try:
        raw = Path(name).read_bytes()
    except OSError as exc:
        return {"file": name, "error": f"cannot read: {exc.strerror or type(exc).__name__}"}
    try:
        parsed = parse_message(raw)
        broken = [d for d in parsed.defects if d.split(":", 1)[0] in _UNPARSEABLE]
        if broken:
            return {"file": name, "error": f"cannot parse: {', '.join(broken)}"}
        result = classifier.classify_parts(parsed.subject, parsed.text_plain, parsed.text_html)
    except Exception as exc:  # one bad file must not stop the run
        return {"file": name, "error": f"cannot classify: {type(exc).__name__}"}
    return result_json(name, result)


def train_command(seed: int, out_dir: Path | None) -> int:
    """Retrain from the corpus (training part only) into ``out_dir`` or the packaged model."""
    from classifiers.train import train_to_dir

    target = out_dir or MODEL_DIR
    records, skipped = load_corpus()
    if not records:
        print("rightsdesk train: the corpus is empty", file=sys.stderr)
        return 1
    held = sum(is_heldout(r.id) for r in records)
    print(
        f"corpus: {len(records)} messages ({len(records) - held} training, {held} held out"
        f" for eval), {skipped} malformed lines skipped"
    )
    started = time.perf_counter()
    result = train_to_dir(records, seed, target, progress=sys.stderr)
    elapsed = time.perf_counter() - started
    thresholds = ", ".join(
        f"{label} {cal.threshold:.2f}" for label, cal in result.calibration.labels.items()
    )
    print(f"thresholds: {thresholds}")
    print(f"trained in {elapsed:.1f} s (seed {seed}); model written to {target}")
    return 0


def eval_command(out: TextIO) -> int:
    """Evaluate the packaged model on the held-out part of the corpus and, when present, on
    the independent test set (``corpus.TESTSET_DIR``: other writers, never trained on)."""
    records, _ = load_corpus()
    heldout = [r for r in records if is_heldout(r.id)]
    if not heldout:
        print("rightsdesk eval: no held-out messages in the corpus", file=sys.stderr)
        return 1
    classifier = get_classifier()
    out.write(f"held-out messages: {len(heldout)} of {len(records)}; model {classifier.meta}\n")
    write_report(evaluate(classifier, heldout), out)
    testset, _ = load_corpus(TESTSET_DIR) if TESTSET_DIR.is_dir() else ([], 0)
    if testset:
        out.write(
            f"\n\n### independent test set: {len(testset)} messages by writers whose mail"
            " is not in the corpus (never trained on)\n"
        )
        write_report(evaluate(classifier, testset), out, "test-set messages")
    return 0
