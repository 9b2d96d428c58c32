"""One value from a fixed statement, run on the PostgreSQL driver's own connection.

For the busiest read only (the board). SQLAlchemy's per-statement machinery (execution
context, parameter and result processing, the cursor adapter's greenlet hops) costs about
as much Python time as the whole rest of that request once PostgreSQL writes the JSON
itself. Here the statement is compiled once per dialect and run with asyncpg's
``fetchval`` on the connection the unit of work already holds, so it shares its
transaction (or its autocommit mode). The statement is still reported to SQLAlchemy's
``before_cursor_execute`` listeners (statement counts in tests see it), and a driver error
still becomes SQLAlchemy's ``DBAPIError``, which the unit of work translates. A connection
the server closed is discarded by the pool's checkout check (``db.py``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Executable
from sqlalchemy.engine import Compiled, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

_compiled: dict[tuple[int, int], tuple[Compiled, str, tuple[str, ...]]] = {}


def _compile(statement: Executable, dialect: Dialect) -> tuple[Compiled, str, tuple[str, ...]]:
    key = (id(statement), id(dialect))
    found = _compiled.get(key)
    if found is None:
        compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
        found = _compiled[key] = (compiled, str(compiled), tuple(compiled.positiontup or ()))
    return found


async def fetch_value(
    connection: AsyncConnection, statement: Executable, params: dict[str, Any]
) -> Any:
    """The first column of the first row of ``statement`` (a module-level constant whose
    parameters need no type processing: text and integers), or None without rows."""
    sync = connection.sync_connection
    assert sync is not None
    dialect = connection.dialect
    if dialect.driver != "asyncpg":
        return await connection.scalar(statement, params)
    _, sql, names = _compile(statement, dialect)
    values = tuple(params[name] for name in names)
    if sync._has_events or sync.engine._has_events:  # SQLAlchemy's own test before dispatching
        sync.dispatch.before_cursor_execute(sync, None, sql, values, None, False)
    raw = await connection.get_raw_connection()
    adapted = raw.dbapi_connection
    try:
        return await raw.driver_connection.fetchval(sql, *values)  # type: ignore[union-attr]
    except Exception as exc:
        # The adapter's translation into DB-API errors, then SQLAlchemy's wrapping, as if
        # SQLAlchemy had run the statement.
        try:
            adapted._handle_exception(exc)  # type: ignore[union-attr]
        except Exception as dbapi_error:
            raise DBAPIError.instance(
                sql, values, dbapi_error, dialect.loaded_dbapi.Error, dialect=dialect
            ) from exc
        raise
