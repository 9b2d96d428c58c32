"""Keeping the ``story_days`` snapshot (``models.StoryDay``) in step with the story events.

Every story event changes the state its story has at the end of the day the event happened
(in the project's time zone): that day's row is written, or the open row before it is
closed (``until``) and a new one opened. The work is done on each flush that inserts story
events, on the flush's connection, so the snapshot commits or rolls back with the change
itself; imports, which insert their events in bulk, call ``track_in_session`` themselves.

Days only move forward here: an event dated before its story's newest row (which the
services never write) counts toward that row's day. Rewriting the past (a project's new
time zone, events inserted by other means, the first start after the snapshot's migration)
is ``rebuild``'s job: it replays the project's whole trail with ``history.story_spans``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Connection,
    Table,
    bindparam,
    delete,
    event,
    exists,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session, UOWTransaction
from sqlalchemy.orm.util import identity_key

from plandeck.analytics.history import (
    StoryEvent,
    StoryState,
    apply_event,
    local_date,
    story_spans,
)
from plandeck.models import ActivityEvent, EntityType, Project, StoryDay

_TABLE = cast(Table, StoryDay.__table__)
_SLICE = 5000
_STATE_COLUMNS = (
    _TABLE.c.story_id,
    _TABLE.c.status,
    _TABLE.c.points,
    _TABLE.c.sprint_id,
    _TABLE.c.phase_id,
    _TABLE.c.live,
)
_CLOSE = (
    update(_TABLE)
    .where(
        _TABLE.c.story_id == bindparam("b_story"),
        _TABLE.c.until.is_(None),
        _TABLE.c.day < bindparam("b_day"),
    )
    .values(until=bindparam("b_day"))
)
_REWRITE = (
    update(_TABLE)
    .where(_TABLE.c.story_id == bindparam("b_story"), _TABLE.c.day == bindparam("b_day"))
    .values(
        status=bindparam("b_status"),
        points=bindparam("b_points"),
        sprint_id=bindparam("b_sprint"),
        phase_id=bindparam("b_phase"),
        live=bindparam("b_live"),
        until=bindparam("b_until"),
    )
)


def _row(project_id: int, day: date, state: StoryState, until: date | None) -> dict[str, Any]:
    return {
        "story_id": state.story_id,
        "day": day,
        "project_id": project_id,
        "until": until,
        "status": state.status,
        "points": state.points,
        "sprint_id": state.sprint_id,
        "phase_id": state.phase_id,
        "live": state.live,
    }


def _zones(connection: Connection, project_ids: Iterable[int]) -> dict[int, ZoneInfo]:
    rows = connection.execute(
        select(Project.id, Project.timezone).where(Project.id.in_(set(project_ids)))
    )
    return {project_id: ZoneInfo(name) for project_id, name in rows}


def track(
    connection: Connection,
    events: Sequence[tuple[int, StoryEvent]],
    zones: Mapping[int, ZoneInfo] | None = None,
) -> None:
    """Bring the snapshot up to date with new story events, given as (project id, event)
    in the order they happened: at most 4 statements up to 5,000 stories (and one more for
    the projects' time zones when ``zones`` lacks one)."""
    if not events:
        return
    zones = dict(zones or {})
    unknown = {project_id for project_id, _ in events} - zones.keys()
    if unknown:
        zones.update(_zones(connection, unknown))
    story_ids = sorted({e.story_id for _, e in events})
    latest: dict[int, tuple[date, StoryState]] = {}
    # In slices: SQLite takes at most 32,766 parameters a statement, and an import may
    # change more stories than that.
    for offset in range(0, len(story_ids), _SLICE):
        for story_id, day, status, points, sprint_id, phase_id, live in connection.execute(
            select(_TABLE.c.story_id, _TABLE.c.day, *_STATE_COLUMNS[1:]).where(
                _TABLE.c.story_id.in_(story_ids[offset : offset + _SLICE]),
                _TABLE.c.until.is_(None),
            )
        ):
            state = StoryState(story_id, status, points, sprint_id, phase_id, live)
            latest[story_id] = (day, state)
    states = {story_id: state for story_id, (_, state) in latest.items()}
    ends: dict[tuple[int, date], tuple[int, StoryState]] = {}
    for project_id, story_event in events:
        zone = zones.get(project_id)
        if zone is None:  # the project is gone with its snapshot
            continue
        day = local_date(story_event.at, zone)
        newest = latest.get(story_event.story_id)
        if newest is not None and day < newest[0]:
            day = newest[0]
        apply_event(states, story_event)
        ends[story_event.story_id, day] = (project_id, states[story_event.story_id])
    rewrites, closes, inserts = [], [], []
    by_story: dict[int, list[tuple[date, int, StoryState]]] = {}
    for (story_id, day), (project_id, state) in ends.items():
        by_story.setdefault(story_id, []).append((day, project_id, state))
    for story_id, days in by_story.items():
        newest = latest.get(story_id)
        for index, (day, project_id, state) in enumerate(days):
            until = days[index + 1][0] if index + 1 < len(days) else None
            if newest is not None and day == newest[0]:
                rewrites.append(
                    {
                        "b_story": story_id,
                        "b_day": day,
                        "b_status": state.status,
                        "b_points": state.points,
                        "b_sprint": state.sprint_id,
                        "b_phase": state.phase_id,
                        "b_live": state.live,
                        "b_until": until,
                    }
                )
                continue
            if index == 0 and newest is not None:
                closes.append({"b_story": story_id, "b_day": day})
            inserts.append(_row(project_id, day, state, until))
    if rewrites:
        connection.execute(_REWRITE, rewrites)
    if closes:
        connection.execute(_CLOSE, closes)
    if inserts:
        connection.execute(insert(_TABLE), inserts)


def rebuild_project(connection: Connection, project_id: int) -> int:
    """Replace the project's snapshot with one replayed from its whole story trail; returns
    the number of rows written."""
    zone = _zones(connection, [project_id]).get(project_id)
    connection.execute(delete(_TABLE).where(_TABLE.c.project_id == project_id))
    if zone is None:
        return 0
    rows = connection.execute(
        select(
            ActivityEvent.entity_id,
            ActivityEvent.action,
            ActivityEvent.created_at,
            ActivityEvent.before,
            ActivityEvent.after,
        )
        .where(
            ActivityEvent.project_id == project_id,
            ActivityEvent.entity_type == EntityType.STORY,
        )
        .order_by(ActivityEvent.created_at, ActivityEvent.id)
    )
    spans = story_spans((StoryEvent(*row) for row in rows), zone)
    values = [_row(project_id, span.first, span.state, span.until) for span in spans]
    for offset in range(0, len(values), _SLICE):
        connection.execute(insert(_TABLE), values[offset : offset + _SLICE])
    return len(values)


async def rebuild(session: AsyncSession, project_id: int) -> int:
    """``rebuild_project`` in the session's transaction."""
    await session.flush()
    connection = await session.connection()
    return await connection.run_sync(rebuild_project, project_id)


async def fill_missing(engine: AsyncEngine) -> int:
    """Rebuild the snapshot of every project that has story events and no snapshot (all
    of them, the first time after the migration that made the table); the number of
    projects rebuilt. Run after each upgrade to the newest revision."""
    async with engine.begin() as connection:
        missing = (
            await connection.scalars(
                select(Project.id).where(
                    exists().where(
                        ActivityEvent.project_id == Project.id,
                        ActivityEvent.entity_type == EntityType.STORY,
                    ),
                    ~exists().where(_TABLE.c.project_id == Project.id),
                )
            )
        ).all()
        for project_id in missing:
            await connection.run_sync(rebuild_project, project_id)
    return len(missing)


def track_in_session(session: Session, events: Sequence[tuple[int, StoryEvent]]) -> None:
    """``track`` on the session's connection, with the time zones of the projects the
    session has loaded (the services always have: no query for them then)."""
    zones = {}
    for project_id in {project_id for project_id, _ in events}:
        project = session.identity_map.get(identity_key(Project, project_id))
        if isinstance(project, Project):
            zones[project_id] = ZoneInfo(project.timezone)
    track(session.connection(), events, zones)


@event.listens_for(Session, "after_flush")
def _track_flushed_events(session: Session, _flush: UOWTransaction) -> None:
    flushed = sorted(
        (
            obj
            for obj in session.new
            if isinstance(obj, ActivityEvent) and obj.entity_type is EntityType.STORY
        ),
        key=lambda e: (e.created_at, e.id),
    )
    track_in_session(
        session,
        [
            (e.project_id, StoryEvent(e.entity_id, e.action, e.created_at, e.before, e.after))
            for e in flushed
            if e.project_id is not None
        ],
    )
