"""The shared life cycle of phases, sprints and stories: read, update, trash, restore, purge;
and the lookup by number that phases and sprints share."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar, Generic

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.auth.roles import require_role
from plandeck.errors import Conflict, NotFound
from plandeck.kit.audit import apply_changes, record, snapshot
from plandeck.kit.integrity import flush
from plandeck.kit.schemas import InputSchema
from plandeck.models import ActivityAction, EntityType, Project, Role, User
from plandeck.models.base import utcnow
from plandeck.plans.common import ProjectChild, check_version, get_in_project


class ProjectChildService(Generic[ProjectChild]):
    model: ClassVar[type[Any]]
    entity_type: ClassVar[EntityType]
    edit_role: ClassVar[Role]
    fields: ClassVar[tuple[str, ...]]
    order_by: ClassVar[tuple[str, ...]]

    @property
    def label(self) -> str:
        return self.entity_type.value

    async def get(
        self, session: AsyncSession, actor: User, project: Project, entity_id: int
    ) -> ProjectChild:
        await require_role(session, actor, project, Role.VIEWER)
        found: ProjectChild = await get_in_project(session, self.model, project, entity_id)
        return found

    async def list_in(
        self,
        session: AsyncSession,
        actor: User,
        project: Project,
        *,
        in_trash: bool = False,
    ) -> Sequence[ProjectChild]:
        await require_role(session, actor, project, Role.VIEWER)
        model = self.model
        statement = select(model).where(
            model.project_id == project.id,
            model.deleted_at.is_not(None) if in_trash else model.deleted_at.is_(None),
        )
        statement = statement.order_by(*(getattr(model, name) for name in self.order_by))
        return (await session.scalars(statement)).all()

    def _record(
        self,
        session: AsyncSession,
        actor: User,
        obj: ProjectChild,
        action: ActivityAction,
        *,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        record(
            session,
            actor=actor,
            project_id=obj.project_id,
            entity_type=self.entity_type,
            entity_id=obj.id,
            action=action,
            before=before,
            after=after,
        )

    async def _created(self, session: AsyncSession, actor: User, obj: ProjectChild) -> ProjectChild:
        session.add(obj)
        await flush(session)
        self._record(
            session,
            actor,
            obj,
            ActivityAction.CREATED,
            after=snapshot(obj, self.fields),
        )
        await flush(session)
        return obj

    async def _apply(
        self,
        session: AsyncSession,
        actor: User,
        obj: ProjectChild,
        changes: dict[str, Any],
        *,
        expected_version: int | None,
        action: ActivityAction = ActivityAction.UPDATED,
    ) -> ProjectChild:
        check_version(self.label, obj, expected_version)
        before, after = apply_changes(obj, changes)
        if after:
            self._record(session, actor, obj, action, before=before, after=after)
            await flush(session)
        return obj

    async def update_fields(
        self,
        session: AsyncSession,
        actor: User,
        project: Project,
        entity_id: int,
        data: InputSchema,
    ) -> ProjectChild:
        await require_role(session, actor, project, self.edit_role)
        obj: ProjectChild = await get_in_project(session, self.model, project, entity_id)
        changes = await self._validate_changes(session, project, obj, data.changes())
        return await self._apply(
            session,
            actor,
            obj,
            changes,
            expected_version=getattr(data, "version", None),
        )

    async def _validate_changes(
        self,
        session: AsyncSession,
        project: Project,
        obj: ProjectChild,
        changes: dict[str, Any],
    ) -> dict[str, Any]:
        return changes

    # The trash

    async def delete(
        self,
        session: AsyncSession,
        actor: User,
        project: Project,
        entity_id: int,
        *,
        expected_version: int | None = None,
    ) -> ProjectChild:
        """Move to the trash; ``restore`` brings it back."""
        await require_role(session, actor, project, self.edit_role)
        obj: ProjectChild = await get_in_project(session, self.model, project, entity_id)
        check_version(self.label, obj, expected_version)
        obj.deleted_at = utcnow()
        extra = await self._on_delete(session, actor, obj)
        self._record(
            session,
            actor,
            obj,
            ActivityAction.DELETED,
            after={"deleted_at": obj.deleted_at.isoformat(), **extra},
        )
        await flush(session)
        return obj

    async def _on_delete(
        self, session: AsyncSession, actor: User, obj: ProjectChild
    ) -> dict[str, Any]:
        return {}

    async def restore(
        self, session: AsyncSession, actor: User, project: Project, entity_id: int
    ) -> ProjectChild:
        await require_role(session, actor, project, self.edit_role)
        obj: ProjectChild = await get_in_project(
            session, self.model, project, entity_id, in_trash=True
        )
        deleted_at = obj.deleted_at
        assert deleted_at is not None
        obj.deleted_at = None
        await self._on_restore(session, actor, obj, deleted_at)
        self._record(
            session,
            actor,
            obj,
            ActivityAction.RESTORED,
            before={"deleted_at": deleted_at.isoformat()},
        )
        await flush(session)
        return obj

    async def _on_restore(
        self,
        session: AsyncSession,
        actor: User,
        obj: ProjectChild,
        deleted_at: datetime,
    ) -> None:
        return None

    async def purge(
        self, session: AsyncSession, actor: User, project: Project, entity_id: int
    ) -> None:
        """Remove for good an item that is in the trash (admins; ``plandeck purge`` does it by age)."""
        await require_role(session, actor, project, Role.ADMIN)
        obj: ProjectChild = await get_in_project(
            session, self.model, project, entity_id, in_trash=True
        )
        self._record(
            session,
            actor,
            obj,
            ActivityAction.PURGED,
            before=snapshot(obj, self.fields),
        )
        await session.delete(obj)
        await flush(session)


class NumberedChildService(ProjectChildService[ProjectChild]):
    """A project child with a ``number`` unique in its project, the trash included."""

    async def get_by_number(
        self, session: AsyncSession, actor: User, project: Project, number: int
    ) -> ProjectChild:
        """The live one with this number; a trashed one is not found."""
        await require_role(session, actor, project, Role.VIEWER)
        model = self.model
        found: ProjectChild | None = await session.scalar(
            select(model).where(
                model.project_id == project.id,
                model.number == number,
                model.deleted_at.is_(None),
            )
        )
        if found is None:
            raise NotFound(f"{self.label} {number} not found in project {project.key}")
        return found

    async def _number_free(self, session: AsyncSession, project: Project, number: int) -> None:
        model = self.model
        taken = await session.scalar(
            select(model.id).where(model.project_id == project.id, model.number == number)
        )
        ensure_free(
            taken,
            f"{project.key} already has a {self.label} {number} (perhaps in the trash)",
            "number",
        )


def ensure_free(taken: object | None, message: str, field: str) -> None:
    if taken is not None:
        raise Conflict(message, field=field)
