"""Who is looking at a page: the browser session's user, or a redirect to the login page.

Pages authenticate by the ``plandeck_session`` cookie only (set by the login form or the
API's login). Every form that changes something carries the session's CSRF token in a
``csrf_token`` field, checked with ``check_csrf``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request

from plandeck.auth.deps import AppSettings, DbSession
from plandeck.auth.tokens import (
    SESSION_COOKIE,
    csrf_token_for,
    csrf_token_valid,
    web_session_service,
)
from plandeck.config import Settings
from plandeck.errors import Forbidden
from plandeck.models import User


class LoginRequired(Exception):
    """Raised by ``WebUser`` for a visitor without a valid session: answered by a redirect
    to the login page that comes back to ``next_path``."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path

    @property
    def location(self) -> str:
        return "/login?next=" + quote(self.next_path, safe="/")


@dataclass(frozen=True)
class Visitor:
    user: User
    csrf_token: str


async def optional_visitor(
    request: Request, session: DbSession, settings: AppSettings
) -> Visitor | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    user = await web_session_service.user_for(session, cookie)
    if user is None:
        return None
    request.state.user_id = user.id
    request.state.locale = user.locale
    return Visitor(user, csrf_token_for(settings, cookie))


async def require_visitor(
    request: Request, visitor: Annotated[Visitor | None, Depends(optional_visitor)]
) -> Visitor:
    if visitor is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(path)
    return visitor


def check_csrf(request: Request, settings: Settings, presented: str | None) -> None:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie or not csrf_token_valid(settings, cookie, presented):
        raise Forbidden("this form has expired or did not come from plandeck: reload the page")


OptionalVisitor = Annotated[Visitor | None, Depends(optional_visitor)]
WebVisitor = Annotated[Visitor, Depends(require_visitor)]
