"""Sign up, log in (tokens for programs, a cookie session for browsers), refresh, log out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response, status
from pydantic import BaseModel, EmailStr, Field

from plandeck.api.responses import problems
from plandeck.auth.deps import AppSettings, DbSession, OptionalUser
from plandeck.auth.schemas import User, UserCreate
from plandeck.auth.tokens import (
    CSRF_HEADER,
    SESSION_COOKIE,
    TokenPair,
    csrf_token_for,
    csrf_token_valid,
    refresh_token_service,
    set_session_cookie,
    web_session_service,
)
from plandeck.auth.users import user_service
from plandeck.config import Settings
from plandeck.db import unit_of_work
from plandeck.errors import Forbidden, NotAuthenticated
from plandeck.ops.metrics import LOGIN_FAILURES

router = APIRouter(prefix="/auth", tags=["auth"])


class LoginRequest(BaseModel):
    email: EmailStr = Field(examples=["ada@example.com"])
    password: str = Field(examples=["correct horse battery staple"])


class RefreshRequest(BaseModel):
    refresh_token: str


class LogoutRequest(BaseModel):
    refresh_token: str | None = Field(
        default=None, description="Also end this API login (its whole refresh-token family)."
    )


class Tokens(BaseModel):
    access_token: str = Field(description="A JWT for `Authorization: Bearer`; short-lived.")
    refresh_token: str = Field(description="Trade it at /auth/refresh for a new pair; single use.")
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires.", examples=[900])


class LoginResult(Tokens):
    user: User
    csrf_token: str = Field(
        description="Send as the X-CSRF-Token header with unsafe requests that use the session cookie."
    )


class CsrfToken(BaseModel):
    csrf_token: str


def _tokens(pair: TokenPair) -> Tokens:
    return Tokens(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
    )


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    responses=problems(403, 409, 422, 429),
    summary="Create an account",
)
async def register(
    data: UserCreate, session: DbSession, settings: AppSettings, actor: OptionalUser
) -> User:
    """Open to anyone unless registration is invite-only; then only a site administrator
    creates accounts."""
    if settings.auth.registration == "invite" and (actor is None or not actor.is_superuser):
        raise Forbidden("registration is by invitation: ask an administrator for an account")
    user = await user_service.create(session, data, actor=actor)
    return User.model_validate(user)


async def _login(
    session: DbSession, settings: Settings, response: Response, email: str, password: str
) -> LoginResult:
    user = await user_service.authenticate(session, email, password)
    if user is None:
        LOGIN_FAILURES.labels("api").inc()
        raise NotAuthenticated("wrong email or password")
    pair = await refresh_token_service.issue(session, settings, user)
    cookie = await web_session_service.start(session, settings, user)
    set_session_cookie(response, settings, cookie)
    return LoginResult(
        **_tokens(pair).model_dump(),
        user=User.model_validate(user),
        csrf_token=csrf_token_for(settings, cookie),
    )


@router.post("/login", responses=problems(401, 422, 429), summary="Log in")
async def login(
    data: LoginRequest, session: DbSession, settings: AppSettings, response: Response
) -> LoginResult:
    """Returns an access token and a refresh token for programs, and sets an HttpOnly session
    cookie for browsers (whose unsafe requests then need the returned CSRF token)."""
    return await _login(session, settings, response, data.email, data.password)


@router.post(
    "/token",
    responses=problems(401, 422, 429),
    summary="Log in with an OAuth2 password form",
)
async def token(
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    session: DbSession,
    settings: AppSettings,
    response: Response,
) -> LoginResult:
    """The same as /auth/login, as an OAuth2 password grant (what the interactive docs use)."""
    return await _login(session, settings, response, username, password)


@router.post("/refresh", responses=problems(401, 422, 429), summary="Trade a refresh token")
async def refresh(data: RefreshRequest, request: Request, settings: AppSettings) -> Tokens:
    """A new access token and refresh token; the one presented is used up. Presenting a
    used-up refresh token again ends that whole login (every token of its family)."""
    # Its own unit of work: revoking a replayed token's family must be committed even
    # though the request is refused.
    async with unit_of_work(request.app.state.sessionmaker) as session:
        pair = await refresh_token_service.rotate(session, settings, data.refresh_token)
    if pair is None:
        raise NotAuthenticated("the refresh token is not valid, expired, revoked or already used")
    return _tokens(pair)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(403, 422),
    summary="Log out",
)
async def logout(
    request: Request,
    response: Response,
    session: DbSession,
    settings: AppSettings,
    data: LogoutRequest | None = None,
) -> None:
    """Ends the browser session (when the cookie is sent) and the API login whose refresh
    token is given. Logging out needs no valid credential: it only ever takes access away."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        # A forged cross-site logout is a nuisance we refuse like any other unsafe request.
        if not csrf_token_valid(settings, cookie, request.headers.get(CSRF_HEADER)):
            raise Forbidden(f"missing or wrong CSRF token: send the {CSRF_HEADER} header")
        await web_session_service.end(session, cookie)
    if data is not None and data.refresh_token:
        await refresh_token_service.revoke(session, data.refresh_token)
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/csrf", responses=problems(401), summary="The session's CSRF token")
async def csrf(request: Request, settings: AppSettings, actor: OptionalUser) -> CsrfToken:
    cookie = request.cookies.get(SESSION_COOKIE)
    if actor is None or not cookie:
        raise NotAuthenticated("no browser session: log in first")
    return CsrfToken(csrf_token=csrf_token_for(settings, cookie))
