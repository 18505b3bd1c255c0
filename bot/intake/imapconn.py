"""Open an authenticated IMAP connection: TLS first, then the login the config asks for.

Why here and not in the watcher: the outbox also needs IMAP (APPEND to Sent), and every
failure must leave as an ``IntakeError`` whose text is safe to store (see ``errors``).
TLS is verified (``imap.ca_file`` adds a private CA and then is the only trust anchor);
``starttls`` upgrades before any credential is sent (RFC 3501 §6.2.1, RFC 8314 prefers
implicit TLS).  Logins: LOGIN with a password (RFC 3501 §6.2.3) or AUTHENTICATE XOAUTH2 with an
access token (the pre-standard form of RFC 7628); a refused token is dropped and a fresh one
tried once, since a revoked or early-expired token looks exactly like that.
Times are kept timezone-aware (``normalise_times = False``): INTERNALDATE carries its zone.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
from pathlib import Path

from imapclient import IMAPClient, SocketTimeout

from bot.config import ConfigError, Imap
from bot.intake.errors import (
    AuthError,
    IntakeError,
    PermanentIntakeError,
    TemporaryIntakeError,
    TLSError,
    classify,
)
from bot.intake.oauth import TokenProvider, xoauth2_string

log = logging.getLogger(__name__)

# imapclient logs the whole protocol at DEBUG (login names, addresses, mail): keep that off
# unless the admin set a level for it on purpose.
if logging.getLogger("imapclient").level == logging.NOTSET:
    logging.getLogger("imapclient").setLevel(logging.INFO)

__all__ = [
    "AuthError",
    "IntakeError",
    "PermanentIntakeError",
    "TLSError",
    "TemporaryIntakeError",
    "drop",
    "open_imap",
    "tls_context",
]


def tls_context(server: Imap, base_dir: Path) -> ssl.SSLContext:
    """A verifying context; with ``ca_file`` (relative to the config file) only that CA."""
    cafile: Path | None = None
    if server.ca_file is not None:
        cafile = server.ca_file if server.ca_file.is_absolute() else base_dir / server.ca_file
    ctx = ssl.create_default_context(cafile=str(cafile) if cafile else None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def _connect(server: Imap, base_dir: Path) -> IMAPClient:
    timeout = SocketTimeout(connect=server.timeout_seconds, read=server.timeout_seconds)
    try:
        ctx = tls_context(server, base_dir) if server.security != "none" else None
    except OSError as exc:  # unreadable or malformed ca_file
        raise TLSError(f"ca_file unusable ({type(exc).__name__})") from None
    try:
        client = IMAPClient(
            server.host,
            port=server.port,
            ssl=server.security == "tls",
            ssl_context=ctx,
            timeout=timeout,
        )
    except Exception as exc:
        raise classify(exc, "CONNECT") from None
    client.normalise_times = False
    if server.security == "starttls":
        try:
            if not client.has_capability("STARTTLS"):
                raise TLSError("STARTTLS not offered")
            client.starttls(ctx)
        except Exception as exc:
            drop(client)
            raise classify(exc, "STARTTLS") from None
    return client


def _login(client: IMAPClient, server: Imap, base_dir: Path, tokens: TokenProvider | None) -> None:
    if server.auth == "none":
        return
    assert server.username is not None  # the config validator requires it
    if server.auth == "password":
        assert server.password is not None
        try:
            password = server.password.resolve(base_dir)
        except ConfigError:
            raise PermanentIntakeError("password secret unavailable") from None
        if client.has_capability("LOGINDISABLED"):
            raise TLSError("LOGINDISABLED without TLS")
        try:
            client.login(server.username, password)
        except Exception as exc:
            raise classify(exc, "LOGIN") from None
        return
    if tokens is None:
        raise PermanentIntakeError("XOAUTH2 configured but no token provider")
    if not client.has_capability("AUTH=XOAUTH2"):
        raise PermanentIntakeError("AUTH=XOAUTH2 not offered")
    username = server.username
    for attempt in (1, 2):
        token = tokens.access_token()

        def mech(challenge: bytes, token: str = token) -> bytes:
            # An error arrives as a challenge carrying JSON; the answer must be empty.
            return b"" if challenge else xoauth2_string(username, token).encode()

        try:
            client.sasl_login("XOAUTH2", mech)
            return
        except Exception as exc:
            err = classify(exc, "AUTHENTICATE")
            invalidate = getattr(tokens, "invalidate", None)
            if attempt == 1 and isinstance(err, AuthError) and callable(invalidate):
                invalidate()
                continue
            raise err from None


def drop(client: IMAPClient) -> None:
    """Close the socket without a LOGOUT exchange (the connection may be broken)."""
    with contextlib.suppress(Exception):
        client.shutdown()


def open_imap(server: Imap, base_dir: Path, tokens: TokenProvider | None = None) -> IMAPClient:
    """Connected, TLS as configured, logged in; raises an ``IntakeError`` subclass.

    ``TemporaryIntakeError`` for network trouble and timeouts, ``AuthError`` for refused
    credentials, ``TLSError`` for an untrusted certificate or a missing STARTTLS.
    """
    client = _connect(server, base_dir)
    try:
        _login(client, server, base_dir, tokens)
    except IntakeError:
        drop(client)
        raise
    except Exception as exc:
        drop(client)
        raise classify(exc, "LOGIN") from None
    return client
