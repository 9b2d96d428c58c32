"""Engine, sessions and the unit of work shared by the API, the web UI and the CLI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from plandeck.config import Settings
from plandeck.kit.integrity import translate_db_error

# A unit of work marked read-only starts a deferred SQLite transaction; writers take the
# write lock up front (BEGIN IMMEDIATE), so two writers queue instead of one failing late
# with SQLITE_BUSY after both have read.
READ_ONLY_OPTION = "plandeck_read_only"


def create_engine(url: URL | str, settings: Settings | None = None, **kwargs: Any) -> AsyncEngine:
    db = settings.database if settings else None
    if (url if isinstance(url, URL) else make_url(url)).get_backend_name() == "sqlite":
        engine = create_async_engine(url, echo=db.echo if db else False, **kwargs)
        _configure_sqlite(engine, busy_timeout_ms=db.sqlite_busy_timeout_ms if db else 10_000)
        return engine
    if db:
        kwargs.setdefault("pool_size", db.pool_size)
        kwargs.setdefault("max_overflow", db.max_overflow)
        kwargs.setdefault("pool_timeout", db.pool_timeout)
    return create_async_engine(url, echo=db.echo if db else False, pool_pre_ping=True, **kwargs)


def _configure_sqlite(engine: AsyncEngine, *, busy_timeout_ms: int) -> None:
    """Make SQLite transactional and strict: foreign keys on, WAL, real BEGIN/SAVEPOINT.

    The sqlite3 module's own transaction handling skips BEGIN before DDL and breaks
    SAVEPOINT, so it is switched off and SQLAlchemy's begin event issues BEGIN itself
    (the recipe in SQLAlchemy's SQLite dialect documentation).
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        read_only = conn.get_execution_options().get(READ_ONLY_OPTION, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def unit_of_work(
    sessionmaker: async_sessionmaker[AsyncSession], *, read_only: bool = False
) -> AsyncIterator[AsyncSession]:
    """One transaction: commits when the block ends, rolls back on any error.

    Services never commit; the request or command that called them does, here, once.
    Driver errors at commit become domain errors, so callers see a Conflict, not SQL.
    """
    async with sessionmaker() as session:
        if read_only:
            await session.connection(execution_options={READ_ONLY_OPTION: True})
        try:
            yield session
            await session.commit()
        except DBAPIError as exc:
            await session.rollback()
            raise translate_db_error(exc) from exc
        except BaseException:
            await session.rollback()
            raise
