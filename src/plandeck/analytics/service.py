"""The analytics read service: reads a project's sprints and the spans of the ``story_days``
snapshot it needs (or, for the cumulative flow, their sums per day) in a bounded number of
queries, and hands them to the pure functions of ``series`` and ``forecast``.

Every method finds the project by membership (``project_service.get``): a non-member gets
NotFound, as everywhere. ``now`` (timezone-aware) fixes "today" for tests; by default it
is the current time, and today is its date in the project's time zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    and_,
    case,
    func,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from plandeck.analytics.forecast import (
    DEFAULT_TRIALS,
    Forecast,
    PlanTarget,
    WeekSpan,
    forecast_sprints,
)
from plandeck.analytics.history import StorySpan, StoryState, local_date
from plandeck.analytics.series import (
    Burndown,
    CarryOver,
    CumulativeFlow,
    SprintInfo,
    SprintWithoutDates,
    Velocity,
    cumulative_flow,
    finished_sprints,
    phase_bounds,
    sprint_burndown,
    velocity,
)
from plandeck.errors import NotFound
from plandeck.models import (
    Phase,
    Project,
    Sprint,
    StoryDay,
    StoryStatus,
    User,
)
from plandeck.plans.projects import project_service
from plandeck.plans.sprints import last_completion, project_today

_SPRINT_COLUMNS = (
    Sprint.id,
    Sprint.number,
    Sprint.status,
    Sprint.starts_on,
    Sprint.ends_on,
    Sprint.phase_id,
    Sprint.weeks,
)
_DAYS = StoryDay.__table__
_SPAN_COLUMNS = (
    _DAYS.c.story_id,
    _DAYS.c.status,
    _DAYS.c.points,
    _DAYS.c.sprint_id,
    _DAYS.c.phase_id,
    _DAYS.c.live,
    _DAYS.c.day,
    _DAYS.c.until,
)


def _covers(day: date | InstrumentedAttribute[date | None]) -> ColumnElement[bool]:
    """The snapshot row holds the story's state at the end of ``day`` (a date, or a
    sprint's date column)."""
    return and_(_DAYS.c.day <= day, or_(_DAYS.c.until.is_(None), _DAYS.c.until > day))


async def _spans(session: AsyncSession, statement: Select[Any]) -> list[StorySpan]:
    rows = await session.execute(statement.order_by(_DAYS.c.story_id, _DAYS.c.day))
    return [
        StorySpan(StoryState(story_id, status, points, sprint_id, phase_id, live), day, until)
        for story_id, status, points, sprint_id, phase_id, live, day, until in rows
    ]


def _flow_deltas(
    project: Project, phase_id: int, sprint_ids: Sequence[int], through: date
) -> CompoundSelect[Any]:
    """``series.flow_deltas`` summed by the database per day and status, up to ``through``:
    each span of the phase counts from its first day and stops counting on its ``until``."""
    inside = and_(
        _DAYS.c.project_id == project.id,
        _DAYS.c.live.is_(True),
        or_(_DAYS.c.phase_id == phase_id, _DAYS.c.sprint_id.in_(sprint_ids)),
    )
    points = func.coalesce(func.sum(func.coalesce(_DAYS.c.points, 0)), 0)
    starts = (
        select(_DAYS.c.day, _DAYS.c.status, points, func.count())
        .where(inside, _DAYS.c.day <= through)
        .group_by(_DAYS.c.day, _DAYS.c.status)
    )
    ends = (
        select(_DAYS.c.until, _DAYS.c.status, -points, -func.count())
        .where(inside, _DAYS.c.until <= through)
        .group_by(_DAYS.c.until, _DAYS.c.status)
    )
    return union_all(starts, ends)


async def _sprints(
    session: AsyncSession, project: Project, *, number: int | None = None
) -> list[SprintInfo]:
    """The project's live sprints by number (only the one numbered ``number`` if given)."""
    statement = select(*_SPRINT_COLUMNS).where(
        Sprint.project_id == project.id, Sprint.deleted_at.is_(None)
    )
    if number is not None:
        statement = statement.where(Sprint.number == number)
    rows = await session.execute(statement.order_by(Sprint.number))
    return [SprintInfo(*row) for row in rows]


async def _phase_id(session: AsyncSession, project: Project, number: int) -> int:
    phase_id: int | None = await session.scalar(
        select(Phase.id).where(
            Phase.project_id == project.id, Phase.number == number, Phase.deleted_at.is_(None)
        )
    )
    if phase_id is None:
        raise NotFound(f"phase {number} not found in project {project.key}")
    return phase_id


async def _velocity(
    session: AsyncSession, project: Project, sprints: Sequence[SprintInfo], last: int
) -> Velocity:
    """``series.velocity`` of the last ``last`` finished sprints; the database sums their
    ``series.sprint_totals`` (one row per sprint)."""
    ids = [s.id for s in finished_sprints(sprints, last) if s.dated]
    totals = {}
    if ids:
        committed = and_(_DAYS.c.sprint_id == Sprint.id, _covers(Sprint.starts_on))
        completed = and_(
            _DAYS.c.sprint_id == Sprint.id,
            _DAYS.c.status == StoryStatus.DONE,
            _covers(Sprint.ends_on),
        )
        points = func.coalesce(_DAYS.c.points, 0)
        rows = await session.execute(
            select(
                Sprint.id,
                func.sum(case((committed, points), else_=0)),
                func.sum(case((completed, points), else_=0)),
            )
            .join_from(_DAYS, Sprint, _DAYS.c.sprint_id == Sprint.id)
            .where(
                _DAYS.c.project_id == project.id,
                _DAYS.c.live.is_(True),
                Sprint.id.in_(ids),
                or_(_covers(Sprint.starts_on), _covers(Sprint.ends_on)),
            )
            .group_by(Sprint.id)
        )
        totals = {sprint_id: (int(a), int(b)) for sprint_id, a, b in rows}
    return velocity(totals, sprints, last=last)


async def _carry_over(session: AsyncSession, sprint_id: int, zone: ZoneInfo) -> CarryOver | None:
    completion = await last_completion(session, sprint_id)
    if completion is None:
        return None
    return CarryOver(
        local_date(completion.at, zone), frozenset(completion.stories), completion.points
    )


def _today(project: Project, now: datetime | None) -> tuple[ZoneInfo, date]:
    return ZoneInfo(project.timezone), project_today(project, now)


def plan_target(phase_id: int, sprints: Sequence[SprintInfo]) -> PlanTarget | None:
    """The plan's end of a phase: its highest-numbered sprint and that sprint's weeks."""
    planned = [s for s in sprints if s.phase_id == phase_id]
    if not planned:
        return None
    final = max(planned, key=lambda s: s.number)
    return PlanTarget(final.number, WeekSpan.parse(final.weeks))


class AnalyticsService:
    async def sprint_burndown(
        self,
        session: AsyncSession,
        actor: User,
        key: str,
        number: int,
        *,
        now: datetime | None = None,
    ) -> Burndown:
        """Burndown and burnup of sprint ``number`` (``series.sprint_burndown``); 4 queries
        after the project's."""
        project = await project_service.get(session, actor, key)
        found = await _sprints(session, project, number=number)
        if not found:
            raise NotFound(f"sprint {number} not found in project {project.key}")
        sprint = found[0]
        zone, today = _today(project, now)
        if not sprint.dated:
            raise SprintWithoutDates(
                f"sprint {sprint.number} has no start or end date; set both to chart it"
            )
        assert sprint.starts_on is not None
        assert sprint.ends_on is not None
        through = min(today, sprint.ends_on)
        carried = await _carry_over(session, sprint.id, zone)
        # A story carried over on the day it joined has no day in the sprint of its own.
        ever_in = select(_DAYS.c.story_id).where(
            _DAYS.c.project_id == project.id, _DAYS.c.sprint_id == sprint.id
        )
        in_sprint: ColumnElement[bool] = _DAYS.c.story_id.in_(ever_in)
        if carried is not None and carried.story_ids:
            in_sprint = or_(in_sprint, _DAYS.c.story_id.in_(sorted(carried.story_ids)))
        spans = await _spans(
            session,
            select(*_SPAN_COLUMNS).where(
                _DAYS.c.project_id == project.id,
                in_sprint,
                _DAYS.c.day <= through,
                or_(_DAYS.c.until.is_(None), _DAYS.c.until > sprint.starts_on),
            ),
        )
        return sprint_burndown(spans, sprint, today=today, carried_over=carried)

    async def velocity(
        self,
        session: AsyncSession,
        actor: User,
        key: str,
        *,
        last: int = 6,
    ) -> Velocity:
        """Committed vs completed of the last ``last`` finished sprints."""
        project = await project_service.get(session, actor, key)
        sprints = await _sprints(session, project)
        return await _velocity(session, project, sprints, last)

    async def cumulative_flow(
        self,
        session: AsyncSession,
        actor: User,
        key: str,
        phase_number: int,
        *,
        now: datetime | None = None,
    ) -> CumulativeFlow:
        """Points and stories per status per day over phase ``phase_number``'s range."""
        project = await project_service.get(session, actor, key)
        phase_id = await _phase_id(session, project, phase_number)
        sprints = await _sprints(session, project)
        _zone, today = _today(project, now)
        _first, last = phase_bounds(phase_id, sprints)
        ids = [s.id for s in sprints if s.phase_id == phase_id]
        deltas = await session.execute(_flow_deltas(project, phase_id, ids, min(last, today)))
        return cumulative_flow(
            ((day, StoryStatus(status), points, count) for day, status, points, count in deltas),
            phase_id,
            sprints,
            today=today,
        )

    async def forecast(
        self,
        session: AsyncSession,
        actor: User,
        key: str,
        phase_number: int,
        *,
        seed: int = 0,
        trials: int = DEFAULT_TRIALS,
        history: int | None = None,
        now: datetime | None = None,
    ) -> Forecast:
        """When phase ``phase_number``'s remaining points are done, from the project's
        finished sprints (the last ``history`` of them, all by default).

        Remaining: the points not done of the phase's live stories at the end of today,
        from the events like every series. The plan's end is the phase's last sprint.
        """
        project = await project_service.get(session, actor, key)
        phase_id = await _phase_id(session, project, phase_number)
        sprints = await _sprints(session, project)
        _zone, today = _today(project, now)
        ids = [s.id for s in sprints if s.phase_id == phase_id]
        remaining = await session.scalar(
            select(func.coalesce(func.sum(func.coalesce(_DAYS.c.points, 0)), 0)).where(
                _DAYS.c.project_id == project.id,
                _DAYS.c.live.is_(True),
                _DAYS.c.status != StoryStatus.DONE,
                or_(_DAYS.c.phase_id == phase_id, _DAYS.c.sprint_id.in_(ids)),
                _covers(today),
            )
        )
        past = await _velocity(session, project, sprints, history or max(len(sprints), 1))
        return forecast_sprints(
            int(remaining or 0),
            past.sprints,
            plan=plan_target(phase_id, sprints),
            trials=trials,
            seed=seed,
        )


analytics_service = AnalyticsService()
