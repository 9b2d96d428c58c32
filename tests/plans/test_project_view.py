"""The project overview's read model: roll-ups, groups, and a constant number of queries."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.errors import NotFound
from plandeck.models import MoSCoW, Project, StoryStatus, User
from plandeck.plans.project_view import project_overview
from tests.factories.accounts import make_user
from tests.factories.plans import (
    make_phase,
    make_project,
    make_sprint,
    make_story,
    make_task,
)
from tests.statements import count_statements


@pytest.fixture
async def project(session: AsyncSession, owner: User) -> Project:
    return await make_project(session, owner, key="PV")


class TestProjectOverview:
    async def test_rolls_points_up_from_stories_to_sprints_phases_and_project(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        phase = await make_phase(session, owner, project, number=3, goals=["Ship it"])
        nine = await make_sprint(session, owner, project, number=9, phase_id=phase.id, weeks="1-2")
        ten = await make_sprint(session, owner, project, number=10, phase_id=phase.id)
        done = await make_story(
            session,
            owner,
            project,
            key="9.1",
            sprint_id=nine.id,
            points=5,
            status=StoryStatus.DONE,
            moscow=MoSCoW.MUST,
        )
        await make_story(
            session, owner, project, key="9.2", sprint_id=nine.id, points=3, moscow=MoSCoW.SHOULD
        )
        await make_story(session, owner, project, key="10.1", sprint_id=ten.id, points=8)
        await make_story(session, owner, project, key="B-1", points=2)
        await make_task(session, owner, project, done, done=True)
        await make_task(session, owner, project, done)

        overview = await project_overview(session, owner, project.key)
        assert (overview.rollup.points_done, overview.rollup.points_total) == (5, 18)
        view = overview.phase(3)
        assert (view.rollup.points_done, view.rollup.points_total, view.rollup.stories) == (
            5,
            16,
            3,
        )
        assert view.rollup.percent_done == 31
        assert dict(view.rollup.by_status) == {"done": 1, "draft": 2}
        assert [s.sprint.number for s in view.sprints] == [9, 10]
        assert [(s.rollup.points_done, s.rollup.points_total) for s in view.sprints] == [
            (5, 8),
            (0, 8),
        ]
        assert [(r.story.key, r.tasks_done, r.tasks_total) for r in view.sprints[0].rows] == [
            ("9.1", 1, 2),
            ("9.2", 0, 0),
        ]
        assert [(value, [r.story.key for r in rows]) for value, rows in view.moscow] == [
            (MoSCoW.MUST, ["9.1"]),
            (MoSCoW.SHOULD, ["9.2"]),
        ]
        assert [s.sprint.number for s in view.timeline] == [9]
        assert [r.story.key for r in overview.backlog] == ["B-1"]

    async def test_non_member_and_missing_phase_are_not_found(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        stranger = await make_user(session)
        with pytest.raises(NotFound):
            await project_overview(session, stranger, project.key)
        overview = await project_overview(session, owner, project.key)
        with pytest.raises(NotFound, match="phase 7 not found"):
            overview.phase(7)

    async def test_queries_do_not_grow_with_the_project(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        counts = []
        for size in (1, 12):
            phase = await make_phase(session, owner, project)
            sprint = await make_sprint(session, owner, project, phase_id=phase.id)
            for _ in range(size):
                story = await make_story(session, owner, project, sprint_id=sprint.id)
                await make_task(session, owner, project, story)
            with count_statements(session) as seen:
                await project_overview(session, owner, project.key)
            counts.append(len(seen))
        assert counts[0] == counts[1] <= 5
