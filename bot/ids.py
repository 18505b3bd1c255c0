"""Our own identifiers: case tokens and HMAC-signed Message-IDs (RFC 5322 §3.6.4).

Why signed: a follow-up is threaded to a case by the Message-ID of our mail it answers
(In-Reply-To/References).  Anyone can invent a References header; only we can produce one that
verifies, so a forged reference never attaches mail to someone else's case (domain.md §4).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O/1/I/L: tokens are read aloud
TOKEN_RE = re.compile(r"\bRD-([A-Z2-9]{4})-([A-Z2-9]{4})\b")
_MID_RE = re.compile(
    r"^<rd\.(RD-[A-Z2-9]{4}-[A-Z2-9]{4})\.([a-z]+)\.([a-z0-9]{10})\.([a-z0-9]{16})@"
)


def new_case_token() -> str:
    """A random public case reference, e.g. RD-K7QM-2XPA (shown in subjects)."""
    chars = [secrets.choice(_ALPHABET) for _ in range(8)]
    return f"RD-{''.join(chars[:4])}-{''.join(chars[4:])}"


def find_case_tokens(text: str) -> list[str]:
    return [f"RD-{a}-{b}" for a, b in TOKEN_RE.findall(text or "")]


def _mac(secret: bytes, payload: str) -> str:
    digest = hmac.new(secret, payload.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode().lower()[:16]


def make_message_id(secret: bytes, case_token: str, kind: str, domain: str) -> str:
    """A unique Message-ID that names its case and proves we made it."""
    nonce = base64.b32encode(secrets.token_bytes(10)).decode().lower()[:10]
    payload = f"{case_token}.{kind}.{nonce}"
    return f"<rd.{payload}.{_mac(secret, payload)}@{domain}>"


def case_token_from_message_id(secret: bytes, message_id: str) -> str | None:
    """The case token of one of our Message-IDs, or None if it is not ours or was forged."""
    m = _MID_RE.match(message_id.strip())
    if not m:
        return None
    token, kind, nonce, mac = m.groups()
    expected = _mac(secret, f"{token}.{kind}.{nonce}")
    return token if hmac.compare_digest(mac, expected) else None


def email_hash(secret: bytes, address: str) -> str:
    """Keyed hash of an address for the suppression list (no clear address kept)."""
    return hmac.new(secret, address.strip().lower().encode(), hashlib.sha256).hexdigest()
