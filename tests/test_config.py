"""Settings from the environment and the command line."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from config import ConfigError, Settings

ROOT = Path(__file__).resolve().parent.parent
# Fresh processes with an environment of their own: no app of the pass, no test database.
pytestmark = [pytest.mark.no_graphql, pytest.mark.no_test_database]


def partnerdesk(
    args: list[str], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The `partnerdesk` command line, run as a fresh process (as a user would run it)."""
    command = [sys.executable, "-c", f"import app, sys; sys.exit(app.main({args!r}))"]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_defaults_match_the_design() -> None:
    settings = Settings.from_env({})
    assert settings.database_url == "sqlite://partnerdesk.sqlite3"
    assert (settings.host, settings.port, settings.env) == ("127.0.0.1", 8000, "development")
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_starttls) == (None, 1025, False)
    assert settings.dev_mailbox  # no SMTP host in development: the /dev/mail mailbox
    assert (settings.log_format, settings.metrics_token) == ("text", None)
    assert (settings.trusted_documents, settings.trusted_documents_only) == (None, False)
    assert settings.shutdown_grace_seconds == 20
    assert (settings.mail_retry_base_seconds, settings.mail_max_attempts) == (30.0, 8)
    assert (settings.invitation_ttl_days, settings.token_ttl_hours) == (30, 336)
    assert settings.redis_url is None and settings.mail_worker is True


def test_values_are_parsed() -> None:
    settings = Settings.from_env(
        {
            "PARTNERDESK_PORT": "9000",
            "PARTNERDESK_ENV": "production",
            "PARTNERDESK_MAIL_WORKER": "false",
            "PARTNERDESK_DATABASE_URL": "postgres://u@h:5432/d",
            "PARTNERDESK_REDIS_URL": "redis://127.0.0.1:6379/0",
        }
    )
    assert settings.port == 9000 and settings.production and settings.mail_worker is False
    assert settings.redis_url == "redis://127.0.0.1:6379/0"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PARTNERDESK_PORT", "eighty"),
        ("PARTNERDESK_PORT", "70000"),
        ("PARTNERDESK_ENV", "staging"),
        ("PARTNERDESK_MAIL_WORKER", "maybe"),
        ("PARTNERDESK_DATABASE_URL", "mysql://x"),
        ("PARTNERDESK_REDIS_URL", "http://x"),
        ("PARTNERDESK_REDIS_PREFIX", ""),
        ("PARTNERDESK_REDIS_PREFIX", "two words"),
        ("PARTNERDESK_REDIS_PREFIX", "a:b*"),
        ("PARTNERDESK_TOKEN_TTL_HOURS", "0"),
        ("PARTNERDESK_MAIL_RETRY_BASE_SECONDS", "-1"),
        ("PARTNERDESK_LOG_FORMAT", "xml"),
        ("PARTNERDESK_TRUSTED_DOCUMENTS", "/nonexistent/manifest.json"),
        ("PARTNERDESK_SHUTDOWN_GRACE_SECONDS", "-5"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})


def test_cli_fails_with_one_clear_line_on_a_bad_value() -> None:
    result = partnerdesk(["migrate"], {"PARTNERDESK_PORT": "x", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == "partnerdesk: PARTNERDESK_PORT='x' is invalid: must be a whole number"
    )


def test_production_without_an_smtp_host_refuses_to_start_with_one_line(tmp_path: Path) -> None:
    # given: production settings without PARTNERDESK_SMTP_HOST
    env = {
        "PARTNERDESK_ENV": "production",
        "PARTNERDESK_DATABASE_URL": f"sqlite://{tmp_path / 'x.sqlite3'}",
        "PATH": "/usr/bin:/bin",
    }
    # when: a process that would deliver e-mail starts
    for command in (["serve"], ["worker"]):
        result = partnerdesk(command, env)
        # then: it stops before doing anything, with one line naming the variable
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip().splitlines() == [
            "partnerdesk: PARTNERDESK_SMTP_HOST is not set: production needs a mail server "
            "(only development keeps e-mails in the /dev/mail mailbox)"
        ]
    assert not (tmp_path / "x.sqlite3").exists()  # not even migrated


def test_trusted_documents_only_needs_a_manifest() -> None:
    settings = Settings.from_env(
        {"PARTNERDESK_TRUSTED_DOCUMENTS_ONLY": "true", "PARTNERDESK_SMTP_HOST": "mail"}
    )
    with pytest.raises(ConfigError, match="PARTNERDESK_TRUSTED_DOCUMENTS"):
        settings.check_for_serving(delivers_mail=True)


def test_export_schema_prints_the_sdl() -> None:
    result = partnerdesk(["export-schema"])
    assert result.returncode == 0, result.stderr
    assert "type Customer implements Node" in result.stdout


def test_migrate_and_seed_demo_on_a_fresh_database(tmp_path: Path) -> None:
    env = {
        "PARTNERDESK_DATABASE_URL": f"sqlite://{tmp_path / 'demo.sqlite3'}",
        "PATH": "/usr/bin:/bin",
    }
    migrate = partnerdesk(["migrate"], env)
    assert migrate.returncode == 0, migrate.stderr
    again = partnerdesk(["migrate"], env)
    assert again.returncode == 0, again.stderr
    seed = partnerdesk(["seed-demo"], env)
    assert seed.returncode == 0, seed.stderr
    assert "owner@studio-aurora.example" in seed.stdout
    assert "anna.bianchi@example.org" in seed.stdout
    with sqlite3.connect(tmp_path / "demo.sqlite3") as database:
        inquiry_states = {row[0] for row in database.execute("SELECT status FROM inquiry")}
        invitation_states = {
            row[0] for row in database.execute("SELECT status FROM access_invitation")
        }
        outbox = database.execute(
            "SELECT count(*) FROM email_delivery WHERE template IN"
            " ('invitation_connected', 'invitation_declined')"
        ).fetchone()[0]
    assert inquiry_states == {"NEW", "ASSIGNED", "DISMISSED"}
    assert invitation_states == {"PENDING", "CONNECTED", "DECLINED", "WITHDRAWN"}
    assert outbox == 2  # the connect confirmation and the decline e-mail
