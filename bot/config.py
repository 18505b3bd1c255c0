"""The one TOML configuration file, validated before anything starts.

Why pydantic: a bad file must give one clear message naming the key (and the line where we can
find it) and a non-zero exit; nothing may start half-configured.  Secrets never live in the
file: each is a reference to an environment variable (``*_env``) or a file (``*_file``).
The privacy notice is configuration (shared/design.md): each register carries the Art. 15(1)
facts in Finnish and English and, for the roadmap's registers work, where its data lives.
"""

from __future__ import annotations

import os
import re
import tomllib
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

Lang = Literal["fi", "sv", "en"]


class ConfigError(Exception):
    """A configuration problem, already phrased for the admin."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Secret(_Strict):
    """A secret by reference: exactly one of ``env`` or ``file``."""

    env: str | None = None
    file: Path | None = None

    @model_validator(mode="after")
    def _one(self) -> Secret:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of 'env' or 'file'")
        return self

    def resolve(self, base: Path) -> str:
        """Read the secret now; a missing one is a ConfigError (never echoes the value)."""
        if self.env is not None:
            value = os.environ.get(self.env)
            if not value:
                raise ConfigError(f"environment variable {self.env} is not set")
            return value
        assert self.file is not None
        path = self.file if self.file.is_absolute() else base / self.file
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"secret file {path} cannot be read: {exc.strerror}") from None


class LocalText(_Strict):
    """A text of the privacy notice in Finnish and English (Swedish optional)."""

    fi: str
    en: str
    sv: str | None = None

    def get(self, lang: str) -> str:
        return getattr(self, lang, None) or (self.fi if lang == "fi" else self.en)


class LocalList(_Strict):
    fi: list[str]
    en: list[str]
    sv: list[str] | None = None

    def get(self, lang: str) -> list[str]:
        return getattr(self, lang, None) or (self.fi if lang == "fi" else self.en)


class OAuth2(_Strict):
    """XOAUTH2 via a refresh token; a rotated refresh token is stored in the database."""

    token_url: str
    client_id: str
    client_secret: Secret | None = None
    refresh_token: Secret
    scope: str | None = None


class ServerBase(_Strict):
    host: str
    port: int = Field(gt=0, lt=65536)
    security: Literal["tls", "starttls", "none"] = "tls"
    username: str | None = None
    auth: Literal["password", "xoauth2", "none"] = "password"
    password: Secret | None = None
    oauth2: OAuth2 | None = None
    timeout_seconds: float = Field(default=30.0, gt=0)
    ca_file: Path | None = None

    @model_validator(mode="after")
    def _auth(self) -> ServerBase:
        if self.auth == "password" and (self.password is None or self.username is None):
            raise ValueError("auth = 'password' needs 'username' and 'password'")
        if self.auth == "xoauth2" and (self.oauth2 is None or self.username is None):
            raise ValueError("auth = 'xoauth2' needs 'username' and an [oauth2] table")
        return self


class Imap(ServerBase):
    port: int = Field(default=993, gt=0, lt=65536)
    folders: list[str] = Field(default_factory=lambda: ["INBOX"], min_length=1)
    idle: bool = True
    idle_renew_seconds: int = Field(default=540, ge=30, le=600)  # RFC 2177: re-issue < 29 min
    poll_seconds: int = Field(default=60, ge=5)
    fetch_batch: int = Field(default=200, ge=1, le=5000)
    start_date: date | None = None
    start_days_back: int = Field(default=35, ge=0)
    sent_folder: str | None = None
    # The bot observes; it changes mail only when told to.
    mark_seen: bool = False
    move_processed_to: str | None = None


class Smtp(ServerBase):
    port: int = Field(default=587, gt=0, lt=65536)
    security: Literal["tls", "starttls", "none"] = "starttls"
    # Gmail/Microsoft 365 file submitted mail into Sent themselves: then we do not APPEND a
    # copy, and after a crash mid-send the Sent folder tells whether the mail went out.
    server_saves_sent: bool = False


class Mailbox(_Strict):
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,40}$")]
    address: str
    imap: Imap
    smtp: Smtp | None = None

    @field_validator("address")
    @classmethod
    def _addr(cls, v: str) -> str:
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", v):
            raise ValueError("not an e-mail address")
        return v.lower()


class Contact(_Strict):
    name: str
    email: str
    phone: str | None = None


class Company(_Strict):
    name: str
    business_id: str
    address: str
    contact: Contact
    dpo: Contact | None = None
    website: str | None = None
    default_language: Lang = "fi"


class Column(_Strict):
    name: str
    category: str


class Table(_Strict):
    """Where a register's data lives (the registers issue fills lookup/export from this)."""

    name: str
    key: str
    person_link: str | None = None  # "column -> parent_table.column" for related rows
    columns: list[Column] = Field(default_factory=list)
    lookup: list[str] = Field(default_factory=list)  # columns usable for lookup (email, phone…)


class Store(_Strict):
    kind: Literal["sql", "csv", "manual"]
    url: str | None = None
    tables: list[Table] = Field(default_factory=list)
    instructions: LocalText | None = None


class Retention(_Strict):
    text: LocalText
    rule: str | None = None  # machine rule name, e.g. "accounting_6y", "contact_1y"


class Register(_Strict):
    key: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]
    name: LocalText
    purposes: LocalList
    legal_basis: LocalText
    legitimate_interests: LocalText | None = None
    data_categories: LocalList
    sources: LocalList
    recipients: LocalList
    retention: Retention
    transfers_outside_eea: LocalText
    automated_decisions: LocalText
    objection: LocalText | None = None
    store: Store | None = None


class Storage(_Strict):
    url: str = "sqlite:///rightsdesk.db"
    url_secret: Secret | None = None  # PostgreSQL URL with a password: keep it out of the file


class Deadlines(_Strict):
    """shared/domain.md §1: Finnish public holidays; the eves count as working days."""

    timezone: str = "Europe/Helsinki"
    holiday_country: str = "FI"
    working_day_holidays: list[str] = Field(
        default_factory=lambda: ["Christmas Eve", "Midsummer Eve"]
    )
    target_working_days_before: int = Field(default=5, ge=0, le=20)


class Staff(_Strict):
    alert_to: list[str] = Field(min_length=1)
    from_address: str | None = None


class Triage(_Strict):
    authserv_ids: list[str] = Field(default_factory=list)
    max_attempts: int = Field(default=3, ge=1)
    max_message_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)


class Outbox(_Strict):
    max_attempts: int = Field(default=8, ge=1)
    backoff_seconds: float = Field(default=30.0, gt=0)
    backoff_max_seconds: float = Field(default=3600.0, gt=0)
    message_id_domain: str | None = None


class Config(_Strict):
    company: Company
    storage: Storage = Storage()
    secret_key: Secret
    mailboxes: list[Mailbox] = Field(min_length=1)
    smtp: Smtp | None = None
    deadlines: Deadlines = Deadlines()
    staff: Staff
    triage: Triage = Triage()
    outbox: Outbox = Outbox()
    registers: list[Register] = Field(default_factory=list)
    base_dir: Path = Path(".")

    @field_validator("mailboxes", "registers")
    @classmethod
    def _unique_names(cls, v: list[Any]) -> list[Any]:
        # A field validator, so the error names the key ('mailboxes') and its line.
        seen: set[str] = set()
        for item in v:
            name = item.name if isinstance(item, Mailbox) else item.key
            if name in seen:
                raise ValueError(f"{name!r} is used more than once; names must be unique")
            seen.add(name)
        return v

    @model_validator(mode="after")
    def _unique(self) -> Config:
        for m in self.mailboxes:
            if m.smtp is None and self.smtp is None:
                raise ValueError(f"mailbox {m.name!r} has no [smtp] and there is no global [smtp]")
        return self

    def smtp_for(self, mailbox: Mailbox) -> Smtp:
        smtp = mailbox.smtp or self.smtp
        assert smtp is not None  # checked on load
        return smtp

    def mailbox(self, name: str) -> Mailbox:
        for m in self.mailboxes:
            if m.name == name:
                return m
        raise KeyError(name)

    def database_url(self) -> str:
        url = self.storage.url_secret.resolve(self.base_dir) if self.storage.url_secret else (
            self.storage.url
        )
        # A relative SQLite path is relative to the config file, not to the cwd.
        if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
            rel = url[len("sqlite:///") :]
            if rel and rel != ":memory:":
                return "sqlite:///" + str((self.base_dir / rel).resolve())
        return url

    def secret(self) -> bytes:
        return self.secret_key.resolve(self.base_dir).encode()

    def resolve_secrets(self) -> None:
        """Read every secret once at start-up, so a missing one stops us before work starts."""
        def check(key: str, s: object) -> None:
            if isinstance(s, Secret):
                try:
                    s.resolve(self.base_dir)
                except ConfigError as exc:  # name the key, as for every other config error
                    raise ConfigError(f"key '{key}': {exc}") from None

        check("secret_key", self.secret_key)
        check("storage.url_secret", self.storage.url_secret)
        for m in self.mailboxes:
            smtp_key = f"mailboxes.{m.name}.smtp" if m.smtp is not None else "smtp"
            for key, srv in ((f"mailboxes.{m.name}.imap", m.imap), (smtp_key, self.smtp_for(m))):
                check(f"{key}.password", srv.password)
                if srv.oauth2 is not None:
                    check(f"{key}.oauth2.refresh_token", srv.oauth2.refresh_token)
                    check(f"{key}.oauth2.client_secret", srv.oauth2.client_secret)


def _find_line(text: str, loc: tuple[int | str, ...]) -> int | None:
    """Best-effort line of the last key in ``loc`` (tomllib keeps no positions)."""
    keys = [k for k in loc if isinstance(k, str)]
    if not keys:
        return None
    target = keys[-1]
    pat = re.compile(rf"^\s*(\[+\s*)?([\w.\"-]*\.)?\"?{re.escape(target)}\"?\s*(=|\]|\.)")
    # Prefer a match after the header of the enclosing table.
    start = 0
    if len(keys) > 1:
        hdr = re.compile(rf"^\s*\[+\s*([\w.-]*\.)?{re.escape(keys[-2])}\s*\]+")
        for i, line in enumerate(text.splitlines()):
            if hdr.match(line):
                start = i
                break
    lines = text.splitlines()
    for i in range(start, len(lines)):
        if pat.match(lines[i]):
            return i + 1
    return None


def load_config(path: str | Path) -> Config:
    """Load and validate; raise ConfigError with one clear message on any problem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read config: {exc.strerror}") from None
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    data.setdefault("base_dir", str(p.resolve().parent))
    try:
        cfg = Config.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        key = ".".join(str(x) for x in loc) or "(top level)"
        line = _find_line(text, loc)
        where = f" (line {line})" if line else ""
        more = f" and {len(exc.errors()) - 1} more problem(s)" if len(exc.errors()) > 1 else ""
        raise ConfigError(f"{p}: key '{key}'{where}: {err['msg']}{more}") from None
    return cfg
