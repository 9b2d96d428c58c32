"""Creating a project, its members and roles, and the visitor's own settings (API tokens, language)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from plandeck.auth.api_tokens import api_token_service
from plandeck.auth.deps import AppSettings, DbSession
from plandeck.auth.schemas import ApiTokenCreate, UserUpdate
from plandeck.auth.users import user_service
from plandeck.errors import Conflict, Forbidden, InvalidInput
from plandeck.models import ApiToken, Role, TokenScope
from plandeck.plans.admin_view import admin_view_service
from plandeck.plans.projects import project_service
from plandeck.plans.schemas import MAX_INT, MembershipCreate, ProjectCreate
from plandeck.web.deps import Visitor, WebVisitor, check_csrf
from plandeck.web.i18n import N_, SUPPORTED
from plandeck.web.templating import templates

router = APIRouter(include_in_schema=False)

CsrfField = Annotated[str | None, Form()]
RowId = Annotated[int, Path(ge=1, le=MAX_INT)]
LANGUAGES = {"en": "English", "fa": "فارسی"}
_INVALID = N_("This value is not valid.")


def _see(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=status.HTTP_303_SEE_OTHER)


def _check(request: Request, settings: AppSettings, csrf_token: str | None) -> None:
    check_csrf(request, settings, csrf_token or request.headers.get("X-CSRF-Token"))


def _field_errors(exc: ValidationError, messages: dict[str, str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        errors.setdefault(field, messages.get(field, _INVALID))
    return errors


# Creating a project

_PROJECT_MESSAGES = {
    "key": N_(
        "A key starts with a letter, followed by letters, digits, - or _ (at most 32 characters)."
    ),
    "name": N_("Enter a name (at most 200 characters)."),
}


def _new_project_page(
    request: Request,
    visitor: Visitor,
    *,
    key: str = "",
    name: str = "",
    errors: dict[str, str] | None = None,
    status_code: int = status.HTTP_200_OK,
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "admin/new_project.html",
        {"key": key, "name": name, "errors": errors or {}, "visitor": visitor},
        status_code=status_code,
    )


@router.get("/projects/new", response_class=HTMLResponse)
async def new_project_form(request: Request, visitor: WebVisitor) -> HTMLResponse:
    return _new_project_page(request, visitor)


@router.post("/projects/new", response_class=HTMLResponse)
async def create_project(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    visitor: WebVisitor,
    key: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    csrf_token: CsrfField = None,
) -> Response:
    _check(request, settings, csrf_token)
    shown = {"key": key[:32], "name": name[:200]}
    try:
        data = ProjectCreate(key=key, name=name)
    except ValidationError as exc:
        return _new_project_page(
            request,
            visitor,
            **shown,
            errors=_field_errors(exc, _PROJECT_MESSAGES),
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    try:
        project = await project_service.create(session, visitor.user, data)
    except Conflict:
        return _new_project_page(
            request,
            visitor,
            **shown,
            errors={"key": N_("A project with this key already exists.")},
            status_code=status.HTTP_409_CONFLICT,
        )
    return _see(f"/projects/{project.key}")


# Members


async def _members_page(
    request: Request,
    session: DbSession,
    visitor: Visitor,
    key: str,
    *,
    email: str = "",
    role: str = Role.MEMBER.value,
    errors: dict[str, str] | None = None,
    problem: str | None = None,
    status_code: int = status.HTTP_200_OK,
) -> HTMLResponse:
    view = await admin_view_service.members(session, visitor.user, key)
    return templates.TemplateResponse(
        request,
        "admin/members.html",
        {
            "view": view,
            "project": view.project,
            "roles": list(Role),
            "email": email,
            "role": role,
            "errors": errors or {},
            "problem": problem,
            "visitor": visitor,
        },
        status_code=status_code,
    )


@router.get("/projects/{key}/members", response_class=HTMLResponse)
async def list_members(
    request: Request, key: str, session: DbSession, visitor: WebVisitor
) -> HTMLResponse:
    return await _members_page(request, session, visitor, key)


@router.post("/projects/{key}/members", response_class=HTMLResponse)
async def add_member(
    request: Request,
    key: str,
    session: DbSession,
    settings: AppSettings,
    visitor: WebVisitor,
    email: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = Role.MEMBER.value,
    csrf_token: CsrfField = None,
) -> Response:
    _check(request, settings, csrf_token)
    project = await project_service.get(session, visitor.user, key)
    again: dict[str, Any] = {"email": email[:320], "role": role[:20]}
    try:
        data = MembershipCreate.model_validate({"email": email, "role": role})
    except ValidationError as exc:
        errors = _field_errors(
            exc, {"email": N_("Enter a valid email address."), "role": N_("Choose a role.")}
        )
        # A blank email fails the model's "email or user_id" check, which names no field.
        if "" in errors:
            errors = {"email": N_("Enter a valid email address.")}
        return await _members_page(
            request,
            session,
            visitor,
            key,
            **again,
            errors=errors,
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    try:
        await project_service.add_member(session, visitor.user, project, data)
    except InvalidInput:
        errors = {"email": N_("Nobody with an active account has this email address yet.")}
        code = status.HTTP_422_UNPROCESSABLE_CONTENT
    except Conflict:
        errors = {"email": N_("This person is already a member of the project.")}
        code = status.HTTP_409_CONFLICT
    except Forbidden:
        # Below admin the page shows no form at all; an admin may not appoint owners.
        errors = {"role": N_("Only an owner may make someone an owner.")}
        code = status.HTTP_403_FORBIDDEN
    else:
        return _see(f"/projects/{project.key}/members")
    return await _members_page(
        request, session, visitor, key, **again, errors=errors, status_code=code
    )


@router.post("/projects/{key}/members/{user_id}/role", response_class=HTMLResponse)
async def change_member_role(
    request: Request,
    key: str,
    user_id: RowId,
    session: DbSession,
    settings: AppSettings,
    visitor: WebVisitor,
    role: Annotated[str, Form()] = "",
    csrf_token: CsrfField = None,
) -> Response:
    _check(request, settings, csrf_token)
    project = await project_service.get(session, visitor.user, key)
    if role not in {r.value for r in Role}:
        return await _members_page(
            request,
            session,
            visitor,
            key,
            problem=N_("Choose a role."),
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    try:
        await project_service.change_role(session, visitor.user, project, user_id, Role(role))
    except Conflict:
        problem, code = N_("A project must keep at least one owner."), status.HTTP_409_CONFLICT
    except Forbidden:
        problem = N_("Only an owner may grant or take away the owner role.")
        code = status.HTTP_403_FORBIDDEN
    else:
        return _see(f"/projects/{project.key}/members")
    return await _members_page(request, session, visitor, key, problem=problem, status_code=code)


@router.post("/projects/{key}/members/{user_id}/remove", response_class=HTMLResponse)
async def remove_member(
    request: Request,
    key: str,
    user_id: RowId,
    session: DbSession,
    settings: AppSettings,
    visitor: WebVisitor,
    csrf_token: CsrfField = None,
) -> Response:
    _check(request, settings, csrf_token)
    project = await project_service.get(session, visitor.user, key)
    try:
        await project_service.remove_member(session, visitor.user, project, user_id)
    except Conflict:
        problem, code = N_("A project must keep at least one owner."), status.HTTP_409_CONFLICT
    except Forbidden:
        problem = N_("Only an admin may remove members, and only an owner may remove an owner.")
        code = status.HTTP_403_FORBIDDEN
    else:
        # Who left the project can no longer see its members.
        return _see("/" if user_id == visitor.user.id else f"/projects/{project.key}/members")
    return await _members_page(request, session, visitor, key, problem=problem, status_code=code)


# Personal settings: API tokens and language

_TOKEN_MESSAGES = {
    "name": N_("Give the token a name (at most 200 characters)."),
    "scopes": N_("Choose at least one scope."),
    "expires_at": N_("The expiry date must be in the future."),
}


async def _settings_page(
    request: Request,
    session: DbSession,
    visitor: Visitor,
    *,
    created: tuple[ApiToken, str] | None = None,
    token_name: str = "",
    scopes: list[str] | None = None,
    expires: str = "",
    errors: dict[str, str] | None = None,
    status_code: int = status.HTTP_200_OK,
) -> HTMLResponse:
    tokens = await api_token_service.list_for(session, visitor.user)
    response = templates.TemplateResponse(
        request,
        "admin/settings.html",
        {
            "tokens": tokens,
            "created": created,
            "token_name": token_name,
            "scopes": scopes if scopes is not None else [TokenScope.READ.value],
            "all_scopes": list(TokenScope),
            "expires": expires,
            "errors": errors or {},
            "languages": LANGUAGES,
            "today": datetime.now(UTC).date().isoformat(),
            "visitor": visitor,
        },
        status_code=status_code,
    )
    # The page may carry a token's only showing: never kept by a cache or the back button.
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/settings", response_class=HTMLResponse)
async def show_settings(request: Request, session: DbSession, visitor: WebVisitor) -> HTMLResponse:
    return await _settings_page(request, session, visitor)


def _end_of_day(value: str) -> datetime | None:
    """An expiry day from a date field: the token works until that day ends (UTC)."""
    if not value.strip():
        return None
    return datetime.combine(date.fromisoformat(value.strip()), time.max, tzinfo=UTC)


@router.post("/settings/tokens", response_class=HTMLResponse)
async def create_token(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    visitor: WebVisitor,
    name: Annotated[str, Form()] = "",
    scopes: Annotated[list[str] | None, Form()] = None,
    expires: Annotated[str, Form()] = "",
    csrf_token: CsrfField = None,
) -> HTMLResponse:
    _check(request, settings, csrf_token)
    chosen = [scope[:10] for scope in (scopes or [])][:5]
    again: dict[str, Any] = {"token_name": name[:200], "scopes": chosen, "expires": expires[:10]}
    try:
        expires_at = _end_of_day(expires)
    except ValueError:
        return await _settings_page(
            request,
            session,
            visitor,
            **again,
            errors={"expires_at": N_("Enter a date as YYYY-MM-DD.")},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    try:
        data = ApiTokenCreate.model_validate(
            {"name": name, "scopes": chosen, "expires_at": expires_at}
        )
        token, plain = await api_token_service.create(session, visitor.user, data)
    except ValidationError as exc:
        errors = _field_errors(exc, _TOKEN_MESSAGES)
    except InvalidInput as exc:
        field = str(exc.extra.get("field") or "name")
        errors = {field: _TOKEN_MESSAGES.get(field, _INVALID)}
    else:
        return await _settings_page(
            request, session, visitor, created=(token, plain), status_code=status.HTTP_201_CREATED
        )
    return await _settings_page(
        request,
        session,
        visitor,
        **again,
        errors=errors,
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )


@router.post("/settings/tokens/{token_id}/revoke")
async def revoke_token(
    request: Request,
    token_id: RowId,
    session: DbSession,
    settings: AppSettings,
    visitor: WebVisitor,
    csrf_token: CsrfField = None,
) -> Response:
    _check(request, settings, csrf_token)
    await api_token_service.revoke(session, visitor.user, token_id)
    return _see("/settings#tokens")


@router.post("/settings/language", response_class=HTMLResponse)
async def change_language(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    visitor: WebVisitor,
    locale: Annotated[str, Form()] = "",
    csrf_token: CsrfField = None,
) -> Response:
    _check(request, settings, csrf_token)
    if locale not in SUPPORTED:
        return await _settings_page(
            request,
            session,
            visitor,
            errors={"locale": N_("Choose one of the languages offered.")},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    await user_service.update(session, visitor.user, visitor.user, UserUpdate(locale=locale))
    return _see("/settings")
