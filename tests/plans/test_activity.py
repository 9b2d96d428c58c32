from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.db import create_sessionmaker, unit_of_work
from plandeck.errors import Conflict, Forbidden, InvalidInput, NotFound, StaleVersion
from plandeck.models import (
    ActivityAction,
    ActivityEvent,
    EntityType,
    Phase,
    Project,
    Role,
    User,
)
from plandeck.plans.activity import MAX_PAGE, activity_service
from plandeck.plans.comments import comment_service
from plandeck.plans.phases import phase_service
from plandeck.plans.projects import project_service
from plandeck.plans.schemas import (
    CommentUpdate,
    MembershipCreate,
    PhaseUpdate,
    ProjectUpdate,
    SprintUpdate,
    StoryUpdate,
    TaskUpdate,
)
from plandeck.plans.sprints import sprint_service
from plandeck.plans.stories import story_service
from plandeck.plans.tasks import task_service
from tests.databases import TestDatabase
from tests.factories.accounts import make_user
from tests.factories.comments import make_comment
from tests.factories.plans import (
    add_member,
    make_phase,
    make_project,
    make_sprint,
    make_story,
    make_task,
)


@pytest.fixture
async def project(session: AsyncSession, owner: User) -> Project:
    return await make_project(session, owner, key="AC")


async def _all_ids(session: AsyncSession) -> set[int]:
    return set((await session.scalars(select(ActivityEvent.id))).all())


async def _new_events(
    session: AsyncSession, change: Callable[[], Awaitable[Any]]
) -> list[tuple[EntityType, ActivityAction]]:
    """What ``change`` added to the trail, oldest first."""
    seen = await _all_ids(session)
    await change()
    rows = (
        await session.execute(
            select(ActivityEvent.id, ActivityEvent.entity_type, ActivityEvent.action).order_by(
                ActivityEvent.id
            )
        )
    ).all()
    return [(r.entity_type, r.action) for r in rows if r.id not in seen]


class TestListActivity:
    async def test_newest_first_and_only_this_project(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        other = await make_project(session, owner)
        await make_phase(session, owner, other)
        story = await make_story(session, owner, project)
        await story_service.update(session, owner, project, story.id, StoryUpdate(title="t2"))
        events = await activity_service.list_for_project(session, owner, project)
        assert [(e.entity_type, e.action) for e in events] == [
            (EntityType.STORY, ActivityAction.UPDATED),
            (EntityType.STORY, ActivityAction.CREATED),
            (EntityType.PROJECT, ActivityAction.CREATED),
        ]
        assert {e.project_id for e in events} == {project.id}
        assert [e.id for e in events] == sorted((e.id for e in events), reverse=True)

    async def test_filters_by_entity_type_and_id(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        first = await make_story(session, owner, project)
        second = await make_story(session, owner, project)
        await make_phase(session, owner, project)
        await story_service.update(session, owner, project, first.id, StoryUpdate(points=8))

        stories = await activity_service.list_for_project(
            session, owner, project, entity_type=EntityType.STORY
        )
        assert [(e.entity_id, e.action) for e in stories] == [
            (first.id, ActivityAction.UPDATED),
            (second.id, ActivityAction.CREATED),
            (first.id, ActivityAction.CREATED),
        ]
        one = await activity_service.list_for_project(
            session, owner, project, entity_type=EntityType.STORY, entity_id=first.id
        )
        assert [e.action for e in one] == [ActivityAction.UPDATED, ActivityAction.CREATED]

    async def test_pages_with_before_id(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        for number in range(6):
            await make_phase(session, owner, project, number=number)
        everything = await activity_service.list_for_project(session, owner, project)
        assert len(everything) == 7

        pages: list[list[int]] = []
        before_id: int | None = None
        for _ in range(4):  # bounded: a paging bug must fail here, not loop forever
            page = await activity_service.list_for_project(
                session, owner, project, before_id=before_id, limit=3
            )
            pages.append([e.id for e in page])
            if not page:
                break
            before_id = page[-1].id
        assert [len(p) for p in pages] == [3, 3, 1, 0]
        assert [i for p in pages for i in p] == [e.id for e in everything]

    async def test_limit_is_clamped(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        await make_phase(session, owner, project)
        assert len(await activity_service.list_for_project(session, owner, project, limit=0)) == 1
        assert MAX_PAGE == 500

    async def test_viewer_may_read(self, session: AsyncSession, project: Project) -> None:
        viewer = await make_user(session)
        await add_member(session, project, viewer, Role.VIEWER)
        events = await activity_service.list_for_project(session, viewer, project)
        assert [e.action for e in events] == [ActivityAction.CREATED]

    async def test_non_member_gets_not_found(self, session: AsyncSession, project: Project) -> None:
        with pytest.raises(NotFound, match="project 'AC' not found"):
            await activity_service.list_for_project(session, await make_user(session), project)


class TestOneEventPerChange:
    async def test_each_change_writes_exactly_one_event(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        newcomer = await make_user(session)
        phase = await make_phase(session, owner, project)
        sprint = await make_sprint(session, owner, project)
        story = await make_story(session, owner, project)
        task = await make_task(session, owner, project, story)
        comment = await make_comment(session, owner, project, story)
        steps: list[tuple[Callable[[], Awaitable[Any]], EntityType, ActivityAction]] = [
            (
                lambda: project_service.update(session, owner, project, ProjectUpdate(name="N")),
                EntityType.PROJECT,
                ActivityAction.UPDATED,
            ),
            (
                lambda: project_service.add_member(
                    session, owner, project, MembershipCreate(user_id=newcomer.id)
                ),
                EntityType.MEMBERSHIP,
                ActivityAction.CREATED,
            ),
            (
                lambda: project_service.change_role(
                    session, owner, project, newcomer.id, Role.VIEWER
                ),
                EntityType.MEMBERSHIP,
                ActivityAction.UPDATED,
            ),
            (
                lambda: project_service.remove_member(session, newcomer, project, newcomer.id),
                EntityType.MEMBERSHIP,
                ActivityAction.DELETED,
            ),
            (
                lambda: make_phase(session, owner, project),
                EntityType.PHASE,
                ActivityAction.CREATED,
            ),
            (
                lambda: phase_service.update(
                    session, owner, project, phase.id, PhaseUpdate(title="T")
                ),
                EntityType.PHASE,
                ActivityAction.UPDATED,
            ),
            (
                lambda: phase_service.delete(session, owner, project, phase.id),
                EntityType.PHASE,
                ActivityAction.DELETED,
            ),
            (
                lambda: phase_service.restore(session, owner, project, phase.id),
                EntityType.PHASE,
                ActivityAction.RESTORED,
            ),
            (
                lambda: sprint_service.update(
                    session, owner, project, sprint.id, SprintUpdate(goal="G")
                ),
                EntityType.SPRINT,
                ActivityAction.UPDATED,
            ),
            (
                lambda: sprint_service.delete(session, owner, project, sprint.id),
                EntityType.SPRINT,
                ActivityAction.DELETED,
            ),
            (
                lambda: story_service.update(
                    session, owner, project, story.id, StoryUpdate(points=1)
                ),
                EntityType.STORY,
                ActivityAction.UPDATED,
            ),
            (
                lambda: task_service.update(
                    session, owner, project, task.id, TaskUpdate(done=True)
                ),
                EntityType.TASK,
                ActivityAction.UPDATED,
            ),
            (
                lambda: task_service.delete(session, owner, project, task.id),
                EntityType.TASK,
                ActivityAction.DELETED,
            ),
            (
                lambda: comment_service.update(
                    session, owner, project, comment.id, CommentUpdate(body="B")
                ),
                EntityType.COMMENT,
                ActivityAction.UPDATED,
            ),
            (
                lambda: comment_service.delete(session, owner, project, comment.id),
                EntityType.COMMENT,
                ActivityAction.DELETED,
            ),
        ]
        for change, entity_type, action in steps:
            assert await _new_events(session, change) == [(entity_type, action)]

    async def test_failing_calls_write_no_event(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        viewer = await make_user(session)
        await add_member(session, project, viewer, Role.VIEWER)
        phase = await make_phase(session, owner, project, number=1)
        await phase_service.update(session, owner, project, phase.id, PhaseUpdate(title="v2"))
        failing: list[tuple[Callable[[], Awaitable[Any]], type[Exception]]] = [
            (lambda: make_phase(session, owner, project, number=1), Conflict),
            (
                lambda: phase_service.update(
                    session, owner, project, phase.id, PhaseUpdate(title="x", version=1)
                ),
                StaleVersion,
            ),
            (lambda: make_story(session, viewer, project), Forbidden),
            (lambda: make_story(session, owner, project, sprint_id=999_999), InvalidInput),
            (lambda: project_service.remove_member(session, owner, project, owner.id), Conflict),
            (lambda: phase_service.restore(session, owner, project, phase.id), NotFound),
        ]
        before = await _all_ids(session)
        for change, error in failing:
            with pytest.raises(error):
                await change()
        assert await _all_ids(session) == before


class TestEventsShareTheTransaction:
    async def test_a_rolled_back_unit_of_work_keeps_neither_change_nor_event(
        self, fresh_database: TestDatabase
    ) -> None:
        sessionmaker = create_sessionmaker(fresh_database.engine)
        async with unit_of_work(sessionmaker) as session:
            owner = await make_user(session)
            project = await make_project(session, owner, key="TX")

        async def add_phase_one_twice() -> None:
            async with unit_of_work(sessionmaker) as session:
                actor = await session.get_one(User, owner.id)
                target = await session.get_one(Project, project.id)
                await make_phase(session, actor, target, number=1)
                await make_phase(session, actor, target, number=1)

        with pytest.raises(Conflict):
            await add_phase_one_twice()

        async with unit_of_work(sessionmaker, read_only=True) as session:
            assert await session.scalar(select(func.count()).select_from(Phase)) == 0
            trail = (
                await session.scalars(select(ActivityEvent.entity_type).order_by(ActivityEvent.id))
            ).all()
            assert trail == [EntityType.PROJECT], "the first phase and its event went together"

    async def test_a_committed_change_keeps_its_event(self, fresh_database: TestDatabase) -> None:
        sessionmaker = create_sessionmaker(fresh_database.engine)
        async with unit_of_work(sessionmaker) as session:
            owner = await make_user(session)
            project = await make_project(session, owner, key="TX")
            phase = await make_phase(session, owner, project, number=1)

        async with unit_of_work(sessionmaker, read_only=True) as session:
            rows = (
                await session.execute(
                    select(ActivityEvent.entity_type, ActivityEvent.entity_id).order_by(
                        ActivityEvent.id
                    )
                )
            ).all()
            assert [tuple(r) for r in rows] == [
                (EntityType.PROJECT, project.id),
                (EntityType.PHASE, phase.id),
            ]
