"""Reading the activity trail of a project or of one of its records."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.auth.roles import require_role
from plandeck.models import ActivityEvent, EntityType, Project, Role, User

MAX_PAGE = 500


class ActivityService:
    async def list_for_project(
        self,
        session: AsyncSession,
        actor: User,
        project: Project,
        *,
        entity_type: EntityType | None = None,
        entity_id: int | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> Sequence[ActivityEvent]:
        """Newest first; page with ``before_id`` (the last id of the previous page)."""
        await require_role(session, actor, project, Role.VIEWER)
        statement = select(ActivityEvent).where(ActivityEvent.project_id == project.id)
        if entity_type is not None:
            statement = statement.where(ActivityEvent.entity_type == entity_type)
        if entity_id is not None:
            statement = statement.where(ActivityEvent.entity_id == entity_id)
        if before_id is not None:
            statement = statement.where(ActivityEvent.id < before_id)
        statement = statement.order_by(ActivityEvent.id.desc()).limit(max(1, min(limit, MAX_PAGE)))
        return (await session.scalars(statement)).all()


activity_service = ActivityService()
