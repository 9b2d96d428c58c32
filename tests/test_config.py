from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

from plandeck.config import (
    DEFAULT_SECRET_KEY,
    MIN_SECRET_KEY_LENGTH,
    ConfigurationError,
    Environment,
    Settings,
    load_settings,
    to_async_url,
)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No PLANDECK_* variable of the caller's shell and no stray .env reach the settings."""
    for name in list(os.environ):
        if name.upper().startswith("PLANDECK_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def _production_ready(monkeypatch: pytest.MonkeyPatch) -> None:
    """Everything production requires, so that a test can take one thing away."""
    monkeypatch.setenv("PLANDECK_ENVIRONMENT", "production")
    monkeypatch.setenv("PLANDECK_SECRET_KEY", secrets.token_urlsafe(48))
    monkeypatch.setenv("PLANDECK_DATABASE_URL", "postgresql://plandeck@db.internal/plandeck")
    monkeypatch.setenv("PLANDECK_SERVER_ALLOWED_HOSTS", "plan.example.com")


class TestToAsyncUrl:
    def test_sqlite_relative_path(self) -> None:
        url = to_async_url("sqlite:///data/plandeck.sqlite3")
        assert (url.drivername, url.database) == ("sqlite+aiosqlite", "data/plandeck.sqlite3")

    def test_sqlite_absolute_path(self) -> None:
        url = to_async_url("sqlite:////srv/plandeck/db.sqlite3")
        assert (url.drivername, url.database) == ("sqlite+aiosqlite", "/srv/plandeck/db.sqlite3")

    def test_postgresql_gets_asyncpg(self) -> None:
        url = to_async_url("postgresql://plandeck@db.internal/plandeck")
        assert (url.drivername, url.username, url.host, url.database) == (
            "postgresql+asyncpg",
            "plandeck",
            "db.internal",
            "plandeck",
        )

    def test_postgres_alias_gets_asyncpg(self) -> None:
        assert to_async_url("postgres://u@h/d").drivername == "postgresql+asyncpg"

    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("postgresql+psycopg2://u@h/d", "postgresql+asyncpg"),
            ("postgresql+psycopg://u@h/d", "postgresql+asyncpg"),
            ("sqlite+pysqlite:///x.db", "sqlite+aiosqlite"),
        ],
    )
    def test_a_named_driver_is_replaced_by_ours(self, raw: str, expected: str) -> None:
        assert to_async_url(raw).drivername == expected

    def test_keeps_host_port_user_password_database(self) -> None:
        url = to_async_url("postgres://alice:s3cr%40t@db.example.com:6543/sprints")
        assert (url.username, url.password, url.host, url.port, url.database) == (
            "alice",
            "s3cr@t",
            "db.example.com",
            6543,
            "sprints",
        )

    def test_sslmode_becomes_ssl(self) -> None:
        url = to_async_url("postgresql://u@h/d?sslmode=require&application_name=plandeck")
        assert dict(url.query) == {"ssl": "require", "application_name": "plandeck"}

    def test_sqlite_query_is_left_alone(self) -> None:
        assert dict(to_async_url("sqlite:///x.db?mode=ro").query) == {"mode": "ro"}

    def test_surrounding_whitespace_is_ignored(self) -> None:
        url = to_async_url("  postgresql://u@h/d\n")
        assert (url.drivername, url.host, url.database) == ("postgresql+asyncpg", "h", "d")

    @pytest.mark.parametrize(
        "raw", ["mysql://u@h/d", "mysql+pymysql://u@h/d", "oracle://u@h/d", "http://example.com/"]
    )
    def test_unsupported_database_is_refused(self, raw: str) -> None:
        with pytest.raises(
            ValueError, match=r"unsupported database .*use sqlite:///PATH or postgresql://"
        ):
            to_async_url(raw)

    @pytest.mark.parametrize(
        "raw",
        ["", "   ", "garbage", "localhost:5432/plandeck", "postgresql://u@h:notaport/d"],
    )
    def test_garbage_is_refused_with_a_readable_message(self, raw: str) -> None:
        with pytest.raises(ValueError, match="not a database URL"):
            to_async_url(raw)


class TestSettings:
    def test_defaults(self) -> None:
        settings = Settings()
        assert settings.environment is Environment.DEVELOPMENT
        assert settings.is_production is False
        assert settings.secret_key.get_secret_value() == DEFAULT_SECRET_KEY
        assert (settings.log_level, settings.redis_url, settings.database.url) == (
            "INFO",
            None,
            None,
        )
        assert settings.database.pool_size == 20

    def test_reads_plandeck_variables(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.setenv("PLANDECK_ENVIRONMENT", "production")
        monkeypatch.setenv("PLANDECK_DATABASE_URL", "postgresql://plandeck@db/plandeck")
        monkeypatch.setenv("PLANDECK_SERVER_ALLOWED_HOSTS", "plan.example.com")
        monkeypatch.setenv("PLANDECK_SECRET_KEY", "k" * 40)
        monkeypatch.setenv("PLANDECK_DATA_DIR", str(tmp_path / "store"))
        monkeypatch.setenv("PLANDECK_BASE_URL", "https://plan.example.com")
        monkeypatch.setenv("PLANDECK_LOG_LEVEL", "debug")
        monkeypatch.setenv("PLANDECK_REDIS_URL", "redis://cache:6379/0")
        settings = Settings()
        assert settings.is_production is True
        assert settings.secret_key.get_secret_value() == "k" * 40
        assert settings.data_dir == tmp_path / "store"
        assert settings.base_url == "https://plan.example.com"
        assert settings.log_level == "DEBUG"
        assert settings.redis_url == "redis://cache:6379/0"

    def test_secret_key_is_hidden_in_repr(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PLANDECK_SECRET_KEY", "do-not-print-" + "x" * 30)
        assert "do-not-print" not in repr(Settings())

    def test_empty_redis_url_is_none(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PLANDECK_REDIS_URL", "")
        assert Settings().redis_url is None

    def test_database_variables_reach_the_database_section(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PLANDECK_DATABASE_URL", "postgres://app:pw@db:5433/plans")
        monkeypatch.setenv("PLANDECK_DATABASE_POOL_SIZE", "25")
        monkeypatch.setenv("PLANDECK_DATABASE_ECHO", "true")
        settings = Settings()
        assert settings.database.url == "postgres://app:pw@db:5433/plans"
        assert (settings.database.pool_size, settings.database.echo) == (25, True)
        url = settings.database_url
        assert (url.drivername, url.username, url.password, url.host, url.port, url.database) == (
            "postgresql+asyncpg",
            "app",
            "pw",
            "db",
            5433,
            "plans",
        )

    def test_default_database_is_sqlite_in_data_dir(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.setenv("PLANDECK_DATA_DIR", str(tmp_path / "store"))
        url = Settings().database_url
        assert url.drivername == "sqlite+aiosqlite"
        assert url.database == str(tmp_path / "store" / "plandeck.sqlite3")

    def test_default_data_dir_is_resolved_against_working_directory(self, tmp_path: Path) -> None:
        url = Settings().database_url
        assert url.database == str(tmp_path.resolve() / "data" / "plandeck.sqlite3")

    def test_empty_database_url_means_the_default(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PLANDECK_DATABASE_URL", "  ")
        settings = Settings()
        assert settings.database.url is None
        assert settings.database_url.drivername == "sqlite+aiosqlite"

    def test_reads_dot_env_in_working_directory(self, tmp_path: Path) -> None:
        (tmp_path / ".env").write_text(
            "PLANDECK_LOG_LEVEL=warning\nPLANDECK_DATABASE_POOL_SIZE=7\n", encoding="utf-8"
        )
        settings = Settings()
        assert (settings.log_level, settings.database.pool_size) == ("WARNING", 7)

    def test_environment_variable_wins_over_dot_env(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        (tmp_path / ".env").write_text("PLANDECK_LOG_LEVEL=warning\n", encoding="utf-8")
        monkeypatch.setenv("PLANDECK_LOG_LEVEL", "error")
        assert Settings().log_level == "ERROR"


class TestLoadSettings:
    def test_development_accepts_the_default_secret(self) -> None:
        assert load_settings().secret_key.get_secret_value() == DEFAULT_SECRET_KEY

    def test_production_refuses_a_missing_secret(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PLANDECK_ENVIRONMENT", "production")
        with pytest.raises(ConfigurationError, match="PLANDECK_SECRET_KEY must be set"):
            load_settings()

    @pytest.mark.parametrize("secret", ["", DEFAULT_SECRET_KEY], ids=["empty", "default"])
    def test_production_refuses_an_empty_or_default_secret(
        self, monkeypatch: pytest.MonkeyPatch, secret: str
    ) -> None:
        monkeypatch.setenv("PLANDECK_ENVIRONMENT", "production")
        monkeypatch.setenv("PLANDECK_SECRET_KEY", secret)
        with pytest.raises(ConfigurationError, match="PLANDECK_SECRET_KEY must be set"):
            load_settings()

    def test_production_refuses_a_short_secret_without_echoing_it(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        short = secrets.token_hex(MIN_SECRET_KEY_LENGTH // 2)[:-1]
        monkeypatch.setenv("PLANDECK_ENVIRONMENT", "production")
        monkeypatch.setenv("PLANDECK_SECRET_KEY", short)
        with pytest.raises(
            ConfigurationError, match="PLANDECK_SECRET_KEY must be at least 32 characters"
        ) as info:
            load_settings()
        assert short not in str(info.value)

    def test_production_accepts_a_secret_of_minimum_length(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        _production_ready(monkeypatch)
        monkeypatch.setenv("PLANDECK_SECRET_KEY", "s" * MIN_SECRET_KEY_LENGTH)
        assert load_settings().is_production is True

    def test_production_accepts_a_long_random_secret(self, monkeypatch: pytest.MonkeyPatch) -> None:
        secret = secrets.token_urlsafe(48)
        _production_ready(monkeypatch)
        monkeypatch.setenv("PLANDECK_SECRET_KEY", secret)
        settings = load_settings()
        assert settings.is_production is True
        assert settings.secret_key.get_secret_value() == secret

    def test_bad_log_level_names_the_variable(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PLANDECK_LOG_LEVEL", "chatty")
        with pytest.raises(ConfigurationError, match=r"^invalid settings: PLANDECK_LOG_LEVEL: "):
            load_settings()

    def test_bad_environment_names_the_variable(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PLANDECK_ENVIRONMENT", "staging")
        with pytest.raises(ConfigurationError, match=r"PLANDECK_ENVIRONMENT: .*'production'"):
            load_settings()

    def test_unsupported_database_url_names_the_variable(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PLANDECK_DATABASE_URL", "mysql://u@h/d")
        with pytest.raises(
            ConfigurationError, match="PLANDECK_DATABASE_URL: unsupported database 'mysql'"
        ):
            load_settings()

    def test_garbage_database_url_names_the_variable(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PLANDECK_DATABASE_URL", "definitely not a url")
        with pytest.raises(ConfigurationError, match="PLANDECK_DATABASE_URL: not a database URL"):
            load_settings()

    @pytest.mark.parametrize("value", ["0", "many", "201"])
    def test_bad_pool_size_names_the_variable(
        self, monkeypatch: pytest.MonkeyPatch, value: str
    ) -> None:
        monkeypatch.setenv("PLANDECK_DATABASE_POOL_SIZE", value)
        with pytest.raises(ConfigurationError, match="PLANDECK_DATABASE_POOL_SIZE: "):
            load_settings()

    def test_configuration_error_hides_the_pydantic_traceback(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PLANDECK_LOG_LEVEL", "chatty")
        with pytest.raises(ConfigurationError) as info:
            load_settings()
        assert info.value.__cause__ is None
        assert info.value.__context__ is None

    def test_every_bad_variable_is_reported_at_once(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PLANDECK_DATABASE_URL", "mysql://u@h/d")
        monkeypatch.setenv("PLANDECK_LOG_LEVEL", "chatty")
        with pytest.raises(ConfigurationError) as info:
            load_settings()
        assert "PLANDECK_DATABASE_URL: unsupported database" in str(info.value)
        assert "PLANDECK_LOG_LEVEL: " in str(info.value)

    def test_production_refuses_a_secret_of_spaces(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PLANDECK_ENVIRONMENT", "production")
        monkeypatch.setenv("PLANDECK_SECRET_KEY", " " * 64)
        with pytest.raises(ConfigurationError, match="PLANDECK_SECRET_KEY must be set"):
            load_settings()

    def test_unparsable_url_does_not_echo_its_password(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PLANDECK_DATABASE_URL", "postgresql://ada:hunter2secret@db:port/x")
        with pytest.raises(ConfigurationError, match="not a database URL") as info:
            load_settings()
        assert "hunter2secret" not in str(info.value)
        assert "ada:***@db" in str(info.value)


def test_production_refuses_fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANDECK_ENVIRONMENT", "production")
    monkeypatch.setenv("PLANDECK_SECRET_KEY", "s" * 48)
    monkeypatch.setenv("PLANDECK_PASSWORD_HASHING", "fast")
    with pytest.raises(ConfigurationError, match="PLANDECK_PASSWORD_HASHING"):
        load_settings()


class TestProductionRefusals:
    """Each thing production refuses, on its own, with a message that says what to do."""

    def test_a_complete_production_configuration_is_accepted(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        _production_ready(monkeypatch)
        settings = load_settings()
        assert settings.is_production
        assert settings.secure_cookies is True
        assert settings.server.allowed_hosts == ["plan.example.com"]

    def test_default_secret(self, monkeypatch: pytest.MonkeyPatch) -> None:
        _production_ready(monkeypatch)
        monkeypatch.setenv("PLANDECK_SECRET_KEY", DEFAULT_SECRET_KEY)
        with pytest.raises(
            ConfigurationError,
            match=r"^invalid settings: PLANDECK_SECRET_KEY must be set to a random value in production",
        ):
            load_settings()

    def test_short_secret(self, monkeypatch: pytest.MonkeyPatch) -> None:
        _production_ready(monkeypatch)
        monkeypatch.setenv("PLANDECK_SECRET_KEY", "s" * (MIN_SECRET_KEY_LENGTH - 1))
        with pytest.raises(
            ConfigurationError,
            match=r"^invalid settings: PLANDECK_SECRET_KEY must be at least 32 characters in production$",
        ):
            load_settings()

    def test_embedded_sqlite(self, monkeypatch: pytest.MonkeyPatch) -> None:
        _production_ready(monkeypatch)
        monkeypatch.delenv("PLANDECK_DATABASE_URL")
        with pytest.raises(
            ConfigurationError,
            match=r"^invalid settings: PLANDECK_DATABASE_URL must point to PostgreSQL in production "
            r"\(or set PLANDECK_SERVER_ALLOW_SQLITE=true",
        ):
            load_settings()

    def test_configured_sqlite(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        _production_ready(monkeypatch)
        monkeypatch.setenv("PLANDECK_DATABASE_URL", f"SQLite+pysqlite:///{tmp_path}/x.db")
        with pytest.raises(ConfigurationError, match="must point to PostgreSQL in production"):
            load_settings()

    def test_sqlite_when_explicitly_allowed(self, monkeypatch: pytest.MonkeyPatch) -> None:
        _production_ready(monkeypatch)
        monkeypatch.delenv("PLANDECK_DATABASE_URL")
        monkeypatch.setenv("PLANDECK_SERVER_ALLOW_SQLITE", "true")
        settings = load_settings()
        assert (settings.uses_sqlite, settings.server.worker_count(sqlite=True)) == (True, 1)

    def test_insecure_cookies(self, monkeypatch: pytest.MonkeyPatch) -> None:
        _production_ready(monkeypatch)
        monkeypatch.setenv("PLANDECK_AUTH_COOKIE_SECURE", "false")
        with pytest.raises(
            ConfigurationError,
            match=r"^invalid settings: PLANDECK_AUTH_COOKIE_SECURE=false would send session "
            "cookies over plain HTTP: unset it in production",
        ):
            load_settings()

    def test_missing_allowed_hosts(self, monkeypatch: pytest.MonkeyPatch) -> None:
        _production_ready(monkeypatch)
        monkeypatch.delenv("PLANDECK_SERVER_ALLOWED_HOSTS")
        with pytest.raises(
            ConfigurationError,
            match=r"^invalid settings: PLANDECK_SERVER_ALLOWED_HOSTS must list the host names",
        ):
            load_settings()

    def test_empty_allowed_hosts(self, monkeypatch: pytest.MonkeyPatch) -> None:
        _production_ready(monkeypatch)
        monkeypatch.setenv("PLANDECK_SERVER_ALLOWED_HOSTS", " , ")
        with pytest.raises(ConfigurationError, match="PLANDECK_SERVER_ALLOWED_HOSTS must list"):
            load_settings()

    def test_every_refusal_is_reported_at_once(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PLANDECK_ENVIRONMENT", "production")
        monkeypatch.setenv("PLANDECK_AUTH_COOKIE_SECURE", "false")
        with pytest.raises(ConfigurationError) as info:
            load_settings()
        message = str(info.value)
        for variable in (
            "PLANDECK_SECRET_KEY",
            "PLANDECK_DATABASE_URL",
            "PLANDECK_AUTH_COOKIE_SECURE",
            "PLANDECK_SERVER_ALLOWED_HOSTS",
        ):
            assert message.count(variable) == 1, message

    def test_development_requires_none_of_it(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PLANDECK_AUTH_COOKIE_SECURE", "false")
        settings = load_settings()
        assert (settings.uses_sqlite, settings.server.allowed_hosts) == (True, [])


class TestServerSettings:
    def test_defaults(self) -> None:
        server = load_settings().server
        assert server.workers is None
        assert server.trusted_proxies == ["127.0.0.1", "::1"]
        assert (server.graceful_timeout_seconds, server.keepalive_seconds) == (30, 65)
        assert server.allow_sqlite is False

    def test_lists_are_comma_separated_or_json(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PLANDECK_SERVER_ALLOWED_HOSTS", "plan.example.com, *.example.org")
        monkeypatch.setenv("PLANDECK_SERVER_TRUSTED_PROXIES", '["10.0.0.0/8", "192.0.2.4"]')
        server = load_settings().server
        assert server.allowed_hosts == ["plan.example.com", "*.example.org"]
        assert server.trusted_proxies == ["10.0.0.0/8", "192.0.2.4"]

    def test_no_trusted_proxy(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PLANDECK_SERVER_TRUSTED_PROXIES", "")
        assert load_settings().server.trusted_proxies == []

    def test_a_proxy_that_is_not_an_address_is_refused(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PLANDECK_SERVER_TRUSTED_PROXIES", "127.0.0.1,nginx")
        with pytest.raises(
            ConfigurationError,
            match=r"PLANDECK_SERVER_TRUSTED_PROXIES: 'nginx' is not an IP address",
        ):
            load_settings()

    @pytest.mark.parametrize("value", ["0", "many"])
    def test_bad_worker_count_names_the_variable(
        self, monkeypatch: pytest.MonkeyPatch, value: str
    ) -> None:
        monkeypatch.setenv("PLANDECK_SERVER_WORKERS", value)
        with pytest.raises(ConfigurationError, match="PLANDECK_SERVER_WORKERS: "):
            load_settings()

    def test_worker_count(self, monkeypatch: pytest.MonkeyPatch) -> None:
        server = load_settings().server
        expected = min(2 * (os.cpu_count() or 1) + 1, 8)
        assert server.worker_count(sqlite=False) == expected
        assert server.worker_count(sqlite=True) == 1
        monkeypatch.setenv("PLANDECK_SERVER_WORKERS", "3")
        assert load_settings().server.worker_count(sqlite=True) == 3
