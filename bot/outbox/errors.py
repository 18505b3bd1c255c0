"""Why an SMTP attempt did not deliver, split the way the retry decision needs it.

Temporary and permanent failures stay apart all the way (design.md): a 4yz reply, a timeout or
a dropped connection before the message was handed over is retried; a 5yz reply (RFC 5321
§4.2.1) or a rejected login (RFC 4954 §6) is not.  A third outcome exists because SMTP cannot
say "maybe": once the whole message has been written after ``354``, a lost connection or a
missing final reply leaves delivery unknown (RFC 5321 §4.1.1.4, §6.1; RFC 1047) — retrying
could deliver it twice, so the sender treats it like a crash mid-send.

Messages carry the reply code, the enhanced status code (RFC 3463) and the SMTP step, never the
server's text: that text routinely quotes the recipient's address.
"""

from __future__ import annotations


class OutboxError(Exception):
    """An attempt failed; ``code`` is the SMTP reply code when the server gave one."""

    def __init__(self, reason: str, *, code: int | None = None, step: str | None = None) -> None:
        self.reason = reason
        self.code = code
        self.step = step
        parts = [reason]
        if step:
            parts.append(f"at {step}")
        super().__init__(" ".join(parts))


class TemporaryFailure(OutboxError):
    """Nothing was delivered and the same attempt may succeed later: retry with backoff."""


class PermanentFailure(OutboxError):
    """Nothing was delivered and retrying will not help: fail the item and alert staff."""


class DeliveryUnknown(OutboxError):
    """The message was handed over but no final reply arrived: never retry automatically."""
