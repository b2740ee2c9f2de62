"""Settings from PARTNERDESK_* environment variables, validated once at start.

A bad value stops the process with one clear line (`ConfigError`), never with a
stack trace half-way through serving.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any
from urllib.parse import urlsplit

DEFAULT_DATABASE_URL = "sqlite://partnerdesk.sqlite3"
# Server processes one `partnerdesk serve` may run: past the cores there is nothing to gain, and
# each process keeps its own database pool (PostgreSQL allows 100 connections by default).
MAX_WORKERS = 64

# Every Tortoise model module, in dependency order. Migrations live in models/migrations.
MODEL_MODULES = [
    "models.partner",
    "models.account",
    "models.auth",
    "models.customer",
    "models.item",
    "models.inquiry",
    "models.invitation",
    "models.outbox",
    "models.activity",
    "models.identity",
    "models.team",
    "models.notification",
    "models.dev_mail",
    "models.webhook",
    "models.customer_data",
    "models.housekeeping",
]


class ConfigError(ValueError):
    """A PARTNERDESK_* variable has a value we cannot use."""


async def _release_connection(connection: Any) -> None:
    """asyncpg's pool hook when a connection goes back: roll back what is left open.

    asyncpg's default also sends `RESET ALL; UNLISTEN *; CLOSE ALL; ...` every time, one
    extra round trip per query (Tortoise takes a pooled connection per query). PartnerDesk
    never changes session state (no SET, LISTEN, cursors or advisory locks), so only an open
    transaction, as a cancelled request can leave, needs undoing.
    """
    if connection.is_in_transaction():
        await connection.execute("ROLLBACK")


def _connection(database_url: str) -> str | dict[str, Any]:
    from tortoise.backends.base.config_generator import expand_db_url

    if urlsplit(database_url).scheme not in {"postgres", "asyncpg"}:
        return database_url
    expanded = expand_db_url(database_url)
    expanded["credentials"]["reset"] = _release_connection
    # Plan each prepared statement once per connection. Under the default ("auto") PostgreSQL
    # re-plans the compiled read statements on every run, because a custom plan looks
    # cheaper than the generic one; planning the Q2 page costs more than running it
    # (bench/RESULTS.md). Every statement here is keyed by partner and indexed for it, so
    # the generic plan is the one a custom plan would pick anyway.
    expanded["credentials"]["server_settings"] = {"plan_cache_mode": "force_generic_plan"}
    return expanded


def tortoise_config(database_url: str) -> dict[str, Any]:
    """The Tortoise configuration for one database URL (also read by `tortoise makemigrations`)."""
    return {
        "connections": {"default": _connection(database_url)},
        "apps": {
            "partnerdesk": {
                "models": MODEL_MODULES,
                "migrations": "models.migrations",
                "default_connection": "default",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


# For the `tortoise` command line ([tool.tortoise] in pyproject.toml).
TORTOISE_ORM = tortoise_config(os.environ.get("PARTNERDESK_DATABASE_URL", DEFAULT_DATABASE_URL))


def _database_url(value: str) -> str:
    scheme = urlsplit(value).scheme
    if scheme not in {"sqlite", "postgres", "asyncpg", "psycopg"}:
        raise ValueError("must be a sqlite:// or postgres:// URL")
    return value


def _redis_prefix(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", value):
        raise ValueError("must be 1-64 letters, digits, '.', '_' or '-'")
    return value


def _optional_redis_url(value: str) -> str | None:
    if not value:
        return None
    if urlsplit(value).scheme not in {"redis", "rediss", "unix"}:
        raise ValueError("must be a redis:// URL")
    return value


def _boolean(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError("must be true or false")


def _int_between(low: int, high: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise ValueError("must be a whole number") from None
        if not low <= number <= high:
            raise ValueError(f"must be between {low} and {high}")
        return number

    return parse


def _float_between(low: float, high: float) -> Callable[[str], float]:
    def parse(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            raise ValueError("must be a number") from None
        if not low <= number <= high:
            raise ValueError(f"must be between {low} and {high}")
        return number

    return parse


def _one_of(*choices: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return value

    return parse


def _text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


def _optional_text(value: str) -> str | None:
    return value or None


def _optional_manifest(value: str) -> str | None:
    if not value:
        return None
    if not os.path.isfile(value):
        raise ValueError("must be the path of a JSON manifest file ({hash: document})")
    return value


def _comma_list(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _networks(value: str) -> tuple[str, ...]:
    items = _comma_list(value)
    for item in items:
        ipaddress.ip_network(item, strict=False)  # ValueError names the bad entry
    return items


def _rate_limits(value: str) -> str:
    from limits import parse_many

    try:
        parse_many(value)
    except ValueError:
        raise ValueError('must be rate limits such as "5/minute;20/hour"') from None
    return value


def _public_url(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in {"http", "https"} or not parts.netloc or parts.query or parts.fragment:
        raise ValueError("must be an http(s):// URL without query or fragment")
    return value.strip().rstrip("/")


def _setting(default: str, parse: Callable[[str], Any]) -> Any:
    """A dataclass field read from PARTNERDESK_<NAME>, parsed and validated by `parse`."""
    return field(default=parse(default), metadata={"env_default": default, "parse": parse})


@dataclass(frozen=True)
class Settings:
    database_url: str = _setting(DEFAULT_DATABASE_URL, _database_url)
    redis_url: str | None = _setting("", _optional_redis_url)
    # Names this deployment's channels and keys in Redis, so that several share one Redis.
    redis_prefix: str = _setting("partnerdesk", _redis_prefix)
    host: str = _setting("127.0.0.1", _text)
    port: int = _setting("8000", _int_between(1, 65535))
    env: str = _setting("development", _one_of("development", "production"))
    # Unset: in development the worker delivers to the development mailbox (/dev/mail);
    # production refuses to start without a mail server (check_for_serving).
    smtp_host: str | None = _setting("", _optional_text)
    smtp_port: int = _setting("1025", _int_between(1, 65535))
    smtp_username: str | None = _setting("", _optional_text)
    smtp_password: str | None = _setting("", _optional_text)
    smtp_starttls: bool = _setting("false", _boolean)
    mail_from: str = _setting("PartnerDesk <no-reply@localhost>", _text)
    mail_worker: bool = _setting("true", _boolean)
    mail_retry_base_seconds: float = _setting("30", _float_between(0.001, 86400))
    mail_max_attempts: int = _setting("8", _int_between(1, 100))
    # A QUEUED e-mail older than this is FAILED at its next transient failure.
    mail_max_age_hours: float = _setting("24", _float_between(0.001, 24 * 365))
    # How long a worker's claim on a batch lasts without renewal (a killed worker's rows
    # are retried by others after this); renewed while the batch is being sent.
    mail_lease_seconds: float = _setting("120", _float_between(1, 86400))
    smtp_timeout_seconds: float = _setting("30", _float_between(0.05, 600))
    invitation_ttl_days: int = _setting("30", _int_between(1, 3650))
    token_ttl_hours: int = _setting("336", _int_between(1, 24 * 366))
    # Argon2id cost: "standard" is argon2-cffi's RFC 9106 low-memory profile; "fast" keeps
    # Argon2id but with OWASP's minimum memory, for test suites that register many users.
    password_hash_profile: str = _setting("standard", _one_of("standard", "fast"))
    # Abuse limits (../shared/research/reliability.md §7); each is tested at N and N+1.
    max_query_depth: int = _setting("10", _int_between(1, 100))
    max_aliases: int = _setting("15", _int_between(0, 1000))
    max_tokens: int = _setting("2000", _int_between(10, 1_000_000))
    max_directives: int = _setting("50", _int_between(0, 10_000))
    max_query_cost: int = _setting("5000", _int_between(1, 10_000_000))
    max_body_bytes: int = _setting("65536", _int_between(1024, 64 * 1024 * 1024))
    max_ws_message_bytes: int = _setting("65536", _int_between(1024, 64 * 1024 * 1024))
    # A file sent with a multipart request (a CSV import); the operation beside it keeps
    # max_body_bytes.
    max_upload_bytes: int = _setting(str(5 * 1024 * 1024), _int_between(1024, 1024 * 1024 * 1024))
    ws_max_subscriptions: int = _setting("20", _int_between(1, 10_000))
    ws_init_timeout_seconds: float = _setting("10", _float_between(0.1, 600))
    # Browser origins allowed to open the websocket ("https://app.example.com,..."); empty:
    # same origin as the request's Host only.
    allowed_origins: tuple[str, ...] = _setting("", _comma_list)
    # Peers whose X-Forwarded-For is believed (IPs or CIDRs), e.g. the load balancer.
    trusted_proxies: tuple[str, ...] = _setting("", _networks)
    # Rate limits in the `limits` notation ("5/minute;20/hour"); exceeding one → RATE_LIMITED.
    rate_limit_inquiry_ip: str = _setting("5/minute;20/hour", _rate_limits)
    rate_limit_inquiry_partner: str = _setting("200/day", _rate_limits)
    rate_limit_login_ip: str = _setting("10/minute", _rate_limits)
    # Sign-in guessing: the strict limit counts per (e-mail, client IP), so a stranger who
    # hammers someone's address from elsewhere cannot lock its owner out; the looser ceiling
    # counts per e-mail from every IP, against guessing spread over many addresses.
    rate_limit_login_email: str = _setting("5/15 minutes", _rate_limits)
    rate_limit_login_email_ceiling: str = _setting("50/hour", _rate_limits)
    rate_limit_register_ip: str = _setting("10/hour", _rate_limits)
    rate_limit_invitation_account: str = _setting("30/hour", _rate_limits)
    # Answer supported queries with one SQL statement that builds the JSON (schema/compiled/);
    # false runs every operation on graphql-core's executor (the suite runs both ways).
    compiled_reads: bool = _setting("true", _boolean)
    # Retention, applied once a day (resolvers/retention.py): dismissed inquiries are deleted,
    # and the bodies of sent e-mails cleared (status, recipient and timestamps stay).
    retention_dismissed_inquiry_days: int = _setting("90", _int_between(1, 36500))
    retention_email_body_days: int = _setting("30", _int_between(1, 36500))
    # A submitted inquiry form younger than this (render timestamp sent by the form) is spam.
    inquiry_min_fill_seconds: float = _setting("3", _float_between(0, 3600))
    # Operations (README "Operating PartnerDesk"): log lines as text or one JSON object each;
    # the bearer token /metrics needs in production (unset there: /metrics is off).
    log_format: str = _setting("text", _one_of("text", "json"))
    metrics_token: str | None = _setting("", _optional_text)
    # Trusted documents (README "Persisted documents"): a {hash: document} manifest, and
    # whether every other document is refused.
    trusted_documents: str | None = _setting("", _optional_manifest)
    trusted_documents_only: bool = _setting("false", _boolean)
    # SIGTERM: how long in-flight HTTP requests may take to finish before they are cancelled.
    shutdown_grace_seconds: int = _setting("20", _int_between(0, 3600))
    # Server processes of `partnerdesk serve` on its one port (server_processes.py); more than
    # one needs Redis (check_for_serving). Each has its own database pool.
    workers: int = _setting("1", _int_between(1, MAX_WORKERS))

    # Identity (issue 12): where the links in e-mails point, and how long their tokens live.
    public_url: str = _setting("http://127.0.0.1:8000", _public_url)
    email_verification_ttl_hours: int = _setting("168", _int_between(1, 24 * 366))
    password_reset_ttl_minutes: int = _setting("60", _int_between(5, 24 * 60))
    member_invitation_ttl_hours: int = _setting("168", _int_between(1, 24 * 366))
    rate_limit_verification_email: str = _setting("3/hour", _rate_limits)
    rate_limit_password_reset: str = _setting("5/hour", _rate_limits)
    # Webhooks (webhooks/): run the delivery worker inside `serve`; backoff base (full jitter,
    # doubling) and how long a delivery is retried, which is also how long an endpoint may
    # fail every attempt before it is disabled.
    webhook_worker: bool = _setting("true", _boolean)
    webhook_retry_base_seconds: float = _setting("30", _float_between(0.001, 86400))
    webhook_max_age_hours: float = _setting("72", _float_between(0.001, 24 * 365))
    # One attempt, from resolving the host to the last byte read; and sends in flight per worker.
    webhook_timeout_seconds: float = _setting("10", _float_between(0.05, 600))
    webhook_concurrency: int = _setting("10", _int_between(1, 1000))
    # A worker's claim on a batch of deliveries (renewed while it sends them).
    webhook_lease_seconds: float = _setting("120", _float_between(1, 86400))
    # Let endpoints resolve to loopback, private, link-local and reserved addresses (tests and
    # local development; cloud metadata addresses stay refused).
    webhook_allow_private: bool = _setting("false", _boolean)

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def dev_mailbox(self) -> bool:
        """E-mails go to the development mailbox (/dev/mail) instead of an SMTP server."""
        return self.smtp_host is None and not self.production

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and validate every PARTNERDESK_* variable; raise ConfigError on the first bad one."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for setting in fields(cls):
            name = f"PARTNERDESK_{setting.name.upper()}"
            raw = environ.get(name)
            if raw is None:
                continue
            try:
                values[setting.name] = setting.metadata["parse"](raw)
            except ValueError as error:
                raise ConfigError(f"{name}={raw!r} is invalid: {error}") from None
        return cls(**values)

    def with_option(self, name: str, raw: str, option: str) -> Settings:
        """These settings with `name` taken from a command-line option, parsed and checked as
        its PARTNERDESK_* variable would be (ConfigError naming the option)."""
        parse = next(setting for setting in fields(self) if setting.name == name).metadata["parse"]
        try:
            value = parse(raw)
        except ValueError as error:
            raise ConfigError(f"{option}={raw!r} is invalid: {error}") from None
        return replace(self, **{name: value})

    def check_for_serving(self, delivers_mail: bool, serves_http: bool = False) -> None:
        """ConfigError for settings that are each valid but cannot serve together: production
        delivering e-mail without an SMTP host, trusted documents only without a manifest,
        several server processes without Redis."""
        if serves_http and self.workers > 1 and self.redis_url is None:
            # In-process events and rate limits would split: a subscriber on one process would
            # miss the events of mutations served by another, and each would count its own tries.
            raise ConfigError(
                f"{self.workers} server processes (--workers / PARTNERDESK_WORKERS) need "
                "PARTNERDESK_REDIS_URL: events and rate limits are shared over Redis"
            )
        if delivers_mail and self.smtp_host is None and self.production:
            raise ConfigError(
                "PARTNERDESK_SMTP_HOST is not set: production needs a mail server "
                "(only development keeps e-mails in the /dev/mail mailbox)"
            )
        if self.trusted_documents_only and not self.trusted_documents:
            raise ConfigError(
                "PARTNERDESK_TRUSTED_DOCUMENTS_ONLY=true needs PARTNERDESK_TRUSTED_DOCUMENTS "
                "(the manifest of the documents to accept)"
            )

    def tortoise(self) -> dict[str, Any]:
        return tortoise_config(self.database_url)

    @classmethod
    def documented_variables(cls) -> list[tuple[str, str]]:
        """(variable, default) pairs, for the README and `partnerdesk --help`."""
        return [
            (f"PARTNERDESK_{setting.name.upper()}", setting.metadata["env_default"])
            for setting in fields(cls)
        ]
