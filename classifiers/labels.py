"""The request labels (GDPR rights plus marketing opt-out), in their canonical order.

Why a module of its own: every other module needs the order (corpus files sort labels in it,
the model's output columns follow it) and none should import the classifier to get it.
"""

from __future__ import annotations

LABELS: tuple[str, ...] = (
    "access",  # Art. 15
    "rectification",  # Art. 16
    "erasure",  # Art. 17
    "restriction",  # Art. 18
    "objection",  # Art. 21
    "portability",  # Art. 20
    "unsubscribe",  # consent withdrawal / opt-out, Act 917/2014 §200
)

#: Internal extra output: "this message makes some request" (any label).  Learnt from every
#: positive message, it is a better judge of request-or-not than each label alone, and gates
#: the labels so ordinary business mail rarely gets a false right (see ``decision``).
GATE = "any_request"
OUTPUTS: tuple[str, ...] = (*LABELS, GATE)
