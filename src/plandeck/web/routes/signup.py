"""Sign up in the browser: the API's rules for a new account, then logged in like the login form."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from plandeck.auth.deps import AppSettings, DbSession
from plandeck.auth.passwords import MIN_PASSWORD_LENGTH
from plandeck.auth.schemas import UserCreate
from plandeck.auth.tokens import set_session_cookie, web_session_service
from plandeck.auth.users import user_service
from plandeck.config import Settings
from plandeck.errors import Conflict, InvalidInput
from plandeck.web.deps import OptionalVisitor
from plandeck.web.i18n import N_, negotiate
from plandeck.web.templating import templates

router = APIRouter(include_in_schema=False)

# What a field's schema error means to a person; the schema's own words are a programmer's.
_FIELD_MESSAGES = {
    "name": N_("Enter your name (at most 200 characters)."),
    "email": N_("Enter a valid email address."),
    "password": N_("Choose a password."),
}
_PASSWORD_RULES = N_(
    "The password needs at least %(n)s characters, not only spaces, and must not be the email address."
)


def _invite_only(settings: Settings) -> bool:
    return settings.auth.registration == "invite"


def _form(
    request: Request,
    *,
    name: str = "",
    email: str = "",
    errors: dict[str, str] | None = None,
    invite_only: bool = False,
    status_code: int = status.HTTP_200_OK,
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "accounts/signup.html",
        {
            "name": name,
            "email": email,
            "errors": errors or {},
            "invite_only": invite_only,
            "min_password": MIN_PASSWORD_LENGTH,
        },
        status_code=status_code,
    )


@router.get("/signup", response_class=HTMLResponse)
async def signup_form(
    request: Request, visitor: OptionalVisitor, settings: AppSettings
) -> Response:
    if visitor is not None:
        return RedirectResponse("/", status_code=status.HTTP_303_SEE_OTHER)
    return _form(request, invite_only=_invite_only(settings))


@router.post("/signup", response_class=HTMLResponse)
async def signup(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    name: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
) -> Response:
    # Kept to echo back: bounded, so a huge field is not sent back into the page.
    shown_name, shown_email = name[:200], email[:320]
    if _invite_only(settings):
        return _form(
            request,
            name=shown_name,
            email=shown_email,
            invite_only=True,
            status_code=status.HTTP_403_FORBIDDEN,
        )
    try:
        data = UserCreate(name=name, email=email, password=password, locale=negotiate(request).code)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else ""
            errors.setdefault(field, _FIELD_MESSAGES.get(field, N_("This value is not valid.")))
        return _form(
            request,
            name=shown_name,
            email=shown_email,
            errors=errors,
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    try:
        user = await user_service.create(session, data)
    except Conflict:
        # The only conflict at sign-up is an email already in use.
        return _form(
            request,
            name=shown_name,
            email=shown_email,
            errors={"email": N_("An account with this email address already exists.")},
            status_code=status.HTTP_409_CONFLICT,
        )
    except InvalidInput as exc:
        field = str(exc.extra.get("field") or "password")
        message = _FIELD_MESSAGES.get(field, N_("This value is not valid."))
        return _form(
            request,
            name=shown_name,
            email=shown_email,
            errors={field: _PASSWORD_RULES if field == "password" else message},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    cookie = await web_session_service.start(session, settings, user)
    response = RedirectResponse("/", status_code=status.HTTP_303_SEE_OTHER)
    set_session_cookie(response, settings, cookie)
    return response
