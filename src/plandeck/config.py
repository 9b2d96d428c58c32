"""Settings: one typed object, read from ``PLANDECK_*`` environment variables and ``.env``.

Sections are their own ``BaseSettings`` classes so that their variables keep flat,
readable names (``PLANDECK_DATABASE_URL``, ``PLANDECK_DATABASE_POOL_SIZE``).
"""

from __future__ import annotations

import enum
import ipaddress
import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

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


def _split_list(value: object) -> object:
    """A list variable as a JSON array or, as operators write it, comma-separated."""
    if not isinstance(value, str):
        return value
    if value.strip().startswith("["):
        return json.loads(value)
    return [item.strip() for item in value.split(",") if item.strip()]


class ServerSettings(BaseSettings):
    """How ``plandeck serve --production`` runs uvicorn, and the hosts it answers for."""

    model_config = _config("PLANDECK_SERVER_")

    workers: Annotated[int | None, Field(ge=1, le=64)] = Field(
        default=None,
        description="App processes; default: 2 x CPUs + 1 (at most 8), or 1 on SQLite.",
    )
    graceful_timeout_seconds: Annotated[int, Field(ge=0)] = 30
    # Longer than nginx's idle upstream keep-alive (60 s), so that the proxy, not the app,
    # closes an idle connection and never sends a request on one the app is closing.
    keepalive_seconds: Annotated[int, Field(ge=1)] = 65
    # Concurrent connections and requests per process beyond which uvicorn answers 503.
    limit_concurrency: Annotated[int | None, Field(ge=1)] = None
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["127.0.0.1", "::1"],
        description="Addresses or networks whose X-Forwarded-For/-Proto are believed; * for any.",
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Host names the app answers for (required in production); *.example.com allowed.",
    )
    allow_sqlite: bool = False

    @field_validator("trusted_proxies", "allowed_hosts", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return _split_list(value)

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses_or_networks(cls, value: list[str]) -> list[str]:
        # uvicorn would take a typo as a literal that never matches, and trust nobody silently.
        for entry in value:
            if entry != "*":
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError:
                    raise ValueError(
                        f"{entry!r} is not an IP address, a network such as 10.0.0.0/8, or *"
                    ) from None
        return value

    def worker_count(self, *, sqlite: bool) -> int:
        if self.workers is not None:
            return self.workers
        if sqlite:
            return 1  # one writer: more processes would only queue on SQLite's lock
        return min(2 * (os.cpu_count() or 1) + 1, 8)


class MetricsSettings(BaseSettings):
    """Who may read ``/metrics``: a bearer token, or clients from the listed networks."""

    model_config = _config("PLANDECK_METRICS_")

    token: SecretStr | None = Field(
        default=None, description="Scrapers send it as Authorization: Bearer TOKEN."
    )
    allowed_addresses: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["127.0.0.1/32", "::1/128"],
        description="Client addresses or networks that may scrape without the token.",
    )

    @field_validator("token", mode="before")
    @classmethod
    def _empty_token_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("allowed_addresses", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return _split_list(value)

    @field_validator("allowed_addresses")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"{entry!r} is not an IP address or a network such as 10.0.0.0/8"
                ) from None
        return value


class Settings(BaseSettings):
    model_config = _config("PLANDECK_")

    environment: Environment = Environment.DEVELOPMENT
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET_KEY)
    data_dir: Path = Path("data")
    base_url: str = "http://127.0.0.1:8000"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["json", "console"] | None = Field(
        default=None, description="json or console; default: json in production, else console."
    )
    redis_url: str | None = None
    trash_retention_days: Annotated[int, Field(ge=0)] = 30
    sentry_dsn: SecretStr | None = Field(
        default=None, description="Send unhandled errors and sampled traces to this Sentry project."
    )
    sentry_traces_sample_rate: Annotated[float, Field(ge=0, le=1)] = 0.1
    # A route that always fails, for the error-tracking tests; refused in production.
    debug_error_route: bool = False
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("redis_url")
    @classmethod
    def _empty_redis_is_none(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("sentry_dsn", mode="before")
    @classmethod
    def _check_sentry_dsn(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        if not value.strip():
            return None
        from sentry_sdk.utils import BadDsn, Dsn

        try:
            Dsn(value.strip())
        except BadDsn as exc:  # the message names the part, never the key
            raise ValueError(
                f"not a Sentry DSN ({exc}); expected https://KEY@HOST/PROJECT"
            ) from exc
        return value.strip()

    @model_validator(mode="after")
    def _production_needs_a_real_secret(self) -> Settings:
        if self.environment is Environment.PRODUCTION and (problems := self._production_problems()):
            # One error naming every problem, so the operator fixes them in one round.
            raise ValueError("; ".join(problems))
        return self

    def _production_problems(self) -> list[str]:
        problems = []
        if os.environ.get("PLANDECK_PASSWORD_HASHING", "default") != "default":
            problems.append(
                "PLANDECK_PASSWORD_HASHING is for test suites only; unset it in production"
            )
        key = self.secret_key.get_secret_value().strip()
        if not key or key == DEFAULT_SECRET_KEY:
            problems.append(
                "PLANDECK_SECRET_KEY must be set to a random value in production "
                '(for example: python -c "import secrets; print(secrets.token_urlsafe(48))")'
            )
        elif len(key) < MIN_SECRET_KEY_LENGTH:
            problems.append(
                f"PLANDECK_SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters in production"
            )
        if self.uses_sqlite and not self.server.allow_sqlite:
            problems.append(
                "PLANDECK_DATABASE_URL must point to PostgreSQL in production "
                "(or set PLANDECK_SERVER_ALLOW_SQLITE=true for a single-process install)"
            )
        if self.auth.cookie_secure is False:
            problems.append(
                "PLANDECK_AUTH_COOKIE_SECURE=false would send session cookies over plain HTTP: "
                "unset it in production and serve plandeck over HTTPS"
            )
        if not self.server.allowed_hosts:
            problems.append(
                "PLANDECK_SERVER_ALLOWED_HOSTS must list the host names plandeck is served "
                "under in production (for example: plan.example.com,www.plan.example.com)"
            )
        if self.debug_error_route:
            problems.append(
                "PLANDECK_DEBUG_ERROR_ROUTE is for test suites only; unset it in production"
            )
        return problems

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION

    @property
    def uses_sqlite(self) -> bool:
        """The embedded or a configured SQLite database (no driver import needed to tell)."""
        if not self.database.url:
            return True
        scheme = self.database.url.split(":", 1)[0].split("+", 1)[0]
        return scheme.lower() == "sqlite"

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
        ("server", ServerSettings, "PLANDECK_SERVER_"),
        ("metrics", MetricsSettings, "PLANDECK_METRICS_"),
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
