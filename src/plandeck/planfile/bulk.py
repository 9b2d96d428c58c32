"""Writing what an import creates in a few batched statements, activity trail included.

Given a list of rows, SQLAlchemy 2 sends an ``INSERT ... RETURNING`` as "insertmanyvalues"
batches: many rows per statement, on SQLite and asyncpg alike. The ids come back in no
particular order, so each batch is matched back by columns that tell its rows apart.
Asking for the parameters' order instead (``sort_by_parameter_order``) would make
SQLAlchemy send one row per statement on SQLite, which has no implicit insert sentinel.

The statements go to the tables through the session's connection (Core), not as ORM bulk
inserts: the rows are plain dicts already, and the ORM's per-row bookkeeping was a fifth
of an import's time. The column defaults (timestamps, ``version``) are the tables' own.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Executable, Result, Table, insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from plandeck.analytics import snapshot
from plandeck.analytics.history import StoryEvent
from plandeck.kit.audit import to_json
from plandeck.kit.integrity import translate_db_error
from plandeck.models import ActivityAction, ActivityEvent, EntityType, Phase, Sprint, Story, Task
from plandeck.models.base import utcnow

# The tables an import inserts into (besides the activity events).
Model = type[Phase] | type[Sprint] | type[Story] | type[Task]


async def execute(
    connection: AsyncConnection, statement: Executable, rows: Sequence[Mapping[str, Any]]
) -> Result[Any]:
    """Execute ``statement`` once per row in as few round trips as the driver allows,
    raising domain errors instead of driver ones (as ``kit.integrity.flush`` does)."""
    try:
        return await connection.execute(statement, rows)
    except DBAPIError as exc:
        raise translate_db_error(exc) from exc


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection meanwhile (reference counting still frees what is done with).

    An import builds a hundred thousand dicts and lists that live until they are written, on
    top of the parsed document's; each of them brings the collector nearer to another full
    pass over every object in the process. Those passes were a third of a 2,000-story
    import's CPU time. Mercurial's ``util.nogc`` does the same for the same reason. The
    collector is turned back on only if it was on, so nested or concurrent imports are safe.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _table(model: Model | type[ActivityEvent]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


# Values ``to_json`` returns as they are: skipping its checks for them halves a snapshot's cost.
_PLAIN_TYPES = frozenset({str, int, float, bool, type(None)})


def json_value(value: Any) -> Any:
    """``kit.audit.to_json``, faster for the plain values most columns hold."""
    return value if type(value) in _PLAIN_TYPES else to_json(value)


@dataclass(eq=False, slots=True)
class NewRow:
    """A row to insert. ``refs`` name columns that take the id of a row inserted before it
    (a task's story, a subtask's parent); ``id`` is set once the row is inserted."""

    values: dict[str, Any]
    refs: dict[str, NewRow] | None = None
    id: int | None = None

    def refer(self, column: str, row: NewRow) -> None:
        if self.refs is None:
            self.refs = {}
        self.refs[column] = row

    @property
    def ready(self) -> bool:
        return self.refs is None or all(ref.id is not None for ref in self.refs.values())

    def resolve(self) -> None:
        for column, ref in (self.refs or {}).items():
            self.values[column] = ref.id


async def insert_rows(
    session: AsyncSession, model: Model, rows: Sequence[NewRow], match: tuple[str, ...]
) -> None:
    """Insert ``rows`` (their references resolved) and set their ids; the ``match`` columns
    must tell the rows apart."""
    if not rows:
        return
    for row in rows:
        row.resolve()
    places = [tuple(row.values[name] for name in match) for row in rows]
    if len(set(places)) != len(places):
        raise ValueError(f"rows for {model.__name__} are not told apart by {match}")
    table = _table(model)
    columns = [table.c[name] for name in match]
    result = await execute(
        await session.connection(),
        insert(table).returning(*columns, table.c.id),
        [row.values for row in rows],
    )
    ids: dict[tuple[Any, ...], int] = {tuple(got[:-1]): got[-1] for got in result}
    for row, place in zip(rows, places, strict=True):
        row.id = ids[place]


async def insert_tree(
    session: AsyncSession, model: Model, rows: Sequence[NewRow], match: tuple[str, ...]
) -> None:
    """Insert rows that reference one another, level by level: each round inserts the rows
    whose references have their ids."""
    pending = list(rows)
    while pending:
        ready = [row for row in pending if row.ready]
        if not ready:
            raise ValueError(f"rows for {model.__name__} reference rows never inserted")
        await insert_rows(session, model, ready, match)
        pending = [row for row in pending if row.id is None]


@dataclass(slots=True)
class _Event:
    entity_type: EntityType
    entity: NewRow | int
    action: ActivityAction
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    fields: tuple[str, ...] = ()  # for a created row: its snapshot, taken once it is inserted


@dataclass
class ActivityBatch:
    """Activity events, kept in the order the changes were made and inserted in one go:
    the same events ``kit.audit.record`` writes one flush at a time."""

    actor_id: int | None
    project_id: int
    _events: list[_Event] = field(default_factory=list)

    def add(
        self,
        entity_type: EntityType,
        entity_id: int,
        action: ActivityAction,
        *,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        self._events.append(_Event(entity_type, entity_id, action, before, after))

    def created(self, entity_type: EntityType, row: NewRow, fields: Iterable[str]) -> None:
        """A CREATED event whose ``after`` is the row's snapshot (``kit.audit.snapshot``)."""
        self._events.append(
            _Event(entity_type, row, ActivityAction.CREATED, None, None, tuple(fields))
        )

    async def write(self, session: AsyncSession) -> None:
        now = utcnow()
        rows = [self._row(event, now) for event in self._events]
        if rows:
            table = _table(ActivityEvent)
            connection = await session.connection()
            # RETURNING, though the ids are not needed, makes this "insertmanyvalues" too: a
            # thousand rows a statement. Without it asyncpg executes the INSERT once per row,
            # which took PostgreSQL 1.5 to 2.5 s for 12,500 events on a busy machine, against
            # 0.7 to 1.2 s in batches. SQLite takes the same time either way.
            await execute(connection, insert(table).returning(table.c.id), rows)
            # Events inserted in bulk pass no flush: the analytics snapshot is told here.
            stories = [
                (
                    self.project_id,
                    StoryEvent(row["entity_id"], row["action"], now, row["before"], row["after"]),
                )
                for row in rows
                if row["entity_type"] is EntityType.STORY
            ]
            await session.run_sync(snapshot.track_in_session, stories)
        self._events.clear()

    def _row(self, event: _Event, now: datetime) -> dict[str, Any]:
        after = event.after
        if isinstance(event.entity, NewRow):
            entity_id = event.entity.id
            if entity_id is None:
                raise ValueError(f"{event.entity_type.value} event for a row never inserted")
            values = event.entity.values
            after = {name: json_value(values[name]) for name in event.fields}
        else:
            entity_id = event.entity
        return {
            "actor_id": self.actor_id,
            "project_id": self.project_id,
            "entity_type": event.entity_type,
            "entity_id": entity_id,
            "action": event.action,
            "before": event.before,
            "after": after,
            "created_at": now,
        }
