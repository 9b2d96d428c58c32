"""Pages: a sprint's board, the backlog with sprint planning, and moving stories between them.

A move is one form POST (``/projects/{key}/board/move``), sent by the cards' own forms
(status, up, down, into a sprint: they work without JavaScript and answer with a redirect
back) or by board.js after a drag (``Accept: application/json``: answered with the story).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Path, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError

from plandeck.analytics.series import SprintWithoutDates
from plandeck.analytics.service import analytics_service
from plandeck.auth.deps import AppSettings, DbSession
from plandeck.errors import InvalidInput
from plandeck.models import StoryStatus
from plandeck.plans.board_view import board_view_service
from plandeck.plans.projects import project_service
from plandeck.plans.schemas import MAX_INT, StoryMove
from plandeck.plans.stories import story_service
from plandeck.web.charts import BurndownChart
from plandeck.web.deps import WebVisitor, check_csrf
from plandeck.web.templating import templates

router = APIRouter(include_in_schema=False)

SprintNumber = Annotated[int, Path(ge=0, le=MAX_INT)]
_Field = Annotated[str | None, Form(max_length=200)]
# The form's value for "no sprint".
BACKLOG = "backlog"


@router.get("/projects/{key}/sprints/{number}", response_class=HTMLResponse)
async def show_sprint_board(
    request: Request, key: str, number: SprintNumber, session: DbSession, visitor: WebVisitor
) -> HTMLResponse:
    board = await board_view_service.sprint_board(session, visitor.user, key, number)
    try:
        burndown = await analytics_service.sprint_burndown(session, visitor.user, key, number)
    except SprintWithoutDates:
        chart = None  # the page says how to get one
    else:
        chart = BurndownChart(burndown)
    return templates.TemplateResponse(
        request,
        "board/sprint.html",
        {"board": board, "chart": chart, "statuses": list(StoryStatus), "visitor": visitor},
    )


@router.get("/projects/{key}/backlog", response_class=HTMLResponse)
async def show_backlog(
    request: Request, key: str, session: DbSession, visitor: WebVisitor
) -> HTMLResponse:
    backlog = await board_view_service.backlog(session, visitor.user, key)
    return templates.TemplateResponse(
        request, "board/backlog.html", {"backlog": backlog, "visitor": visitor}
    )


def _move_from_form(
    sprint: str | None, status: str | None, before: str | None, after: str | None
) -> StoryMove:
    """The move the form asks for. A field left out (or empty) changes nothing, except
    ``sprint``: a number, or ``backlog`` for no sprint."""
    fields: dict[str, Any] = {
        name: value
        for name, value in (("status", status), ("before", before), ("after", after))
        if value
    }
    if sprint:
        fields["sprint"] = None if sprint == BACKLOG else sprint
    try:
        return StoryMove.model_validate(fields)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'move'}: {error['msg']}"
            for error in exc.errors()
        )
        raise InvalidInput(f"this move is not valid: {problems}") from None


def _back_to(key: str, back: str | None, story_key: str) -> str:
    """The page the form came from (a page of this project only), at the moved card."""
    page = back if back and back.startswith(f"/projects/{key}/") and "\\" not in back else None
    return (page or f"/projects/{quote(key, safe='')}") + "#story-" + quote(story_key, safe="")


@router.post("/projects/{key}/board/move", response_model=None)
async def move_story(
    request: Request,
    key: str,
    session: DbSession,
    settings: AppSettings,
    visitor: WebVisitor,
    story: Annotated[str, Form(min_length=1, max_length=200)],
    sprint: _Field = None,
    status_: Annotated[str | None, Form(alias="status", max_length=200)] = None,
    before: _Field = None,
    after: _Field = None,
    back: Annotated[str | None, Form(max_length=2000)] = None,
    csrf_token: _Field = None,
) -> Response:
    check_csrf(request, settings, csrf_token or request.headers.get("X-CSRF-Token"))
    move = _move_from_form(sprint, status_, before, after)
    project = await project_service.get(session, visitor.user, key)
    moved = await story_service.move(session, visitor.user, project, story, move)
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(
            {
                "key": moved.key,
                "status": moved.status.value,
                "sprint_id": moved.sprint_id,
                "version": moved.version,
            }
        )
    return RedirectResponse(
        _back_to(project.key, back, moved.key), status_code=status.HTTP_303_SEE_OTHER
    )
