"""The analytics read service: loads a project's sprints and story events in a bounded
number of queries and hands them to the pure functions of ``series`` and ``forecast``.

Every method finds the project by membership (``project_service.get``): a non-member gets
NotFound, as everywhere. ``now`` (timezone-aware) fixes "today" for tests; by default it
is the current time, and today is its date in the project's time zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.analytics.forecast import (
    DEFAULT_TRIALS,
    Forecast,
    PlanTarget,
    WeekSpan,
    forecast_sprints,
)
from plandeck.analytics.history import StoryEvent, end_of_day, local_date, states_on
from plandeck.analytics.series import (
    Burndown,
    CumulativeFlow,
    SprintInfo,
    Velocity,
    cumulative_flow,
    in_phase,
    phase_range,
    sprint_burndown,
    velocity,
)
from plandeck.errors import NotFound
from plandeck.models import (
    ActivityEvent,
    EntityType,
    Phase,
    Project,
    Sprint,
    SprintStatus,
    User,
)
from plandeck.models.base import utcnow
from plandeck.plans.projects import project_service

_SPRINT_COLUMNS = (
    Sprint.id,
    Sprint.number,
    Sprint.status,
    Sprint.starts_on,
    Sprint.ends_on,
    Sprint.phase_id,
    Sprint.weeks,
)


async def _story_events(
    session: AsyncSession, project: Project, *, through: date | None, zone: ZoneInfo
) -> list[StoryEvent]:
    """The project's story events in the order they happened, up to the end of the day
    ``through`` (all of them for None): one query, plain rows. Later events cannot change
    the days read, so they are not fetched."""
    statement = (
        select(
            ActivityEvent.entity_id,
            ActivityEvent.action,
            ActivityEvent.created_at,
            ActivityEvent.before,
            ActivityEvent.after,
        )
        .where(
            ActivityEvent.project_id == project.id,
            ActivityEvent.entity_type == EntityType.STORY,
        )
        .order_by(ActivityEvent.created_at, ActivityEvent.id)
    )
    if through is not None:
        statement = statement.where(ActivityEvent.created_at < end_of_day(through, zone))
    rows = await session.execute(statement)
    return [
        StoryEvent(story_id, action, at, before, after)
        for story_id, action, at, before, after in rows
    ]


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


def _today(project: Project, now: datetime | None) -> tuple[ZoneInfo, date]:
    zone = ZoneInfo(project.timezone)
    return zone, local_date(now or utcnow(), zone)


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
        """Burndown and burnup of sprint ``number`` (``series.sprint_burndown``); 3 queries
        after the project's."""
        project = await project_service.get(session, actor, key)
        found = await _sprints(session, project, number=number)
        if not found:
            raise NotFound(f"sprint {number} not found in project {project.key}")
        sprint = found[0]
        zone, today = _today(project, now)
        through = min(today, sprint.ends_on) if sprint.ends_on else today
        events = await _story_events(session, project, through=through, zone=zone)
        return sprint_burndown(events, zone, sprint, today=today)

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
        zone = ZoneInfo(project.timezone)
        ends = [s.ends_on for s in sprints if s.status is SprintStatus.COMPLETED and s.ends_on]
        events = await _story_events(session, project, through=max(ends, default=None), zone=zone)
        return velocity(events, zone, sprints, last=last)

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
        zone, today = _today(project, now)
        bounds = phase_range(phase_id, sprints)
        through = min(today, bounds[1]) if bounds else today
        events = await _story_events(session, project, through=through, zone=zone)
        return cumulative_flow(events, zone, phase_id, sprints, today=today)

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
        zone, today = _today(project, now)
        events = await _story_events(session, project, through=today, zone=zone)
        ids = frozenset(s.id for s in sprints if s.phase_id == phase_id)
        remaining = sum(
            state.point_value
            for state in states_on(events, zone, today).values()
            if in_phase(state, phase_id, ids) and not state.done
        )
        past = velocity(events, zone, sprints, last=history or max(len(sprints), 1))
        return forecast_sprints(
            remaining,
            past.sprints,
            plan=plan_target(phase_id, sprints),
            trials=trials,
            seed=seed,
        )


analytics_service = AnalyticsService()
