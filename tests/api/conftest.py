from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.api.live import Caller, LiveServer, live_server
from tests.databases import KINDS, TestDatabase


@pytest.fixture(scope="session", params=KINDS)
async def live_database(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    _postgres_checked: None,
) -> AsyncIterator[TestDatabase]:
    """A database of each kind for the live servers; they commit, so it is their own."""
    db = await TestDatabase.create(request.param, tmp_path_factory.mktemp("live-db"))
    yield db
    await db.drop()


@pytest.fixture(scope="session")
def live(
    live_database: TestDatabase, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """``plandeck serve`` as a subprocess on a free loopback port, shared by the API tests."""
    with live_server(
        live_database.kind, live_database.url, tmp_path_factory.mktemp("live")
    ) as server:
        yield server


@pytest.fixture(autouse=True)
def _close_clients(request: pytest.FixtureRequest) -> Iterator[None]:
    live: LiveServer | None = (
        request.getfixturevalue("live") if "live" in request.fixturenames else None
    )
    opened_before = len(live._clients) if live else 0
    yield
    if live is not None:
        live.close_clients(keep=opened_before)


@pytest.fixture
def alice(live: LiveServer) -> Caller:
    return live.signup("alice")
