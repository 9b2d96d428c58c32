"""Tasks: a story's checklist, optionally nested one level or more through ``parent_id``."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.auth.roles import require_role
from plandeck.errors import InvalidInput
from plandeck.kit.audit import apply_changes, snapshot
from plandeck.kit.integrity import flush
from plandeck.models import ActivityAction, EntityType, Project, Role, Story, Task, User
from plandeck.plans.schemas import TaskCreate, TaskUpdate
from plandeck.plans.stories import live_story_by_key
from plandeck.plans.story_items import StoryItemService


class TaskService(StoryItemService[Task]):
    model = Task
    entity_type = EntityType.TASK
    fields = ("story_id", "parent_id", "text", "done", "position")

    async def list_for_story(
        self, session: AsyncSession, actor: User, project: Project, story_id: int
    ) -> Sequence[Task]:
        await require_role(session, actor, project, Role.VIEWER)
        return await self._list(session, await self._story(session, project, story_id))

    async def list_by_story_key(
        self, session: AsyncSession, actor: User, project: Project, story_key: str
    ) -> Sequence[Task]:
        await require_role(session, actor, project, Role.VIEWER)
        return await self._list(session, await live_story_by_key(session, project, story_key))

    async def _list(self, session: AsyncSession, story: Story) -> Sequence[Task]:
        return (
            await session.scalars(
                select(Task)
                .where(Task.story_id == story.id, Task.deleted_at.is_(None))
                .order_by(Task.position, Task.id)
            )
        ).all()

    async def create(
        self, session: AsyncSession, actor: User, project: Project, story_id: int, data: TaskCreate
    ) -> Task:
        await require_role(session, actor, project, Role.MEMBER)
        return await self._create(
            session, actor, project, await self._story(session, project, story_id), data
        )

    async def create_by_story_key(
        self, session: AsyncSession, actor: User, project: Project, story_key: str, data: TaskCreate
    ) -> Task:
        await require_role(session, actor, project, Role.MEMBER)
        return await self._create(
            session, actor, project, await live_story_by_key(session, project, story_key), data
        )

    async def _create(
        self, session: AsyncSession, actor: User, project: Project, story: Story, data: TaskCreate
    ) -> Task:
        if data.parent_id is not None:
            parent = await session.get(Task, data.parent_id)
            if parent is None or parent.story_id != story.id or parent.deleted_at is not None:
                raise InvalidInput(
                    f"parent_id: no task {data.parent_id} in story {story.key}", field="parent_id"
                )
        position = data.position
        if position is None:
            highest = await session.scalar(
                select(func.max(Task.position)).where(Task.story_id == story.id)
            )
            position = 0 if highest is None else highest + 1
        task = Task(
            story_id=story.id,
            parent_id=data.parent_id,
            text=data.text,
            done=data.done,
            position=position,
        )
        session.add(task)
        await flush(session)
        self._record(
            session, actor, project, task, ActivityAction.CREATED, after=snapshot(task, self.fields)
        )
        await flush(session)
        return task

    async def update(
        self, session: AsyncSession, actor: User, project: Project, task_id: int, data: TaskUpdate
    ) -> Task:
        await require_role(session, actor, project, Role.MEMBER)
        task, _story = await self._item(session, project, task_id)
        changes = {k: v for k, v in data.changes().items() if v is not None}
        before, after = apply_changes(task, changes)
        if after:
            self._record(
                session,
                actor,
                project,
                task,
                ActivityAction.UPDATED,
                before={"story_id": task.story_id, **before},
                after={"story_id": task.story_id, **after},
            )
            await flush(session)
        return task

    async def toggle(
        self, session: AsyncSession, actor: User, project: Project, task_id: int
    ) -> Task:
        """Tick a task off, or on again: one request, read and written in one transaction."""
        await require_role(session, actor, project, Role.MEMBER)
        task, _story = await self._item(session, project, task_id)
        return await self.update(session, actor, project, task_id, TaskUpdate(done=not task.done))


task_service = TaskService()
