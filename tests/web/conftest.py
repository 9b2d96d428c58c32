"""The live servers of tests/api, for the pages' tests over plain HTTP."""

from __future__ import annotations

from tests.api.conftest import (  # noqa: F401 - fixtures, registered by being imported here
    _close_clients,
    alice,
    live,
    live_database,
)
