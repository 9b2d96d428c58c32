"""The caller's own account and personal API tokens."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field

from plandeck.api.responses import problems
from plandeck.auth.api_tokens import api_token_service
from plandeck.auth.deps import CurrentUser, DbSession
from plandeck.auth.schemas import ApiToken, ApiTokenCreate, User, UserUpdate
from plandeck.auth.tokens import SESSION_COOKIE, web_session_service
from plandeck.auth.users import user_service

router = APIRouter(tags=["users"])


class PasswordChange(BaseModel):
    current_password: str
    new_password: str = Field(description="At least 10 characters, not the email address.")


class ApiTokenCreated(ApiToken):
    token: str = Field(description="The token itself: shown this once, never again.")


@router.get("/users/me", responses=problems(401, 429), summary="Who am I")
async def read_me(user: CurrentUser) -> User:
    return User.model_validate(user)


@router.patch("/users/me", responses=problems(401, 403, 422, 429), summary="Change my account")
async def update_me(data: UserUpdate, session: DbSession, user: CurrentUser) -> User:
    return User.model_validate(await user_service.update(session, user, user, data))


@router.post(
    "/users/me/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 422, 429),
    summary="Change my password",
)
async def change_password(
    data: PasswordChange, session: DbSession, user: CurrentUser, response: Response
) -> None:
    """Ends every session and API login of the account (other devices must log in again)."""
    await user_service.change_password(
        session, user, user, current=data.current_password, new=data.new_password
    )
    await web_session_service.end_all(session, user)
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.delete(
    "/users/me",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 409, 429),
    summary="Delete my account",
)
async def delete_me(session: DbSession, user: CurrentUser, response: Response) -> None:
    await user_service.delete(session, user, user)
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/tokens", responses=problems(401, 429), summary="My API tokens")
async def list_tokens(session: DbSession, user: CurrentUser) -> list[ApiToken]:
    return [ApiToken.model_validate(t) for t in await api_token_service.list_for(session, user)]


@router.post(
    "/tokens",
    status_code=status.HTTP_201_CREATED,
    responses=problems(401, 403, 422, 429),
    summary="Create an API token",
)
async def create_token(
    data: ApiTokenCreate, session: DbSession, user: CurrentUser
) -> ApiTokenCreated:
    token, plain = await api_token_service.create(session, user, data)
    return ApiTokenCreated(**ApiToken.model_validate(token).model_dump(), token=plain)


@router.delete(
    "/tokens/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 404, 429),
    summary="Revoke an API token",
)
async def revoke_token(token_id: int, session: DbSession, user: CurrentUser) -> None:
    await api_token_service.revoke(session, user, token_id)
