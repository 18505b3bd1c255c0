"""The copy of a sent mail in the mailbox's Sent folder, by IMAP APPEND (RFC 3501 §6.3.11).

Why search before APPEND: APPEND is not idempotent.  If we crashed after the server stored the
copy but before we recorded it, a blind retry would file a second copy; looking for the
Message-ID first makes the retry harmless.  The same search tells, after a crash mid-send,
whether a server that files submitted mail itself (Gmail, Microsoft 365) got the message.
"""

from __future__ import annotations

from typing import Any

SEEN = b"\\Seen"


def copy_present(client: Any, folder: str, message_id: str) -> bool:
    """Whether ``folder`` holds a message with this Message-ID (SEARCH HEADER, RFC 3501 §6.4.4).

    ``client`` is an ``imapclient.IMAPClient``, logged in.
    """
    client.select_folder(folder, readonly=True)
    try:
        return bool(client.search(["HEADER", "Message-ID", message_id]))
    finally:
        client.close_folder()  # after EXAMINE, CLOSE expunges nothing


def ensure_copy(client: Any, folder: str, raw: bytes, message_id: str) -> bool:
    """APPEND ``raw`` marked \\Seen unless already there; True if a copy was made now."""
    if copy_present(client, folder, message_id):
        return False
    client.append(folder, raw, flags=(SEEN,))
    return True
