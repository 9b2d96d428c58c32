"""Building story events by hand for the analytics tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from plandeck.analytics.history import StoryEvent
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
