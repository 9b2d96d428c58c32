from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.auth.passwords import needs_rehash, verify_password
from plandeck.auth.schemas import UserCreate, UserUpdate
from plandeck.auth.users import user_service
from plandeck.errors import Conflict, Forbidden, InvalidInput
from plandeck.models import (
    ActivityAction,
    ActivityEvent,
    ApiToken,
    EntityType,
    Membership,
    Role,
    User,
)
from tests.factories.accounts import PASSWORD, make_user
from tests.factories.plans import add_member, make_project

NEW_PASSWORD = "a brand new passphrase"


async def _user_events(session: AsyncSession, user_id: int) -> list[ActivityEvent]:
    return list(
        (
            await session.scalars(
                select(ActivityEvent)
                .where(
                    ActivityEvent.entity_type == EntityType.USER,
                    ActivityEvent.entity_id == user_id,
                )
                .order_by(ActivityEvent.id)
            )
        ).all()
    )


@pytest.fixture
async def user(session: AsyncSession) -> User:
    return await make_user(session)


@pytest.fixture
async def other(session: AsyncSession) -> User:
    return await make_user(session)


@pytest.fixture
async def superuser(session: AsyncSession) -> User:
    return await make_user(session, is_superuser=True)


class TestCreateUser:
    async def test_creates_with_lowercased_email_and_hashed_password(
        self, session: AsyncSession
    ) -> None:
        user = await user_service.create(
            session,
            UserCreate(email="Ada.Lovelace@Example.COM", name="Ada", password=PASSWORD),
        )
        await session.refresh(user)
        assert (user.email, user.name, user.locale, user.is_active, user.is_superuser) == (
            "ada.lovelace@example.com",
            "Ada",
            "en",
            True,
            False,
        )
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash
        assert verify_password(user.password_hash, PASSWORD)

    async def test_records_activity_without_the_password(self, session: AsyncSession) -> None:
        user = await user_service.create(
            session, UserCreate(email="grace@example.com", name="Grace", password=PASSWORD)
        )
        events = await _user_events(session, user.id)
        assert [(e.action, e.actor_id, e.after) for e in events] == [
            (ActivityAction.CREATED, user.id, {"email": "grace@example.com", "name": "Grace"})
        ]
        assert PASSWORD not in repr(events[0].after)

    async def test_activity_names_the_administrator_who_created_it(
        self, session: AsyncSession, superuser: User
    ) -> None:
        user = await user_service.create(
            session,
            UserCreate(email="linus@example.com", name="Linus", password=PASSWORD),
            actor=superuser,
        )
        [event] = await _user_events(session, user.id)
        assert event.actor_id == superuser.id

    async def test_duplicate_email_is_a_conflict_whatever_its_case(
        self, session: AsyncSession
    ) -> None:
        await make_user(session, email="bob@example.com")
        with pytest.raises(Conflict, match=r"bob@example\.com already exists"):
            await user_service.create(
                session, UserCreate(email="BOB@Example.com", name="Bob 2", password=PASSWORD)
            )
        users = await session.scalars(select(User).where(User.email == "bob@example.com"))
        assert len(users.all()) == 1

    async def test_password_policy_applies(self, session: AsyncSession) -> None:
        with pytest.raises(InvalidInput, match="at least 8 characters"):
            await user_service.create(
                session, UserCreate(email="short@example.com", name="Short", password="1234567")
            )
        assert await user_service.get_by_email(session, "short@example.com") is None

    async def test_password_equal_to_email_is_refused(self, session: AsyncSession) -> None:
        with pytest.raises(InvalidInput, match="must not be the email address"):
            await user_service.create(
                session,
                UserCreate(email="Eve@Example.com", name="Eve", password="eve@example.com"),
            )


class TestAuthenticate:
    async def test_right_password_returns_the_user(self, session: AsyncSession, user: User) -> None:
        assert await user_service.authenticate(session, user.email, PASSWORD) is user

    async def test_email_is_matched_case_and_space_insensitively(
        self, session: AsyncSession, user: User
    ) -> None:
        found = await user_service.authenticate(session, f"  {user.email.upper()} ", PASSWORD)
        assert found is user

    async def test_wrong_password_returns_none(self, session: AsyncSession, user: User) -> None:
        assert await user_service.authenticate(session, user.email, PASSWORD + "!") is None

    async def test_unknown_email_returns_none(self, session: AsyncSession, user: User) -> None:
        assert await user_service.authenticate(session, "nobody@example.com", PASSWORD) is None

    async def test_inactive_user_returns_none(self, session: AsyncSession) -> None:
        inactive = await make_user(session, is_active=False)
        assert await user_service.authenticate(session, inactive.email, PASSWORD) is None

    async def test_outdated_hash_is_upgraded_on_login(
        self, session: AsyncSession, user: User
    ) -> None:
        user.password_hash = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(
            PASSWORD
        )
        await session.flush()
        assert await user_service.authenticate(session, user.email, PASSWORD) is user
        await session.refresh(user)
        assert not needs_rehash(user.password_hash)
        assert verify_password(user.password_hash, PASSWORD)


class TestUpdateUser:
    async def test_user_updates_own_name_and_locale_with_activity(
        self, session: AsyncSession, user: User
    ) -> None:
        old_name = user.name
        await user_service.update(session, user, user, UserUpdate(name="Renamed", locale="fa"))
        await session.refresh(user)
        assert (user.name, user.locale) == ("Renamed", "fa")
        [event] = await _user_events(session, user.id)
        assert (event.action, event.actor_id) == (ActivityAction.UPDATED, user.id)
        assert event.before == {"name": old_name, "locale": "en"}
        assert event.after == {"name": "Renamed", "locale": "fa"}

    async def test_update_without_changes_records_nothing(
        self, session: AsyncSession, user: User
    ) -> None:
        await user_service.update(session, user, user, UserUpdate(name=user.name))
        assert await _user_events(session, user.id) == []

    async def test_cannot_update_another_user(
        self, session: AsyncSession, user: User, other: User
    ) -> None:
        old_name = other.name
        with pytest.raises(Forbidden, match="only change your own account"):
            await user_service.update(session, user, other, UserUpdate(name="Hijacked"))
        await session.refresh(other)
        assert other.name == old_name

    async def test_superuser_may_update_another_user(
        self, session: AsyncSession, superuser: User, user: User
    ) -> None:
        await user_service.update(session, superuser, user, UserUpdate(name="By admin"))
        await session.refresh(user)
        assert user.name == "By admin"
        [event] = await _user_events(session, user.id)
        assert event.actor_id == superuser.id

    async def test_user_cannot_deactivate_self(self, session: AsyncSession, user: User) -> None:
        with pytest.raises(Forbidden, match="only an administrator"):
            await user_service.update(session, user, user, UserUpdate(is_active=False))
        await session.refresh(user)
        assert user.is_active is True

    async def test_user_cannot_change_is_active_alongside_other_fields(
        self, session: AsyncSession, user: User
    ) -> None:
        old_name = user.name
        with pytest.raises(Forbidden):
            await user_service.update(
                session, user, user, UserUpdate(name="Sneaky", is_active=False)
            )
        await session.refresh(user)
        assert (user.name, user.is_active) == (old_name, True)

    async def test_superuser_deactivates_and_reactivates_a_user(
        self, session: AsyncSession, superuser: User, user: User
    ) -> None:
        await user_service.update(session, superuser, user, UserUpdate(is_active=False))
        await session.refresh(user)
        assert user.is_active is False
        assert await user_service.authenticate(session, user.email, PASSWORD) is None
        await user_service.update(session, superuser, user, UserUpdate(is_active=True))
        await session.refresh(user)
        assert user.is_active is True


class TestChangePassword:
    async def test_own_password_change_with_current_password(
        self, session: AsyncSession, user: User
    ) -> None:
        await user_service.change_password(session, user, user, current=PASSWORD, new=NEW_PASSWORD)
        await session.refresh(user)
        assert await user_service.authenticate(session, user.email, NEW_PASSWORD) is user
        assert await user_service.authenticate(session, user.email, PASSWORD) is None

    async def test_records_activity_without_password_or_hash(
        self, session: AsyncSession, user: User
    ) -> None:
        await user_service.change_password(session, user, user, current=PASSWORD, new=NEW_PASSWORD)
        [event] = await _user_events(session, user.id)
        assert (event.action, event.actor_id, event.before, event.after) == (
            ActivityAction.UPDATED,
            user.id,
            None,
            {"password": "changed"},
        )

    async def test_wrong_current_password_is_forbidden(
        self, session: AsyncSession, user: User
    ) -> None:
        old_hash = user.password_hash
        with pytest.raises(Forbidden, match="current password is wrong"):
            await user_service.change_password(
                session, user, user, current="not my password", new=NEW_PASSWORD
            )
        await session.refresh(user)
        assert user.password_hash == old_hash

    async def test_superuser_changing_own_password_still_needs_current(
        self, session: AsyncSession, superuser: User
    ) -> None:
        with pytest.raises(Forbidden, match="current password is wrong"):
            await user_service.change_password(
                session, superuser, superuser, current="", new=NEW_PASSWORD
            )

    @pytest.mark.parametrize(
        ("new", "rule"),
        [("short", "at least 8"), (" " * 12, "only spaces"), ("x" * 1025, "at most 1024")],
    )
    async def test_policy_applies_to_new_password(
        self, session: AsyncSession, user: User, new: str, rule: str
    ) -> None:
        old_hash = user.password_hash
        with pytest.raises(InvalidInput, match=rule):
            await user_service.change_password(session, user, user, current=PASSWORD, new=new)
        await session.refresh(user)
        assert user.password_hash == old_hash

    async def test_new_password_equal_to_email_is_refused(
        self, session: AsyncSession, user: User
    ) -> None:
        with pytest.raises(InvalidInput, match="email address"):
            await user_service.change_password(
                session, user, user, current=PASSWORD, new=user.email.upper()
            )

    async def test_superuser_resets_another_password_without_current(
        self, session: AsyncSession, superuser: User, user: User
    ) -> None:
        await user_service.change_password(session, superuser, user, current="", new=NEW_PASSWORD)
        await session.refresh(user)
        assert verify_password(user.password_hash, NEW_PASSWORD)
        assert not verify_password(user.password_hash, PASSWORD)
        [event] = await _user_events(session, user.id)
        assert event.actor_id == superuser.id

    async def test_cannot_change_another_users_password_even_knowing_it(
        self, session: AsyncSession, user: User, other: User
    ) -> None:
        old_hash = other.password_hash
        with pytest.raises(Forbidden, match="only change your own account"):
            await user_service.change_password(
                session, user, other, current=PASSWORD, new=NEW_PASSWORD
            )
        await session.refresh(other)
        assert other.password_hash == old_hash


class TestDeleteUser:
    async def test_user_deletes_own_account(self, session: AsyncSession, user: User) -> None:
        user_id, email = user.id, user.email
        await user_service.delete(session, user, user)
        assert await session.scalar(select(User).where(User.id == user_id)) is None
        [event] = await _user_events(session, user_id)
        assert (event.action, event.actor_id) == (ActivityAction.DELETED, None)
        assert event.before is not None
        assert event.before["email"] == email

    async def test_superuser_deletes_another_account(
        self, session: AsyncSession, superuser: User, user: User
    ) -> None:
        user_id = user.id
        await user_service.delete(session, superuser, user)
        assert await session.scalar(select(User).where(User.id == user_id)) is None
        [event] = await _user_events(session, user_id)
        assert event.actor_id == superuser.id

    async def test_cannot_delete_another_account(
        self, session: AsyncSession, user: User, other: User
    ) -> None:
        with pytest.raises(Forbidden, match="only change your own account"):
            await user_service.delete(session, user, other)
        assert await session.scalar(select(User.id).where(User.id == other.id)) == other.id

    async def test_memberships_and_tokens_go_with_the_account(
        self, session: AsyncSession, user: User, other: User
    ) -> None:
        project = await make_project(session, other)
        await add_member(session, project, user, Role.MEMBER)
        session.add(ApiToken(user_id=user.id, name="ci", prefix="pdk_abcdef", token_hash="0" * 64))
        await session.flush()
        user_id = user.id
        await user_service.delete(session, user, user)
        memberships = await session.scalars(
            select(Membership.user_id).where(Membership.project_id == project.id)
        )
        assert memberships.all() == [other.id]
        assert await session.scalar(select(ApiToken.id).where(ApiToken.user_id == user_id)) is None

    async def test_sole_owner_of_a_project_cannot_be_deleted(
        self, session: AsyncSession, user: User
    ) -> None:
        project = await make_project(session, user, key="SOLO")
        with pytest.raises(Conflict, match="only owner of SOLO"):
            await user_service.delete(session, user, user)
        assert await session.scalar(select(User.id).where(User.id == user.id)) == user.id
        owners = await session.scalars(
            select(Membership.user_id).where(Membership.project_id == project.id)
        )
        assert owners.all() == [user.id]

    async def test_one_of_two_owners_can_be_deleted(
        self, session: AsyncSession, user: User, other: User
    ) -> None:
        project = await make_project(session, user)
        await add_member(session, project, other, Role.OWNER)
        await user_service.delete(session, user, user)
        owners = await session.scalars(
            select(Membership.user_id).where(
                Membership.project_id == project.id, Membership.role == Role.OWNER
            )
        )
        assert owners.all() == [other.id]
