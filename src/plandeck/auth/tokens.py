"""Credentials after login: JWT access tokens, rotating refresh tokens, browser sessions, CSRF.

- Access tokens are short-lived HS256 JWTs signed with the secret key. Only HS256 is
  accepted on the way in, so ``alg: none`` and algorithm-confusion tokens are refused.
- Refresh tokens are random strings stored as SHA-256, one *family* per login. A refresh
  replaces the token by a new one of the same family; presenting a replaced token again
  means it leaked, so the whole family is revoked and the caller must log in again.
- Browser sessions are random cookie values stored as SHA-256. The CSRF token is an HMAC
  of the session value: stateless, bound to the session, useless without the cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from plandeck.auth.api_tokens import hash_token
from plandeck.config import Settings
from plandeck.errors import NotAuthenticated
from plandeck.kit.integrity import flush
from plandeck.models import RefreshToken, User, WebSession
from plandeck.models.base import utcnow

ALGORITHM = "HS256"
ISSUER = "plandeck"
SESSION_COOKIE = "plandeck_session"
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int  # seconds until the access token expires


def _signing_key(settings: Settings) -> str:
    return settings.secret_key.get_secret_value()


def create_access_token(settings: Settings, user: User) -> str:
    now = utcnow()
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": str(user.id),
        "iat": now,
        "exp": now + timedelta(minutes=settings.auth.access_token_minutes),
        "jti": secrets.token_hex(8),
        "typ": "access",
    }
    return jwt.encode(claims, _signing_key(settings), algorithm=ALGORITHM)


def read_access_token(settings: Settings, token: str) -> int:
    """The user id an access token names; NotAuthenticated when it is expired, forged or malformed."""
    try:
        claims = jwt.decode(
            token,
            _signing_key(settings),
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise NotAuthenticated("the access token has expired; refresh it or log in again") from None
    except jwt.PyJWTError:
        raise NotAuthenticated("the access token is not valid") from None
    if claims.get("typ") != "access" or not str(claims["sub"]).isdigit():
        raise NotAuthenticated("the access token is not valid")
    return int(claims["sub"])


class RefreshTokenService:
    async def issue(
        self, session: AsyncSession, settings: Settings, user: User, *, family: str | None = None
    ) -> TokenPair:
        plain = "pdr_" + secrets.token_urlsafe(32)
        session.add(
            RefreshToken(
                user_id=user.id,
                family=family or str(uuid.uuid4()),
                token_hash=hash_token(plain),
                expires_at=utcnow() + timedelta(days=settings.auth.refresh_token_days),
            )
        )
        await flush(session)
        return TokenPair(
            access_token=create_access_token(settings, user),
            refresh_token=plain,
            expires_in=settings.auth.access_token_minutes * 60,
        )

    async def rotate(
        self, session: AsyncSession, settings: Settings, plain: str
    ) -> TokenPair | None:
        """A new pair for a valid refresh token, which is used up.

        None when the token is unknown, expired or revoked. A token that was already
        replaced revokes its whole family (and returns None): the caller must commit that
        before refusing the request.
        """
        row = (
            await session.execute(
                select(RefreshToken, User)
                .join(User, User.id == RefreshToken.user_id)
                .where(RefreshToken.token_hash == hash_token(plain))
            )
        ).first()
        if row is None:
            return None
        token, user = row[0], row[1]
        now = utcnow()
        if token.replaced_at is not None:
            await self.revoke_family(session, token.family)
            return None
        if token.revoked_at is not None or token.expires_at <= now or not user.is_active:
            return None
        token.replaced_at = now
        await flush(session)
        return await self.issue(session, settings, user, family=token.family)

    async def revoke_family(self, session: AsyncSession, family: str) -> None:
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.family == family, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
            .execution_options(synchronize_session=False)
        )

    async def revoke(self, session: AsyncSession, plain: str) -> None:
        family = await session.scalar(
            select(RefreshToken.family).where(RefreshToken.token_hash == hash_token(plain))
        )
        if family is not None:
            await self.revoke_family(session, family)


class WebSessionService:
    async def start(self, session: AsyncSession, settings: Settings, user: User) -> str:
        """The cookie value of a new browser session."""
        plain = secrets.token_urlsafe(32)
        session.add(
            WebSession(
                user_id=user.id,
                token_hash=hash_token(plain),
                expires_at=utcnow() + timedelta(days=settings.auth.session_days),
            )
        )
        await flush(session)
        return plain

    async def user_for(self, session: AsyncSession, plain: str) -> User | None:
        row = (
            await session.execute(
                select(WebSession, User)
                .join(User, User.id == WebSession.user_id)
                .where(WebSession.token_hash == hash_token(plain))
            )
        ).first()
        if row is None:
            return None
        web_session, user = row[0], row[1]
        if web_session.revoked_at is not None or web_session.expires_at <= utcnow():
            return None
        return user if user.is_active else None

    async def end(self, session: AsyncSession, plain: str) -> None:
        await session.execute(
            update(WebSession)
            .where(WebSession.token_hash == hash_token(plain), WebSession.revoked_at.is_(None))
            .values(revoked_at=utcnow())
            .execution_options(synchronize_session=False)
        )

    async def end_all(self, session: AsyncSession, user: User) -> None:
        """Log the user out everywhere (after a password change)."""
        now = utcnow()
        await session.execute(
            update(WebSession)
            .where(WebSession.user_id == user.id, WebSession.revoked_at.is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )


def csrf_token_for(settings: Settings, session_value: str) -> str:
    return hmac.new(
        _signing_key(settings).encode(), b"csrf:" + session_value.encode(), hashlib.sha256
    ).hexdigest()


def csrf_token_valid(settings: Settings, session_value: str, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(
        csrf_token_for(settings, session_value), presented
    )


refresh_token_service = RefreshTokenService()
web_session_service = WebSessionService()


def set_session_cookie(response: Response, settings: Settings, value: str) -> None:
    """The browser session's cookie: HttpOnly, SameSite=Lax, Secure outside development."""
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=settings.auth.session_days * 24 * 3600,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )
