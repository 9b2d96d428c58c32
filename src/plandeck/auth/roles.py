"""Per-project roles, checked in the services. A non-member learns nothing: NotFound, never Forbidden."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.errors import Forbidden, NotFound
from plandeck.models import Membership, Project, Role, User

_WHAT_ROLE_ALLOWS = {
    Role.VIEWER: "read",
    Role.MEMBER: "edit stories, tasks and comments",
    Role.ADMIN: "manage phases, sprints and members",
    Role.OWNER: "delete the project or manage owners",
}


async def membership_of(session: AsyncSession, user: User, project_id: int) -> Membership | None:
    return await session.scalar(
        select(Membership).where(Membership.project_id == project_id, Membership.user_id == user.id)
    )


async def require_role(session: AsyncSession, actor: User, project: Project, minimum: Role) -> Role:
    membership = await membership_of(session, actor, project.id)
    if membership is None or not actor.is_active:
        raise NotFound(f"project {project.key!r} not found")
    if not membership.role.at_least(minimum):
        raise Forbidden(
            f"only a project {minimum.value} or above may {_WHAT_ROLE_ALLOWS[minimum]}; "
            f"you are a {membership.role.value}"
        )
    return membership.role
