"""Each story's state at the end of each calendar day, rebuilt from its activity events.

Charts of past days must never change when a story changes today, so nothing here reads
the current rows: the state of a day is what the events up to the end of that day say.
Days are calendar days in the project's time zone (``zoneinfo``), so a day across a
daylight-saving change is 23 or 25 hours long and an event belongs to the local date on
which it happened.

How each action changes a story's state:

- ``created``: the snapshot in ``after`` (status, points, sprint_id, phase_id, ...).
- ``updated``, ``moved``, ``imported``: the fields present in ``after``, any subset;
  the other fields keep their value.
- ``deleted``: the story goes to the trash and leaves every scope (``live`` is False).
- ``restored``: back from the trash, with the fields it had.
- ``purged``: gone for good; it is no longer in the states.

An event for a story never seen as created (a trail older than the story service) starts
from a story's defaults (draft, no points, the backlog) and applies what the event says.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from plandeck.models import ActivityAction, StoryStatus

_TRACKED = ("status", "points", "sprint_id", "phase_id")


@dataclass(frozen=True, slots=True)
class StoryEvent:
    """One activity event of a story, as the history needs it (``at`` is timezone-aware)."""

    story_id: int
    action: ActivityAction
    at: datetime
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class StoryState:
    """A story as of some moment. ``points`` None means not estimated (counted as 0)."""

    story_id: int
    status: StoryStatus = StoryStatus.DRAFT
    points: int | None = None
    sprint_id: int | None = None
    phase_id: int | None = None
    live: bool = True

    @property
    def point_value(self) -> int:
        return self.points or 0

    @property
    def done(self) -> bool:
        return self.status is StoryStatus.DONE


def local_date(at: datetime, zone: ZoneInfo) -> date:
    """The calendar date in ``zone`` on which the instant ``at`` falls."""
    if at.tzinfo is None:
        raise ValueError(f"naive datetime {at!r}: activity times are timezone-aware UTC")
    return at.astimezone(zone).date()


def _apply(states: dict[int, StoryState], event: StoryEvent) -> None:
    current = states.get(event.story_id) or StoryState(event.story_id)
    action = event.action
    if action is ActivityAction.PURGED:
        states.pop(event.story_id, None)
        return
    if action is ActivityAction.DELETED:
        states[event.story_id] = replace(current, live=False)
        return
    if action is ActivityAction.RESTORED:
        states[event.story_id] = replace(current, live=True)
        return
    if action is ActivityAction.CREATED:
        current = StoryState(event.story_id)
    changes: dict[str, Any] = {}
    for name in _TRACKED:
        if event.after is not None and name in event.after:
            value = event.after[name]
            changes[name] = StoryStatus(value) if name == "status" else value
    states[event.story_id] = replace(current, **changes)


def daily_states(
    events: Iterable[StoryEvent], zone: ZoneInfo, first: date, last: date
) -> Iterator[tuple[date, Mapping[int, StoryState]]]:
    """For each day from ``first`` to ``last`` (inclusive), the states of all stories known
    at the end of that day, in ``zone``.

    ``events`` must be in the order they happened (``created_at``, then ``id``). Events
    before ``first`` count toward the first day; events after ``last`` are not read. The
    mapping yielded is a read-only view that changes on the next step: copy it to keep it.
    """
    if last < first:
        return
    states: dict[int, StoryState] = {}
    view = MappingProxyType(states)
    pending = iter(events)
    upcoming = next(pending, None)
    day = first
    while day <= last:
        while upcoming is not None and local_date(upcoming.at, zone) <= day:
            _apply(states, upcoming)
            upcoming = next(pending, None)
        yield day, view
        day += timedelta(days=1)


def states_on(events: Iterable[StoryEvent], zone: ZoneInfo, day: date) -> dict[int, StoryState]:
    """The states of all stories at the end of ``day`` (a copy)."""
    _, states = next(daily_states(events, zone, day, day))
    return dict(states)


def end_of_day(day: date, zone: ZoneInfo) -> datetime:
    """The first instant after ``day`` in ``zone``: events before it belong to ``day`` or
    earlier (what a query needs to read no further than a day)."""
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)
