"""Intake: IMAP mailboxes into the database, each message stored once (shared/design.md).

``watcher`` runs the IDLE/poll loop per mailbox, ``store`` writes mail and positions in one
transaction, ``imapconn`` opens verified, logged-in connections, ``oauth`` supplies XOAUTH2
tokens, ``errors`` is the failure hierarchy whose text is safe to store.
"""

from bot.intake.errors import (
    AuthError,
    ConnectionLost,
    IntakeError,
    PermanentIntakeError,
    TemporaryIntakeError,
    TLSError,
)
from bot.intake.store import Fetched, ensure_mailbox, store_batch
from bot.intake.watcher import MailboxWatcher

__all__ = [
    "AuthError",
    "ConnectionLost",
    "Fetched",
    "IntakeError",
    "MailboxWatcher",
    "PermanentIntakeError",
    "TLSError",
    "TemporaryIntakeError",
    "ensure_mailbox",
    "store_batch",
]
