"""Test fixtures are plugins under tests/fixtures/, one server each."""

pytest_plugins = [
    "tests.fixtures.db",
    "tests.fixtures.dovecot",
    "tests.fixtures.smtp",
]
