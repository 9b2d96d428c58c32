"""The live server of tests/api, for the pages' tests over plain HTTP.

Pages are a thin layer over the services, which tests/plans and tests/api run on every
database: the pages' tests use one server, on PostgreSQL when it is tested.
"""

from __future__ import annotations

from tests.api.conftest import (  # noqa: F401 - fixtures, registered by being imported here
    _close_clients,
    alice,
    live,
    live_database_fixture,
)
from tests.databases import SERVER_KINDS

live_database = live_database_fixture(SERVER_KINDS)
