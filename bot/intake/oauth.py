"""XOAUTH2 access tokens from a refresh token, for the IMAP and the SMTP login.

Why a provider object: an access token lives about an hour, so it is cached until shortly
before it expires and refreshed on demand (RFC 6749 §6).  Providers may hand out a new refresh
token with every refresh (RFC 6749 §6, rotation as RFC 9700 §4.14 recommends); the new one is
stored at once (``Mailbox.oauth_refresh_token``) and preferred over the configured one, or the
next start could not log in.  If the stored one is refused (revoked, or the admin put a fresh
grant into the config) the configured one is tried before giving up.

The SASL string is XOAUTH2 (Google/Microsoft), the pre-standard sibling of RFC 7628 OAUTHBEARER.
No token or refresh token is ever logged.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from bot.config import ConfigError, OAuth2, ServerBase
from bot.intake.errors import AuthError, PermanentIntakeError, TemporaryIntakeError
from bot.intake.store import ensure_mailbox
from storage.db import Database

log = logging.getLogger(__name__)

DEFAULT_EXPIRES_IN = 600  # seconds, when the endpoint does not say (RFC 6749 §5.1: optional)
_ERROR_CODE = re.compile(r"^[a-z_]{1,40}$")


class TokenProvider(Protocol):
    """A current access token for XOAUTH2; implementations may refresh on each call."""

    def access_token(self) -> str: ...


def xoauth2_string(username: str, token: str) -> str:
    """The XOAUTH2 initial client response (before base64, which the SASL layer adds)."""
    return f"user={username}\x01auth=Bearer {token}\x01\x01"


class _InvalidGrant(Exception):
    """This refresh token is dead (RFC 6749 §5.2 ``invalid_grant``); try the next one."""


def _check_url(url: str) -> None:
    """Refresh tokens go only over TLS; plain http is allowed to a loopback address (tests)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https":
        return
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parts.scheme == "http" and loopback:
        return
    raise PermanentIntakeError("OAuth2 token_url must use https")


class RefreshTokenProvider:
    """Exchanges a refresh token for access tokens (RFC 6749 §6) and caches them.

    ``stored`` reads the refresh token kept in the database (None: none yet); ``on_rotate``
    is called with a refresh token to keep whenever the working one differs from the stored.
    Thread-safe: the IMAP watcher and the outbox may share one instance.
    """

    def __init__(
        self,
        config: OAuth2,
        base_dir: Path,
        *,
        stored: Callable[[], str | None] | None = None,
        on_rotate: Callable[[str], None] | None = None,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        _check_url(config.token_url)
        self._config = config
        self._base_dir = base_dir
        self._stored = stored or (lambda: None)
        self._on_rotate = on_rotate
        self._timeout = timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._access: str | None = None
        self._expires_at = 0.0
        self._refresh: str | None = None  # the refresh token that worked last
        self.refresh_count = 0

    def access_token(self) -> str:
        """A cached token while it is fresh, else a new one from the token endpoint."""
        with self._lock:
            if self._access is not None and self._clock() < self._expires_at:
                return self._access
            self._access = None
            return self._refresh_now()

    def invalidate(self) -> None:
        """Forget the cached access token (the server refused it: revoked or expired early)."""
        with self._lock:
            self._access = None

    # -- internals --------------------------------------------------------------------------
    def _candidates(self) -> Iterator[str]:
        seen: set[str] = set()
        for get in (lambda: self._refresh, self._stored, self._configured):
            token = get()
            if token and token not in seen:
                seen.add(token)
                yield token

    def _configured(self) -> str | None:
        try:
            return self._config.refresh_token.resolve(self._base_dir)
        except ConfigError:
            return None

    def _refresh_now(self) -> str:
        tried = False
        for refresh in self._candidates():
            tried = True
            try:
                payload = self._post(refresh)
            except _InvalidGrant:
                log.warning("OAuth2: a refresh token was refused (invalid_grant); trying the next")
                continue
            token = payload.get("access_token")
            if not isinstance(token, str) or not token:
                raise TemporaryIntakeError("token endpoint sent no access_token")
            expires_in = payload.get("expires_in", DEFAULT_EXPIRES_IN)
            try:
                lifetime = max(float(expires_in), 1.0)
            except (TypeError, ValueError):
                lifetime = float(DEFAULT_EXPIRES_IN)
            new_refresh = payload.get("refresh_token")
            keep = new_refresh if isinstance(new_refresh, str) and new_refresh else refresh
            self._keep(keep)
            self._access = token
            self._expires_at = self._clock() + lifetime - min(60.0, lifetime / 10)
            self.refresh_count += 1
            return token
        if not tried:
            raise PermanentIntakeError("no OAuth2 refresh token available")
        raise AuthError("token invalid_grant")

    def _keep(self, refresh: str) -> None:
        self._refresh = refresh
        if self._on_rotate is not None and refresh != self._stored():
            self._on_rotate(refresh)
            log.info("OAuth2: stored a new refresh token")

    def _post(self, refresh: str) -> dict[str, Any]:
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh,
            "client_id": self._config.client_id,
        }
        if self._config.client_secret is not None:
            form["client_secret"] = self._config.client_secret.resolve(self._base_dir)
        if self._config.scope:
            form["scope"] = self._config.scope
        req = urllib.request.Request(
            self._config.token_url,
            data=urllib.parse.urlencode(form).encode("ascii"),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=self._timeout) as resp:
                body = resp.read()
        except urllib.error.HTTPError as exc:
            error = _error_code(exc.read())
            if exc.code >= 500:
                raise TemporaryIntakeError(f"token endpoint HTTP {exc.code}") from None
            if error == "invalid_grant":
                raise _InvalidGrant() from None
            raise AuthError(f"token {error or f'HTTP {exc.code}'}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = f"token endpoint unreachable ({type(exc).__name__})"
            raise TemporaryIntakeError(reason) from None
        try:
            payload = json.loads(body)
        except ValueError:
            raise TemporaryIntakeError("token endpoint sent no JSON") from None
        if not isinstance(payload, dict):
            raise TemporaryIntakeError("token endpoint sent no JSON object")
        return payload


def _error_code(body: bytes) -> str | None:
    """RFC 6749 §5.2 ``error`` (an ASCII code, safe to store); free text is ignored."""
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        return None
    return error if isinstance(error, str) and _ERROR_CODE.match(error) else None


def token_provider_for(
    db: Database, mailbox_name: str, server: ServerBase, base_dir: Path
) -> TokenProvider | None:
    """The provider for a server with ``auth = "xoauth2"`` (None otherwise).

    The refresh token kept in the database for this mailbox is preferred over the configured
    one; IMAP and SMTP of one mailbox share it (one grant covers both at Google and Microsoft).
    """
    if server.auth != "xoauth2" or server.oauth2 is None:
        return None
    def stored() -> str | None:
        with db.session() as s:
            return ensure_mailbox(s, mailbox_name).oauth_refresh_token

    def save(token: str) -> None:
        with db.session() as s:
            ensure_mailbox(s, mailbox_name).oauth_refresh_token = token

    return RefreshTokenProvider(
        server.oauth2, base_dir, stored=stored, on_rotate=save, timeout=server.timeout_seconds
    )
