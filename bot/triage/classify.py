"""The triage stage's view of the classifier: ParsedMail in, Classification out.

The spaCy model lives in classifiers/ (its own capability); triage only needs this function.
"""

from __future__ import annotations

from collections.abc import Callable

from classifiers.api import Classification, get_classifier
from classifiers.mime import ParsedMail

ClassifyFn = Callable[[ParsedMail], Classification]


def default_classify() -> ClassifyFn:
    """Load the packaged model once and return the function triage calls per message."""
    clf = get_classifier()

    def classify(mail: ParsedMail) -> Classification:
        return clf.classify_parts(mail.subject, mail.text_plain, mail.text_html)

    return classify
