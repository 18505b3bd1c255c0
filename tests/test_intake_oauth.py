"""XOAUTH2 for real: Dovecot's oauth2 passdb checks our tokens at a loopback introspection
endpoint (RFC 7662); the same server's token endpoint (RFC 6749 §6) refreshes and rotates."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config import Config, OAuth2, Secret
from bot.intake.errors import AuthError, PermanentIntakeError
from bot.intake.imapconn import open_imap
from bot.intake.oauth import RefreshTokenProvider, token_provider_for, xoauth2_string
from bot.intake.store import ensure_mailbox
from bot.intake.watcher import MailboxWatcher
from storage.db import Database
from storage.models import Mailbox
from tests.fixtures.dovecot import CLIENT_ID, Dovecot, ImapUser, make_mail

pytestmark = pytest.mark.server


@pytest.fixture
def sqlite_db(sqlite_url: str) -> Iterator[Database]:
    d = Database(sqlite_url)
    yield d
    d.dispose()


def _oauth_config(imap_config: Callable[..., Config], dovecot: Dovecot, user: ImapUser,
                  refresh_file: Path) -> Config:
    return imap_config(user, auth="xoauth2", oauth2={
        "token_url": dovecot.tokens.token_url, "client_id": CLIENT_ID,
        "refresh_token": {"file": str(refresh_file)},
    })


def _stored_token(db: Database) -> str | None:
    with db.session() as s:
        return s.scalars(select(Mailbox.oauth_refresh_token)).one()


def test_xoauth2_login_stores_the_rotated_refresh_token_and_uses_it_next_time(
    db: Database, dovecot: Dovecot, imap_user: ImapUser, imap_config: Callable[..., Config],
    tmp_path: Path,
) -> None:
    tokens = dovecot.tokens
    tokens.rotate = True
    configured = tokens.grant(imap_user.name)
    (tmp_path / "refresh").write_text(configured)
    cfg = _oauth_config(imap_config, dovecot, imap_user, tmp_path / "refresh")
    dovecot.append(imap_user, make_mail("first"))
    first = MailboxWatcher(db, cfg, cfg.mailboxes[0])
    try:
        assert first.sync_once() == 1
    finally:
        first.close()
    rotated = _stored_token(db)
    assert rotated and rotated != configured
    assert configured not in tokens.refresh_tokens  # the provider invalidated it
    assert f"user=<{imap_user.name}>, method=XOAUTH2" in dovecot.log_text()
    # A restart: only the stored token still works, so success proves it was preferred.
    dovecot.append(imap_user, make_mail("second"))
    second = MailboxWatcher(db, cfg, cfg.mailboxes[0])
    try:
        assert second.sync_once() == 1
    finally:
        second.close()
    assert tokens.token_requests[-2:] == [configured, rotated]
    assert _stored_token(db) not in (None, configured, rotated)
    with db.session() as s:
        assert s.scalars(select(Mailbox.last_error)).one() is None


def test_access_token_is_cached_refreshed_on_expiry_and_replaced_when_refused(
    dovecot: Dovecot, imap_user: ImapUser, imap_config: Callable[..., Config], tmp_path: Path,
) -> None:
    tokens = dovecot.tokens
    tokens.expires_in = 100
    (tmp_path / "refresh").write_text(tokens.grant(imap_user.name))
    cfg = _oauth_config(imap_config, dovecot, imap_user, tmp_path / "refresh")
    assert cfg.mailboxes[0].imap.oauth2 is not None
    now = [0.0]
    provider = RefreshTokenProvider(cfg.mailboxes[0].imap.oauth2, tmp_path,
                                    clock=lambda: now[0])
    before = len(tokens.token_requests)
    a1 = provider.access_token()
    assert provider.access_token() == a1 and len(tokens.token_requests) == before + 1
    now[0] = 95.0  # within the safety margin before expiry
    a2 = provider.access_token()
    assert a2 != a1 and len(tokens.token_requests) == before + 2
    client = open_imap(cfg.mailboxes[0].imap, cfg.base_dir, provider)
    client.logout()
    assert len(tokens.token_requests) == before + 2  # the cached token was used
    # The server revokes the token early: one refused login, then a fresh token.
    with tokens.lock:
        tokens.access_tokens[a2] = (imap_user.name, 0.0)
    client = open_imap(cfg.mailboxes[0].imap, cfg.base_dir, provider)
    client.logout()
    assert len(tokens.token_requests) == before + 3


def test_a_dead_stored_refresh_token_falls_back_to_the_configured_one(
    sqlite_db: Database, dovecot: Dovecot, imap_user: ImapUser,
    imap_config: Callable[..., Config], tmp_path: Path,
) -> None:
    configured = dovecot.tokens.grant(imap_user.name)
    (tmp_path / "refresh").write_text(configured)
    cfg = _oauth_config(imap_config, dovecot, imap_user, tmp_path / "refresh")
    with sqlite_db.session() as s:
        ensure_mailbox(s, "info").oauth_refresh_token = "rt-revoked"
    provider = token_provider_for(sqlite_db, "info", cfg.mailboxes[0].imap, tmp_path)
    assert provider is not None
    provider.access_token()
    assert dovecot.tokens.token_requests[-2:] == ["rt-revoked", configured]
    assert _stored_token(sqlite_db) == configured


def test_refresh_refused_everywhere_is_an_auth_error_without_the_token(
    sqlite_db: Database, dovecot: Dovecot, imap_user: ImapUser,
    imap_config: Callable[..., Config], tmp_path: Path,
) -> None:
    (tmp_path / "refresh").write_text("rt-never-issued")
    cfg = _oauth_config(imap_config, dovecot, imap_user, tmp_path / "refresh")
    w = MailboxWatcher(sqlite_db, cfg, cfg.mailboxes[0])
    with pytest.raises(AuthError):
        w.sync_once()
    with sqlite_db.session() as s:
        error = s.scalars(select(Mailbox.last_error)).one()
    assert error == "AuthError: token invalid_grant"


def test_provider_only_for_xoauth2_and_only_over_tls(
    sqlite_db: Database, imap_user: ImapUser, imap_config: Callable[..., Config],
    tmp_path: Path,
) -> None:
    cfg = imap_config(imap_user)
    assert token_provider_for(sqlite_db, "info", cfg.mailboxes[0].imap, tmp_path) is None
    secret = Secret(env="UNUSED_REFRESH_TOKEN")
    with pytest.raises(PermanentIntakeError, match="https"):
        RefreshTokenProvider(OAuth2(token_url="http://login.example.com/token",
                                    client_id="c", refresh_token=secret), tmp_path)
    for ok in ("https://login.example.com/token", "http://[::1]:8080/token"):
        RefreshTokenProvider(OAuth2(token_url=ok, client_id="c", refresh_token=secret), tmp_path)
    expected = "user=a@example.test\x01auth=Bearer tok\x01\x01"
    assert xoauth2_string("a@example.test", "tok") == expected
