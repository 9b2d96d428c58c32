from __future__ import annotations

import json
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.models import User
from tests.databases import KINDS, POSTGRES_ADMIN_URL, TestDatabase, postgres_reachable
from tests.factories.accounts import make_user
from tests.processes import (
    LOG_DIR_VARIABLE,
    find_secrets,
    load_secrets,
    save_secrets,
    server_log_dir,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED = REPO_ROOT.parent / "shared"


_MADE_LOG_DIR = pytest.StashKey[bool]()


def pytest_configure(config: pytest.Config) -> None:
    """One directory of server logs for the whole run, made before xdist starts its workers
    (they inherit it through the environment)."""
    if not hasattr(config, "workerinput"):
        config.stash[_MADE_LOG_DIR] = LOG_DIR_VARIABLE not in os.environ
        server_log_dir()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when a password, token, cookie or CSRF token the tests used appears in
    the log of any server they started."""
    directory = server_log_dir()
    save_secrets(directory)
    if hasattr(session.config, "workerinput"):
        return  # the controller scans, once every worker has saved its secrets
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    _report_cluster_load(directory, reporter)
    leaks = find_secrets(directory, load_secrets(directory))
    if leaks:
        if reporter is not None:
            reporter.write_sep("=", "secrets found in server logs", red=True)
            for log, secret in leaks:
                reporter.write_line(f"{log}: {secret[:6]}... ({len(secret)} characters)")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif exitstatus == 0 and session.config.stash.get(_MADE_LOG_DIR, False):
        shutil.rmtree(directory, ignore_errors=True)


def _report_cluster_load(directory: Path, reporter: Any) -> None:
    """The scale-out tests' numbers (tests/cluster), in the run's output."""
    titles = {
        "load": "scale-out load through nginx (tests/cluster)",
        "restart": "rolling restart of both processes under load (tests/cluster)",
    }
    for summary in sorted(directory.glob("cluster-*.json")):
        kind = summary.stem.split("-")[1]
        if reporter is not None and kind in titles:
            numbers = json.loads(summary.read_text())
            reporter.write_line("")  # ends the progress line
            reporter.write_sep("-", titles[kind])
            reporter.write_line(
                "{requests} requests in {seconds} s: {requests_per_second} requests/s, "
                "{server_errors} 5xx, {transport_errors} transport errors, {conflicts} edits "
                "refused with 409".format(**numbers)
                + (f"; served by process: {numbers['served_by_process']}" if kind == "load" else "")
            )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last: Playwright's sync API keeps an event loop running in the main
    thread once started, which the async tests after it could not share."""
    items.sort(key=lambda item: "/e2e/" in str(item.path))


@pytest.fixture(scope="session")
async def _postgres_checked() -> None:
    if "postgresql" in KINDS and (reason := await postgres_reachable()):
        # CI must fail, not skip, when PostgreSQL is missing.
        pytest.fail(
            f"PostgreSQL is unreachable at {POSTGRES_ADMIN_URL} ({reason}). Start it, point "
            "PLANDECK_TEST_POSTGRES_URL at one, or set PLANDECK_TEST_DATABASES=sqlite locally.",
            pytrace=False,
        )


@pytest.fixture(scope="session", params=KINDS)
async def database(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    _postgres_checked: None,
) -> AsyncIterator[TestDatabase]:
    """A migrated database of each kind, shared by the run; tests roll back what they write."""
    db = await TestDatabase.create(request.param, tmp_path_factory.mktemp("db"))
    yield db
    await db.drop()


@pytest.fixture
async def fresh_database(database: TestDatabase, tmp_path: Path) -> AsyncIterator[TestDatabase]:
    """A migrated database of its own, for tests whose transactions really commit."""
    db = await database.copy(tmp_path)
    yield db
    await db.engine.dispose()


@pytest.fixture
async def owner(session: AsyncSession) -> User:
    """A user; tests make them the owner of the projects they create."""
    return await make_user(session)


@pytest.fixture
async def session(database: TestDatabase) -> AsyncIterator[AsyncSession]:
    """A session inside an outer transaction that is rolled back after the test.

    Commits inside the test only release savepoints, so no test sees another's rows.
    """
    async with database.engine.connect() as conn:
        outer = await conn.begin()
        session = AsyncSession(
            bind=conn,
            join_transaction_mode="create_savepoint",
            expire_on_commit=False,
            autoflush=False,
        )
        try:
            yield session
        finally:
            await session.close()
            await outer.rollback()
