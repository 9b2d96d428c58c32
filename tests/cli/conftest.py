"""The live servers of tests/api (``live``), for the remote-mode tests of the CLI."""

from __future__ import annotations

from tests.api.conftest import (  # noqa: F401 - fixtures, registered by being imported here
    _close_clients,
    live,
    live_database,
)
