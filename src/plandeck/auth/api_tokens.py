"""Personal API tokens: shown once, stored as SHA-256, scoped, optionally expiring, revocable."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.auth.schemas import ApiTokenCreate
from plandeck.errors import InvalidInput, NotFound
from plandeck.kit.audit import record
from plandeck.kit.integrity import flush
from plandeck.models import ActivityAction, ApiToken, EntityType, User
from plandeck.models.base import utcnow

TOKEN_PREFIX = "pdk_"


def hash_token(token: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough (unlike passwords).
    return hashlib.sha256(token.encode()).hexdigest()


class ApiTokenService:
    async def create(
        self, session: AsyncSession, actor: User, data: ApiTokenCreate
    ) -> tuple[ApiToken, str]:
        """The stored token and its plain text, which is never seen again."""
        if data.expires_at is not None and data.expires_at <= utcnow():
            raise InvalidInput("expires_at must be in the future", field="expires_at")
        if not data.scopes:
            raise InvalidInput("a token needs at least one scope", field="scopes")
        plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = ApiToken(
            user_id=actor.id,
            name=data.name,
            prefix=plain[: len(TOKEN_PREFIX) + 6],
            token_hash=hash_token(plain),
            scopes=sorted({scope.value for scope in data.scopes}),
            expires_at=data.expires_at,
        )
        session.add(token)
        await flush(session)
        record(
            session,
            actor=actor,
            project_id=None,
            entity_type=EntityType.API_TOKEN,
            entity_id=token.id,
            action=ActivityAction.CREATED,
            after={"name": token.name, "prefix": token.prefix, "scopes": token.scopes},
        )
        await flush(session)
        return token, plain

    async def list_for(self, session: AsyncSession, actor: User) -> Sequence[ApiToken]:
        return (
            await session.scalars(
                select(ApiToken).where(ApiToken.user_id == actor.id).order_by(ApiToken.id)
            )
        ).all()

    async def revoke(self, session: AsyncSession, actor: User, token_id: int) -> ApiToken:
        token = await session.scalar(
            select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == actor.id)
        )
        if token is None:
            raise NotFound(f"token {token_id} not found")
        if token.revoked_at is None:
            token.revoked_at = utcnow()
            record(
                session,
                actor=actor,
                project_id=None,
                entity_type=EntityType.API_TOKEN,
                entity_id=token.id,
                action=ActivityAction.REVOKED,
                after={"revoked_at": token.revoked_at.isoformat()},
            )
            await flush(session)
        return token

    async def delete(self, session: AsyncSession, actor: User, token_id: int) -> None:
        token = await self.revoke(session, actor, token_id)
        await session.delete(token)
        await flush(session)

    async def authenticate(
        self, session: AsyncSession, plain: str, *, touch_older_than: timedelta | None = None
    ) -> tuple[User, ApiToken] | None:
        """The active owner of a valid, unexpired, unrevoked token; None otherwise.

        ``last_used_at`` is written only when it is older than ``touch_older_than``, so
        that reads stay reads.
        """
        if not plain.startswith(TOKEN_PREFIX):
            return None
        row = (
            await session.execute(
                select(ApiToken, User)
                .join(User, User.id == ApiToken.user_id)
                .where(ApiToken.token_hash == hash_token(plain))
            )
        ).first()
        if row is None:
            return None
        token, user = row[0], row[1]
        now = utcnow()
        if token.revoked_at is not None or (
            token.expires_at is not None and token.expires_at <= now
        ):
            return None
        if not user.is_active:
            return None
        if (
            touch_older_than is None
            or token.last_used_at is None
            or now - token.last_used_at >= touch_older_than
        ):
            token.last_used_at = now
            await flush(session)
        return user, token


api_token_service = ApiTokenService()
