from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.analytics.forecast import ForecastStatus, WeekSpan
from plandeck.analytics.series import SprintWithoutDates
from plandeck.analytics.service import analytics_service
from plandeck.errors import NotFound
from plandeck.models import (
    ActivityAction,
    ActivityEvent,
    EntityType,
    Project,
    Sprint,
    SprintStatus,
    Story,
    StoryStatus,
    User,
)
from plandeck.plans.schemas import SprintComplete, SprintUpdate, StoryMove, StoryUpdate
from plandeck.plans.sprints import sprint_service
from plandeck.plans.stories import story_service
from tests.factories.accounts import make_user
from tests.factories.plans import make_phase, make_project, make_sprint, make_story
from tests.history import EventClock
from tests.statements import count_statements

START = date(2026, 3, 2)


async def _done(session: AsyncSession, owner: User, project: Project, story: Story) -> None:
    await story_service.move(session, owner, project, story.key, StoryMove(status=StoryStatus.DONE))


async def _five_day_sprint(session: AsyncSession, owner: User, project: Project) -> Sprint:
    """The active sprint from START to four days later."""
    return await make_sprint(
        session,
        owner,
        project,
        status=SprintStatus.ACTIVE,
        starts_on=START,
        ends_on=START + timedelta(days=4),
    )


class TestStoryEvents:
    async def test_events_carry_the_fields_the_history_reads(
        self, session: AsyncSession, owner: User
    ) -> None:
        project = await make_project(session, owner)
        sprint = await make_sprint(session, owner, project)
        story = await make_story(session, owner, project, sprint_id=sprint.id, points=3)
        await story_service.update(session, owner, project, story.id, StoryUpdate(points=5))
        await story_service.move(
            session, owner, project, story.key, StoryMove(sprint=None, status=StoryStatus.REVIEW)
        )
        await story_service.delete(session, owner, project, story.id)
        await story_service.restore(session, owner, project, story.id)
        events = (
            await session.execute(
                select(ActivityEvent.action, ActivityEvent.after)
                .where(ActivityEvent.entity_type == EntityType.STORY)
                .order_by(ActivityEvent.id)
            )
        ).all()
        assert [action for action, _ in events] == [
            ActivityAction.CREATED,
            ActivityAction.UPDATED,
            ActivityAction.MOVED,
            ActivityAction.DELETED,
            ActivityAction.RESTORED,
        ]
        created = events[0][1]
        assert {"status", "points", "sprint_id", "phase_id"} <= created.keys()
        assert (created["status"], created["points"], created["sprint_id"]) == (
            "draft",
            3,
            sprint.id,
        )
        assert events[1][1] == {"points": 5}
        assert {k: events[2][1][k] for k in ("sprint_id", "status")} == {
            "sprint_id": None,
            "status": "review",
        }


class TestSprintBurndown:
    async def test_burndown_follows_moves_and_edits(
        self, session: AsyncSession, owner: User
    ) -> None:
        project = await make_project(session, owner)
        clock = EventClock(session)
        first = await _five_day_sprint(session, owner, project)
        second = await make_sprint(session, owner, project)
        a = await make_story(session, owner, project, sprint_id=first.id, points=5)
        b = await make_story(session, owner, project, sprint_id=first.id, points=3)
        c = await make_story(session, owner, project, sprint_id=second.id, points=2)
        await clock.stamp(START - timedelta(days=1))
        await _done(session, owner, project, a)
        await clock.stamp(START + timedelta(days=1))  # day 2: A (5) done
        await story_service.move(session, owner, project, c.key, StoryMove(sprint=first.number))
        await clock.stamp(START + timedelta(days=2))  # day 3: C (2) moved in
        await story_service.update(session, owner, project, b.id, StoryUpdate(points=1))
        await story_service.delete(session, owner, project, c.id)
        await clock.stamp(START + timedelta(days=3))  # day 4: B 3 -> 1, C trashed

        now = datetime.combine(START + timedelta(days=3), time(18), tzinfo=UTC)
        with count_statements(session) as statements:
            burndown = await analytics_service.sprint_burndown(
                session, owner, project.key, first.number, now=now
            )
        # Project, sprint, events (and no more however many stories there are).
        assert len(statements) <= 4
        assert burndown.committed == 8  # A5 + B3
        assert [d.ideal for d in burndown.days] == [8, 6, 4, 2, 0]  # 8 * (4 - i) / 4
        assert [(d.remaining, d.done, d.scope, d.added, d.removed) for d in burndown.days] == [
            (8, 0, 8, 0, 0),
            (3, 5, 8, 0, 0),  # A done
            (5, 5, 10, 2, 0),  # C2 in
            (1, 5, 6, 0, 4),  # B re-estimated (-2), C trashed (-2)
            (None, None, None, None, None),  # tomorrow
        ]

        # Today's changes never rewrite past days.
        await story_service.move(session, owner, project, b.key, StoryMove(status=StoryStatus.DONE))
        await story_service.restore(session, owner, project, c.id)
        await clock.stamp(START + timedelta(days=4))
        later = await analytics_service.sprint_burndown(
            session, owner, project.key, first.number, now=now + timedelta(days=1)
        )
        assert later.days[:4] == burndown.days[:4]
        assert (later.days[4].remaining, later.days[4].done, later.days[4].added) == (2, 6, 2)

    async def test_carried_over_stories_remain_on_the_last_day(
        self, session: AsyncSession, owner: User
    ) -> None:
        project = await make_project(session, owner)
        clock = EventClock(session)
        sprint = await _five_day_sprint(session, owner, project)
        following = await make_sprint(session, owner, project, number=sprint.number + 1)
        a = await make_story(session, owner, project, sprint_id=sprint.id, points=5)
        b = await make_story(session, owner, project, sprint_id=sprint.id, points=3)
        await clock.stamp(START - timedelta(days=1))
        await _done(session, owner, project, a)
        await clock.stamp(START + timedelta(days=1))
        third = datetime.combine(START + timedelta(days=2), time(16), tzinfo=UTC)
        await sprint_service.complete(
            session, owner, project, sprint.id, SprintComplete(), now=third
        )
        await clock.stamp(START + timedelta(days=2))

        burndown = await analytics_service.sprint_burndown(
            session, owner, project.key, sprint.number, now=third + timedelta(days=1)
        )
        assert burndown.ends_on == START + timedelta(days=2)  # completed two days early
        assert burndown.carried_over == 3
        rows = [(d.remaining, d.done, d.scope, d.added, d.removed) for d in burndown.days]
        assert rows == [(8, 0, 8, 0, 0), (3, 5, 8, 0, 0), (3, 5, 8, 0, 0)]
        # B counts for the sprint it went to from its first day.
        assert b.sprint_id == following.id

        # Reopened, the sprint's last status change is no completion: B has simply left it.
        await sprint_service.update(
            session, owner, project, sprint.id, SprintUpdate(status=SprintStatus.ACTIVE)
        )
        reopened = await analytics_service.sprint_burndown(
            session, owner, project.key, sprint.number, now=third + timedelta(days=1)
        )
        assert reopened.carried_over == 0
        assert (reopened.days[-1].remaining, reopened.days[-1].removed) == (0, 3)

    async def test_queries_do_not_grow_with_stories(
        self, session: AsyncSession, owner: User
    ) -> None:
        project = await make_project(session, owner)
        sprint = await make_sprint(
            session, owner, project, starts_on=START, ends_on=START + timedelta(days=9)
        )
        counts = []
        for _ in range(2):
            for _ in range(5):
                await make_story(session, owner, project, sprint_id=sprint.id)
            await session.flush()
            with count_statements(session) as statements:
                await analytics_service.sprint_burndown(session, owner, project.key, sprint.number)
            counts.append(len(statements))
        assert counts[0] == counts[1]

    async def test_non_member_gets_not_found(self, session: AsyncSession, owner: User) -> None:
        project = await make_project(session, owner)
        sprint = await make_sprint(session, owner, project, starts_on=START, ends_on=START)
        stranger = await make_user(session)
        with pytest.raises(NotFound):
            await analytics_service.sprint_burndown(session, stranger, project.key, sprint.number)
        for call in (
            analytics_service.velocity(session, stranger, project.key),
            analytics_service.cumulative_flow(session, stranger, project.key, 1),
            analytics_service.forecast(session, stranger, project.key, 1),
        ):
            with pytest.raises(NotFound):
                await call

    async def test_unknown_sprint_and_undated_sprint(
        self, session: AsyncSession, owner: User
    ) -> None:
        project = await make_project(session, owner)
        sprint = await make_sprint(session, owner, project)
        with pytest.raises(NotFound, match="sprint 999"):
            await analytics_service.sprint_burndown(session, owner, project.key, 999)
        with pytest.raises(SprintWithoutDates):
            await analytics_service.sprint_burndown(session, owner, project.key, sprint.number)


class TestPhaseAnalytics:
    async def _three_sprints_of_five(
        self, session: AsyncSession, owner: User
    ) -> tuple[Project, int, list[int]]:
        """Sprints 1-3 (two weeks each from 5 January 2026) each completed one 5-point
        story; sprint 4 (weeks 7-8) holds 5 + 4 points not done."""
        project = await make_project(session, owner)
        clock = EventClock(session)
        phase = await make_phase(session, owner, project)
        numbers = []
        first_start = date(2026, 1, 5)
        for index in range(4):
            starts_on = first_start + timedelta(days=14 * index)
            sprint = await make_sprint(
                session,
                owner,
                project,
                phase_id=phase.id,
                status=SprintStatus.COMPLETED if index < 3 else SprintStatus.ACTIVE,
                starts_on=starts_on,
                ends_on=starts_on + timedelta(days=13),
                weeks=f"{2 * index + 1}-{2 * index + 2}",
            )
            numbers.append(sprint.number)
            if index < 3:
                story = await make_story(session, owner, project, sprint_id=sprint.id, points=5)
                await clock.stamp(starts_on)
                await _done(session, owner, project, story)
                await clock.stamp(starts_on + timedelta(days=5))
            else:
                await make_story(session, owner, project, sprint_id=sprint.id, points=5)
                await make_story(session, owner, project, sprint_id=sprint.id, points=4)
                await clock.stamp(starts_on)
        return project, phase.number, numbers

    async def test_velocity(self, session: AsyncSession, owner: User) -> None:
        project, _, numbers = await self._three_sprints_of_five(session, owner)
        result = await analytics_service.velocity(session, owner, project.key, last=2)
        assert [(s.number, s.committed, s.completed) for s in result.sprints] == [
            (numbers[1], 5, 5),
            (numbers[2], 5, 5),
        ]
        assert (result.mean, result.stdev) == (5, 0)

    async def test_forecast_against_the_plan(self, session: AsyncSession, owner: User) -> None:
        project, phase_number, numbers = await self._three_sprints_of_five(session, owner)
        now = datetime(2026, 2, 20, 12, tzinfo=UTC)
        with count_statements(session) as statements:
            result = await analytics_service.forecast(
                session, owner, project.key, phase_number, seed=3, now=now
            )
        assert len(statements) <= 5
        assert result.status is ForecastStatus.FORECAST
        assert result.remaining_points == 9  # 5 + 4 in sprint 4
        assert result.history == (5, 5, 5)
        assert result.p50 is not None
        assert result.p85 is not None
        # ceil(9 / 5) = 2 sprints after the third (ended 15 February): the fifth, 15 March.
        assert result.p50.sprints == result.p85.sprints == 2
        assert result.p50.sprint_number == numbers[2] + 2
        assert result.p50.ends_on == date(2026, 3, 15)
        # The plan ends with sprint 4 (weeks 7-8): one two-week sprint late.
        assert (result.p50.weeks_late, result.p50.weeks) == (2, WeekSpan(9, 10))

    async def test_forecast_needs_three_finished_sprints(
        self, session: AsyncSession, owner: User
    ) -> None:
        project = await make_project(session, owner)
        phase = await make_phase(session, owner, project)
        await make_sprint(
            session,
            owner,
            project,
            phase_id=phase.id,
            status=SprintStatus.COMPLETED,
            starts_on=START,
            ends_on=START + timedelta(days=13),
        )
        result = await analytics_service.forecast(session, owner, project.key, phase.number)
        assert result.status is ForecastStatus.NOT_ENOUGH_HISTORY
        assert result.p50 is None

    async def test_cumulative_flow(self, session: AsyncSession, owner: User) -> None:
        project, phase_number, _ = await self._three_sprints_of_five(session, owner)
        now = datetime(2026, 2, 20, 12, tzinfo=UTC)
        flow = await analytics_service.cumulative_flow(
            session, owner, project.key, phase_number, now=now
        )
        assert (flow.first, flow.last) == (date(2026, 1, 5), date(2026, 3, 1))
        assert flow.days[-1].day == date(2026, 2, 20)
        # Three done stories of 5, two draft stories (5 + 4) in sprint 4.
        last = flow.days[-1]
        assert (last.points[StoryStatus.DONE], last.points[StoryStatus.DRAFT]) == (15, 9)
        assert (last.stories[StoryStatus.DONE], last.stories[StoryStatus.DRAFT]) == (3, 2)
        # 5 January: sprint 1's story, still draft.
        assert flow.days[0].points[StoryStatus.DRAFT] == 5

    async def test_unknown_phase(self, session: AsyncSession, owner: User) -> None:
        project = await make_project(session, owner)
        with pytest.raises(NotFound, match="phase 999"):
            await analytics_service.forecast(session, owner, project.key, 999)
