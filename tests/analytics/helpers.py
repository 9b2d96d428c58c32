"""Building story events by hand for the analytics tests."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from plandeck.analytics.history import StoryEvent, StoryState, states_on, story_spans
from plandeck.analytics.series import (
    Burndown,
    CumulativeFlow,
    SprintInfo,
    Velocity,
    cumulative_flow,
    flow_deltas,
    sprint_burndown,
    sprint_totals,
    velocity,
)
from plandeck.models import ActivityAction


def at(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def created(story: int, when: datetime, **fields: Any) -> StoryEvent:
    snapshot = {"status": "approved", "points": None, "sprint_id": None, "phase_id": None}
    return StoryEvent(story, ActivityAction.CREATED, when, None, {**snapshot, **fields})


def updated(story: int, when: datetime, **fields: Any) -> StoryEvent:
    return StoryEvent(story, ActivityAction.UPDATED, when, {}, fields)


def moved(story: int, when: datetime, **fields: Any) -> StoryEvent:
    return StoryEvent(story, ActivityAction.MOVED, when, {}, fields)


def deleted(story: int, when: datetime) -> StoryEvent:
    return StoryEvent(story, ActivityAction.DELETED, when, None, {"deleted_at": when.isoformat()})


def restored(story: int, when: datetime) -> StoryEvent:
    return StoryEvent(story, ActivityAction.RESTORED, when, {"deleted_at": when.isoformat()}, None)


# The series from events, through the spans the snapshot table would hold for them.


def burndown_of(
    events: Iterable[StoryEvent], zone: ZoneInfo, sprint: SprintInfo, *, today: date
) -> Burndown:
    return sprint_burndown(story_spans(events, zone), sprint, today=today)


def velocity_of(
    events: Iterable[StoryEvent], zone: ZoneInfo, sprints: Sequence[SprintInfo], *, last: int
) -> Velocity:
    return velocity(sprint_totals(story_spans(events, zone), sprints), sprints, last=last)


def flow_of(
    events: Iterable[StoryEvent],
    zone: ZoneInfo,
    phase_id: int,
    sprints: Sequence[SprintInfo],
    *,
    today: date,
) -> CumulativeFlow:
    ids = frozenset(s.id for s in sprints if s.phase_id == phase_id)
    deltas = flow_deltas(story_spans(events, zone), phase_id, ids)
    return cumulative_flow(deltas, phase_id, sprints, today=today)


def daily_states(
    events: Iterable[StoryEvent], zone: ZoneInfo, first: date, last: date
) -> list[tuple[date, dict[int, StoryState]]]:
    """Each day's states from ``first`` to ``last``, read from the spans."""
    spans = story_spans(events, zone)
    days = []
    day = first
    while day <= last:
        days.append((day, states_on(spans, day)))
        day += timedelta(days=1)
    return days
