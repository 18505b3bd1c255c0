"""bot/config.py: the examples load; every bad file gives one clear ConfigError (key + line)."""

from __future__ import annotations

import io
import re
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from bot import cli
from bot.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = {
    "kespet": (ROOT / "examples/kespet/rightsdesk.toml",
               ("RIGHTSDESK_SECRET_KEY", "KESPET_IMAP_PASSWORD", "KESPET_SMTP_PASSWORD")),
    "kera": (ROOT / "examples/kera/rightsdesk.toml",
             ("RIGHTSDESK_SECRET_KEY", "KERA_IMAP_PASSWORD", "KERA_SMTP_PASSWORD")),
}

BASE = '''\
secret_key = { env = "RD_TEST_SECRET" }

[company]
name = "Testi Oy"
business_id = "1234567-8"
address = "Katu 1, 00100 Helsinki"
contact = { name = "Asiakaspalvelu", email = "info@testi.fi" }

[staff]
alert_to = ["info@testi.fi"]

[smtp]
host = "smtp.testi.fi"
port = 587
username = "info@testi.fi"
password = { env = "RD_TEST_SMTP" }

[[mailboxes]]
name = "info"
address = "info@testi.fi"
[mailboxes.imap]
host = "imap.testi.fi"
port = 993
username = "info@testi.fi"
password = { env = "RD_TEST_IMAP" }
'''


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """1-based line number of the nth line containing ``needle``."""
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if needle in line]
    return hits[nth - 1]


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "rightsdesk.toml"
    p.write_text(text, encoding="utf-8")
    return p


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, text))
    msg = str(exc.value)
    assert "\n" not in msg  # one message, one line
    assert "Traceback" not in msg
    return msg


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RD_TEST_SECRET", "RD_TEST_SMTP", "RD_TEST_IMAP"):
        monkeypatch.setenv(name, f"value-of-{name}")


# -- good files --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_examples_load_and_resolve(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    path, envs = EXAMPLES[name]
    for env in envs:
        monkeypatch.setenv(env, f"secret-{env}")
    cfg = load_config(path)
    cfg.resolve_secrets()
    assert cfg.secret() == b"secret-RIGHTSDESK_SECRET_KEY"
    assert cfg.base_dir == path.parent.resolve()
    # A relative SQLite path is relative to the config file, not the working directory.
    assert cfg.database_url() == f"sqlite:///{path.parent.resolve() / 'rightsdesk.db'}"
    assert cfg.company.default_language == "fi"
    assert cfg.deadlines.working_day_holidays == ["Christmas Eve", "Midsummer Eve"]
    mb = cfg.mailboxes[0]
    assert cfg.smtp_for(mb).port == 587
    assert mb.imap.sent_folder == "Sent"


def test_kespet_example_facts(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load_config(EXAMPLES["kespet"][0])
    assert cfg.company.name == "Kespet Oy"
    assert [m.address for m in cfg.mailboxes] == ["sales@kespet.fi"]
    assert [r.key for r in cfg.registers] == ["customers"]
    assert cfg.triage.authserv_ids == ["mx.kespet.fi"]
    assert cfg.registers[0].retention.rule == "customer_15y"


def test_kera_example_facts() -> None:
    cfg = load_config(EXAMPLES["kera"][0])
    assert cfg.company.business_id == "0694877-5"
    assert [r.key for r in cfg.registers] == ["customers", "marketing", "subcontractors"]
    assert cfg.registers[1].name.get("fi") == "Markkinointirekisteri"
    assert cfg.registers[1].name.get("sv") == "Marketing register"  # no sv text: English
    assert cfg.mailbox("info").address == "info@keragroup.fi"
    with pytest.raises(KeyError):
        cfg.mailbox("sales")


def test_minimal_file_gets_defaults(tmp_path: Path, secrets: None) -> None:
    cfg = load_config(write(tmp_path, BASE))
    cfg.resolve_secrets()
    assert cfg.triage.max_attempts == 3
    assert cfg.deadlines.timezone == "Europe/Helsinki"
    assert cfg.deadlines.target_working_days_before == 5
    assert cfg.mailboxes[0].imap.folders == ["INBOX"]
    assert cfg.mailboxes[0].imap.mark_seen is False  # the bot observes unless told otherwise
    assert cfg.smtp_for(cfg.mailboxes[0]).security == "starttls"


def test_address_is_lowercased(tmp_path: Path, secrets: None) -> None:
    cfg = load_config(write(tmp_path, BASE.replace('address = "info@testi.fi"',
                                                   'address = "Info@Testi.FI"')))
    assert cfg.mailboxes[0].address == "info@testi.fi"


def test_secret_from_file(tmp_path: Path, secrets: None) -> None:
    (tmp_path / "key").write_text("from-a-file\n", encoding="utf-8")
    cfg = load_config(write(tmp_path, BASE.replace('secret_key = { env = "RD_TEST_SECRET" }',
                                                   'secret_key = { file = "key" }')))
    assert cfg.secret() == b"from-a-file"


# -- bad files: one message naming the key and the line ----------------------------------------
def test_wrong_type(tmp_path: Path) -> None:
    text = BASE.replace("port = 587", 'port = "five-eight-seven"')
    msg = error_of(tmp_path, text)
    assert "key 'smtp.port'" in msg
    assert f"(line {line_of(text, 'five-eight-seven')})" in msg
    assert "integer" in msg


def test_wrong_type_list(tmp_path: Path) -> None:
    text = BASE.replace('alert_to = ["info@testi.fi"]', 'alert_to = "info@testi.fi"')
    msg = error_of(tmp_path, text)
    assert "key 'staff.alert_to'" in msg
    assert f"(line {line_of(text, 'alert_to')})" in msg


def test_unknown_key(tmp_path: Path) -> None:
    text = BASE.replace('address = "Katu 1, 00100 Helsinki"',
                        'address = "Katu 1, 00100 Helsinki"\nadress2 = "typo"')
    msg = error_of(tmp_path, text)
    assert "key 'company.adress2'" in msg
    assert f"(line {line_of(text, 'adress2')})" in msg
    assert "Extra inputs are not permitted" in msg


def test_unknown_top_level_table(tmp_path: Path) -> None:
    text = BASE + "\n[databse]\nurl = 'x'\n"
    msg = error_of(tmp_path, text)
    assert "key 'databse'" in msg
    assert f"(line {line_of(text, '[databse]')})" in msg


def test_unknown_key_in_mailbox_imap(tmp_path: Path) -> None:
    text = BASE + "idle_seconds = 10\n"
    msg = error_of(tmp_path, text)
    assert "key 'mailboxes.0.imap.idle_seconds'" in msg
    assert f"(line {line_of(text, 'idle_seconds')})" in msg


@pytest.mark.parametrize("table", ["company", "staff"])
def test_missing_required_table(tmp_path: Path, table: str) -> None:
    text = re.sub(rf"\[{table}\]\n(?:[^\[\n][^\n]*\n)*", "", BASE)
    assert f"[{table}]" not in text
    msg = error_of(tmp_path, text)
    assert f"key '{table}'" in msg
    assert "Field required" in msg


def test_missing_mailboxes(tmp_path: Path) -> None:
    msg = error_of(tmp_path, BASE.split("[[mailboxes]]")[0])
    assert "key 'mailboxes'" in msg


@pytest.mark.parametrize("port, why", [("0", "greater than 0"), ("65536", "less than 65536"),
                                       ("-1", "greater than 0")])
def test_bad_port(tmp_path: Path, port: str, why: str) -> None:
    text = BASE.replace("port = 993", f"port = {port}")
    msg = error_of(tmp_path, text)
    assert "key 'mailboxes.0.imap.port'" in msg
    assert f"(line {line_of(text, f'port = {port}')})" in msg
    assert why in msg


def test_duplicate_mailbox_names(tmp_path: Path) -> None:
    text = BASE + ('\n[[mailboxes]]\nname = "info"\naddress = "sales@testi.fi"\n'
                   '[mailboxes.imap]\nhost = "imap.testi.fi"\nauth = "none"\n')
    msg = error_of(tmp_path, text)
    assert "key 'mailboxes'" in msg
    assert "'info'" in msg
    assert "unique" in msg or "more than once" in msg
    assert f"(line {line_of(text, '[[mailboxes]]')})" in msg


def test_bad_mailbox_name_and_address(tmp_path: Path) -> None:
    msg = error_of(tmp_path, BASE.replace('name = "info"', 'name = "Info Box"'))
    assert "key 'mailboxes.0.name'" in msg
    msg = error_of(tmp_path, BASE.replace('address = "info@testi.fi"', 'address = "info"'))
    assert "key 'mailboxes.0.address'" in msg and "not an e-mail address" in msg


def test_mailbox_without_any_smtp(tmp_path: Path) -> None:
    text = re.sub(r"\[smtp\]\n(?:[^\[\n][^\n]*\n)*", "", BASE)
    msg = error_of(tmp_path, text)
    assert "'info'" in msg and "[smtp]" in msg


def test_invalid_toml(tmp_path: Path) -> None:
    text = BASE.replace('host = "smtp.testi.fi"', 'host = "smtp.testi.fi')
    msg = error_of(tmp_path, text)
    assert "not valid TOML" in msg
    bad_line = line_of(text, 'host = "smtp.testi.fi')
    assert f"at line {bad_line}," in msg


def test_secret_in_both_env_and_file(tmp_path: Path) -> None:
    text = BASE.replace('password = { env = "RD_TEST_SMTP" }',
                        'password = { env = "RD_TEST_SMTP", file = "smtp.pw" }')
    msg = error_of(tmp_path, text)
    assert "key 'smtp.password'" in msg
    assert f"(line {line_of(text, 'smtp.pw')})" in msg
    assert "exactly one of 'env' or 'file'" in msg


def test_secret_as_clear_text_is_refused(tmp_path: Path) -> None:
    text = BASE.replace('password = { env = "RD_TEST_IMAP" }', 'password = "hunter2"')
    msg = error_of(tmp_path, text)
    assert "key 'mailboxes.0.imap.password'" in msg
    assert "hunter2" not in msg  # never echo a secret


def test_password_auth_needs_a_password(tmp_path: Path) -> None:
    text = BASE.replace('password = { env = "RD_TEST_IMAP" }\n', "")
    msg = error_of(tmp_path, text)
    assert "key 'mailboxes.0.imap'" in msg
    assert "needs 'username' and 'password'" in msg


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "missing.toml")


@pytest.mark.parametrize("missing, key", [
    ("RD_TEST_SECRET", "secret_key"),
    ("RD_TEST_IMAP", "mailboxes.info.imap.password"),
    ("RD_TEST_SMTP", "smtp.password"),
])
def test_missing_env_secret_at_resolve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       secrets: None, missing: str, key: str) -> None:
    cfg = load_config(write(tmp_path, BASE))  # loading reads no secret
    monkeypatch.delenv(missing)
    with pytest.raises(ConfigError) as exc:
        cfg.resolve_secrets()
    msg = str(exc.value)
    assert missing in msg and "not set" in msg
    assert key in msg
    assert "value-of-" not in msg


def test_missing_secret_file_at_resolve(tmp_path: Path, secrets: None) -> None:
    cfg = load_config(write(tmp_path, BASE.replace('secret_key = { env = "RD_TEST_SECRET" }',
                                                   'secret_key = { file = "nope.key" }')))
    with pytest.raises(ConfigError, match=r"nope\.key cannot be read"):
        cfg.resolve_secrets()


# -- the check-config command ------------------------------------------------------------------
def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stderr(err), redirect_stdout(out):
        rc = cli.main(argv, out=out)
    return rc, out.getvalue(), err.getvalue()


def test_check_config_bad_file_exits_2_with_message_on_stderr(tmp_path: Path) -> None:
    path = write(tmp_path, BASE.replace("port = 993", "port = 99999"))
    rc, out, err = run_cli(["--config", str(path), "check-config"])
    assert rc == 2
    assert out == ""
    assert err.startswith("rightsdesk: ")
    assert "key 'mailboxes.0.imap.port'" in err
    assert err.count("\n") == 1


def test_check_config_missing_secret_exits_2(tmp_path: Path, secrets: None,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RD_TEST_IMAP")
    rc, out, err = run_cli(["check-config", "--config", str(write(tmp_path, BASE))])
    assert (rc, out) == (2, "")
    assert "RD_TEST_IMAP" in err


def test_check_config_good_file(tmp_path: Path, secrets: None) -> None:
    rc, out, err = run_cli(["--config", str(write(tmp_path, BASE)), "check-config"])
    assert (rc, err) == (0, "")
    assert out == "config OK: Testi Oy, 1 mailbox(es), 0 register(s)\n"


def test_check_config_from_environment_variable(tmp_path: Path, secrets: None,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIGHTSDESK_CONFIG", str(write(tmp_path, BASE)))
    rc, out, _ = run_cli(["check-config"])
    assert rc == 0 and out.startswith("config OK: Testi Oy")
