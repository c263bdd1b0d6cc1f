"""Service settings, read from the environment (prefix REFLEXE_) or a .env file."""

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REFLEXE_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./data/reflexe.db",
        description="SQLAlchemy URL: sqlite:///path or postgresql+psycopg://user@host/db.",
    )
    host: str = Field(default="127.0.0.1", description="Address uvicorn binds to.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port uvicorn listens on.")
    log_level: Literal["critical", "error", "warning", "info", "debug"] = Field(
        default="info", description="Log level of the service and uvicorn."
    )
    max_body_bytes: int = Field(
        default=64 * 1024, ge=1024, description="Largest request body accepted (413 beyond)."
    )
    max_batch_body_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=1024,
        description="Largest request body accepted by POST /evaluate/batch (413 beyond).",
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


@lru_cache
def get_settings() -> Settings:
    return Settings()
