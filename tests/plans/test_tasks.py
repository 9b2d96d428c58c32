from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.errors import Forbidden, InvalidInput, NotFound
from plandeck.models import (
    ActivityAction,
    ActivityEvent,
    EntityType,
    Project,
    Role,
    Story,
    Task,
    User,
)
from plandeck.plans.schemas import TaskCreate, TaskUpdate
from plandeck.plans.stories import story_service
from plandeck.plans.tasks import task_service
from tests.factories.accounts import make_user
from tests.factories.activity import count_events
from tests.factories.plans import make_member, make_project, make_story, make_task


@pytest.fixture
async def project(session: AsyncSession, owner: User) -> Project:
    return await make_project(session, owner, key="TK")


@pytest.fixture
async def story(session: AsyncSession, owner: User, project: Project) -> Story:
    return await make_story(session, owner, project, key="1.1")


async def _task_events(session: AsyncSession, task_id: int) -> list[ActivityEvent]:
    return list(
        (
            await session.scalars(
                select(ActivityEvent)
                .where(
                    ActivityEvent.entity_type == EntityType.TASK, ActivityEvent.entity_id == task_id
                )
                .order_by(ActivityEvent.id)
            )
        ).all()
    )


class TestCreateTask:
    async def test_member_creates_with_activity(
        self, session: AsyncSession, project: Project, story: Story
    ) -> None:
        member = await make_member(session, project, Role.MEMBER)
        task = await task_service.create(
            session, member, project, story.id, TaskCreate(text="  Write the migration  ")
        )
        assert (task.story_id, task.text, task.done, task.position, task.parent_id) == (
            story.id,
            "Write the migration",
            False,
            0,
            None,
        )
        [event] = await _task_events(session, task.id)
        assert (event.action, event.actor_id, event.project_id) == (
            ActivityAction.CREATED,
            member.id,
            project.id,
        )
        assert event.after == {
            "story_id": story.id,
            "parent_id": None,
            "text": "Write the migration",
            "done": False,
            "position": 0,
        }

    async def test_positions_append_per_story(
        self, session: AsyncSession, owner: User, project: Project, story: Story
    ) -> None:
        other_story = await make_story(session, owner, project)
        positions = [(await make_task(session, owner, project, story)).position for _ in range(3)]
        assert positions == [0, 1, 2]
        assert (await make_task(session, owner, project, other_story)).position == 0
        explicit = await make_task(session, owner, project, story, position=10)
        assert explicit.position == 10
        assert (await make_task(session, owner, project, story)).position == 11

    async def test_listed_by_position(
        self, session: AsyncSession, owner: User, project: Project, story: Story
    ) -> None:
        late = await make_task(session, owner, project, story, text="late", position=5)
        early = await make_task(session, owner, project, story, text="early", position=1)
        viewer = await make_member(session, project, Role.VIEWER)
        listed = await task_service.list_for_story(session, viewer, project, story.id)
        assert [t.id for t in listed] == [early.id, late.id]

    async def test_subtask_nests_under_a_task_of_the_same_story(
        self, session: AsyncSession, owner: User, project: Project, story: Story
    ) -> None:
        parent = await make_task(session, owner, project, story)
        child = await make_task(session, owner, project, story, parent_id=parent.id)
        grandchild = await make_task(session, owner, project, story, parent_id=child.id)
        assert (child.parent_id, grandchild.parent_id) == (parent.id, child.id)

    async def test_parent_in_another_story_is_invalid_input(
        self, session: AsyncSession, owner: User, project: Project, story: Story
    ) -> None:
        other_story = await make_story(session, owner, project)
        foreign_parent = await make_task(session, owner, project, other_story)
        before = await session.scalar(select(func.count()).select_from(Task))
        with pytest.raises(
            InvalidInput, match=f"parent_id: no task {foreign_parent.id} in story 1.1"
        ):
            await make_task(session, owner, project, story, parent_id=foreign_parent.id)
        assert await session.scalar(select(func.count()).select_from(Task)) == before

    async def test_unknown_or_trashed_parent_is_invalid_input(
        self, session: AsyncSession, owner: User, project: Project, story: Story
    ) -> None:
        with pytest.raises(InvalidInput, match="parent_id"):
            await make_task(session, owner, project, story, parent_id=999_999)
        trashed = await make_task(session, owner, project, story)
        await task_service.delete(session, owner, project, trashed.id)
        with pytest.raises(InvalidInput, match="parent_id"):
            await make_task(session, owner, project, story, parent_id=trashed.id)

    async def test_viewer_cannot_create(
        self, session: AsyncSession, project: Project, story: Story
    ) -> None:
        viewer = await make_member(session, project, Role.VIEWER)
        with pytest.raises(Forbidden, match="you are a viewer"):
            await make_task(session, viewer, project, story)

    async def test_non_member_gets_not_found(
        self, session: AsyncSession, project: Project, story: Story
    ) -> None:
        with pytest.raises(NotFound):
            await make_task(session, await make_user(session), project, story)

    async def test_story_of_another_project_is_not_found(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        other = await make_project(session, owner)
        foreign_story = await make_story(session, owner, other)
        with pytest.raises(NotFound, match=f"story {foreign_story.id} not found in project TK"):
            await make_task(session, owner, project, foreign_story)
        with pytest.raises(NotFound):
            await task_service.list_for_story(session, owner, project, foreign_story.id)

    async def test_trashed_story_takes_no_tasks(
        self, session: AsyncSession, owner: User, project: Project, story: Story
    ) -> None:
        await story_service.delete(session, owner, project, story.id)
        with pytest.raises(NotFound):
            await make_task(session, owner, project, story)

    async def test_blank_text_refused_by_schema(self) -> None:
        with pytest.raises(ValueError, match="at least 1 character"):
            TaskCreate(text="   ")


class TestUpdateTask:
    async def test_toggle_done_records_the_change(
        self, session: AsyncSession, owner: User, project: Project, story: Story
    ) -> None:
        task = await make_task(session, owner, project, story)
        member = await make_member(session, project, Role.MEMBER)
        await task_service.update(session, member, project, task.id, TaskUpdate(done=True))
        assert task.done is True
        await task_service.update(session, member, project, task.id, TaskUpdate(done=False))
        assert task.done is False
        events = await _task_events(session, task.id)
        assert [(e.action, e.actor_id, e.before, e.after) for e in events[1:]] == [
            (
                ActivityAction.UPDATED,
                member.id,
                {"story_id": story.id, "done": False},
                {"story_id": story.id, "done": True},
            ),
            (
                ActivityAction.UPDATED,
                member.id,
                {"story_id": story.id, "done": True},
                {"story_id": story.id, "done": False},
            ),
        ]

    async def test_text_and_position_change(
        self, session: AsyncSession, owner: User, project: Project, story: Story
    ) -> None:
        task = await make_task(session, owner, project, story, text="old")
        await task_service.update(
            session, owner, project, task.id, TaskUpdate(text="new", position=4)
        )
        text, position = (
            await session.execute(select(Task.text, Task.position).where(Task.id == task.id))
        ).one()
        assert (text, position) == ("new", 4)

    async def test_nothing_changed_writes_no_event(
        self, session: AsyncSession, owner: User, project: Project, story: Story
    ) -> None:
        task = await make_task(session, owner, project, story, text="same")
        events = await count_events(session)
        await task_service.update(
            session, owner, project, task.id, TaskUpdate(text="same", done=None)
        )
        assert await count_events(session) == events

    async def test_viewer_cannot_update(
        self, session: AsyncSession, owner: User, project: Project, story: Story
    ) -> None:
        task = await make_task(session, owner, project, story)
        viewer = await make_member(session, project, Role.VIEWER)
        with pytest.raises(Forbidden):
            await task_service.update(session, viewer, project, task.id, TaskUpdate(done=True))
        assert task.done is False

    async def test_task_of_another_project_is_not_found(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        other = await make_project(session, owner)
        foreign = await make_task(session, owner, other, await make_story(session, owner, other))
        with pytest.raises(NotFound, match=f"task {foreign.id} not found in project TK"):
            await task_service.update(session, owner, project, foreign.id, TaskUpdate(done=True))
        with pytest.raises(NotFound):
            await task_service.get(session, owner, project, foreign.id)
        with pytest.raises(NotFound):
            await task_service.delete(session, owner, project, foreign.id)
        assert foreign.done is False
        assert foreign.deleted_at is None


class TestTaskTrash:
    async def test_delete_restore_purge(
        self, session: AsyncSession, owner: User, project: Project, story: Story
    ) -> None:
        task = await make_task(session, owner, project, story)
        kept = await make_task(session, owner, project, story)

        await task_service.delete(session, owner, project, task.id)
        assert [
            t.id for t in await task_service.list_for_story(session, owner, project, story.id)
        ] == [kept.id]
        with pytest.raises(NotFound):
            await task_service.get(session, owner, project, task.id)

        await task_service.restore(session, owner, project, task.id)
        assert (await task_service.get(session, owner, project, task.id)).deleted_at is None

        await task_service.delete(session, owner, project, task.id)
        await task_service.purge(session, owner, project, task.id)
        assert await session.scalar(select(Task.id).where(Task.id == task.id)) is None
        assert [e.action for e in await _task_events(session, task.id)] == [
            ActivityAction.CREATED,
            ActivityAction.DELETED,
            ActivityAction.RESTORED,
            ActivityAction.DELETED,
            ActivityAction.PURGED,
        ]

    async def test_purging_a_task_removes_its_subtasks(
        self, session: AsyncSession, owner: User, project: Project, story: Story
    ) -> None:
        parent = await make_task(session, owner, project, story)
        child = await make_task(session, owner, project, story, parent_id=parent.id)
        await task_service.delete(session, owner, project, parent.id)
        await task_service.purge(session, owner, project, parent.id)
        assert await session.scalar(select(Task.id).where(Task.id == child.id)) is None

    async def test_viewer_cannot_delete(
        self, session: AsyncSession, owner: User, project: Project, story: Story
    ) -> None:
        task = await make_task(session, owner, project, story)
        viewer = await make_member(session, project, Role.VIEWER)
        with pytest.raises(Forbidden):
            await task_service.delete(session, viewer, project, task.id)
        assert task.deleted_at is None

    async def test_member_may_trash_and_restore_but_not_purge(
        self, session: AsyncSession, owner: User, project: Project, story: Story
    ) -> None:
        task = await make_task(session, owner, project, story)
        member = await make_member(session, project, Role.MEMBER)
        await task_service.delete(session, member, project, task.id)
        await task_service.restore(session, member, project, task.id)
        await task_service.delete(session, member, project, task.id)
        with pytest.raises(Forbidden):
            await task_service.purge(session, member, project, task.id)
        assert await session.scalar(select(Task.id).where(Task.id == task.id)) == task.id

    async def test_restore_of_a_live_task_is_not_found(
        self, session: AsyncSession, owner: User, project: Project, story: Story
    ) -> None:
        task = await make_task(session, owner, project, story)
        with pytest.raises(NotFound, match="not found in the trash of project TK"):
            await task_service.restore(session, owner, project, task.id)

    async def test_tasks_of_a_trashed_story_are_out_of_reach(
        self, session: AsyncSession, owner: User, project: Project, story: Story
    ) -> None:
        task = await make_task(session, owner, project, story)
        await story_service.delete(session, owner, project, story.id)
        with pytest.raises(NotFound):
            await task_service.get(session, owner, project, task.id)
        with pytest.raises(NotFound):
            await task_service.update(session, owner, project, task.id, TaskUpdate(done=True))
