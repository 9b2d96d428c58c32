"""Server-rendered pages; ``router`` holds them all, ``LoginRequired`` sends visitors to log in."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.middleware.gzip import GZipMiddleware

from plandeck.web.assets import static_files
from plandeck.web.deps import LoginRequired
from plandeck.web.routes import (
    admin,
    analytics,
    auth,
    board,
    plans,
    projects,
    signup,
    stories,
    trash,
)
from plandeck.web.templating import templates

router = APIRouter(include_in_schema=False)
for _module in (auth, signup, admin, projects, board, stories, trash, plans, analytics):
    router.include_router(_module.router)


async def _login_required(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(exc.location, status_code=303)


def install_web(app: FastAPI) -> None:
    app.add_exception_handler(LoginRequired, _login_required)
    app.include_router(router)
    app.mount("/static", static_files, name="static")
    # Pages, static text and JSON compressed for clients that accept gzip (browsers do).
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=6)


__all__ = ["install_web", "router", "templates"]
