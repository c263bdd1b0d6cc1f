"""Service settings, read from the environment (prefix REFLEXE_) or a .env file."""

import re
from functools import lru_cache
from typing import Literal

from limits import parse_many
from limits.errors import ConfigurationError
from limits.storage import storage_from_string
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

ENV_PREFIX = "REFLEXE_"
SECRET_KEY_MIN_LENGTH = 32
# Rate-limit storages counted in this process by app.auth.window rather than by `limits`.
MEMORY_STORAGES = frozenset({"memory://", "async+memory://"})


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./data/reflexe.db",
        description="SQLAlchemy URL: sqlite:///path or postgresql+psycopg://user@host/db.",
    )
    host: str = Field(default="127.0.0.1", description="Address uvicorn binds to.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port uvicorn listens on.")
    log_level: Literal["critical", "error", "warning", "info", "debug"] = Field(
        default="info", description="Log level of the service and uvicorn."
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="`text`: uvicorn's logs as they are; `json`: one JSON object a line, "
        "an access line per request with its id, key id, route, status and duration.",
    )
    metrics_enabled: bool = Field(
        default=True,
        description="Count requests, decisions and the rest, and serve them at GET /metrics.",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="A bearer token that may read GET /metrics without an API key (a "
        "scraper's; 32+ characters). Admin and auditor keys may read it anyway.",
    )
    max_header_bytes: int = Field(
        default=16 * 1024,
        ge=1024,
        description="Largest request line and headers `reflexe serve` reads (431 beyond).",
    )
    max_body_bytes: int = Field(
        default=64 * 1024, ge=1024, description="Largest request body accepted (413 beyond)."
    )
    max_batch_body_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=1024,
        description="Largest request body accepted by POST /evaluate/batch (413 beyond).",
    )
    max_criteria_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Largest request body accepted under /criteria (413 beyond): a set's "
        "versions carry their test cases.",
    )
    max_evaluation_cost: int = Field(
        default=1_000_000,
        ge=10_000,
        description="Cost units one evaluation may spend (the characters its rules read; "
        "see the README); 422 beyond.",
    )
    max_request_cost: int = Field(
        default=10_000_000,
        ge=10_000,
        description="Cost units one request may spend, a batch's items together; 413 beyond.",
    )
    impact_sync_limit: int = Field(
        default=20_000,
        ge=0,
        description="Decisions an impact report replays while the caller waits; a larger "
        "window is a job to poll (202).",
    )
    max_concurrent_batches: int = Field(
        default=4,
        ge=1,
        description="Batches each process runs at once; beyond, 503 with Retry-After.",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Origins allowed to call the API from a browser (JSON list); none by default.",
    )
    migrate_on_start: bool = Field(
        default=True, description="Apply pending migrations and seed the default set at start-up."
    )
    db_pool_size: int = Field(default=5, ge=1, description="PostgreSQL connection pool size.")
    db_max_overflow: int = Field(
        default=5, ge=0, description="Connections allowed above the pool size under bursts."
    )
    db_pool_timeout: float = Field(
        default=5.0,
        gt=0,
        description="Seconds to wait for a pooled connection, and for PostgreSQL to open a "
        "new one (whole seconds, 2 at least).",
    )
    sqlite_busy_timeout_ms: int = Field(
        default=5000, ge=0, description="How long SQLite waits for a lock before failing."
    )
    sqlite_synchronous: Literal["FULL", "NORMAL"] = Field(
        default="FULL",
        description="SQLite's `synchronous` mode. FULL: every acknowledged decision survives "
        "a power cut. NORMAL: faster, but the last commits may be lost on a power cut "
        "(never on a crash of the process).",
    )
    dev_mode: bool = Field(
        default=False,
        description="Local development mode: requests from loopback without a key act as "
        "admin, and the server only binds to loopback. Never in production.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Secret of the keyed hash that API keys are stored as (32+ characters, "
        "the same on every replica). Required outside development mode.",
    )
    key_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="How long a process trusts what it read of an API key: a key revoked "
        "through another process stops working within this delay.",
    )
    rate_limit: str = Field(
        default="1200/minute",
        description="Requests allowed per API key, in the `limits` notation "
        '("100/second;5000/hour"); empty to disable.',
    )
    auth_failure_limit: str = Field(
        default="30/minute",
        description="Failed authentications allowed per client address (`limits` notation); "
        "beyond, 429 until the window frees. Empty to disable.",
    )
    rate_limit_storage: str = Field(
        default="async+memory://",
        description="Where rate-limit counters live: async+memory:// (or memory://: each "
        "process counts alone) or async+redis://host:6379 (shared by every replica).",
    )

    privacy_default: Literal["full", "minimal"] = Field(
        default="full",
        description="The privacy of a criteria set created without one: `full` keeps a "
        "decision's inputs as given, `minimal` no attributes, no name and the ref only as a "
        "keyed hash (see the README's Privacy section).",
    )
    retention_days: int | None = Field(
        default=None,
        ge=1,
        le=36_500,
        description="Days a decision is kept, with its inputs and verdicts, before the daily "
        "purge removes it; a set's own `retention_days` overrides it. Unset: kept for ever.",
    )
    purge_chunk: int = Field(
        default=500,
        ge=1,
        le=10_000,
        description="Decisions the purge removes per transaction, so that evaluations are "
        "never blocked for long.",
    )

    webhook_allow_private_targets: bool = Field(
        default=False,
        description="Allow webhook targets on loopback, link-local and private addresses "
        "(internal deployments, tests); refused by default.",
    )
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, description="How long a webhook attempt waits for an answer."
    )
    webhook_retry_schedule: list[float] = Field(
        default=[5, 300, 1800, 7200, 18000, 36000, 36000],
        min_length=1,
        max_length=30,
        description="Seconds before each retry of a failed webhook delivery (JSON list), each "
        "drawn within ±20%; by default 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: 27 h in all.",
    )
    webhook_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="How often each process looks for due webhook deliveries (it is also woken "
        "when it stores an event itself).",
    )
    webhook_concurrency: int = Field(
        default=4,
        ge=1,
        le=32,
        description="How many deliveries of one subscription each process sends at once, "
        "oldest first (payloads carry `sequence` to put them back in order); 1 sends them one "
        "at a time, in order.",
    )
    webhook_workers: bool = Field(
        default=True,
        description="Whether this process sends webhook deliveries (every process may: each "
        "delivery is claimed by one).",
    )
    public_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        description="The service's public base URL (https://reflexe.example.com): webhook "
        "payloads' links are made absolute with it; relative paths otherwise.",
    )

    @field_validator("secret_key", "metrics_token", "retention_days", "public_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """`REFLEXE_RETENTION_DAYS=` (a .env's or a compose file's blank) is no value at all.
        Only for the settings that may be unset: an empty REFLEXE_RATE_LIMIT disables it."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("secret_key", "metrics_token")
    @classmethod
    def _check_secret_key(cls, value: SecretStr | None) -> SecretStr | None:
        # Said here rather than with min_length, whose message would tell the secret's length.
        if value is not None and len(value.get_secret_value()) < SECRET_KEY_MIN_LENGTH:
            raise ValueError(f"must hold at least {SECRET_KEY_MIN_LENGTH} characters")
        return value

    @field_validator("webhook_retry_schedule")
    @classmethod
    def _check_schedule(cls, value: list[float]) -> list[float]:
        if any(not 0 < delay <= 7 * 86_400 for delay in value):
            raise ValueError("each delay must be more than 0 and at most 604800 seconds")
        return value

    @field_validator("rate_limit", "auth_failure_limit")
    @classmethod
    def _check_rate_limit(cls, value: str) -> str:
        if value.strip():
            parse_many(value)  # raises ValueError naming the bad part
        return value.strip()

    @field_validator("rate_limit_storage")
    @classmethod
    def _check_rate_limit_storage(cls, value: str) -> str:
        if value in MEMORY_STORAGES:
            return value
        if not value.startswith("async+"):
            raise ValueError("use an async storage URI, such as async+memory:// or async+redis://")
        try:
            storage_from_string(value)
        except ConfigurationError as exc:
            raise ValueError(str(exc)) from exc
        return value


class InvalidSettings(ValueError):
    """Settings that cannot be used: one problem per faulty variable, never its value."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@lru_cache
def get_settings() -> Settings:
    """The settings of the environment; InvalidSettings names each faulty variable."""
    try:
        return Settings()
    except ValidationError as exc:
        raise InvalidSettings([_problem(error) for error in exc.errors()]) from exc
    except SettingsError as exc:  # a list or other JSON value that does not parse
        raise InvalidSettings([_unparsed(exc)]) from exc


def variable_of(field: str) -> str:
    """The environment variable that sets `field`."""
    return f"{ENV_PREFIX}{field}".upper()


def _problem(error: ErrorDetails) -> str:
    field, *within = error["loc"]
    where = "".join(f"[{part}]" for part in within)
    message = error["msg"].removeprefix("Value error, ")
    return f"{variable_of(str(field))}{where}: {message[:1].lower()}{message[1:]}"


def _unparsed(exc: SettingsError) -> str:
    found = re.search(r'field "(\w+)"', str(exc))
    if found is None:
        return str(exc)
    detail = f" ({exc.__cause__})" if exc.__cause__ else ""
    return f"{variable_of(found[1])}: must be JSON{detail}"
