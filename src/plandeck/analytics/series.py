"""Per-day series over the story history: sprint burndown and burnup, velocity,
cumulative flow, and the roll-ups of points and progress up the plan's tree.

All functions here are pure: they take the stories' day-by-day states
(``history.StorySpan``, which the ``story_days`` snapshot table holds and ``history.story_spans``
rebuilds from events) and the sprints as ``SprintInfo``, and return frozen dataclasses.
Days are the project's calendar days: the spans are already in its time zone. Points of a story without an estimate count as 0.

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
- **Carried over**: completing a sprint moves its unfinished stories on (to another sprint
  or the backlog) on its last day. Those moves are not scope removed: from the day of the
  completion on, the burndown counts the carried-over stories as still in the sprint, so its
  last day shows them as remaining. ``Burndown.carried_over`` gives their points.
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
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Protocol

from plandeck.analytics.history import StorySpan, StoryState
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


@dataclass(frozen=True, slots=True)
class CarryOver:
    """What a sprint's completion moved on: its unfinished stories and their points then, and
    the day (in the project's zone) it happened."""

    day: date
    story_ids: frozenset[int]
    points: int


def _as_if_not_carried(
    spans: Iterable[StorySpan], sprint_id: int, carry: CarryOver
) -> Iterator[StorySpan]:
    """The spans, with the carried-over stories kept in the sprint from the completion's day."""
    for span in spans:
        state = span.state
        moved_on = (
            state.story_id in carry.story_ids
            and state.live
            and state.sprint_id != sprint_id
            and (span.until is None or span.until > carry.day)
        )
        if not moved_on:
            yield span
            continue
        kept = replace(state, sprint_id=sprint_id)
        if span.first < carry.day:
            yield StorySpan(state, span.first, carry.day)
            yield StorySpan(kept, carry.day, span.until)
        else:
            yield StorySpan(kept, span.first, span.until)


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
    carried_over: int = 0


def sprint_burndown(
    spans: Iterable[StorySpan],
    sprint: SprintInfo,
    *,
    today: date,
    carried_over: CarryOver | None = None,
) -> Burndown:
    """The sprint's burndown and burnup, one entry per day from its start to its end.

    ``spans`` must hold every span of the stories ever in the sprint that covers a day of
    it up to today (more is harmless); a story's spans in the order of their days.
    ``carried_over``: what the sprint's completion moved on, if it was completed."""
    first, last = _sprint_days(sprint)
    if carried_over is not None:
        spans = _as_if_not_carried(spans, sprint.id, carried_over)
    days = _days(first, last)
    known = days[: max(0, (min(last, today) - first).days + 1)]
    scope = [0] * len(known)
    done = [0] * len(known)
    added = [0] * len(known)
    removed = [0] * len(known)
    before: dict[int, int] = {}  # a story's points in the sprint in its previous span
    for span in spans:
        state = span.state
        points = state.point_value if _in_sprint(state, sprint.id) else 0
        previous = before.get(state.story_id, 0)
        before[state.story_id] = points
        start = max(span.first, first)
        stop = min(span.until - timedelta(days=1), last) if span.until else last
        if start > stop or not known or start > known[-1]:
            continue
        index = (start - first).days
        if span.first > first:
            change = points - previous  # the day's change, against the end of the day before
            if change > 0:
                added[index] += change
            else:
                removed[index] -= change
        if points:
            for offset in range(index, min((stop - first).days + 1, len(known))):
                scope[offset] += points
                if state.done:
                    done[offset] += points
    committed = scope[0] if known else 0
    span_days = len(days) - 1
    series = []
    for index, day in enumerate(days):
        ideal = committed * (span_days - index) / span_days if span_days else 0.0
        if index < len(known):
            series.append(
                BurndownDay(
                    day,
                    ideal,
                    scope[index] - done[index],
                    done[index],
                    scope[index],
                    added[index] if index else 0,
                    removed[index] if index else 0,
                )
            )
        else:
            series.append(BurndownDay(day, ideal, None, None, None, None, None))
    return Burndown(
        sprint.number,
        first,
        last,
        committed,
        tuple(series),
        carried_over.points if carried_over else 0,
    )


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


def finished_sprints(sprints: Iterable[SprintInfo], last: int) -> list[SprintInfo]:
    """The last ``last`` finished sprints by number, oldest first."""
    if last < 1:
        raise InvalidInput("last: at least 1 sprint", field="last")
    return sorted(
        (s for s in sprints if s.status is SprintStatus.COMPLETED), key=lambda s: s.number
    )[-last:]


SprintTotals = Mapping[int, tuple[int, int]]
"""Per sprint id: (points in it at the end of its first day, points in it and done at the
end of its last day)."""


def sprint_totals(spans: Iterable[StorySpan], sprints: Iterable[SprintInfo]) -> SprintTotals:
    """The committed and completed points of each dated sprint given. (The service has the
    database sum the same.)"""
    dated = {s.id: s for s in sprints if s.dated}
    totals = dict.fromkeys(dated, (0, 0))
    for span in spans:
        state = span.state
        sprint = dated.get(state.sprint_id) if state.live and state.sprint_id else None
        if sprint is None:
            continue
        first, final = _sprint_days(sprint)
        committed, completed = totals[sprint.id]
        if span.covers(first):
            committed += state.point_value
        if state.done and span.covers(final):
            completed += state.point_value
        totals[sprint.id] = (committed, completed)
    return totals


def velocity(totals: SprintTotals, sprints: Iterable[SprintInfo], *, last: int) -> Velocity:
    """Committed and completed points of the last ``last`` finished sprints, from their
    ``sprint_totals`` (a sprint missing from them had nothing)."""
    finished = finished_sprints(sprints, last)
    skipped = tuple(s.number for s in finished if not s.dated)
    rows = tuple(
        SprintVelocity(s.id, s.number, *_sprint_days(s), *totals.get(s.id, (0, 0)))
        for s in finished
        if s.dated
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


FlowDelta = tuple[date, StoryStatus, int, int]
"""From a day on, ``points`` and ``stories`` more (or, negative, fewer) in ``status``."""


def flow_deltas(
    spans: Iterable[StorySpan], phase_id: int, phase_sprint_ids: frozenset[int]
) -> Iterator[FlowDelta]:
    """Each span of the phase adds its story from its first day and takes it away from
    the day it ends. (The service has the database sum the same deltas.)"""
    for span in spans:
        state = span.state
        if in_phase(state, phase_id, phase_sprint_ids):
            yield span.first, state.status, state.point_value, 1
            if span.until is not None:
                yield span.until, state.status, -state.point_value, -1


def phase_bounds(phase_id: int, sprints: Iterable[SprintInfo]) -> tuple[date, date]:
    """``phase_range``; a phase without dated sprints has no range: ``SprintWithoutDates``."""
    bounds = phase_range(phase_id, sprints)
    if bounds is None:
        raise SprintWithoutDates("no sprint of the phase has dates; set them to chart the phase")
    return bounds


def cumulative_flow(
    deltas: Iterable[FlowDelta],
    phase_id: int,
    sprints: Iterable[SprintInfo],
    *,
    today: date,
) -> CumulativeFlow:
    """Points and story counts per status per day over the phase's range, up to today,
    from the phase's ``flow_deltas`` (deltas before the range count toward its first day,
    those after today are not read)."""
    first, last = phase_bounds(phase_id, sprints)
    points = dict.fromkeys(StoryStatus, 0)
    stories = dict.fromkeys(StoryStatus, 0)
    by_day: dict[date, list[FlowDelta]] = {}
    for delta in deltas:
        if delta[0] <= first:
            _add(points, stories, delta)
        else:
            by_day.setdefault(delta[0], []).append(delta)
    series = []
    for day in _days(first, min(last, today)):
        for delta in by_day.get(day, ()):
            _add(points, stories, delta)
        series.append(FlowDay(day, dict(points), dict(stories)))
    return CumulativeFlow(phase_id, first, last, tuple(series))


def _add(points: dict[StoryStatus, int], stories: dict[StoryStatus, int], delta: FlowDelta) -> None:
    _, status, more_points, more_stories = delta
    points[status] += more_points
    stories[status] += more_stories


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
