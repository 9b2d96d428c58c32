"""Sorting and keyset (cursor) pagination for list endpoints.

A page ends with an opaque cursor: the sort values of its last row and that row's id,
as base64url-encoded JSON. The next page is the rows strictly after that position in the
same order (a ``WHERE`` on the sort keys, never ``OFFSET``), so every page costs the same
and rows added or removed meanwhile make none of the others repeat or go missing.

Missing values (``NULL``) sort last in both directions, so a keyset comparison never
has to compare with ``NULL``: a nullable key is preceded by an "is null" flag.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, SQLColumnExpression, and_, false, or_
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.errors import InvalidInput

T = TypeVar("T")

MAX_LIMIT = 200


@dataclass(frozen=True)
class SortKey:
    expression: SQLColumnExpression[Any]
    python_type: type[int] | type[str] | type[datetime]
    nullable: bool = False


@dataclass(frozen=True)
class Sorting:
    """The orders a list offers, by name; ``tiebreaker`` (a unique key, the id) ends every order.

    A name prefixed with ``-`` is the same order descending.
    """

    orders: Mapping[str, tuple[SortKey, ...]]
    tiebreaker: SortKey
    default: str

    def keys(self, sort: str | None) -> tuple[str, bool, tuple[SortKey, ...]]:
        """(canonical sort, descending, keys) for a sort parameter."""
        sort = sort or self.default
        name = sort.removeprefix("-")
        if name not in self.orders:
            allowed = ", ".join(sorted(self.orders))
            raise InvalidInput(f"sort: one of {allowed}, optionally prefixed by '-'", field="sort")
        return sort, sort.startswith("-"), (*self.orders[name], self.tiebreaker)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    next_cursor: str | None


def encode_cursor(sort: str, values: Sequence[Any]) -> str:
    payload = {
        "sort": sort,
        "after": [v.isoformat() if isinstance(v, datetime) else v for v in values],
    }
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, sort: str, keys: Sequence[SortKey]) -> list[Any]:
    """The sort values a cursor carries; a cursor that is damaged or made for another sort is 422."""
    invalid = InvalidInput(
        "cursor: not a cursor this list returned for this sort; start again without one",
        field="cursor",
    )
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw)
    except (binascii.Error, ValueError):
        raise invalid from None
    if not isinstance(payload, dict) or payload.get("sort") != sort:
        raise invalid
    after = payload.get("after")
    if not isinstance(after, list) or len(after) != len(keys):
        raise invalid
    values: list[Any] = []
    for key, value in zip(keys, after, strict=True):
        if value is None and key.nullable:
            values.append(None)
        elif key.python_type is datetime and isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                raise invalid from None
            if parsed.tzinfo is None:
                raise invalid
            values.append(parsed)
        elif isinstance(value, key.python_type) and not isinstance(value, bool):
            values.append(value)
        else:
            raise invalid
    return values


def _order_by(keys: Sequence[SortKey], descending: bool) -> list[ColumnElement[Any]]:
    clauses: list[ColumnElement[Any]] = []
    for key in keys:
        if key.nullable:
            clauses.append(key.expression.is_(None))
        clauses.append(key.expression.desc() if descending else key.expression.asc())
    return clauses


def _after(keys: Sequence[SortKey], values: Sequence[Any], descending: bool) -> ColumnElement[bool]:
    """Rows strictly after ``values`` in the order: (k1 > v1) or (k1 = v1 and k2 > v2) or ..."""
    # Each key as (equal, after) conditions; a nullable key first by its null flag.
    steps: list[tuple[ColumnElement[bool], ColumnElement[bool]]] = []
    for key, value in zip(keys, values, strict=True):
        expression = key.expression
        if value is None:
            steps.append((expression.is_(None), false()))
            continue
        if key.nullable:
            steps.append((expression.is_not(None), expression.is_(None)))
        steps.append(
            (expression == value, expression < value if descending else expression > value)
        )
    alternatives: list[ColumnElement[bool]] = []
    equal_so_far: list[ColumnElement[bool]] = []
    for equal, after in steps:
        alternatives.append(and_(*equal_so_far, after))
        equal_so_far.append(equal)
    return or_(*alternatives)


async def paginate(
    session: AsyncSession,
    statement: Select[Any],
    sorting: Sorting,
    *,
    sort: str | None,
    limit: int,
    cursor: str | None,
) -> Page[Any]:
    """One page of ``statement``'s first column (an entity), in ``sort`` order, after ``cursor``."""
    sort, descending, keys = sorting.keys(sort)
    limit = max(1, min(limit, MAX_LIMIT))
    if cursor:
        statement = statement.where(_after(keys, decode_cursor(cursor, sort, keys), descending))
    statement = (
        statement.add_columns(*(key.expression for key in keys))
        .order_by(*_order_by(keys, descending))
        .limit(limit + 1)
    )
    rows = (await session.execute(statement)).all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(sort, tuple(rows[-1])[1:])
    return Page(items=[row[0] for row in rows], next_cursor=next_cursor)
