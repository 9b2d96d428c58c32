"""``fetch_value``: a fixed statement run on the asyncpg connection the session holds."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Integer, bindparam, event, literal_column, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.db import create_sessionmaker, unit_of_work
from plandeck.errors import PlandeckError
from plandeck.kit.driver import fetch_value
from tests.databases import TestDatabase

_SUM = select(bindparam("a", type_=Integer) + bindparam("b", type_=Integer) + literal_column("0"))
_MISSING_TABLE = text("SELECT value FROM no_such_table WHERE id = :id")


class TestFetchValue:
    async def test_returns_the_value_and_is_seen_by_statement_listeners(
        self, session: AsyncSession
    ) -> None:
        connection = await session.connection()
        seen: list[tuple[str, Any]] = []

        def _record(*args: Any) -> None:
            seen.append((args[2], args[3]))

        engine = connection.engine.sync_engine
        event.listen(engine, "before_cursor_execute", _record)
        try:
            assert await fetch_value(connection, _SUM, {"a": 40, "b": 2}) == 42
            assert await fetch_value(connection, _SUM, {"b": 1, "a": 1}) == 2
        finally:
            event.remove(engine, "before_cursor_execute", _record)
        assert len(seen) == 2
        assert "+" in seen[0][0]

    async def test_no_row_is_none(self, session: AsyncSession) -> None:
        connection = await session.connection()
        empty = select(literal_column("1")).where(literal_column("1") == bindparam("x", 2))
        assert await fetch_value(connection, empty, {"x": 2}) is None

    async def test_driver_error_is_sqlalchemys_dbapi_error(self, session: AsyncSession) -> None:
        connection = await session.connection()
        with pytest.raises(DBAPIError, match="no_such_table"):
            await fetch_value(connection, _MISSING_TABLE, {"id": 1})

    async def test_unit_of_work_translates_it_and_leaves_the_pool_usable(
        self, database: TestDatabase
    ) -> None:
        with pytest.raises((PlandeckError, DBAPIError)):
            async with unit_of_work(
                create_sessionmaker(database.engine), read_only=True
            ) as session:
                await fetch_value(await session.connection(), _MISSING_TABLE, {"id": 1})
        async with unit_of_work(create_sessionmaker(database.engine), read_only=True) as session:
            assert await fetch_value(await session.connection(), _SUM, {"a": 1, "b": 2}) == 3
