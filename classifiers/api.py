"""The classifier as the triage stage sees it: message in, labels + language + details out.

Why: one object, loaded once per process (``get_classifier``), that turns a message into a
``Classification``: which rights it exercises (multi-label, see ``LABELS``), how sure we are
(``needs_triage`` sends doubtful mail to staff instead of guessing), the language to reply in,
and the values staff need.  It never logs message text (personal data).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from classifiers.artifact import MODEL_DIR, Artifact, load_artifact
from classifiers.decision import decide
from classifiers.details import Details, extract_details
from classifiers.extract import extract
from classifiers.labels import LABELS
from classifiers.langid import reply_language
from classifiers.mime import parse_text_parts
from classifiers.prepare import prepare
from classifiers.views import combine, concept_view, uses_concept_view

__all__ = ["LABELS", "Classification", "Classifier", "Details", "get_classifier"]


@dataclass(frozen=True)
class Classification:
    """The result for one message.  ``text`` is the extracted new text the labels are about.

    ``details`` is only extracted for a labelled or doubtful message (empty otherwise): its
    patterns cost more than the labels, and bulk mail needs none.
    """

    labels: tuple[str, ...]
    scores: dict[str, float]
    language: str
    reply_language: str
    needs_triage: bool
    details: Details
    text: str
    #: Why staff should look ("uncertain:erasure", "rule_without_label:access"); empty if sure.
    triage_reasons: tuple[str, ...] = ()
    #: Calibrated probability that the message makes any request at all (the labels' gate).
    request_score: float = 0.0
    #: Legal terms found, per label (e.g. {"access": ["art. 15"]}); terms only, no other text.
    rule_hits: dict[str, list[str]] = field(default_factory=dict)


class Classifier:
    """A loaded model.  Read-only after construction, so one instance serves all threads."""

    def __init__(self, artifact: Artifact) -> None:
        self._artifact = artifact
        self._model = artifact.model
        self._concept_model = artifact.concept_model
        self._calibration = artifact.calibration
        self._langid = artifact.langid

    @classmethod
    def load(cls, path: Path = MODEL_DIR) -> Classifier:
        return cls(load_artifact(path))

    @property
    def meta(self) -> dict[str, object]:
        return self._artifact.meta

    def classify_parts(
        self, subject: str, plain: str | None, html: str | None, *, details: bool = True
    ) -> Classification:
        """Classify a message given its subject and first text/plain and text/html bodies.

        ``details=False`` skips the details patterns (bulk scoring, the benchmark's
        labels-only path); otherwise they run for labelled or doubtful messages."""
        extracted = extract(subject or "", plain, html)
        prepared = prepare(extracted.text, self._langid)
        if not extracted.text.strip():
            decision_labels: tuple[str, ...] = ()
            scores = dict.fromkeys(LABELS, 0.0)
            triage, request_score = False, 0.0
            reasons: tuple[str, ...] = ()
        else:
            raw = self._model.predict_one(prepared.tokens)
            if uses_concept_view(prepared.language):
                concepts = self._concept_model.predict_one(concept_view(prepared.tokens))
                raw = combine(raw, concepts)
            decision = decide(raw, prepared.rule_hits, self._calibration)
            decision_labels, scores = decision.labels, decision.scores
            triage, reasons = decision.needs_triage, decision.reasons
            request_score = decision.request_score
        if details and (decision_labels or triage):
            wants_values = (
                "rectification" in decision_labels or "uncertain:rectification" in reasons
            )
            found = extract_details(extracted.full, with_new_values=wants_values)
        else:
            found = Details()
        return Classification(
            labels=decision_labels,
            scores=scores,
            language=prepared.language,
            reply_language=reply_language(prepared.language),
            needs_triage=triage,
            details=found,
            text=extracted.text,
            triage_reasons=reasons,
            rule_hits=prepared.rule_hits,
            request_score=request_score,
        )

    def classify_bytes(self, raw: bytes, *, details: bool = True) -> Classification:
        """Classify a raw RFC 5322 message (parsed by ``classifiers.mime``, never raises on
        malformed MIME; an unparseable message yields empty text and no labels)."""
        subject, plain, html = parse_text_parts(raw)
        return self.classify_parts(subject, plain, html, details=details)


_LOCK = threading.Lock()
_CACHED: Classifier | None = None


def get_classifier() -> Classifier:
    """The packaged model, loaded on first call and shared afterwards."""
    global _CACHED
    with _LOCK:
        if _CACHED is None:
            _CACHED = Classifier.load()
        return _CACHED
