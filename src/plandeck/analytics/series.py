"""Per-day series over the story history: sprint burndown and burnup, velocity,
cumulative flow, and the roll-ups of points and progress up the plan's tree.

All functions here are pure: they take the story events (``history.StoryEvent``, in the
order they happened), the sprints as ``SprintInfo`` and the project's time zone, and
return frozen dataclasses. Points of a story without an estimate count as 0.

Rules chosen:

- **Sprint dates.** A sprint's days are ``starts_on`` to ``ends_on``, inclusive, as calendar
  days in the project's zone, weekends included. A sprint without both dates has no days:
  ``sprint_burndown`` refuses it with ``SprintWithoutDates`` (a 409 saying so), and
  ``velocity`` leaves it out and lists its number in ``Velocity.skipped``. Dates are not
  guessed from the sprint's status changes: the plan gives the dates, and a guess would
  make the chart move when someone edits the sprint later.
- **In the sprint on a day**: a live story (not in the trash) whose ``sprint_id`` is the
  sprint's at the end of that day.
- **Committed**: the points in the sprint at the end of its first day (planning on the
  first morning counts as commitment, not as scope added).
- **Completed**: the points of stories in the sprint and done at the end of its last day.
  A story done and then moved out before the end does not count; one reopened after Done
  counts only if it is done again by the end.
- **Scope added / removed** on a day: per story, the change of its points in the sprint
  since the end of the previous day (joining, leaving, trash, restore, re-estimation);
  rises add up to ``added``, falls to ``removed``. The first day has none (it is the
  commitment), so ``scope[d] == scope[d-1] + added[d] - removed[d]`` from the second day.
- **Ideal line**: the committed points falling linearly to 0 on the last day:
  ``committed * (n - 1 - i) / (n - 1)`` on day ``i`` of ``n`` (0 for a one-day sprint).
- **Days after today** have the ideal line only; their actual values are None.
- **Finished sprint** (velocity, forecast): a sprint with status ``completed``; cancelled
  sprints are not velocity. The last N are taken by sprint number.
- **Spread** of velocity: the population standard deviation of the completed points.
- **A phase's stories**: those whose ``phase_id`` is the phase's, or that sit in one of
  its sprints (the same rule as the phase's trash). Its date range is from the earliest
  ``starts_on`` to the latest ``ends_on`` of its dated sprints.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from plandeck.analytics.history import StoryEvent, StoryState, daily_states
from plandeck.errors import Conflict, InvalidInput
from plandeck.models import SprintStatus, StoryStatus


class SprintWithoutDates(Conflict):
    """The sprint has no start or end date, so it has no days to chart."""


@dataclass(frozen=True, slots=True)
class SprintInfo:
    """What the series need of a sprint (``weeks`` is the plan's label, e.g. ``"5-6"``)."""

    id: int
    number: int
    status: SprintStatus
    starts_on: date | None = None
    ends_on: date | None = None
    phase_id: int | None = None
    weeks: str | None = None

    @property
    def dated(self) -> bool:
        return self.starts_on is not None and self.ends_on is not None


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]


def _sprint_days(sprint: SprintInfo) -> tuple[date, date]:
    if sprint.starts_on is None or sprint.ends_on is None:
        raise SprintWithoutDates(
            f"sprint {sprint.number} has no start or end date; set both to chart it"
        )
    return sprint.starts_on, sprint.ends_on


def _in_sprint(state: StoryState, sprint_id: int) -> bool:
    return state.live and state.sprint_id == sprint_id


# Burndown and burnup


@dataclass(frozen=True, slots=True)
class BurndownDay:
    """One day of a sprint. ``scope`` is every point in the sprint, ``done`` the done ones,
    ``remaining`` the others (burndown: ``remaining`` vs ``ideal``; burnup: ``done`` vs
    ``scope``). The actual values are None for days after today."""

    day: date
    ideal: float
    remaining: int | None
    done: int | None
    scope: int | None
    added: int | None
    removed: int | None


@dataclass(frozen=True, slots=True)
class Burndown:
    sprint_number: int
    starts_on: date
    ends_on: date
    committed: int
    days: tuple[BurndownDay, ...]


def sprint_burndown(
    events: Iterable[StoryEvent], zone: ZoneInfo, sprint: SprintInfo, *, today: date
) -> Burndown:
    """The sprint's burndown and burnup, one entry per day from its start to its end."""
    first, last = _sprint_days(sprint)
    days = _days(first, last)
    actual: list[tuple[int, int, int, int]] = []  # remaining, done, added, removed
    previous: dict[int, int] | None = None
    for _day, states in daily_states(events, zone, first, min(last, today)):
        points = {sid: s.point_value for sid, s in states.items() if _in_sprint(s, sprint.id)}
        done = sum(states[sid].point_value for sid in points if states[sid].done)
        added = removed = 0
        if previous is not None:
            for sid in points.keys() | previous.keys():
                change = points.get(sid, 0) - previous.get(sid, 0)
                if change > 0:
                    added += change
                else:
                    removed -= change
        actual.append((sum(points.values()) - done, done, added, removed))
        previous = points
    committed = actual[0][0] + actual[0][1] if actual else 0
    span = len(days) - 1
    series = []
    for index, day in enumerate(days):
        ideal = committed * (span - index) / span if span else 0.0
        if index < len(actual):
            remaining, done, added, removed = actual[index]
            series.append(
                BurndownDay(day, ideal, remaining, done, remaining + done, added, removed)
            )
        else:
            series.append(BurndownDay(day, ideal, None, None, None, None, None))
    return Burndown(sprint.number, first, last, committed, tuple(series))


# Velocity


@dataclass(frozen=True, slots=True)
class SprintVelocity:
    sprint_id: int
    number: int
    starts_on: date
    ends_on: date
    committed: int
    completed: int


@dataclass(frozen=True, slots=True)
class Velocity:
    """Committed vs completed of the last finished sprints, oldest first. ``mean`` and
    ``stdev`` (population) are of ``completed``; None with no sprints. ``skipped`` lists
    finished sprints left out for having no dates."""

    sprints: tuple[SprintVelocity, ...]
    mean: float | None
    stdev: float | None
    skipped: tuple[int, ...] = ()


def _points_in(states: Mapping[int, StoryState], sprint_id: int, *, done_only: bool) -> int:
    return sum(
        s.point_value
        for s in states.values()
        if _in_sprint(s, sprint_id) and (s.done or not done_only)
    )


def velocity(
    events: Sequence[StoryEvent], zone: ZoneInfo, sprints: Iterable[SprintInfo], *, last: int
) -> Velocity:
    """Committed and completed points of the last ``last`` finished sprints."""
    if last < 1:
        raise InvalidInput("last: at least 1 sprint", field="last")
    finished = sorted(
        (s for s in sprints if s.status is SprintStatus.COMPLETED), key=lambda s: s.number
    )[-last:]
    dated = [s for s in finished if s.dated]
    skipped = tuple(s.number for s in finished if not s.dated)
    # One pass over the history for every day that matters, instead of one per sprint.
    wanted: dict[date, list[tuple[SprintInfo, bool]]] = {}
    for sprint in dated:
        first, final = _sprint_days(sprint)
        wanted.setdefault(first, []).append((sprint, False))
        wanted.setdefault(final, []).append((sprint, True))
    committed: dict[int, int] = {}
    completed: dict[int, int] = {}
    if wanted:
        for day, states in daily_states(events, zone, min(wanted), max(wanted)):
            for sprint, at_end in wanted.get(day, ()):
                if at_end:
                    completed[sprint.id] = _points_in(states, sprint.id, done_only=True)
                else:
                    committed[sprint.id] = _points_in(states, sprint.id, done_only=False)
    rows = tuple(
        SprintVelocity(s.id, s.number, *_sprint_days(s), committed[s.id], completed[s.id])
        for s in dated
    )
    values = [row.completed for row in rows]
    mean = statistics.fmean(values) if values else None
    stdev = statistics.pstdev(values) if values else None
    return Velocity(rows, mean, stdev, skipped)


# Cumulative flow


@dataclass(frozen=True, slots=True)
class FlowDay:
    """Points and story counts per status (every status, in workflow order) on a day."""

    day: date
    points: dict[StoryStatus, int]
    stories: dict[StoryStatus, int]


@dataclass(frozen=True, slots=True)
class CumulativeFlow:
    phase_id: int
    first: date
    last: date
    days: tuple[FlowDay, ...]


def phase_range(phase_id: int, sprints: Iterable[SprintInfo]) -> tuple[date, date] | None:
    """From the first start to the last end of the phase's dated sprints; None if none."""
    dated = [s for s in sprints if s.phase_id == phase_id and s.dated]
    if not dated:
        return None
    return min(_sprint_days(s)[0] for s in dated), max(_sprint_days(s)[1] for s in dated)


def in_phase(state: StoryState, phase_id: int, phase_sprint_ids: frozenset[int]) -> bool:
    """A live story of the phase: its own phase, or a sprint of the phase."""
    return state.live and (state.phase_id == phase_id or state.sprint_id in phase_sprint_ids)


def cumulative_flow(
    events: Iterable[StoryEvent],
    zone: ZoneInfo,
    phase_id: int,
    sprints: Iterable[SprintInfo],
    *,
    today: date,
) -> CumulativeFlow:
    """Points and story counts per status per day over the phase's range, up to today.

    A phase without dated sprints has no range: ``SprintWithoutDates``."""
    sprints = list(sprints)
    bounds = phase_range(phase_id, sprints)
    if bounds is None:
        raise SprintWithoutDates("no sprint of the phase has dates; set them to chart the phase")
    first, last = bounds
    ids = frozenset(s.id for s in sprints if s.phase_id == phase_id)
    series = []
    for day, states in daily_states(events, zone, first, min(last, today)):
        points = dict.fromkeys(StoryStatus, 0)
        stories = dict.fromkeys(StoryStatus, 0)
        for state in states.values():
            if in_phase(state, phase_id, ids):
                points[state.status] += state.point_value
                stories[state.status] += 1
        series.append(FlowDay(day, points, stories))
    return CumulativeFlow(phase_id, first, last, tuple(series))


# Roll-ups


@dataclass(frozen=True, slots=True)
class Progress:
    """``done`` out of ``total`` (tasks or points)."""

    done: int
    total: int

    @property
    def fraction(self) -> float:
        """0.0 to 1.0; an empty total is 0.0 (nothing to show as progress)."""
        return self.done / self.total if self.total else 0.0

    def __add__(self, other: Progress) -> Progress:
        return Progress(self.done + other.done, self.total + other.total)


class TaskRow(Protocol):
    @property
    def done(self) -> bool: ...

    @property
    def deleted_at(self) -> object | None: ...


class StoryRow(Protocol):
    @property
    def points(self) -> int | None: ...

    @property
    def status(self) -> StoryStatus: ...

    @property
    def deleted_at(self) -> object | None: ...


def story_progress(tasks: Iterable[TaskRow]) -> Progress:
    """A story's progress from its tasks: done vs all, trashed tasks aside (subtasks count
    as tasks)."""
    live = [task for task in tasks if task.deleted_at is None]
    return Progress(sum(1 for task in live if task.done), len(live))


def sprint_points(stories: Iterable[StoryRow]) -> Progress:
    """Points done vs all points of the live stories given (a sprint's, a phase's)."""
    done = total = 0
    for story in stories:
        if story.deleted_at is not None:
            continue
        total += story.points or 0
        if story.status is StoryStatus.DONE:
            done += story.points or 0
    return Progress(done, total)


def phase_points(sprints: Iterable[Progress]) -> Progress:
    """A phase's points done vs all, summed from its sprints' (``sprint_points``)."""
    return sum(sprints, Progress(0, 0))
