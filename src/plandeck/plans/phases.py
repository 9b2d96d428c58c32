"""Phases (or epics). Trashing a phase trashes its sprints and stories with it; restoring brings back the same set."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.auth.roles import require_role
from plandeck.kit.audit import record
from plandeck.models import ActivityAction, EntityType, Phase, Project, Role, Sprint, Story, User
from plandeck.plans.base import NumberedChildService
from plandeck.plans.schemas import PhaseCreate, PhaseUpdate


class PhaseService(NumberedChildService[Phase]):
    model = Phase
    entity_type = EntityType.PHASE
    edit_role = Role.ADMIN
    fields = ("number", "title", "status", "goals", "description", "notes", "meta")
    order_by = ("number",)

    async def create(
        self, session: AsyncSession, actor: User, project: Project, data: PhaseCreate
    ) -> Phase:
        await require_role(session, actor, project, self.edit_role)
        await self._number_free(session, project, data.number)
        return await self._created(
            session, actor, Phase(project_id=project.id, **data.model_dump())
        )

    async def update(
        self,
        session: AsyncSession,
        actor: User,
        project: Project,
        phase_id: int,
        data: PhaseUpdate,
    ) -> Phase:
        return await self.update_fields(session, actor, project, phase_id, data)

    async def _validate_changes(
        self,
        session: AsyncSession,
        project: Project,
        obj: Phase,
        changes: dict[str, Any],
    ) -> dict[str, Any]:
        changes = {k: v for k, v in changes.items() if v is not None}
        if "number" in changes and changes["number"] != obj.number:
            await self._number_free(session, project, changes["number"])
        return changes

    async def _children(
        self, session: AsyncSession, phase: Phase, deleted_at: datetime | None
    ) -> list[Sprint | Story]:
        # Loaded and changed through the ORM rather than by a bulk UPDATE: its synchronisation
        # skips attributes an object has not loaded, so sprints and stories the session
        # already held kept saying deleted_at=None. Each row's version still gets bumped.
        children: list[Sprint | Story] = []
        phase_sprints = select(Sprint.id).where(Sprint.phase_id == phase.id)
        for model, belongs in (
            (Sprint, Sprint.phase_id == phase.id),
            # A story goes with its phase, and with its sprint when that sprint is the phase's
            # (a story with no phase of its own would otherwise sit in a trashed sprint).
            (Story, or_(Story.phase_id == phase.id, Story.sprint_id.in_(phase_sprints))),
        ):
            in_state = (
                model.deleted_at.is_(None) if deleted_at is None else model.deleted_at == deleted_at
            )
            children.extend(await session.scalars(select(model).where(belongs, in_state)))
        return children

    async def _on_delete(self, session: AsyncSession, actor: User, obj: Phase) -> dict[str, Any]:
        # The same timestamp marks what went to the trash together, so restore can find it.
        assert obj.deleted_at is not None
        for child in await self._children(session, obj, None):
            child.deleted_at = obj.deleted_at
            if isinstance(child, Story):
                # The stories leave their sprints' scope: the analytics history reads it
                # from their events.
                record(
                    session,
                    actor=actor,
                    project_id=obj.project_id,
                    entity_type=EntityType.STORY,
                    entity_id=child.id,
                    action=ActivityAction.DELETED,
                    after={"deleted_at": obj.deleted_at.isoformat(), "with_phase": obj.id},
                )
        return {}

    async def _on_restore(
        self, session: AsyncSession, actor: User, obj: Phase, deleted_at: datetime
    ) -> None:
        for child in await self._children(session, obj, deleted_at):
            child.deleted_at = None
            if isinstance(child, Story):
                record(
                    session,
                    actor=actor,
                    project_id=obj.project_id,
                    entity_type=EntityType.STORY,
                    entity_id=child.id,
                    action=ActivityAction.RESTORED,
                    before={"deleted_at": deleted_at.isoformat(), "with_phase": obj.id},
                )


phase_service = PhaseService()
