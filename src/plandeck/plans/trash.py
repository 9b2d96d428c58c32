"""A project's trash: what its members deleted, until they restore it or it is purged.

Phases, sprints and stories are in the trash by their own ``deleted_at``. A task or comment
is listed while its story is live; with a trashed story it goes and comes back with the story.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.auth.roles import require_role
from plandeck.kit.audit import record, snapshot
from plandeck.kit.integrity import flush
from plandeck.models import (
    ActivityAction,
    ActivityEvent,
    Comment,
    Phase,
    Project,
    Role,
    Sprint,
    Story,
    Task,
    User,
)
from plandeck.models.base import utcnow
from plandeck.plans.base import ProjectChildService
from plandeck.plans.comments import comment_service
from plandeck.plans.phases import phase_service
from plandeck.plans.schemas import TrashItem, TrashKind, UserSummary
from plandeck.plans.sprints import sprint_service
from plandeck.plans.stories import story_service
from plandeck.plans.story_items import StoryItemService
from plandeck.plans.tasks import task_service

_PROJECT_CHILDREN: dict[TrashKind, ProjectChildService[Any]] = {
    TrashKind.PHASE: phase_service,
    TrashKind.SPRINT: sprint_service,
    TrashKind.STORY: story_service,
}
_STORY_ITEMS: dict[TrashKind, StoryItemService[Any]] = {
    TrashKind.TASK: task_service,
    TrashKind.COMMENT: comment_service,
}
_SERVICES: dict[TrashKind, ProjectChildService[Any] | StoryItemService[Any]] = {
    **_PROJECT_CHILDREN,
    **_STORY_ITEMS,
}
# What is held before what holds it, so no row is already gone by a cascade when its turn comes.
_PURGE_ORDER = (
    TrashKind.COMMENT,
    TrashKind.TASK,
    TrashKind.STORY,
    TrashKind.SPRINT,
    TrashKind.PHASE,
)
# Ids per DELETE statement, well under SQLite's and asyncpg's limits on bound parameters.
_CHUNK = 500
_LABEL_LENGTH = 80


@dataclass(frozen=True)
class _Found:
    kind: TrashKind
    obj: Phase | Sprint | Story | Task | Comment
    deleted_at: datetime
    story_key: str | None = None  # a task's or comment's story

    @property
    def label(self) -> str:
        obj = self.obj
        if isinstance(obj, Phase):
            return f"Phase {obj.number}: {obj.title}"
        if isinstance(obj, Sprint):
            return f"Sprint {obj.number}: {obj.name}"
        if isinstance(obj, Story):
            return f"{obj.key} {obj.title}"
        if isinstance(obj, Task):
            return f"Task of {self.story_key}: {_shorten(obj.text)}"
        return f"Comment on {self.story_key}: {_shorten(obj.body)}"


def _shorten(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _LABEL_LENGTH else line[: _LABEL_LENGTH - 1] + "…"


class TrashService:
    async def list_trash(
        self, session: AsyncSession, actor: User, project: Project
    ) -> list[TrashItem]:
        """Everything in the project's trash, most recently deleted first."""
        await require_role(session, actor, project, Role.VIEWER)
        found: list[_Found] = []
        for kind, child_service in _PROJECT_CHILDREN.items():
            for obj in await child_service.list_in(session, actor, project, in_trash=True):
                found.append(_Found(kind, obj, obj.deleted_at))
        for kind, item_service in _STORY_ITEMS.items():
            model = item_service.model
            rows = await session.execute(
                select(model, Story.key)
                .join(Story, Story.id == model.story_id)
                .where(
                    Story.project_id == project.id,
                    Story.deleted_at.is_(None),
                    model.deleted_at.is_not(None),
                )
            )
            found += [_Found(kind, item, item.deleted_at, key) for item, key in rows]
        deleters = await self._deleters(session, project, found)
        items = [
            TrashItem(
                kind=entry.kind,
                id=entry.obj.id,
                label=entry.label,
                deleted_at=entry.deleted_at,
                deleted_by=deleters.get((entry.kind, entry.obj.id)),
            )
            for entry in found
        ]
        items.sort(key=lambda item: (item.deleted_at, item.id), reverse=True)
        return items

    async def _deleters(
        self, session: AsyncSession, project: Project, found: Sequence[_Found]
    ) -> dict[tuple[TrashKind, int], UserSummary]:
        """Who trashed each item, from the activity trail.

        A phase's sprints and stories go to the trash with it, under one ``deleted_at`` and
        with no event of their own: the event whose ``deleted_at`` is theirs names who did it
        (the same match that lets a sprint's restore find its delete). Tasks and comments go
        one by one, and their events name them.
        """
        if not found:
            return {}
        events = await session.scalars(
            select(ActivityEvent)
            .where(
                ActivityEvent.project_id == project.id,
                ActivityEvent.action == ActivityAction.DELETED,
                # Recorded just after the deletion it describes; a minute's slack for clock steps.
                ActivityEvent.created_at >= min(e.deleted_at for e in found) - timedelta(minutes=1),
            )
            .order_by(ActivityEvent.id)
        )
        by_time: dict[str, int | None] = {}
        by_entity: dict[tuple[str, int], int | None] = {}
        for event in events:
            by_entity[(event.entity_type.value, event.entity_id)] = event.actor_id
            if event.after and "deleted_at" in event.after:
                by_time[str(event.after["deleted_at"])] = event.actor_id
        actor_ids = {
            (entry.kind, entry.obj.id): (
                by_entity.get((entry.kind.value, entry.obj.id))
                if entry.kind in _STORY_ITEMS
                else by_time.get(entry.deleted_at.isoformat())
            )
            for entry in found
        }
        wanted = {user_id for user_id in actor_ids.values() if user_id is not None}
        if not wanted:
            return {}
        users = {
            user.id: UserSummary.model_validate(user)
            for user in await session.scalars(select(User).where(User.id.in_(wanted)))
        }
        return {
            key: users[user_id]
            for key, user_id in actor_ids.items()
            if user_id is not None and user_id in users
        }

    async def restore(
        self,
        session: AsyncSession,
        actor: User,
        project: Project,
        kind: TrashKind,
        entity_id: int,
    ) -> None:
        """Bring an item back; it takes the role that may delete it (the kind's service checks)."""
        await _SERVICES[kind].restore(session, actor, project, entity_id)

    async def purge(
        self,
        session: AsyncSession,
        actor: User,
        project: Project,
        kind: TrashKind,
        entity_id: int,
    ) -> None:
        """Remove an item of the trash for good (admins)."""
        await _SERVICES[kind].purge(session, actor, project, entity_id)

    async def purge_older_than(self, session: AsyncSession, age: timedelta) -> dict[TrashKind, int]:
        """Remove for good what has been in any project's trash for longer than ``age``.

        Each removal is recorded as ``purged`` with no actor (the system did it). Returns how
        many items of each kind went.
        """
        cutoff = utcnow() - age
        purged: dict[TrashKind, int] = {}
        for kind in _PURGE_ORDER:
            service = _SERVICES[kind]
            model = service.model
            if kind in _STORY_ITEMS:
                statement = select(model, Story.project_id).join(Story, Story.id == model.story_id)
            else:
                statement = select(model, model.project_id)
            rows = (
                await session.execute(statement.where(model.deleted_at < cutoff).order_by(model.id))
            ).all()
            for obj, project_id in rows:
                record(
                    session,
                    actor=None,
                    project_id=project_id,
                    entity_type=service.entity_type,
                    entity_id=obj.id,
                    action=ActivityAction.PURGED,
                    before=snapshot(obj, service.fields),
                )
            # A statement rather than one ORM delete per row: a purged task takes its subtasks
            # with it (ON DELETE CASCADE), which the ORM would then miss and warn about.
            ids = [obj.id for obj, _project_id in rows]
            for start in range(0, len(ids), _CHUNK):
                await session.execute(
                    delete(model).where(model.id.in_(ids[start : start + _CHUNK]))
                )
            await flush(session)
            purged[kind] = len(ids)
        return purged


trash_service = TrashService()
