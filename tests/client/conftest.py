"""The live servers of tests/api (``live``, ``alice``), for the client's tests."""

from __future__ import annotations

from tests.api.conftest import (  # noqa: F401 - fixtures, registered by being imported here
    _close_clients,
    alice,
    live,
    live_database_fixture,
)
from tests.databases import SERVER_KINDS

# The client and the remote CLI only speak HTTP: one server, on PostgreSQL when it is tested
# (tests/api runs the server itself on every database).
live_database = live_database_fixture(SERVER_KINDS)
