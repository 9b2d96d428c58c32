"""Request dependencies: the unit of work and the authenticated caller, as ``Annotated`` aliases.

A caller proves who it is in one of three ways, tried in this order:

1. ``Authorization: Bearer pdk_...``: a personal API token (scopes ``read``/``write``);
2. ``Authorization: Bearer <JWT>``: an access token from ``/api/v1/auth/login``;
3. the ``plandeck_session`` cookie set by the same login, for browsers. An unsafe request
   (POST, PUT, PATCH, DELETE) authenticated by the cookie must carry the session's CSRF token
   in the ``X-CSRF-Token`` header (or a ``csrf_token`` form field), or it is refused with 403.
   Bearer requests are not subject to CSRF: a browser never adds that header by itself.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.auth.api_tokens import TOKEN_PREFIX, api_token_service
from plandeck.auth.tokens import (
    CSRF_HEADER,
    SESSION_COOKIE,
    csrf_token_valid,
    read_access_token,
    web_session_service,
)
from plandeck.config import Settings
from plandeck.db import unit_of_work
from plandeck.errors import Forbidden, NotAuthenticated
from plandeck.models import TokenScope, User

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# How stale an API token's last_used_at may get before a request records it again: a
# write on every read would make every GET a writing transaction.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


async def get_settings_from(request: Request) -> Settings:
    # async: FastAPI runs a plain ``def`` dependency in a worker thread, a thread hop on
    # every authenticated request for one attribute read.
    settings: Settings = request.app.state.settings
    return settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One unit of work per request: committed after the route returns (before the response
    is sent, so a failed commit is the client's error response), rolled back on any error."""
    read_only = request.method in SAFE_METHODS
    async with unit_of_work(request.app.state.sessionmaker, read_only=read_only) as session:
        yield session


class AuthMethod(enum.StrEnum):
    API_TOKEN = "api_token"
    ACCESS_TOKEN = "access_token"
    SESSION = "session"


@dataclass(frozen=True)
class Principal:
    user: User
    method: AuthMethod
    scopes: frozenset[str]


_bearer = HTTPBearer(auto_error=False, description="An access token (JWT) or a personal API token")
_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, description="Browser session")

DbSession = Annotated[AsyncSession, Depends(get_session, scope="function")]
AppSettings = Annotated[Settings, Depends(get_settings_from)]

_ALL_SCOPES = frozenset(scope.value for scope in TokenScope)


async def _csrf_presented(request: Request) -> str | None:
    presented = request.headers.get(CSRF_HEADER)
    if presented is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf_token")
        presented = value if isinstance(value, str) else None
    return presented


async def authenticate(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> Principal:
    unsafe = request.method not in SAFE_METHODS
    if bearer is not None:
        credential = bearer.credentials
        if credential.startswith(TOKEN_PREFIX):
            found = await api_token_service.authenticate(
                session, credential, touch_older_than=_LAST_USED_RESOLUTION
            )
            if found is None:
                raise NotAuthenticated("the API token is not valid, expired or revoked")
            user, token = found
            scopes = frozenset(token.scopes)
            if unsafe and TokenScope.WRITE.value not in scopes:
                raise Forbidden("this API token is read-only: it needs the write scope")
            principal = Principal(user, AuthMethod.API_TOKEN, scopes)
        else:
            user_id = read_access_token(settings, credential)
            token_user = await session.get(User, user_id)
            if token_user is None or not token_user.is_active:
                raise NotAuthenticated("the access token's user no longer exists or is inactive")
            principal = Principal(token_user, AuthMethod.ACCESS_TOKEN, _ALL_SCOPES)
    elif cookie:
        found_user = await web_session_service.user_for(session, cookie)
        if found_user is None:
            raise NotAuthenticated("the session has ended; log in again")
        if unsafe and not csrf_token_valid(settings, cookie, await _csrf_presented(request)):
            raise Forbidden(
                f"missing or wrong CSRF token: send the {CSRF_HEADER} header with a request "
                "authenticated by the session cookie"
            )
        principal = Principal(found_user, AuthMethod.SESSION, _ALL_SCOPES)
    else:
        raise NotAuthenticated("log in, or send an access token or API token as a Bearer token")
    request.state.user_id = principal.user.id
    return principal


async def current_user(principal: Annotated[Principal, Depends(authenticate)]) -> User:
    return principal.user


async def current_user_id(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> int:
    """The caller's user id, without reading the user's row when an access token proves it.

    For the busiest reads, whose one query joins the caller's membership anyway. Such a
    query must also require an active user (``users.is_active``): an account can be
    deactivated while its access tokens are still valid. When it finds nothing, the route
    calls ``require_active_user`` to answer as ``CurrentUser`` would. API tokens and session
    cookies are looked up as for ``CurrentUser``: that lookup is their check.
    """
    if bearer is not None and not bearer.credentials.startswith(TOKEN_PREFIX):
        user_id = read_access_token(settings, bearer.credentials)
        request.state.user_id = user_id
        return user_id
    principal = await authenticate(request, session, settings, bearer, cookie)
    return principal.user.id


async def require_active_user(session: AsyncSession, user_id: int) -> User:
    """The user behind ``CurrentUserId``, refused (401) as ``CurrentUser`` refuses it when
    the account no longer exists or was deactivated."""
    user = await session.get(User, user_id)
    if user is None or not user.is_active:
        raise NotAuthenticated("the access token's user no longer exists or is inactive")
    return user


async def current_superuser(user: Annotated[User, Depends(current_user)]) -> User:
    if not user.is_superuser:
        raise Forbidden("only a site administrator may do this")
    return user


async def optional_user(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> User | None:
    if bearer is None and not cookie:
        return None
    principal = await authenticate(request, session, settings, bearer, cookie)
    return principal.user


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]
CurrentUser = Annotated[User, Depends(current_user)]
CurrentUserId = Annotated[int, Depends(current_user_id)]
CurrentSuperuser = Annotated[User, Depends(current_superuser)]
OptionalUser = Annotated[User | None, Depends(optional_user)]

__all__ = [
    "AppSettings",
    "AuthMethod",
    "CurrentPrincipal",
    "CurrentSuperuser",
    "CurrentUser",
    "CurrentUserId",
    "DbSession",
    "OptionalUser",
    "Principal",
]
