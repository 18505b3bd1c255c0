"""What can go wrong while reading a mailbox, split the way the watcher must react.

Why a hierarchy of our own: imaplib/imapclient, ``ssl`` and ``socket`` raise a dozen unrelated
types whose text may quote the server, and servers quote the login name (an address) or a
folder name.  Everything leaving intake is one of these classes, and its text is built only
from our own words plus an IMAP response code (RFC 3501 §7.1, RFC 5530): an atom such as
``AUTHENTICATIONFAILED``, never free text.  That text is what ``Mailbox.last_error`` stores.

Temporary and permanent failures stay apart (shared/design.md): the watcher retries both, but
a permanent one needs the admin and is shown as such.
"""

from __future__ import annotations

import errno
import imaplib
import re
import socket
import ssl

from imapclient.exceptions import CapabilityError, LoginError

_CODE = re.compile(r"\[([A-Z][A-Z0-9-]{1,40})[\] ]")
# RFC 5530 codes that say "try again later".
_TEMPORARY_CODES = frozenset({"UNAVAILABLE", "INUSE", "SERVERBUG", "LIMIT"})


class IntakeError(Exception):
    """Base of intake failures; ``str()`` is safe to store and log (no personal data)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code

    def safe_text(self) -> str:
        """Class and response code, e.g. ``AuthError: AUTHENTICATIONFAILED``."""
        return f"{type(self).__name__}: {self.code}"


class TemporaryIntakeError(IntakeError):
    """Network trouble, a timeout, a dropped connection, a busy server: retry soon."""


class ConnectionLost(TemporaryIntakeError):
    """The server closed the connection (``BYE``, EOF), e.g. a restart or ``doveadm kick``."""


class PermanentIntakeError(IntakeError):
    """Waiting will not help: the configuration or the server set-up must change."""


class AuthError(PermanentIntakeError):
    """The server (or the OAuth2 token endpoint) rejected our credentials."""


class TLSError(PermanentIntakeError):
    """The server's certificate is not trusted, or STARTTLS is not offered (RFC 3501 §6.2.1)."""


class FolderError(PermanentIntakeError):
    """A configured folder does not exist or cannot be opened."""


def response_code(text: str) -> str | None:
    """The bracketed response code of a server reply, if any (``NO [NONEXISTENT] ...``)."""
    m = _CODE.search(text)
    return m.group(1) if m else None


def _os_code(exc: OSError) -> str:
    if exc.errno is not None and exc.errno in errno.errorcode:
        return errno.errorcode[exc.errno]
    return type(exc).__name__


def classify(exc: BaseException, step: str = "IMAP") -> IntakeError:
    """Translate any exception raised while talking to the server into an IntakeError.

    ``step`` names what we were doing (our own words: LOGIN, SELECT, FETCH...).  Unknown
    exception types become a TemporaryIntakeError named by class only.
    """
    if isinstance(exc, IntakeError):
        return exc
    if isinstance(exc, ssl.SSLCertVerificationError):
        return TLSError(f"{step} certificate not trusted ({exc.verify_code})")
    if isinstance(exc, ssl.SSLError):
        return TemporaryIntakeError(f"{step} TLS {exc.reason or type(exc).__name__}")
    if isinstance(exc, socket.timeout | TimeoutError):
        return TemporaryIntakeError(f"{step} timeout")
    if isinstance(exc, ConnectionRefusedError):
        return TemporaryIntakeError(f"{step} {_os_code(exc)}")
    if isinstance(exc, ConnectionError):
        return ConnectionLost(f"{step} {_os_code(exc)}")
    if isinstance(exc, OSError):
        return TemporaryIntakeError(f"{step} {_os_code(exc)}")
    if isinstance(exc, LoginError):
        return AuthError(f"{step} {response_code(str(exc)) or 'rejected'}")
    if isinstance(exc, CapabilityError):
        return PermanentIntakeError(f"{step} capability missing")
    if isinstance(exc, imaplib.IMAP4.abort):
        text = str(exc)
        if "EOF" in text or "BYE" in text:
            return ConnectionLost(f"{step} {'BYE' if 'BYE' in text else 'EOF'}")
        return TemporaryIntakeError(f"{step} {response_code(text) or 'aborted'}")
    if isinstance(exc, imaplib.IMAP4.error):
        code = response_code(str(exc))
        if code in _TEMPORARY_CODES:
            return TemporaryIntakeError(f"{step} {code}")
        if code in {"NONEXISTENT", "NOPERM"} or step == "SELECT":
            # Dovecot refuses a missing folder with a bare NO: no code to go by.
            return FolderError(f"{step} {code or 'NO'}")
        if code in {"AUTHENTICATIONFAILED", "AUTHORIZATIONFAILED", "EXPIRED", "PRIVACYREQUIRED"}:
            return AuthError(f"{step} {code}")
        return TemporaryIntakeError(f"{step} {code or 'NO'}")
    return TemporaryIntakeError(f"{step} {type(exc).__name__}")
