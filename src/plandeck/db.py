"""Engine, sessions and the unit of work shared by the API, the web UI and the CLI."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from weakref import WeakKeyDictionary

import orjson
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

# Imported for its flush listener, which keeps the analytics snapshot with every change.
from plandeck.analytics import snapshot as _snapshot  # noqa: F401
from plandeck.config import Settings
from plandeck.kit.integrity import translate_db_error

# A unit of work marked read-only starts a deferred SQLite transaction; writers take the
# write lock up front (BEGIN IMMEDIATE), so two writers queue instead of one failing late
# with SQLITE_BUSY after both have read.
READ_ONLY_OPTION = "plandeck_read_only"
# A pooled connection idle longer than this is pinged before use; see _check_pooled_connections.
_PING_AFTER_IDLE = 5.0  # seconds
_CHECKED_IN_AT = "plandeck_checked_in_at"
_AUTOCOMMIT_ENGINES: WeakKeyDictionary[Engine, AsyncEngine] = WeakKeyDictionary()


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
    kwargs.setdefault("json_deserializer", _json_loads)
    engine = create_async_engine(url, echo=db.echo if db else False, **kwargs)
    _check_pooled_connections(engine)
    return engine


def _json_loads(text: str) -> Any:
    """JSON columns read with orjson; the standard library for what orjson refuses
    (integers beyond 64 bits), so every stored document still reads back."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _check_pooled_connections(engine: AsyncEngine) -> None:
    """Replace a pooled connection the server has closed before a request draws it.

    This is ``pool_pre_ping``, made cheap for a busy server. A ping is a round trip (on
    asyncpg three: BEGIN, a query, ROLLBACK, out of eight for a small authenticated read),
    so it is only sent to a connection that sat idle in the pool for
    ``_PING_AFTER_IDLE``: the one a restart or an idle timeout is likely to have
    killed. A connection back from a request moments ago is asked instead whether the
    server closed it, which asyncpg notices by itself while the connection waits in the
    pool, at no cost. A dead connection raises ``DisconnectionError``, on which the pool
    discards it and checks out another (a new one if need be), as after a failed ping.
    """
    dialect = engine.sync_engine.dialect

    @event.listens_for(engine.sync_engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_CHECKED_IN_AT] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if dbapi_connection.driver_connection.is_closed():
            raise DisconnectionError("the server closed this pooled connection")
        checked_in_at = record.info.get(_CHECKED_IN_AT)  # None: a new connection
        if checked_in_at is not None and time.monotonic() - checked_in_at > _PING_AFTER_IDLE:
            try:
                dialect.do_ping(dbapi_connection)
            except Exception as exc:
                raise DisconnectionError("the pooled connection did not answer a ping") from exc


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


def _autocommit_engine(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncEngine | None:
    """The sessionmaker's PostgreSQL engine in autocommit mode, made once per engine (it
    shares the engine's pool); None on SQLite, or when the sessionmaker is bound to
    something other than an engine (a test's connection)."""
    bind = sessionmaker.kw.get("bind")
    if not isinstance(bind, AsyncEngine) or bind.dialect.name != "postgresql":
        return None
    engine = _AUTOCOMMIT_ENGINES.get(bind.sync_engine)
    if engine is None:
        engine = _AUTOCOMMIT_ENGINES[bind.sync_engine] = bind.execution_options(
            isolation_level="AUTOCOMMIT"
        )
    return engine


@asynccontextmanager
async def unit_of_work(
    sessionmaker: async_sessionmaker[AsyncSession], *, read_only: bool = False
) -> AsyncIterator[AsyncSession]:
    """One transaction: commits when the block ends, rolls back on any error.

    Services never commit; the request or command that called them does, here, once.
    Driver errors at commit become domain errors, so callers see a Conflict, not SQL.

    A read-only unit of work on PostgreSQL sends no BEGIN and no COMMIT: its statements run
    in autocommit mode. Under READ COMMITTED, PostgreSQL's default, every statement reads
    its own snapshot inside a transaction too, so the transaction would only cost two of
    the few round trips a read makes. The occasional bookkeeping write of a read (an API
    token's ``last_used_at``) is committed when it is flushed.
    """
    reading = _autocommit_engine(sessionmaker) if read_only else None
    async with sessionmaker() if reading is None else sessionmaker(bind=reading) as session:
        if read_only and reading is None:
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
