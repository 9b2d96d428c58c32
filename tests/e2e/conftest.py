from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.api.live import PASSWORD, Caller, LiveServer, live_server
from tests.conftest import SHARED
from tests.databases import SERVER_KINDS, TestDatabase, postgres_reachable

T = TypeVar("T")
FIXTURE = SHARED / "fixtures" / "phase3-plan.md"

# Debian's Chromium; Playwright's own browser download does not work on our machines.
CHROMIUM = os.environ.get("PLANDECK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    if not shutil.which(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}: `make test` installs it", pytrace=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def screenshots_dir() -> Path:
    path = Path(__file__).resolve().parents[2] / "test-results" / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _on_own_loop(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run async database set-up on a loop of its own thread: Playwright's sync API keeps a
    loop running in the test thread, where pytest-asyncio cannot start another."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, work()).result()


# The browser tests' server: PostgreSQL (as teams run it) when it is tested, one per session.
@pytest.fixture(scope="session", params=SERVER_KINDS)
def e2e_database(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[TestDatabase]:
    workdir = tmp_path_factory.mktemp("e2e-db")

    async def create() -> TestDatabase:
        if request.param == "postgresql" and (reason := await postgres_reachable()):
            pytest.fail(f"PostgreSQL is unreachable ({reason})", pytrace=False)
        db = await TestDatabase.create(request.param, workdir)
        await db.engine.dispose()  # its connections belong to this loop
        return db

    db = _on_own_loop(create)
    yield db
    _on_own_loop(db.drop)


@pytest.fixture(scope="session")
def server(
    e2e_database: TestDatabase, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """``plandeck serve`` on the e2e database; ``server.signup()`` makes accounts over the API."""
    with live_server(
        e2e_database.kind, e2e_database.url, tmp_path_factory.mktemp("e2e-server")
    ) as live:
        yield live
        live.close_clients()


def log_in(context: BrowserContext, server: LiveServer, caller: Caller) -> Page:
    """A page of ``context`` logged in as ``caller`` through the login form."""
    page = context.new_page()
    page.goto(server.base_url + "/login")
    # By id, not label: the form may be in Persian (the context's Accept-Language).
    page.locator("#email").fill(caller.email)
    page.locator("#password").fill(PASSWORD)
    page.locator("form[action='/login'] button[type=submit]").click()
    page.wait_for_url(server.base_url + "/")
    return page


@pytest.fixture
def user(server: LiveServer) -> Caller:
    """A new account (with an API client for arranging data)."""
    return server.signup("e2e")


@pytest.fixture
def user_page(browser: Browser, server: LiveServer, user: Caller) -> Iterator[Page]:
    """A browser page logged in as ``user``."""
    context = browser.new_context()
    yield log_in(context, server, user)
    context.close()


def import_fixture(server: LiveServer, user: Caller, name: str = "Phase 3 plan") -> str:
    """A new project of ``user`` with the phase 3 sample plan imported through the API."""
    key = server.project(user, name=name)["key"]
    with FIXTURE.open("rb") as document:
        imported = user.client.post(
            f"/projects/{key}/imports", files={"files": (FIXTURE.name, document, "text/markdown")}
        )
    assert imported.status_code in (200, 201), imported.text
    return key
