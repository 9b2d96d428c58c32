"""Projects and their members."""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from plandeck.analytics import snapshot as story_days
from plandeck.auth.roles import require_role
from plandeck.auth.users import user_service
from plandeck.errors import Conflict, Forbidden, InvalidInput, NotFound
from plandeck.kit.audit import apply_changes, record, snapshot
from plandeck.kit.integrity import flush
from plandeck.models import (
    ActivityAction,
    EntityType,
    Membership,
    Project,
    Role,
    User,
)
from plandeck.plans.common import check_version
from plandeck.plans.schemas import MembershipCreate, ProjectCreate, ProjectUpdate

_PROJECT_FIELDS = ("key", "name", "description", "timezone")


def _check_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"unknown time zone {name!r}", field="timezone") from None


class ProjectRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> ProjectRepository:
        return cls(session)

    def accessible(self, user: User) -> Select[Project]:
        """Projects the user is a member of: every lookup goes through this, so a non-member finds nothing."""
        return (
            select(Project)
            .join(Membership, Membership.project_id == Project.id)
            .where(Membership.user_id == user.id)
        )

    async def get_by_key(self, user: User, key: str) -> Project | None:
        return await self.session.scalar(self.accessible(user).where(Project.key == key))

    async def list_for(self, user: User) -> Sequence[Project]:
        return (await self.session.scalars(self.accessible(user).order_by(Project.key))).all()

    async def list_all(self) -> Sequence[Project]:
        return (await self.session.scalars(select(Project).order_by(Project.key))).all()

    async def count_owners(self, project_id: int) -> int:
        return (
            await self.session.scalar(
                select(func.count())
                .select_from(Membership)
                .where(Membership.project_id == project_id, Membership.role == Role.OWNER)
            )
            or 0
        )


class ProjectService:
    async def create(self, session: AsyncSession, actor: User, data: ProjectCreate) -> Project:
        _check_timezone(data.timezone)
        if await session.scalar(select(Project.id).where(Project.key == data.key)) is not None:
            raise Conflict(f"a project with key {data.key!r} already exists", field="key")
        project = Project(**data.model_dump())
        session.add(project)
        await flush(session)
        session.add(Membership(project_id=project.id, user_id=actor.id, role=Role.OWNER))
        record(
            session,
            actor=actor,
            project_id=project.id,
            entity_type=EntityType.PROJECT,
            entity_id=project.id,
            action=ActivityAction.CREATED,
            after=snapshot(project, _PROJECT_FIELDS),
        )
        await flush(session)
        return project

    async def get(self, session: AsyncSession, actor: User, key: str) -> Project:
        project = await ProjectRepository.from_session(session).get_by_key(actor, key)
        if project is None or not actor.is_active:
            raise NotFound(f"project {key!r} not found")
        return project

    async def list_for(self, session: AsyncSession, actor: User) -> Sequence[Project]:
        return await ProjectRepository.from_session(session).list_for(actor)

    async def update(
        self, session: AsyncSession, actor: User, project: Project, data: ProjectUpdate
    ) -> Project:
        await require_role(session, actor, project, Role.ADMIN)
        check_version("project", project, data.version)
        changes = data.changes()
        if changes.get("timezone") is not None:
            _check_timezone(changes["timezone"])
        changes = {k: v for k, v in changes.items() if v is not None}
        before, after = apply_changes(project, changes)
        if after:
            record(
                session,
                actor=actor,
                project_id=project.id,
                entity_type=EntityType.PROJECT,
                entity_id=project.id,
                action=ActivityAction.UPDATED,
                before=before,
                after=after,
            )
            await flush(session)
            if "timezone" in after:
                # Every day of the trail falls on another local date now.
                await story_days.rebuild(session, project.id)
        return project

    async def delete(
        self,
        session: AsyncSession,
        actor: User,
        project: Project,
        *,
        expected_version: int | None = None,
    ) -> None:
        """Removes the project and, by the database's cascades, everything in it.

        The activity trail keeps a ``deleted`` event with the project's last state.
        """
        await require_role(session, actor, project, Role.OWNER)
        check_version("project", project, expected_version)
        record(
            session,
            actor=actor,
            project_id=None,
            entity_type=EntityType.PROJECT,
            entity_id=project.id,
            action=ActivityAction.DELETED,
            before=snapshot(project, _PROJECT_FIELDS),
        )
        await session.delete(project)
        await flush(session)

    # Members

    async def list_members(
        self, session: AsyncSession, actor: User, project: Project
    ) -> Sequence[Membership]:
        await require_role(session, actor, project, Role.VIEWER)
        return (
            await session.scalars(
                select(Membership)
                .options(joinedload(Membership.user))
                .where(Membership.project_id == project.id)
                .order_by(Membership.id)
            )
        ).all()

    async def add_member(
        self,
        session: AsyncSession,
        actor: User,
        project: Project,
        data: MembershipCreate,
    ) -> Membership:
        actor_role = await require_role(session, actor, project, Role.ADMIN)
        if data.role is Role.OWNER and actor_role is not Role.OWNER:
            raise Forbidden("only an owner may make someone an owner")
        if data.email is not None:
            user = await user_service.get_by_email(session, data.email)
            if user is None or not user.is_active:
                raise InvalidInput(
                    f"email: no active user {data.email}; they must sign up (or be given an "
                    "account) before they can be added",
                    field="email",
                )
        else:
            user = await session.get(User, data.user_id)
            if user is None or not user.is_active:
                raise InvalidInput(f"user_id: no active user {data.user_id}", field="user_id")
        existing = await session.scalar(
            select(Membership).where(
                Membership.project_id == project.id, Membership.user_id == user.id
            )
        )
        if existing is not None:
            raise Conflict(f"{user.email} is already a member of {project.key}")
        membership = Membership(project_id=project.id, user=user, role=data.role)
        session.add(membership)
        await flush(session)
        record(
            session,
            actor=actor,
            project_id=project.id,
            entity_type=EntityType.MEMBERSHIP,
            entity_id=membership.id,
            action=ActivityAction.CREATED,
            after={"user_id": user.id, "role": data.role.value},
        )
        await flush(session)
        return membership

    async def _member(self, session: AsyncSession, project: Project, user_id: int) -> Membership:
        membership = await session.scalar(
            select(Membership)
            .options(joinedload(Membership.user))
            .where(Membership.project_id == project.id, Membership.user_id == user_id)
        )
        if membership is None:
            raise NotFound(f"user {user_id} is not a member of {project.key}")
        return membership

    async def change_role(
        self,
        session: AsyncSession,
        actor: User,
        project: Project,
        user_id: int,
        role: Role,
    ) -> Membership:
        actor_role = await require_role(session, actor, project, Role.ADMIN)
        membership = await self._member(session, project, user_id)
        if Role.OWNER in (role, membership.role) and actor_role is not Role.OWNER:
            raise Forbidden("only an owner may grant or take away the owner role")
        if membership.role is Role.OWNER and role is not Role.OWNER:
            await self._keep_an_owner(session, project)
        before, after = apply_changes(membership, {"role": role})
        if after:
            record(
                session,
                actor=actor,
                project_id=project.id,
                entity_type=EntityType.MEMBERSHIP,
                entity_id=membership.id,
                action=ActivityAction.UPDATED,
                before={"user_id": user_id, **before},
                after={"user_id": user_id, **after},
            )
            await flush(session)
        return membership

    async def remove_member(
        self, session: AsyncSession, actor: User, project: Project, user_id: int
    ) -> None:
        # Anyone may leave a project; removing somebody else takes an admin.
        minimum = Role.VIEWER if user_id == actor.id else Role.ADMIN
        actor_role = await require_role(session, actor, project, minimum)
        membership = await self._member(session, project, user_id)
        if membership.role is Role.OWNER:
            if user_id != actor.id and actor_role is not Role.OWNER:
                raise Forbidden("only an owner may remove an owner")
            await self._keep_an_owner(session, project)
        record(
            session,
            actor=actor,
            project_id=project.id,
            entity_type=EntityType.MEMBERSHIP,
            entity_id=membership.id,
            action=ActivityAction.DELETED,
            before={"user_id": user_id, "role": membership.role.value},
        )
        await session.delete(membership)
        await flush(session)

    async def _keep_an_owner(self, session: AsyncSession, project: Project) -> None:
        if await ProjectRepository.from_session(session).count_owners(project.id) <= 1:
            raise Conflict(f"{project.key} must keep at least one owner")


project_service = ProjectService()
