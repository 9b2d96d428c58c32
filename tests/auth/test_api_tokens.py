from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.auth.api_tokens import TOKEN_PREFIX, api_token_service
from plandeck.auth.schemas import ApiTokenCreate
from plandeck.errors import InvalidInput, NotFound
from plandeck.models import ActivityAction, ActivityEvent, ApiToken, EntityType, TokenScope, User
from tests.factories.accounts import make_user


@pytest.fixture
async def user(session: AsyncSession) -> User:
    return await make_user(session)


async def _create(session: AsyncSession, user: User, **fields: object) -> tuple[ApiToken, str]:
    data = ApiTokenCreate.model_validate({"name": "ci", **fields})
    return await api_token_service.create(session, user, data)


async def _token_events(session: AsyncSession, token_id: int) -> list[ActivityEvent]:
    return list(
        (
            await session.scalars(
                select(ActivityEvent)
                .where(
                    ActivityEvent.entity_type == EntityType.API_TOKEN,
                    ActivityEvent.entity_id == token_id,
                )
                .order_by(ActivityEvent.id)
            )
        ).all()
    )


class TestCreateApiToken:
    async def test_returns_plain_token_once_with_prefix(
        self, session: AsyncSession, user: User
    ) -> None:
        token, plain = await _create(session, user, name="deploy bot")
        assert plain.startswith("pdk_")
        assert len(plain) >= len(TOKEN_PREFIX) + 40, "the token must carry enough randomness"
        assert (token.user_id, token.name, token.prefix) == (user.id, "deploy bot", plain[:10])

    async def test_stores_only_the_sha256(self, session: AsyncSession, user: User) -> None:
        token, plain = await _create(session, user)
        row = (
            await session.execute(select(ApiToken.__table__).where(ApiToken.id == token.id))
        ).one()
        assert row.token_hash == hashlib.sha256(plain.encode()).hexdigest()
        assert all(plain not in str(value) for value in row), "the plain token was stored"

    async def test_activity_records_prefix_not_token(
        self, session: AsyncSession, user: User
    ) -> None:
        token, plain = await _create(session, user, scopes=["write"])
        [event] = await _token_events(session, token.id)
        assert (event.action, event.actor_id) == (ActivityAction.CREATED, user.id)
        assert event.after == {"name": "ci", "prefix": token.prefix, "scopes": ["write"]}
        assert plain not in repr(event.after)

    async def test_each_token_is_different(self, session: AsyncSession, user: User) -> None:
        first, first_plain = await _create(session, user)
        second, second_plain = await _create(session, user)
        assert first_plain != second_plain
        assert first.token_hash != second.token_hash

    async def test_scopes_default_to_read(self, session: AsyncSession, user: User) -> None:
        token, _ = await _create(session, user)
        assert token.scopes == ["read"]

    async def test_scopes_are_deduplicated_and_sorted(
        self, session: AsyncSession, user: User
    ) -> None:
        token, _ = await _create(
            session, user, scopes=[TokenScope.WRITE, TokenScope.READ, TokenScope.WRITE]
        )
        await session.refresh(token)
        assert token.scopes == ["read", "write"]

    async def test_no_scopes_is_invalid(self, session: AsyncSession, user: User) -> None:
        with pytest.raises(InvalidInput, match="at least one scope"):
            await _create(session, user, scopes=[])

    async def test_future_expiry_is_kept(self, session: AsyncSession, user: User) -> None:
        expires = datetime.now(UTC) + timedelta(days=30)
        token, _ = await _create(session, user, expires_at=expires)
        await session.refresh(token)
        assert token.expires_at == expires

    async def test_expiry_in_another_timezone_is_stored_as_utc(
        self, session: AsyncSession, user: User
    ) -> None:
        tehran = timezone(timedelta(hours=3, minutes=30))
        expires = datetime(2100, 1, 1, 12, 0, tzinfo=tehran)
        token, _ = await _create(session, user, expires_at=expires)
        await session.refresh(token)
        assert token.expires_at == expires
        assert token.expires_at is not None
        assert token.expires_at.utcoffset() == timedelta(0)

    async def test_past_expiry_is_invalid(self, session: AsyncSession, user: User) -> None:
        with pytest.raises(InvalidInput, match="expires_at must be in the future") as info:
            await _create(session, user, expires_at=datetime.now(UTC) - timedelta(minutes=1))
        assert info.value.extra == {"field": "expires_at"}
        assert await api_token_service.list_for(session, user) == []

    def test_expiry_without_timezone_is_refused(self) -> None:
        with pytest.raises(ValueError, match="timezone"):
            ApiTokenCreate.model_validate_json(
                '{"name": "ci", "expires_at": "2100-01-01T00:00:00"}'
            )


class TestAuthenticateApiToken:
    async def test_valid_token_returns_user_and_token(
        self, session: AsyncSession, user: User
    ) -> None:
        token, plain = await _create(session, user)
        assert await api_token_service.authenticate(session, plain) == (user, token)

    async def test_use_sets_last_used_at(self, session: AsyncSession, user: User) -> None:
        token, plain = await _create(session, user)
        assert token.last_used_at is None
        before = datetime.now(UTC)
        await api_token_service.authenticate(session, plain)
        await session.refresh(token)
        assert token.last_used_at is not None
        assert before - timedelta(seconds=1) <= token.last_used_at <= datetime.now(UTC)

    async def test_unexpired_token_works(self, session: AsyncSession, user: User) -> None:
        _, plain = await _create(session, user, expires_at=datetime.now(UTC) + timedelta(hours=1))
        assert await api_token_service.authenticate(session, plain) is not None

    async def test_expired_token_is_refused(self, session: AsyncSession, user: User) -> None:
        token, plain = await _create(
            session, user, expires_at=datetime.now(UTC) + timedelta(hours=1)
        )
        token.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        await session.flush()
        session.expunge_all()  # read the expiry back from the database
        assert await api_token_service.authenticate(session, plain) is None
        stored = await session.get(ApiToken, token.id)
        assert stored is not None
        assert stored.last_used_at is None, "a refused token must not count as used"

    async def test_revoked_token_is_refused(self, session: AsyncSession, user: User) -> None:
        token, plain = await _create(session, user)
        await api_token_service.revoke(session, user, token.id)
        assert await api_token_service.authenticate(session, plain) is None

    async def test_token_of_inactive_user_is_refused(
        self, session: AsyncSession, user: User
    ) -> None:
        _, plain = await _create(session, user)
        user.is_active = False
        await session.flush()
        assert await api_token_service.authenticate(session, plain) is None

    async def test_deleted_token_is_refused(self, session: AsyncSession, user: User) -> None:
        token, plain = await _create(session, user)
        await api_token_service.delete(session, user, token.id)
        assert await api_token_service.authenticate(session, plain) is None
        assert await session.scalar(select(ApiToken.id).where(ApiToken.id == token.id)) is None

    @pytest.mark.parametrize(
        "garbage",
        ["", "garbage", "pdk_", "pdk_" + "A" * 43, "Bearer pdk_abc", " pdk_abc"],
    )
    async def test_garbage_is_refused(
        self, session: AsyncSession, user: User, garbage: str
    ) -> None:
        await _create(session, user)
        assert await api_token_service.authenticate(session, garbage) is None

    async def test_stored_hash_or_prefix_is_not_a_token(
        self, session: AsyncSession, user: User
    ) -> None:
        token, plain = await _create(session, user)
        assert await api_token_service.authenticate(session, token.token_hash) is None
        assert await api_token_service.authenticate(session, token.prefix) is None
        assert await api_token_service.authenticate(session, plain[:-1]) is None
        assert await api_token_service.authenticate(session, plain.upper()) is None


class TestRevokeApiToken:
    async def test_revoke_sets_revoked_at_and_records_it(
        self, session: AsyncSession, user: User
    ) -> None:
        token, _ = await _create(session, user)
        revoked = await api_token_service.revoke(session, user, token.id)
        assert revoked.revoked_at is not None
        actions = [e.action for e in await _token_events(session, token.id)]
        assert actions == [ActivityAction.CREATED, ActivityAction.REVOKED]

    async def test_revoking_twice_keeps_the_first_time(
        self, session: AsyncSession, user: User
    ) -> None:
        token, _ = await _create(session, user)
        first = (await api_token_service.revoke(session, user, token.id)).revoked_at
        second = (await api_token_service.revoke(session, user, token.id)).revoked_at
        assert first == second
        actions = [e.action for e in await _token_events(session, token.id)]
        assert actions.count(ActivityAction.REVOKED) == 1

    async def test_another_users_token_is_not_found(
        self, session: AsyncSession, user: User
    ) -> None:
        stranger = await make_user(session)
        token, plain = await _create(session, user)
        with pytest.raises(NotFound, match=f"token {token.id} not found"):
            await api_token_service.revoke(session, stranger, token.id)
        assert token.revoked_at is None
        assert await api_token_service.authenticate(session, plain) is not None

    async def test_another_user_cannot_delete_it(self, session: AsyncSession, user: User) -> None:
        stranger = await make_user(session)
        token, plain = await _create(session, user)
        with pytest.raises(NotFound):
            await api_token_service.delete(session, stranger, token.id)
        assert await api_token_service.authenticate(session, plain) is not None

    async def test_unknown_token_id_is_not_found(self, session: AsyncSession, user: User) -> None:
        with pytest.raises(NotFound):
            await api_token_service.revoke(session, user, 999_999)


class TestListApiTokens:
    async def test_lists_only_own_tokens_in_creation_order(
        self, session: AsyncSession, user: User
    ) -> None:
        other = await make_user(session)
        first, _ = await _create(session, user, name="first")
        await _create(session, other, name="theirs")
        second, _ = await _create(session, user, name="second")
        await api_token_service.revoke(session, user, second.id)
        listed = await api_token_service.list_for(session, user)
        assert [(t.id, t.name) for t in listed] == [(first.id, "first"), (second.id, "second")]
        assert [t.name for t in await api_token_service.list_for(session, other)] == ["theirs"]

    async def test_user_without_tokens_gets_an_empty_list(
        self, session: AsyncSession, user: User
    ) -> None:
        await _create(session, await make_user(session))
        assert await api_token_service.list_for(session, user) == []
