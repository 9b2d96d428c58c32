"""Test databases on SQLite and PostgreSQL: one migrated template per run, fresh copies on demand."""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from plandeck import migrate
from plandeck.config import to_async_url
from plandeck.db import create_engine

POSTGRES_ADMIN_URL = os.environ.get(
    "PLANDECK_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
KINDS = [
    kind.strip()
    for kind in os.environ.get("PLANDECK_TEST_DATABASES", "sqlite,postgresql").split(",")
    if kind.strip()
]


# The database behind a server whose tests only speak HTTP to it (the client, the CLI's
# remote mode): PostgreSQL, as in production, when it is among the kinds tested.
SERVER_KINDS = ["postgresql"] if "postgresql" in KINDS else KINDS[:1]


def _asyncpg_dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def postgres_reachable() -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        conn = await asyncpg.connect(_asyncpg_dsn(make_url(POSTGRES_ADMIN_URL)), timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        return f"{type(exc).__name__}: {exc}"
    await conn.close()
    return None


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(make_url(POSTGRES_ADMIN_URL)))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@dataclass
class TestDatabase:
    """A migrated database. ``url`` is the plain URL a user would type (for subprocesses)."""

    kind: str
    url: str
    engine: AsyncEngine
    _name: str
    _copies: list[TestDatabase] = field(default_factory=list)

    __test__ = False  # not a test class

    @classmethod
    async def create(cls, kind: str, workdir: Path, *, migrated: bool = True) -> TestDatabase:
        name = f"plandeck_test_{uuid.uuid4().hex[:12]}"
        if kind == "sqlite":
            url = f"sqlite:///{workdir / (name + '.sqlite3')}"
        elif kind == "postgresql":
            await _admin(f'CREATE DATABASE "{name}"')
            url = str(make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(False))
        else:
            raise ValueError(f"unknown test database kind {kind!r}")
        database = cls(kind, url, _engine(url), name)
        if migrated:
            await migrate.upgrade(database.engine)
        return database

    async def copy(self, workdir: Path) -> TestDatabase:
        """A fresh, independent database with this one's content (for tests that commit)."""
        name = f"plandeck_test_{uuid.uuid4().hex[:12]}"
        await self.engine.dispose()
        if self.kind == "sqlite":
            source = Path(make_url(self.url).database or "")
            target = workdir / (name + ".sqlite3")
            shutil.copyfile(source, target)
            url = f"sqlite:///{target}"
        else:
            await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{self._name}"')
            url = str(make_url(self.url).set(database=name).render_as_string(False))
        copy = TestDatabase(self.kind, url, _engine(url), name)
        self._copies.append(copy)
        return copy

    async def drop(self) -> None:
        await self.engine.dispose()
        for copy in self._copies:
            await copy.drop()
        if self.kind == "postgresql":
            await _admin(f'DROP DATABASE IF EXISTS "{self._name}" WITH (FORCE)')
        else:
            path = Path(make_url(self.url).database or "")
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)


def _engine(url: str) -> AsyncEngine:
    # No pool: a PostgreSQL template must have no open connections when it is copied.
    return create_engine(to_async_url(url), poolclass=NullPool)
