"""User accounts."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from plandeck.auth.passwords import (
    check_password_policy,
    hash_password,
    needs_rehash,
    verify_password,
)
from plandeck.auth.schemas import UserCreate, UserUpdate
from plandeck.errors import Conflict, Forbidden, NotFound
from plandeck.kit.audit import apply_changes, record
from plandeck.kit.integrity import flush
from plandeck.models import ActivityAction, EntityType, Membership, Project, Role, User

_PUBLIC_FIELDS = ("email", "name", "locale", "is_active")


class UserService:
    async def create(
        self, session: AsyncSession, data: UserCreate, *, actor: User | None = None
    ) -> User:
        check_password_policy(data.password, email=data.email)
        if await self.get_by_email(session, data.email) is not None:
            raise Conflict(f"a user with email {data.email} already exists", field="email")
        user = User(
            email=data.email,
            name=data.name,
            locale=data.locale,
            password_hash=hash_password(data.password),
        )
        session.add(user)
        await flush(session)
        record(
            session,
            actor=actor or user,
            project_id=None,
            entity_type=EntityType.USER,
            entity_id=user.id,
            action=ActivityAction.CREATED,
            after={"email": user.email, "name": user.name},
        )
        await flush(session)
        return user

    async def get(self, session: AsyncSession, user_id: int) -> User:
        user = await session.get(User, user_id)
        if user is None:
            raise NotFound(f"user {user_id} not found")
        return user

    async def get_by_email(self, session: AsyncSession, email: str) -> User | None:
        return await session.scalar(select(User).where(User.email == email.strip().lower()))

    async def list_all(self, session: AsyncSession) -> Sequence[User]:
        return (await session.scalars(select(User).order_by(User.id))).all()

    async def authenticate(self, session: AsyncSession, email: str, password: str) -> User | None:
        """The active user with these credentials, or None (without saying which part was wrong)."""
        user = await self.get_by_email(session, email)
        if user is None:
            # Spend the same time as a real check, so timing does not reveal which emails exist.
            verify_password(_DUMMY_HASH, password)
            return None
        if not verify_password(user.password_hash, password) or not user.is_active:
            return None
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
            await flush(session)
        return user

    def _check_self_or_superuser(self, actor: User, user: User) -> None:
        if actor.id != user.id and not actor.is_superuser:
            raise Forbidden("you may only change your own account")

    async def update(
        self, session: AsyncSession, actor: User, user: User, data: UserUpdate
    ) -> User:
        self._check_self_or_superuser(actor, user)
        changes = {k: v for k, v in data.changes().items() if v is not None}
        if "is_active" in changes and not actor.is_superuser:
            raise Forbidden("only an administrator may activate or deactivate accounts")
        before, after = apply_changes(user, changes)
        if after:
            record(
                session,
                actor=actor,
                project_id=None,
                entity_type=EntityType.USER,
                entity_id=user.id,
                action=ActivityAction.UPDATED,
                before=before,
                after=after,
            )
            await flush(session)
        return user

    async def change_password(
        self, session: AsyncSession, actor: User, user: User, *, current: str, new: str
    ) -> None:
        self._check_self_or_superuser(actor, user)
        if actor.id == user.id and not verify_password(user.password_hash, current):
            raise Forbidden("the current password is wrong")
        check_password_policy(new, email=user.email)
        user.password_hash = hash_password(new)
        record(
            session,
            actor=actor,
            project_id=None,
            entity_type=EntityType.USER,
            entity_id=user.id,
            action=ActivityAction.UPDATED,
            after={"password": "changed"},
        )
        await flush(session)

    async def delete(self, session: AsyncSession, actor: User, user: User) -> None:
        """Removes the account and its memberships; stories it was assigned stay, unassigned."""
        self._check_self_or_superuser(actor, user)
        owners = aliased(Membership)
        sole_owner_of = (
            await session.scalars(
                select(Project.key)
                .join(Membership, Membership.project_id == Project.id)
                .where(Membership.user_id == user.id, Membership.role == Role.OWNER)
                .where(
                    # An alias: the outer query's memberships would otherwise be correlated
                    # away, leaving the count with no FROM clause.
                    select(func.count())
                    .select_from(owners)
                    .where(owners.project_id == Project.id, owners.role == Role.OWNER)
                    .scalar_subquery()
                    == 1
                )
            )
        ).all()
        if sole_owner_of:
            raise Conflict(
                f"{user.email} is the only owner of {', '.join(sole_owner_of)}: "
                "hand the projects over or delete them first"
            )
        record(
            session,
            actor=None if actor.id == user.id else actor,
            project_id=None,
            entity_type=EntityType.USER,
            entity_id=user.id,
            action=ActivityAction.DELETED,
            before={name: getattr(user, name) for name in _PUBLIC_FIELDS},
        )
        await session.delete(user)
        await flush(session)


_DUMMY_HASH = hash_password("plandeck-timing-equaliser")

user_service = UserService()
