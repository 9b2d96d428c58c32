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
- ``purged``: gone for good; like the trash, it is in no scope any more.

An event for a story never seen as created (a trail older than the story service) starts
from a story's defaults (draft, no points, the backlog) and applies what the event says.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
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


def apply_event(states: dict[int, StoryState], event: StoryEvent) -> None:
    current = states.get(event.story_id) or StoryState(event.story_id)
    action = event.action
    if action in (ActivityAction.DELETED, ActivityAction.PURGED):
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


@dataclass(frozen=True, slots=True)
class StorySpan:
    """A story's state at the end of every day from ``first`` up to ``until`` (exclusive;
    None: up to now). The spans of a story follow each other without gaps or overlaps,
    one per day on which something happened to it: the shape of the ``story_days``
    snapshot table, which keeps exactly these rows."""

    state: StoryState
    first: date
    until: date | None = None

    def covers(self, day: date) -> bool:
        return self.first <= day and (self.until is None or day < self.until)


def end_of_day_states(
    events: Iterable[StoryEvent],
    zone: ZoneInfo,
    start: Mapping[int, StoryState] | None = None,
) -> dict[tuple[int, date], StoryState]:
    """Each story's state at the end of each day on which it has events, keyed by
    (story id, local date) in the order first seen. ``start`` gives the states before the
    first event (a story not in it starts from nothing, as ``apply_event`` says); ``events``
    must be in the order they happened."""
    states = dict(start or {})
    ends: dict[tuple[int, date], StoryState] = {}
    for event in events:
        apply_event(states, event)
        ends[event.story_id, local_date(event.at, zone)] = states[event.story_id]
    return ends


def story_spans(events: Iterable[StoryEvent], zone: ZoneInfo) -> list[StorySpan]:
    """The spans of every story, rebuilt from all its events (in the order they happened):
    what the snapshot table holds for the same events, and what the tests build by hand."""
    by_story: dict[int, list[tuple[date, StoryState]]] = {}
    for (story_id, day), state in end_of_day_states(events, zone).items():
        by_story.setdefault(story_id, []).append((day, state))
    spans = []
    for days in by_story.values():
        for index, (day, state) in enumerate(days):
            until = days[index + 1][0] if index + 1 < len(days) else None
            spans.append(StorySpan(state, day, until))
    return spans


def states_on(spans: Iterable[StorySpan], day: date) -> dict[int, StoryState]:
    """The state of each story known at the end of ``day`` (purged and trashed ones too,
    with ``live`` False)."""
    return {span.state.story_id: span.state for span in spans if span.covers(day)}


def end_of_day(day: date, zone: ZoneInfo) -> datetime:
    """The first instant after ``day`` in ``zone``: events before it belong to ``day`` or
    earlier (what a query needs to read no further than a day)."""
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)
