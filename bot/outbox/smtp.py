"""One SMTP submission attempt with aiosmtplib, classified for the retry decision.

Why the transaction is driven step by step instead of ``send_message``: the sender must know
*where* an attempt broke.  Before the message body is handed over nothing can have been
delivered, so a dropped connection or a timeout is safely retried; after it, delivery is
unknown (``DeliveryUnknown``).  Recipients are all checked before ``DATA``: if any is refused the
transaction is reset and nobody gets the message, so a partly accepted mail never has to be
re-sent to the ones who already have it (RFC 5321 §3.3).

Reply codes (RFC 5321 §4.2.1): 4yz is transient, 5yz permanent.  AUTH (RFC 4954 §6): 454 is a
temporary failure, 535 and other 5yz are not.  XOAUTH2 (the pre-standard sibling of RFC 7628
OAUTHBEARER): the server answers a bad token with a 334 JSON challenge, the client sends an
empty line and gets the final 5yz; aiosmtplib implements that exchange.

Everything asynchronous stays in this module; the sender calls ``deliver`` from its own loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from functools import cache
from pathlib import Path
from socket import getfqdn

import aiosmtplib
from aiosmtplib import (
    SMTPAuthenticationError,
    SMTPException,
    SMTPRecipientRefused,
    SMTPResponse,
    SMTPResponseException,
    SMTPServerDisconnected,
    SMTPTimeoutError,
)

from bot.config import ConfigError, Smtp
from bot.intake.oauth import TokenProvider
from bot.outbox.errors import DeliveryUnknown, OutboxError, PermanentFailure, TemporaryFailure

_ENHANCED = re.compile(r"^\s*([245]\.\d{1,3}\.\d{1,3})\b")
_LINE_ENDS = re.compile(rb"\r\n|\r|\n")
_LEADING_DOT = re.compile(rb"^\.", re.MULTILINE)


@cache
def _local_hostname() -> str:
    """EHLO argument (RFC 5321 §4.1.4); looked up once, the lookup can be slow."""
    name = getfqdn()
    return name if "." in name else "localhost.localdomain"


def tls_context(server: Smtp, base_dir: Path) -> ssl.SSLContext:
    """Verified TLS; ``ca_file`` (relative to the config file) adds a private CA."""
    cafile = None
    if server.ca_file is not None:
        cafile = server.ca_file if server.ca_file.is_absolute() else base_dir / server.ca_file
    return ssl.create_default_context(cafile=str(cafile) if cafile else None)


def _status(resp_message: str) -> str:
    m = _ENHANCED.match(resp_message or "")
    return f" {m.group(1)}" if m else ""


def _by_code(code: int, message: str, step: str) -> OutboxError:
    """RFC 5321 §4.2.1: the first digit decides; anything unexpected is retried."""
    reason = f"SMTP {code}{_status(message)}"
    if 500 <= code <= 599:
        return PermanentFailure(reason, code=code, step=step)
    if 400 <= code <= 499:
        return TemporaryFailure(reason, code=code, step=step)
    return TemporaryFailure(f"unexpected reply {reason}", code=code, step=step)


def _tls_cause(exc: BaseException) -> ssl.SSLError | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def classify(exc: BaseException, step: str) -> OutboxError:
    """Map an aiosmtplib/OS exception raised before the body was handed over."""
    if isinstance(exc, OutboxError):
        return exc
    tls = _tls_cause(exc)
    if isinstance(tls, ssl.SSLCertVerificationError):
        # A certificate we do not trust will not become trusted by waiting: the admin must fix
        # ca_file or the host name, so tell staff now instead of retrying for hours.
        return PermanentFailure("TLS certificate not trusted", step=step)
    if isinstance(exc, SMTPResponseException):
        return _by_code(exc.code, exc.message, step)
    if isinstance(exc, SMTPTimeoutError | TimeoutError):
        return TemporaryFailure("timed out", step=step)
    if tls is not None:
        return TemporaryFailure(f"TLS error {type(tls).__name__}", step=step)
    if isinstance(exc, ConnectionError | OSError):
        return TemporaryFailure(f"connection failed ({type(exc).__name__})", step=step)
    if isinstance(exc, ValueError):
        return PermanentFailure("address not acceptable for SMTP", step=step)
    if isinstance(exc, ConfigError):
        return TemporaryFailure("credentials unavailable", step=step)
    if isinstance(exc, SMTPException):
        return TemporaryFailure(f"SMTP error {type(exc).__name__}", step=step)
    return TemporaryFailure(f"unexpected {type(exc).__name__}", step=step)


def _data_payload(raw: bytes) -> bytes:
    """CRLF line ends and dot-stuffing (RFC 5321 §4.5.2), then the end-of-data line."""
    body = _LINE_ENDS.sub(b"\r\n", raw)
    body = _LEADING_DOT.sub(b"..", body)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    return body + b".\r\n"


async def _authenticate(
    client: aiosmtplib.SMTP, server: Smtp, base_dir: Path, tokens: TokenProvider | None
) -> None:
    if server.auth == "none":
        return
    assert server.username is not None  # the config validator requires it
    if server.auth == "password":
        assert server.password is not None
        if not client.supports_extension("auth"):
            raise PermanentFailure("server offers no AUTH (RFC 4954)", step="AUTH")
        password = server.password.resolve(base_dir)
        try:
            await client.login(server.username, password)
        except SMTPException as exc:
            if isinstance(exc, SMTPResponseException | ConnectionError | TimeoutError):
                raise
            raise PermanentFailure("no AUTH mechanism in common", step="AUTH") from None
        return
    if tokens is None:
        raise PermanentFailure("XOAUTH2 configured but no token provider", step="AUTH")
    if "xoauth2" not in client.server_auth_methods:
        raise PermanentFailure("server does not offer XOAUTH2", step="AUTH")
    for attempt in (1, 2):
        token = await asyncio.to_thread(tokens.access_token)
        try:
            await client.auth_xoauth2(server.username, token)
            return
        except SMTPAuthenticationError as exc:
            # A revoked or early-expired access token is refused like a bad one: drop the
            # cached token and try one fresh token before calling it permanent.
            invalidate = getattr(tokens, "invalidate", None)
            if attempt == 1 and 500 <= exc.code <= 599 and callable(invalidate):
                invalidate()
                continue
            raise


async def _envelope(client: aiosmtplib.SMTP, raw: bytes, mail_from: str,
                    rcpt_to: list[str]) -> None:
    """MAIL and every RCPT; any refusal resets the transaction before DATA."""
    options: list[str] = []
    encoding = "ascii"
    if any(b > 0x7F for b in raw) and client.supports_extension("8bitmime"):
        options.append("BODY=8BITMIME")  # RFC 6152
    if not all(a.isascii() for a in [mail_from, *rcpt_to]):
        if not client.supports_extension("smtputf8"):
            raise PermanentFailure("server lacks SMTPUTF8 for a non-ASCII address", step="MAIL")
        options.append("SMTPUTF8")  # RFC 6531
        encoding = "utf-8"
    try:
        await client.mail(mail_from, options=options, encoding=encoding)
    except OutboxError:
        raise
    except Exception as exc:
        raise classify(exc, "MAIL") from None
    refused: list[SMTPRecipientRefused] = []
    for rcpt in rcpt_to:
        try:
            await client.rcpt(rcpt, encoding=encoding)
        except SMTPRecipientRefused as exc:
            refused.append(exc)
        except Exception as exc:
            raise classify(exc, "RCPT") from None
    if refused:
        with contextlib.suppress(Exception):  # the verdict below stands whatever RSET says
            await client.rset()
        worst = max(refused, key=lambda e: e.code)
        raise _by_code(worst.code, worst.message, "RCPT")


async def _data(client: aiosmtplib.SMTP, raw: bytes, timeout: float) -> SMTPResponse:
    """DATA in two halves, so we know whether the body left us (see module docstring)."""
    try:
        start = await client.execute_command(b"DATA")
    except Exception as exc:
        raise classify(exc, "DATA") from None
    if start.code != 354:
        raise _by_code(start.code, start.message, "DATA")
    protocol = client.protocol
    if protocol is None:
        raise TemporaryFailure("connection lost", step="DATA")
    try:
        protocol.write(_data_payload(raw))
    except Exception as exc:
        raise classify(exc, "DATA") from None
    # From here on the server may have the whole message.
    try:
        final = await protocol.read_response(timeout=timeout)
    except (SMTPServerDisconnected, SMTPTimeoutError, TimeoutError, ConnectionError) as exc:
        client.close()
        kind = "timed out" if isinstance(exc, TimeoutError) else "connection lost"
        raise DeliveryUnknown(f"{kind} after the message was sent", step="end of DATA") from None
    if final.code != 250:
        raise _by_code(final.code, final.message, "end of DATA")
    return final


async def deliver(
    raw: bytes,
    mail_from: str,
    rcpt_to: list[str],
    server: Smtp,
    base_dir: Path,
    tokens: TokenProvider | None,
) -> None:
    """Submit one message; return only when the server accepted it with 250.

    Raises ``TemporaryFailure``, ``PermanentFailure`` or ``DeliveryUnknown`` (all
    ``OutboxError``) and nothing else.
    """
    if not rcpt_to:
        raise PermanentFailure("no recipients")
    try:
        ctx = tls_context(server, base_dir) if server.security != "none" else None
    except OSError as exc:  # unreadable or malformed ca_file: the admin must fix it
        raise PermanentFailure(f"ca_file unusable ({type(exc).__name__})") from None
    client = aiosmtplib.SMTP(
        hostname=server.host,
        port=server.port,
        timeout=server.timeout_seconds,
        use_tls=server.security == "tls",
        start_tls=False,
        tls_context=ctx,
        local_hostname=_local_hostname(),
    )
    step = "connect"
    try:
        try:
            await client.connect()
            step = "EHLO"
            await client.ehlo()
            if server.security == "starttls":
                step = "STARTTLS"
                if not client.supports_extension("starttls"):
                    # Never fall back to clear text when TLS was asked for: a stripped STARTTLS
                    # is the downgrade attack of RFC 3207 §6.
                    raise PermanentFailure("server does not offer STARTTLS", step=step)
                await client.starttls(tls_context=ctx)
                step = "EHLO"
                await client.ehlo()
            step = "AUTH"
            await _authenticate(client, server, base_dir, tokens)
        except OutboxError:
            raise
        except SMTPAuthenticationError as exc:
            # RFC 4954 §6: 454 = temporary; 535 (bad credentials), 534, 530 = permanent.
            raise _by_code(exc.code, exc.message, "AUTH") from None
        except Exception as exc:
            raise classify(exc, step) from None
        await _envelope(client, raw, mail_from, rcpt_to)
        await _data(client, raw, server.timeout_seconds)
    finally:
        await _quit(client)


async def _quit(client: aiosmtplib.SMTP) -> None:
    """Polite QUIT; its outcome never changes the verdict on the message."""
    if not client.is_connected:
        return
    try:
        await client.quit(timeout=5)
    except Exception:
        client.close()
