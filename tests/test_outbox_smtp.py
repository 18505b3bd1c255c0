"""One SMTP attempt against a real aiosmtpd: TLS modes, AUTH, and how failures are classified."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from bot.config import Smtp
from bot.outbox.errors import DeliveryUnknown, PermanentFailure, TemporaryFailure
from bot.outbox.smtp import deliver
from tests.fixtures.servers import free_port
from tests.fixtures.smtp import SmtpServer, StartSmtp
from tests.test_outbox_common import PERSON, make_mail, smtp_table


def _send(server: SmtpServer | None, tmp_path: Path, *, tokens: Any = None,
          rcpt: list[str] | None = None, **extra: Any) -> bytes:
    _mid, raw = make_mail()
    cfg = Smtp.model_validate(smtp_table(server, tmp_path, **extra))
    asyncio.run(deliver(raw, "info@example.test", rcpt or [PERSON], cfg, tmp_path, tokens))
    return raw


class Tokens:
    """A token provider double: hands out tokens in order, counts invalidations."""

    def __init__(self, *tokens: str) -> None:
        self.tokens = list(tokens)
        self.invalidated = 0

    def access_token(self) -> str:
        return self.tokens[0]

    def invalidate(self) -> None:
        self.invalidated += 1
        if len(self.tokens) > 1:
            self.tokens.pop(0)


@pytest.mark.parametrize("security", ["none", "starttls", "tls"])
def test_delivers_over_each_transport(smtp_factory: StartSmtp, tmp_path: Path,
                                      security: Any) -> None:
    server = smtp_factory(security=security)
    raw = _send(server, tmp_path)
    [got] = server.messages()
    assert got.tls is (security != "none")
    assert got.rcpt_tos == [PERSON]
    # Byte for byte, including the lone "." line (dot-stuffing, RFC 5321 §4.5.2) and UTF-8.
    assert got.content.replace(b"\r\n", b"\n") == raw.replace(b"\r\n", b"\n")
    assert b"\r\n.\r\n" in got.content


def test_untrusted_certificate_is_permanent(smtp_factory: StartSmtp, tmp_path: Path) -> None:
    server = smtp_factory(security="tls")
    with pytest.raises(PermanentFailure, match="certificate"):
        _send(server, tmp_path, ca_file=None)
    assert server.messages() == []


def test_starttls_missing_is_never_a_fallback_to_clear_text(smtp_factory: StartSmtp,
                                                            tmp_path: Path) -> None:
    server = smtp_factory(security="none")
    with pytest.raises(PermanentFailure, match="STARTTLS"):
        _send(server, tmp_path, security="starttls")
    assert server.messages() == []


def test_password_auth(smtp_factory: StartSmtp, tmp_path: Path) -> None:
    server = smtp_factory(security="starttls", auth="password")
    _send(server, tmp_path)
    [got] = server.messages()
    assert got.login == server.username and got.tls


def test_wrong_password_is_permanent(smtp_factory: StartSmtp, tmp_path: Path) -> None:
    server = smtp_factory(security="starttls", auth="password")
    (tmp_path / "wrong").write_text("not-the-password")
    with pytest.raises(PermanentFailure) as err:
        _send(server, tmp_path, password={"file": str(tmp_path / "wrong")})
    assert err.value.code == 535 and server.auth_failures >= 1
    assert server.messages() == []


def test_xoauth2(smtp_factory: StartSmtp, tmp_path: Path) -> None:
    server = smtp_factory(security="tls", auth="xoauth2", token="good-token")
    xo = {"auth": "xoauth2", "username": server.username,
          "oauth2": {"token_url": "http://127.0.0.1:9/token", "client_id": "rightsdesk",
                     "refresh_token": {"env": "UNUSED_REFRESH_TOKEN"}}}
    _send(server, tmp_path, tokens=Tokens("good-token"), **xo)
    [got] = server.messages()
    assert got.login == server.username

    # A stale cached token is dropped and one fresh token tried (RFC 6749 §6 refresh).
    stale = Tokens("expired-token", "good-token")
    _send(server, tmp_path, tokens=stale, **xo)
    assert stale.invalidated == 1 and len(server.messages()) == 2

    with pytest.raises(PermanentFailure) as err:
        _send(server, tmp_path, tokens=Tokens("revoked"), **xo)
    assert err.value.code == 535
    assert len(server.messages()) == 2


@pytest.mark.parametrize("phase", ["MAIL", "RCPT", "DATA"])
def test_4xx_is_temporary(smtp_server: SmtpServer, tmp_path: Path, phase: Any) -> None:
    smtp_server.fail(phase, 451)
    with pytest.raises(TemporaryFailure) as err:
        _send(smtp_server, tmp_path)
    assert err.value.code == 451
    assert smtp_server.messages() == []


@pytest.mark.parametrize("phase", ["MAIL", "RCPT", "DATA"])
def test_5xx_is_permanent_and_names_no_address(smtp_server: SmtpServer, tmp_path: Path,
                                               phase: Any) -> None:
    smtp_server.fail(phase, 550)
    with pytest.raises(PermanentFailure) as err:
        _send(smtp_server, tmp_path)
    assert err.value.code == 550
    assert "@" not in str(err.value) and "refused by test server" not in str(err.value)
    assert smtp_server.messages() == []


def test_one_refused_recipient_stops_the_whole_mail(smtp_server: SmtpServer,
                                                    tmp_path: Path) -> None:
    smtp_server.fail("RCPT", 550)  # the first of two recipients
    with pytest.raises(PermanentFailure):
        _send(smtp_server, tmp_path, rcpt=[PERSON, "other@example.test"])
    assert smtp_server.messages() == []  # nobody got it, so nobody gets it twice


def test_refused_connection_is_temporary(tmp_path: Path) -> None:
    with pytest.raises(TemporaryFailure, match="connection"):
        _send(None, tmp_path, port=free_port())


def test_timeout_before_data_is_temporary(smtp_server: SmtpServer, tmp_path: Path) -> None:
    smtp_server.delay("MAIL", 1.5)
    started = time.monotonic()
    with pytest.raises(TemporaryFailure, match="timed out"):
        _send(smtp_server, tmp_path, timeout_seconds=0.3)
    assert time.monotonic() - started < 1.4


def test_dropped_connection_before_data_is_temporary(smtp_server: SmtpServer,
                                                     tmp_path: Path) -> None:
    smtp_server.drop("RCPT")
    with pytest.raises(TemporaryFailure):
        _send(smtp_server, tmp_path)
    assert smtp_server.messages() == []


def test_lost_reply_after_data_is_unknown(smtp_server: SmtpServer, tmp_path: Path) -> None:
    """After the end of data the server may have the mail: never call that a retryable error."""
    smtp_server.drop("DATA")
    with pytest.raises(DeliveryUnknown):
        _send(smtp_server, tmp_path)
    smtp_server.delay("DATA", 1.0)
    with pytest.raises(DeliveryUnknown, match="timed out"):
        _send(smtp_server, tmp_path, timeout_seconds=0.3)
    # ...and indeed the stalled server did store that one.
    assert len(smtp_server.wait_for(1, timeout=3)) == 1


def test_configuration_mismatches_are_permanent(smtp_factory: StartSmtp, tmp_path: Path) -> None:
    server = smtp_factory(security="tls", auth="xoauth2")
    (tmp_path / "pw").write_text("whatever")
    with pytest.raises(PermanentFailure, match="AUTH"):
        _send(server, tmp_path, auth="password", username="u", password={"file": "pw"})
    with pytest.raises(PermanentFailure, match="ca_file"):
        _send(server, tmp_path, ca_file="missing-ca.pem")
    assert server.messages() == []
