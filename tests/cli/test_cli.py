"""The CLI as a user runs it: separate processes against SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from plandeck import __version__, migrate
from plandeck.demo import DEMO_EMAIL, DEMO_PASSWORD
from tests.databases import TestDatabase
from tests.processes import browser_login, env_for, plandeck_server, run_cli

pytestmark = pytest.mark.slow


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


class TestVersionAndErrors:
    def test_version(self, workdir: Path) -> None:
        result = run_cli("--version", env=env_for(None, workdir), cwd=workdir)
        assert result.returncode == 0
        assert result.stdout.strip() == f"plandeck {__version__}"

    def test_unsupported_database_is_one_line(self, workdir: Path) -> None:
        result = run_cli("migrate", env=env_for("mysql://x@y/z", workdir), cwd=workdir)
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert "PLANDECK_DATABASE_URL" in lines[0]
        assert "unsupported database 'mysql'" in lines[0]
        assert "Traceback" not in result.stderr

    def test_unreachable_database_is_one_line(self, workdir: Path) -> None:
        env = env_for("postgresql://postgres@127.0.0.1:1/nothing", workdir)
        result = run_cli("migrate", env=env, cwd=workdir)
        assert result.returncode == 1
        assert result.stderr.count("\n") == 1, result.stderr
        assert "cannot reach the database" in result.stderr

    def test_debug_shows_the_traceback(self, workdir: Path) -> None:
        env = env_for("postgresql://postgres@127.0.0.1:1/nothing", workdir)
        result = run_cli("--debug", "migrate", env=env, cwd=workdir)
        assert result.returncode != 0
        assert "Traceback" in result.stderr

    def test_production_refuses_the_default_secret(self, workdir: Path) -> None:
        env = env_for(None, workdir, PLANDECK_ENVIRONMENT="production")
        result = run_cli("serve", env=env, cwd=workdir)
        assert result.returncode == 1
        assert "PLANDECK_SECRET_KEY must be set" in result.stderr
        assert not (workdir / "plandeck.sqlite3").exists()


class TestAgainstDatabases:
    def test_migrate_downgrade_migrate(self, fresh_database: TestDatabase, workdir: Path) -> None:
        env = env_for(fresh_database.url, workdir)
        down = run_cli("downgrade", "base", env=env, cwd=workdir)
        assert down.returncode == 0, down.stderr
        assert "revision base" in down.stdout
        up = run_cli("migrate", env=env, cwd=workdir)
        assert up.returncode == 0, up.stderr
        assert f"revision {migrate.head_revision()}" in up.stdout

    def test_data_written_by_one_process_is_read_by_another(
        self, fresh_database: TestDatabase, workdir: Path
    ) -> None:
        env = env_for(fresh_database.url, workdir, PLANDECK_PASSWORD="a long enough password")
        created = run_cli(
            "user", "create", "--email", "Ada@Example.com", "--name", "Ada", env=env, cwd=workdir
        )
        assert created.returncode == 0, created.stderr
        listed = run_cli("user", "list", env=env, cwd=workdir)
        assert listed.returncode == 0, listed.stderr
        assert "ada@example.com" in listed.stdout

    def test_duplicate_user_is_one_line_error(
        self, fresh_database: TestDatabase, workdir: Path
    ) -> None:
        env = env_for(fresh_database.url, workdir, PLANDECK_PASSWORD="a long enough password")
        args = ("user", "create", "--email", "bob@example.com", "--name", "Bob")
        assert run_cli(*args, env=env, cwd=workdir).returncode == 0
        again = run_cli(*args, env=env, cwd=workdir)
        assert again.returncode == 1
        assert again.stderr.strip() == "error: a user with email bob@example.com already exists"

    def test_weak_password_is_refused(self, fresh_database: TestDatabase, workdir: Path) -> None:
        env = env_for(fresh_database.url, workdir, PLANDECK_PASSWORD="short")
        result = run_cli(
            "user", "create", "--email", "c@example.com", "--name", "C", env=env, cwd=workdir
        )
        assert result.returncode == 1
        assert "at least 8 characters" in result.stderr

    def test_demo_is_idempotent_and_served(
        self, fresh_database: TestDatabase, workdir: Path
    ) -> None:
        env = env_for(fresh_database.url, workdir)
        first = run_cli("demo", env=env, cwd=workdir)
        assert first.returncode == 0, first.stderr
        assert "demo project DEMO created" in first.stdout
        second = run_cli("demo", env=env, cwd=workdir)
        assert "DEMO already there" in second.stdout

        with plandeck_server(env=env, cwd=workdir) as base:
            assert httpx.get(base + "/healthz").json() == {"status": "ok"}
            ready = httpx.get(base + "/readyz")
            assert ready.status_code == 200, ready.text
            assert httpx.get(base + "/projects/DEMO").status_code == 303  # to the login page
            with browser_login(base, DEMO_EMAIL, DEMO_PASSWORD) as browser:
                page = browser.get("/projects/DEMO")
                missing = browser.get("/projects/NOPE", headers={"Accept": "application/json"})
            assert page.status_code == 200
            for text in (
                "Database Connection &amp; Migration",
                "Sprint 11",
                "52 points",
                "8 stories",
            ):
                assert text in page.text
            assert missing.status_code == 404
            assert missing.headers["content-type"] == "application/problem+json"


class TestServe:
    def test_readyz_names_a_schema_behind_head(
        self, fresh_database: TestDatabase, workdir: Path
    ) -> None:
        env = env_for(fresh_database.url, workdir)
        with plandeck_server(env=env, cwd=workdir) as base:
            assert httpx.get(base + "/readyz").status_code == 200
            assert run_cli("downgrade", "base", env=env, cwd=workdir).returncode == 0
            ready = httpx.get(base + "/readyz")
            assert ready.status_code == 503
            assert ready.headers["content-type"] == "application/problem+json"
            body = ready.json()
            assert body["checks"]["database"].startswith("schema at None, expected ")
            assert httpx.get(base + "/healthz").status_code == 200, "alive, though not ready"

    def test_first_run_migrates_the_embedded_database(self, workdir: Path) -> None:
        env = env_for(None, workdir / "data")
        with plandeck_server(env=env, cwd=workdir) as base:
            assert httpx.get(base + "/readyz").status_code == 200
            home = httpx.get(base + "/", follow_redirects=True)
            assert (home.status_code, home.url.path) == (200, "/login")
        assert (workdir / "data" / "plandeck.sqlite3").exists()

    async def test_server_database_behind_head_is_refused(
        self, database: TestDatabase, tmp_path: Path
    ) -> None:
        if database.kind != "postgresql":
            pytest.skip("the embedded SQLite database is migrated by serve itself")
        empty = await TestDatabase.create("postgresql", tmp_path, migrated=False)
        try:
            result = run_cli("serve", "--port", "1", env=env_for(empty.url, tmp_path), cwd=tmp_path)
        finally:
            await empty.drop()
        assert result.returncode == 1
        assert "run `plandeck migrate` first" in result.stderr
