"""The shared life cycle of a story's tasks and comments: lookups, trash, restore, purge."""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.auth.roles import require_role
from plandeck.errors import NotFound
from plandeck.kit.audit import record, snapshot
from plandeck.kit.integrity import flush
from plandeck.models import ActivityAction, Comment, EntityType, Project, Role, Story, Task, User
from plandeck.models.base import utcnow
from plandeck.plans.common import get_in_project

StoryItem = TypeVar("StoryItem", Task, Comment)


class StoryItemService(Generic[StoryItem]):
    model: ClassVar[type[Any]]
    entity_type: ClassVar[EntityType]
    fields: ClassVar[tuple[str, ...]]

    async def _story(self, session: AsyncSession, project: Project, story_id: int) -> Story:
        return await get_in_project(session, Story, project, story_id)

    async def _item(
        self, session: AsyncSession, project: Project, item_id: int, *, in_trash: bool = False
    ) -> tuple[StoryItem, Story]:
        model = self.model
        row = (
            await session.execute(
                select(model, Story)
                .join(Story, Story.id == model.story_id)
                .where(
                    model.id == item_id,
                    Story.project_id == project.id,
                    Story.deleted_at.is_(None),
                    model.deleted_at.is_not(None) if in_trash else model.deleted_at.is_(None),
                )
            )
        ).first()
        if row is None:
            where = "the trash of " if in_trash else ""
            raise NotFound(
                f"{self.entity_type.value} {item_id} not found in {where}project {project.key}"
            )
        return row[0], row[1]

    def _record(
        self,
        session: AsyncSession,
        actor: User,
        project: Project,
        item: StoryItem,
        action: ActivityAction,
        *,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        record(
            session,
            actor=actor,
            project_id=project.id,
            entity_type=self.entity_type,
            entity_id=item.id,
            action=action,
            before=before,
            after=after,
        )

    async def _check_may_change(
        self, session: AsyncSession, actor: User, project: Project, item: StoryItem
    ) -> None:
        await require_role(session, actor, project, Role.MEMBER)

    async def get(
        self, session: AsyncSession, actor: User, project: Project, item_id: int
    ) -> StoryItem:
        await require_role(session, actor, project, Role.VIEWER)
        return (await self._item(session, project, item_id))[0]

    async def delete(
        self, session: AsyncSession, actor: User, project: Project, item_id: int
    ) -> StoryItem:
        item, _story = await self._item(session, project, item_id)
        await self._check_may_change(session, actor, project, item)
        item.deleted_at = utcnow()
        self._record(
            session, actor, project, item, ActivityAction.DELETED, after={"story_id": item.story_id}
        )
        await flush(session)
        return item

    async def restore(
        self, session: AsyncSession, actor: User, project: Project, item_id: int
    ) -> StoryItem:
        item, _story = await self._item(session, project, item_id, in_trash=True)
        await self._check_may_change(session, actor, project, item)
        item.deleted_at = None
        self._record(
            session,
            actor,
            project,
            item,
            ActivityAction.RESTORED,
            after={"story_id": item.story_id},
        )
        await flush(session)
        return item

    async def purge(
        self, session: AsyncSession, actor: User, project: Project, item_id: int
    ) -> None:
        await require_role(session, actor, project, Role.ADMIN)
        item, _story = await self._item(session, project, item_id, in_trash=True)
        self._record(
            session, actor, project, item, ActivityAction.PURGED, before=snapshot(item, self.fields)
        )
        await session.delete(item)
        await flush(session)
