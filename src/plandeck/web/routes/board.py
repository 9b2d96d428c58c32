"""Pages: a sprint's board, the backlog with sprint planning, and moving stories between them.

A move is one form POST (``/projects/{key}/board/move``), sent by the cards' own forms
(status, up, down, into a sprint: they work without JavaScript and answer with a redirect
back) or by board.js after a drag (``Accept: application/json``: answered with the story).

Admins start and complete a sprint with the board's forms (``.../sprints/{number}/start``
and ``/complete``), answered by a redirect back to the board with ``?started=1`` or
``?completed=1``: the board then says what happened (a completion's numbers come from its
activity event, so the notice states what was done, not what the URL claims). A refused
action (a conflict, dates out of order) changes nothing and answers with the board again,
its reason beside the forms (409 or 422); a visitor who is not an admin gets the 403 error
page from the service's check.

Admins edit a sprint's name, goal and dates with the board's "Edit sprint" form
(``.../sprints/{number}/edit``, with the version the page showed), answered the same way
(``?edited=1``); a refusal (no name, dates out of order, a sprint changed since) comes back
with the values as typed.

After a story goes to the trash from its page, its board or the backlog says so
(``?trashed=ID``, shown only while that story is in the trash) with a link to the trash.

Admins create a sprint with the backlog's form (``.../sprints/new``), answered by a redirect
to its board; refused values (a number taken, dates out of order, no name) come back in the
backlog's form with the reason beside the field (409 or 422), and nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Path, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.analytics.series import SprintWithoutDates
from plandeck.analytics.service import analytics_service
from plandeck.auth.deps import AppSettings, DbSession
from plandeck.errors import Conflict, InvalidInput, StaleVersion
from plandeck.kit.schemas import InputSchema
from plandeck.models import Project, Sprint, SprintStatus, StoryStatus
from plandeck.plans.board_view import SprintBoard, board_view_service
from plandeck.plans.projects import project_service
from plandeck.plans.schemas import (
    MAX_INT,
    SprintComplete,
    SprintCreate,
    SprintStart,
    SprintUpdate,
    StoryMove,
    TrashItem,
    TrashKind,
)
from plandeck.plans.sprints import sprint_service
from plandeck.plans.stories import story_service
from plandeck.plans.trash import trash_service
from plandeck.web.charts import BurndownChart
from plandeck.web.deps import Visitor, WebVisitor, check_csrf
from plandeck.web.i18n import N_
from plandeck.web.templating import templates

router = APIRouter(include_in_schema=False)

SprintNumber = Annotated[int, Path(ge=0, le=MAX_INT)]
_Field = Annotated[str | None, Form(max_length=200)]
# The form's value for "no sprint".
BACKLOG = "backlog"


async def _form_visitor(
    request: Request, settings: AppSettings, visitor: WebVisitor, csrf_token: _Field = None
) -> Visitor:
    """The visitor who posted a form, its CSRF token checked (or the X-CSRF-Token header of
    board.js's request) before anything of the form is used."""
    check_csrf(request, settings, csrf_token or request.headers.get("X-CSRF-Token"))
    return visitor


FormVisitor = Annotated[Visitor, Depends(_form_visitor)]


# What the board says after an action, by the redirect's query parameter, and the sprint
# statuses that make it true (a stale or hand-made URL shows nothing).
_NOTICES = {
    "started": {SprintStatus.ACTIVE},
    "completed": {SprintStatus.COMPLETED},
    "edited": set(SprintStatus),
}
_Action = Literal["start", "complete", "edit"]
_ACTION_SCHEMAS: dict[_Action, type[InputSchema]] = {
    "start": SprintStart,
    "complete": SprintComplete,
    "edit": SprintUpdate,
}


@dataclass(frozen=True)
class Refusal:
    """Why a start, a completion or an edit was refused, for the board to say: ``reason`` is
    one the template words (``other``: it shows ``detail``, the service's own message)."""

    action: _Action
    reason: Literal[
        "name",
        "date_format",
        "date_order",
        "reload",
        "stale",
        "active",
        "not_planned",
        "not_active",
        "target",
        "other",
    ]
    detail: str = ""


# Why a form was refused before the service saw it.
_InvalidReason = Literal["name", "date_format", "date_order", "reload", "target"]


async def _trashed_story(
    request: Request, session: AsyncSession, visitor: Visitor, project: Project
) -> TrashItem | None:
    """The story that ``?trashed=ID`` names, while it is in the trash (a stale or hand-made
    URL shows nothing)."""
    raw = request.query_params.get("trashed", "")
    if not (raw.isascii() and raw.isdigit()):
        return None
    items = await trash_service.list_trash(session, visitor.user, project)
    return next((i for i in items if i.kind is TrashKind.STORY and i.id == int(raw)), None)


async def _render_board(
    request: Request,
    session: AsyncSession,
    visitor: Visitor,
    key: str,
    number: int,
    *,
    board: SprintBoard | None = None,
    refusal: Refusal | None = None,
    typed: dict[str, str] | None = None,
    status_code: int = status.HTTP_200_OK,
) -> HTMLResponse:
    """The board; after a refused action, with its reason and what the form held."""
    if board is None:
        board = await board_view_service.sprint_board(session, visitor.user, key, number)
    try:
        burndown = await analytics_service.sprint_burndown(session, visitor.user, key, number)
    except SprintWithoutDates:
        chart = None  # the page says how to get one
    else:
        chart = BurndownChart(burndown)
    notice = next(
        (
            name
            for name, statuses in _NOTICES.items()
            if request.query_params.get(name) == "1" and board.sprint.sprint.status in statuses
        ),
        None,
    )
    return templates.TemplateResponse(
        request,
        "board/sprint.html",
        {
            "board": board,
            "chart": chart,
            "statuses": list(StoryStatus),
            "visitor": visitor,
            "notice": None if refusal else notice,
            "refusal": refusal,
            "typed": typed or {},
            "trashed": await _trashed_story(request, session, visitor, board.project),
        },
        status_code=status_code,
    )


@router.get("/projects/{key}/sprints/{number}", response_class=HTMLResponse)
async def show_sprint_board(
    request: Request, key: str, number: SprintNumber, session: DbSession, visitor: WebVisitor
) -> HTMLResponse:
    return await _render_board(request, session, visitor, key, number)


async def _render_backlog(
    request: Request,
    session: AsyncSession,
    visitor: Visitor,
    key: str,
    *,
    typed: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = status.HTTP_200_OK,
) -> HTMLResponse:
    """The backlog; after a refused new sprint, with what its form held and why."""
    backlog = await board_view_service.backlog(session, visitor.user, key)
    return templates.TemplateResponse(
        request,
        "board/backlog.html",
        {
            "backlog": backlog,
            "visitor": visitor,
            "typed": typed or {},
            "errors": errors or {},
            "trashed": await _trashed_story(request, session, visitor, backlog.project),
        },
        status_code=status_code,
    )


@router.get("/projects/{key}/backlog", response_class=HTMLResponse)
async def show_backlog(
    request: Request, key: str, session: DbSession, visitor: WebVisitor
) -> HTMLResponse:
    return await _render_backlog(request, session, visitor, key)


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
    visitor: FormVisitor,
    story: Annotated[str, Form(min_length=1, max_length=200)],
    sprint: _Field = None,
    status_: Annotated[str | None, Form(alias="status", max_length=200)] = None,
    before: _Field = None,
    after: _Field = None,
    back: Annotated[str | None, Form(max_length=2000)] = None,
) -> Response:
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


def _board_after(project_key: str, number: int, notice: str) -> RedirectResponse:
    return RedirectResponse(
        f"/projects/{quote(project_key, safe='')}/sprints/{number}?{notice}=1",
        status_code=status.HTTP_303_SEE_OTHER,
    )


def _reason_of_invalid(exc: ValidationError) -> _InvalidReason:
    fields = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
    if "name" in fields:
        return "name"
    if fields & {"starts_on", "ends_on"}:
        return "date_format"
    if fields:
        return "reload"  # the hidden version: a form not sent as the page made it
    return "date_order"  # the schema's check of the two dates together


async def _refused(
    request: Request,
    session: AsyncSession,
    visitor: Visitor,
    key: str,
    number: int,
    exc: Conflict | InvalidInput,
    *,
    action: _Action,
    typed: dict[str, str],
) -> HTMLResponse:
    """The board again, with why the service refused the action. Whatever the service did
    before refusing is rolled back first: the unit of work commits this response."""
    await session.rollback()
    await session.refresh(visitor.user)
    board = await board_view_service.sprint_board(session, visitor.user, key, number)
    refusal = Refusal(action, _reason(exc, board, action), exc.detail)
    return await _render_board(
        request,
        session,
        visitor,
        key,
        number,
        board=board,
        refusal=refusal,
        typed=typed,
        status_code=exc.status_code,
    )


def _reason(
    exc: Conflict | InvalidInput, board: SprintBoard, action: _Action
) -> Literal[
    "name", "date_order", "stale", "active", "not_planned", "not_active", "target", "other"
]:
    """The refusal's reason, from the error and the sprint as it is now (the service's
    messages are English sentences; the board words each reason in the page's language)."""
    sprint_status = board.sprint.sprint.status
    if isinstance(exc, StaleVersion):
        return "stale"
    if isinstance(exc, InvalidInput):
        field = exc.extra.get("field")
        if field in ("starts_on", "name"):
            return "date_order" if field == "starts_on" else "name"
        return "target" if field == "carry_over_to" else "other"
    if action == "edit":
        return "other"
    if action == "start":
        if sprint_status is not SprintStatus.PLANNED:
            return "not_planned"
        return "active" if board.active else "other"
    # A completion's other conflict is a target sprint that is completed or cancelled.
    return "not_active" if sprint_status is not SprintStatus.ACTIVE else "target"


@dataclass(frozen=True)
class _SprintPost:
    """A form posted to a sprint's board (its CSRF token checked): what the action needs."""

    request: Request
    session: AsyncSession
    visitor: Visitor
    key: str
    number: int

    async def act(
        self,
        action: _Action,
        *,
        form: dict[str, Any],
        typed: dict[str, str],
        invalid: Callable[[ValidationError], _InvalidReason],
    ) -> Response:
        """Start, complete or edit the sprint with the form's values; the board again with the
        reason when they are malformed or the service refuses, a redirect to it when done."""
        project = await project_service.get(self.session, self.visitor.user, self.key)
        sprint = await sprint_service.get_by_number(
            self.session, self.visitor.user, project, self.number
        )
        try:
            data = _ACTION_SCHEMAS[action].model_validate(form)
        except ValidationError as exc:
            return await _render_board(
                self.request,
                self.session,
                self.visitor,
                self.key,
                self.number,
                refusal=Refusal(action, invalid(exc)),
                typed=typed,
                status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            )
        try:
            if isinstance(data, SprintStart):
                await sprint_service.start(
                    self.session, self.visitor.user, project, sprint.id, data
                )
            elif isinstance(data, SprintComplete):
                await sprint_service.complete(
                    self.session, self.visitor.user, project, sprint.id, data
                )
            elif isinstance(data, SprintUpdate):
                await sprint_service.update(
                    self.session, self.visitor.user, project, sprint.id, data
                )
        except (Conflict, InvalidInput) as exc:
            return await _refused(
                self.request,
                self.session,
                self.visitor,
                self.key,
                self.number,
                exc,
                action=action,
                typed=typed,
            )
        notice = {"start": "started", "complete": "completed", "edit": "edited"}[action]
        return _board_after(project.key, self.number, notice)


async def _sprint_post(
    request: Request, key: str, number: SprintNumber, session: DbSession, visitor: FormVisitor
) -> _SprintPost:
    return _SprintPost(request, session, visitor, key, number)


SprintPost = Annotated[_SprintPost, Depends(_sprint_post)]


@router.post("/projects/{key}/sprints/{number}/start", response_model=None)
async def start_sprint(
    post: SprintPost,
    starts_on: _Field = None,
    ends_on: _Field = None,
    version: _Field = None,
) -> Response:
    """Admins: the sprint becomes the active one; an empty date is the service's default."""
    return await post.act(
        "start",
        form={
            "starts_on": starts_on or None,
            "ends_on": ends_on or None,
            "version": version or None,
        },
        typed={"starts_on": starts_on or "", "ends_on": ends_on or ""},
        invalid=_reason_of_invalid,
    )


def _carry_over_target(raw: str | None) -> int | Literal["backlog"] | None:
    """The form's choice: a sprint's number, ``backlog``, or None for the service's default.
    Anything else is refused by the schema (as an unknown target)."""
    if not raw:
        return None
    if raw == BACKLOG:
        return "backlog"
    try:
        return int(raw)
    except ValueError:
        return -1


def _reason_of_bad_target(exc: ValidationError) -> _InvalidReason:
    fields = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
    return "reload" if fields == {"version"} else "target"


@router.post("/projects/{key}/sprints/{number}/complete", response_model=None)
async def complete_sprint(
    post: SprintPost,
    carry_over_to: _Field = None,
    version: _Field = None,
) -> Response:
    """Admins: the active sprint ends today; its unfinished stories go to ``carry_over_to``."""
    return await post.act(
        "complete",
        form={"carry_over_to": _carry_over_target(carry_over_to), "version": version or None},
        typed={"carry_over_to": carry_over_to or ""},
        invalid=_reason_of_bad_target,
    )


@router.post("/projects/{key}/sprints/{number}/edit", response_model=None)
async def edit_sprint(
    post: SprintPost,
    name: Annotated[str, Form()] = "",
    goal: Annotated[str, Form()] = "",
    starts_on: _Field = None,
    ends_on: _Field = None,
    version: _Field = None,
) -> Response:
    """Admins: the sprint's name, goal and dates (an empty date clears it)."""
    return await post.act(
        "edit",
        form={
            "name": name,
            "goal": goal.replace("\r\n", "\n"),
            "starts_on": starts_on or None,
            "ends_on": ends_on or None,
            "version": version or None,
        },
        typed={
            "name": name,
            "goal": goal,
            "starts_on": starts_on or "",
            "ends_on": ends_on or "",
        },
        invalid=_reason_of_invalid,
    )


# Creating a sprint

_SPRINT_FIELDS = ("number", "name", "goal", "starts_on", "ends_on", "phase_id")
_SPRINT_MESSAGES = {
    "number": N_("Enter a whole number, 0 or more."),
    "name": N_("Enter a name of at most 300 characters."),
    "goal": N_("The goal is not valid."),
    "starts_on": N_("Enter each date as a day, month and year."),
    "ends_on": N_("Enter each date as a day, month and year."),
    "phase_id": N_("Choose one of the project's phases."),
    # The two dates together (the schema's check, or the service's).
    "order": N_("The start date must be on or before the end date."),
    "taken": N_("This number is taken by another sprint (perhaps one in the trash)."),
}


def _sprint_errors(exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else ""
        if name in _SPRINT_FIELDS:
            errors.setdefault(name, _SPRINT_MESSAGES[name])
        else:  # the model's check of the two dates together
            errors.setdefault("ends_on", _SPRINT_MESSAGES["order"])
    return errors


def _refused_sprint(exc: Conflict | InvalidInput) -> dict[str, str]:
    """Why the service refused: a number taken (409), or a phase gone since the page (422)."""
    field = str(exc.extra.get("field", ""))
    if isinstance(exc, Conflict):
        return {"number": _SPRINT_MESSAGES["taken"]}
    return {field: _SPRINT_MESSAGES[field]} if field in _SPRINT_FIELDS else {"form": exc.detail}


async def _new_sprint(
    session: AsyncSession, visitor: Visitor, project: Project, fields: dict[str, Any]
) -> Sprint | tuple[dict[str, str], int]:
    """The sprint created, or why not: the fields' messages and the status to answer with.
    Nothing is kept of a refused creation (the unit of work commits the page that says so)."""
    try:
        data = SprintCreate.model_validate(fields)
    except ValidationError as exc:
        return _sprint_errors(exc), status.HTTP_422_UNPROCESSABLE_CONTENT
    try:
        return await sprint_service.create(session, visitor.user, project, data)
    except (Conflict, InvalidInput) as exc:
        await session.rollback()
        await session.refresh(visitor.user)
        return _refused_sprint(exc), exc.status_code


@router.post("/projects/{key}/sprints/new", response_model=None)
async def create_sprint(
    request: Request,
    key: str,
    session: DbSession,
    visitor: FormVisitor,
    number: _Field = None,
    name: Annotated[str, Form()] = "",
    goal: Annotated[str, Form()] = "",
    starts_on: _Field = None,
    ends_on: _Field = None,
    phase_id: _Field = None,
) -> Response:
    """Admins: a planned sprint, shown on its board; the others get the 403 error page
    before anything of the form is read."""
    project = await board_view_service.sprint_planning(session, visitor.user, key)
    typed = {
        "number": number or "",
        "name": name,
        "goal": goal,
        "starts_on": starts_on or "",
        "ends_on": ends_on or "",
        "phase_id": phase_id or "",
    }
    created = await _new_sprint(
        session,
        visitor,
        project,
        {
            "number": number,
            "name": name,
            "goal": goal.replace("\r\n", "\n"),
            "starts_on": starts_on or None,
            "ends_on": ends_on or None,
            "phase_id": phase_id or None,
        },
    )
    if isinstance(created, tuple):
        errors, status_code = created
        return await _render_backlog(
            request, session, visitor, key, typed=typed, errors=errors, status_code=status_code
        )
    return RedirectResponse(
        f"/projects/{quote(project.key, safe='')}/sprints/{created.number}",
        status_code=status.HTTP_303_SEE_OTHER,
    )
