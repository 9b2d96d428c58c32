"""Counting the SQL statements a block of code sends, for the bounded-query tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession


@contextmanager
def count_statements(session: AsyncSession) -> Iterator[list[str]]:
    """The SQL statements run on the session's engine inside the block."""
    statements: list[str] = []
    bind = session.bind
    assert bind is not None
    engine = bind.engine.sync_engine

    def _record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", _record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", _record)
