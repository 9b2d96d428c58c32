"""Log in and log out in the browser: the same accounts and sessions as the API's login."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from plandeck.auth.deps import AppSettings, DbSession
from plandeck.auth.tokens import SESSION_COOKIE, set_session_cookie, web_session_service
from plandeck.auth.users import user_service
from plandeck.ops.metrics import LOGIN_FAILURES
from plandeck.web.deps import OptionalVisitor, check_csrf
from plandeck.web.i18n import N_
from plandeck.web.templating import templates

router = APIRouter(include_in_schema=False)


def _local(next_path: str | None) -> str:
    """Where to go after logging in: a path on this site only (no open redirect)."""
    if next_path and next_path.startswith("/") and not next_path.startswith(("//", "/\\")):
        return next_path
    return "/"


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, visitor: OptionalVisitor, next: str = "/") -> Response:  # noqa: A002 - the query parameter's name
    if visitor is not None:
        return RedirectResponse(_local(next), status_code=status.HTTP_303_SEE_OTHER)
    return templates.TemplateResponse(
        request, "auth/login.html", {"next": _local(next), "email": "", "error": None}
    )


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=2000)] = "/",  # noqa: A002 - the form field's name
) -> Response:
    user = await user_service.authenticate(session, email, password)
    if user is None:
        LOGIN_FAILURES.labels("web").inc()
        return templates.TemplateResponse(
            request,
            "auth/login.html",
            {"next": _local(next), "email": email, "error": N_("Wrong email or password.")},
            status_code=status.HTTP_401_UNAUTHORIZED,
        )
    cookie = await web_session_service.start(session, settings, user)
    response = RedirectResponse(_local(next), status_code=status.HTTP_303_SEE_OTHER)
    set_session_cookie(response, settings, cookie)
    return response


@router.post("/logout")
async def logout(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    csrf_token: Annotated[str | None, Form(max_length=200)] = None,
) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        check_csrf(request, settings, csrf_token)
        await web_session_service.end(session, cookie)
    response = RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
