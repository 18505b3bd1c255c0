"""When to try again after a temporary failure: exponential backoff with a little jitter.

Why jitter: after an outage every queued mail failed at about the same moment; without it they
would all hit the recovering server at the same second again (RFC 5321 §4.5.4.1 asks senders
to space retries; its 30-minute figure is for relays, a submission server recovers sooner, so
the base interval is configurable).
"""

from __future__ import annotations

import random

from bot.config import Outbox


def backoff_seconds(attempt: int, cfg: Outbox, rng: random.Random | None = None) -> float:
    """Delay after the ``attempt``-th failed attempt (1-based).

    ``backoff_seconds`` doubles per attempt up to ``backoff_max_seconds``; up to 10 % is added
    on top, so a retry never comes earlier than the schedule says.
    """
    exponent = max(attempt, 1) - 1
    base = min(cfg.backoff_seconds * (2.0 ** min(exponent, 60)), cfg.backoff_max_seconds)
    return base + (rng or random).uniform(0.0, 0.1 * base)
