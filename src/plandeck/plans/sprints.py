"""Sprints. Trashing a sprint sends its stories to the backlog, as Jira does; restoring takes back
those still there."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.auth.roles import require_role
from plandeck.errors import InvalidInput
from plandeck.kit.audit import record
from plandeck.models import (
    ActivityAction,
    ActivityEvent,
    EntityType,
    Phase,
    Project,
    Role,
    Sprint,
    Story,
    User,
)
from plandeck.plans.base import NumberedChildService
from plandeck.plans.common import live_reference
from plandeck.plans.ranking import last_rank, rank_between
from plandeck.plans.schemas import SprintCreate, SprintUpdate


class SprintService(NumberedChildService[Sprint]):
    model = Sprint
    entity_type = EntityType.SPRINT
    edit_role = Role.ADMIN
    fields = (
        "number",
        "name",
        "phase_id",
        "goal",
        "status",
        "weeks",
        "starts_on",
        "ends_on",
    )
    order_by = ("number",)

    async def create(
        self, session: AsyncSession, actor: User, project: Project, data: SprintCreate
    ) -> Sprint:
        await require_role(session, actor, project, self.edit_role)
        await live_reference(session, Phase, project, data.phase_id, "phase_id")
        await self._number_free(session, project, data.number)
        return await self._created(
            session, actor, Sprint(project_id=project.id, **data.model_dump())
        )

    async def update(
        self,
        session: AsyncSession,
        actor: User,
        project: Project,
        sprint_id: int,
        data: SprintUpdate,
    ) -> Sprint:
        return await self.update_fields(session, actor, project, sprint_id, data)

    async def _validate_changes(
        self,
        session: AsyncSession,
        project: Project,
        obj: Sprint,
        changes: dict[str, Any],
    ) -> dict[str, Any]:
        for required in ("number", "name", "status", "goal"):
            if required in changes and changes[required] is None:
                raise InvalidInput(f"{required} cannot be null", field=required)
        if "number" in changes and changes["number"] != obj.number:
            await self._number_free(session, project, changes["number"])
        if changes.get("phase_id") is not None:
            await live_reference(session, Phase, project, changes["phase_id"], "phase_id")
        starts_on = changes.get("starts_on", obj.starts_on)
        ends_on = changes.get("ends_on", obj.ends_on)
        if starts_on and ends_on and starts_on > ends_on:
            raise InvalidInput("starts_on must not be after ends_on", field="starts_on")
        return changes

    async def _on_delete(self, session: AsyncSession, actor: User, obj: Sprint) -> dict[str, Any]:
        stories = (
            await session.scalars(
                select(Story)
                .where(Story.sprint_id == obj.id, Story.deleted_at.is_(None))
                .order_by(Story.rank)
            )
        ).all()
        last: str | None = await last_rank(session, obj.project_id, None)
        for story in stories:
            last = rank_between(last, None)
            _record_move(session, actor, story, obj.id, None)
            story.sprint_id, story.rank = None, last
        return {"moved_to_backlog": [story.id for story in stories]}

    async def _on_restore(
        self, session: AsyncSession, actor: User, obj: Sprint, deleted_at: datetime
    ) -> None:
        event = await session.scalar(
            select(ActivityEvent)
            .where(
                ActivityEvent.entity_type == EntityType.SPRINT,
                ActivityEvent.entity_id == obj.id,
                ActivityEvent.action == ActivityAction.DELETED,
            )
            .order_by(ActivityEvent.id.desc())
            .limit(1)
        )
        after = (event.after or {}) if event else {}
        # Only the moves of the delete being undone: a sprint trashed with its phase moved
        # nothing, and an older delete's list would pull back stories moved out by hand since.
        if after.get("deleted_at") != deleted_at.isoformat():
            return
        moved = after.get("moved_to_backlog", [])
        if not moved:
            return
        stories = (
            await session.scalars(
                select(Story)
                .where(
                    Story.id.in_(moved),
                    Story.sprint_id.is_(None),
                    Story.deleted_at.is_(None),
                )
                .order_by(Story.rank)
            )
        ).all()
        last = await last_rank(session, obj.project_id, obj.id)
        for story in stories:
            last = rank_between(last, None)
            _record_move(session, actor, story, None, obj.id)
            story.sprint_id, story.rank = obj.id, last


def _record_move(
    session: AsyncSession,
    actor: User,
    story: Story,
    sprint_from: int | None,
    sprint_to: int | None,
) -> None:
    record(
        session,
        actor=actor,
        project_id=story.project_id,
        entity_type=EntityType.STORY,
        entity_id=story.id,
        action=ActivityAction.MOVED,
        before={"sprint_id": sprint_from},
        after={"sprint_id": sprint_to},
    )


sprint_service = SprintService()
