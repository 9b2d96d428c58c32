from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tests.api.live import Caller, LiveServer, live_server
from tests.databases import KINDS, TestDatabase


def live_database_fixture(kinds: list[str]) -> Any:
    """The ``live_database`` fixture over ``kinds``: tests of the server run on every kind;
    the client's and the remote CLI's, which only speak HTTP, on one (``SERVER_KINDS``)."""

    @pytest.fixture(scope="session", params=kinds)
    async def live_database(
        request: pytest.FixtureRequest,
        tmp_path_factory: pytest.TempPathFactory,
        _postgres_checked: None,
    ) -> AsyncIterator[TestDatabase]:
        """A database for the live server; it commits, so it is its own."""
        db = await TestDatabase.create(request.param, tmp_path_factory.mktemp("live-db"))
        yield db
        await db.drop()

    return live_database


live_database = live_database_fixture(KINDS)


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
