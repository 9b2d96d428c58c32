"""Settings: one typed object, read from ``PLANDECK_*`` environment variables and ``.env``.

Sections are their own ``BaseSettings`` classes so that their variables keep flat,
readable names (``PLANDECK_DATABASE_URL``, ``PLANDECK_DATABASE_POOL_SIZE``).
"""

from __future__ import annotations

import enum
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

DEFAULT_SECRET_KEY = "change-me-plandeck-development-secret"
MIN_SECRET_KEY_LENGTH = 32


class Environment(enum.StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class ConfigurationError(Exception):
    """Settings that plandeck refuses to start with; the message says what to fix."""


def _config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(
        env_prefix=prefix, env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )


_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
_DIALECT_ALIASES = {
    "sqlite": "sqlite",
    "postgresql": "postgresql",
    "postgres": "postgresql",
}


def _redact(raw: str) -> str:
    """The URL without its password, for messages."""
    return re.sub(r"(//[^/:@]*:)[^/@]*@", r"\1***@", raw.strip())


def to_async_url(raw: str) -> URL:
    """Map a plain ``sqlite:///path`` or ``postgresql://user@host/db`` URL to our async driver.

    Users never name a driver; one they do name is replaced by ours, since plandeck
    only runs on aiosqlite and asyncpg.
    """
    # Imported here: the CLI's remote commands load the settings, not the database stack.
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(raw.strip())
    except (ArgumentError, ValueError) as exc:  # ValueError: a port that is not a number
        raise ValueError(f"not a database URL: {_redact(raw)!r}") from exc
    dialect = _DIALECT_ALIASES.get(url.drivername.split("+", 1)[0])
    if dialect is None:
        raise ValueError(
            f"unsupported database {url.drivername!r}: use sqlite:///PATH or postgresql://USER@HOST/DB"
        )
    url = url.set(drivername=_ASYNC_DRIVERS[dialect])
    if dialect == "postgresql" and "sslmode" in url.query:
        # asyncpg spells libpq's sslmode as ssl.
        query = dict(url.query)
        query["ssl"] = query.pop("sslmode")
        url = url.set(query=query)
    return url


class DatabaseSettings(BaseSettings):
    model_config = _config("PLANDECK_DATABASE_")

    url: str | None = Field(
        default=None,
        description="sqlite:///PATH or postgresql://USER@HOST/DB; default: SQLite in the data directory.",
    )
    echo: bool = False
    # Per app process. A request holds its connection from its first query to its commit,
    # so the pool should cover the requests one process serves at once: overflow
    # connections are closed as soon as they are returned, and opening one costs PostgreSQL
    # a new backend. Processes x (pool_size + max_overflow) must stay below the server's
    # max_connections (100 by default).
    pool_size: Annotated[int, Field(ge=1, le=200)] = 20
    max_overflow: Annotated[int, Field(ge=0, le=200)] = 5
    pool_timeout: Annotated[float, Field(gt=0)] = 30.0
    sqlite_busy_timeout_ms: Annotated[int, Field(ge=0)] = 10_000

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        to_async_url(value)  # raises ValueError with a readable message
        return value.strip()


class AuthSettings(BaseSettings):
    model_config = _config("PLANDECK_AUTH_")

    registration: Literal["open", "invite"] = Field(
        default="open",
        description="open: anyone may sign up; invite: only an admin creates accounts.",
    )
    access_token_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 15
    refresh_token_days: Annotated[int, Field(ge=1, le=365)] = 30
    session_days: Annotated[int, Field(ge=1, le=365)] = 14
    cookie_secure: bool | None = Field(
        default=None, description="Secure session cookies; default: on in production."
    )


class RateLimitSettings(BaseSettings):
    model_config = _config("PLANDECK_RATE_LIMIT_")

    enabled: bool = True
    # `limits` notation: "N per second/minute/hour", several separated by ';'.
    per_ip: str = "600 per minute"
    per_user: str = "1200 per minute"
    login: str = "10 per minute;50 per hour"


class HttpSettings(BaseSettings):
    model_config = _config("PLANDECK_HTTP_")

    max_body_bytes: Annotated[int, Field(ge=1024)] = 10 * 1024 * 1024


class Settings(BaseSettings):
    model_config = _config("PLANDECK_")

    environment: Environment = Environment.DEVELOPMENT
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET_KEY)
    data_dir: Path = Path("data")
    base_url: str = "http://127.0.0.1:8000"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    redis_url: str | None = None
    trash_retention_days: Annotated[int, Field(ge=0)] = 30
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("redis_url")
    @classmethod
    def _empty_redis_is_none(cls, value: str | None) -> str | None:
        return value or None

    @model_validator(mode="after")
    def _production_needs_a_real_secret(self) -> Settings:
        if self.environment is Environment.PRODUCTION:
            if os.environ.get("PLANDECK_PASSWORD_HASHING", "default") != "default":
                raise ValueError(
                    "PLANDECK_PASSWORD_HASHING is for test suites only; unset it in production"
                )
            key = self.secret_key.get_secret_value().strip()
            if not key or key == DEFAULT_SECRET_KEY:
                raise ValueError(
                    "PLANDECK_SECRET_KEY must be set to a random value in production "
                    '(for example: python -c "import secrets; print(secrets.token_urlsafe(48))")'
                )
            if len(key) < MIN_SECRET_KEY_LENGTH:
                raise ValueError(
                    f"PLANDECK_SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters in production"
                )
        return self

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION

    @property
    def secure_cookies(self) -> bool:
        if self.auth.cookie_secure is not None:
            return self.auth.cookie_secure
        return self.is_production

    @property
    def database_url(self) -> URL:
        """The async SQLAlchemy URL; the embedded SQLite file when none is configured."""
        if self.database.url:
            return to_async_url(self.database.url)
        return to_async_url(f"sqlite:///{(self.data_dir / 'plandeck.sqlite3').resolve()}")


def _problems(exc: ValidationError, prefix: str) -> list[str]:
    problems = []
    for error in exc.errors():
        where = prefix + "_".join(str(part) for part in error["loc"]).upper()
        message = str(error["msg"]).removeprefix("Value error, ")
        problems.append(message if "PLANDECK_" in message else f"{where}: {message}")
    return problems


def load_settings() -> Settings:
    """Build settings, reporting every bad variable at once in one ConfigurationError."""
    problems: list[str] = []
    sections: dict[str, Any] = {}
    for name, section, prefix in (
        ("database", DatabaseSettings, "PLANDECK_DATABASE_"),
        ("auth", AuthSettings, "PLANDECK_AUTH_"),
        ("rate_limit", RateLimitSettings, "PLANDECK_RATE_LIMIT_"),
        ("http", HttpSettings, "PLANDECK_HTTP_"),
    ):
        try:
            sections[name] = section()
        except ValidationError as exc:
            problems += _problems(exc, prefix)
            sections[name] = section.model_construct()
    try:
        settings = Settings(**sections)
    except ValidationError as exc:
        problems += _problems(exc, "PLANDECK_")
    if problems:
        raise ConfigurationError("invalid settings: " + "; ".join(problems))
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
