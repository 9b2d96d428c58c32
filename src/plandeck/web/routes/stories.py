"""The story page: edit the story (with optimistic concurrency), its checklist, comments and
history; and the new story page that creates one.

Every change is a plain form POST answered by a redirect back to the page, so the page
works without JavaScript; ticking a task is also an htmx request answered by the task's
row alone. A save carries the version the form was rendered from: if someone else saved
in between, nothing is written and the form comes back (409) with what the user typed
beside the current values.

A member moves the story to the trash from its page (``.../delete``, with the version the
page was rendered from): the answer is a redirect to the board it was on, whose notice names
it and links to the project's trash; a story changed since stays where it is (409).

``/projects/{key}/stories/new`` is the form that creates a story (members; the backlog and
the sprint board link to it with ``?sprint=backlog`` or ``?sprint=N`` preselected). No story
can be keyed ``new`` (the schemas refuse it, as ``new`` for a project key), and its routes
are registered before the story page's all the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from plandeck.auth.deps import AppSettings, DbSession
from plandeck.errors import Conflict, InvalidInput, NotFound, StaleVersion
from plandeck.kit.schemas import InputSchema
from plandeck.models import Comment, MoSCoW, Priority, Project, Story, StoryStatus, Task, User
from plandeck.plans.board_view import StoryForm, board_view_service
from plandeck.plans.comments import comment_service
from plandeck.plans.projects import project_service
from plandeck.plans.schemas import (
    CommentCreate,
    CommentUpdate,
    StoryCreate,
    StoryUpdate,
    TaskCreate,
)
from plandeck.plans.sprints import sprint_service
from plandeck.plans.stories import story_service
from plandeck.plans.story_view import StoryView, story_view_service
from plandeck.plans.tasks import task_service
from plandeck.web import markdown as _markdown  # noqa: F401 - registers the ``markdown`` filter
from plandeck.web.deps import Visitor, WebVisitor, check_csrf
from plandeck.web.i18n import N_
from plandeck.web.templating import templates

router = APIRouter(include_in_schema=False)

_PAGE = "/projects/{key}/stories/{story_key}"
_NEW = "/projects/{key}/stories/new"
# The new story form's value for "no sprint".
BACKLOG = "backlog"
# The form's fields in the order the page shows them (and a conflict lists them).
EDITABLE = ("title", "points", "priority", "moscow", "status", "assignee_id", "description")
FIELD_LABELS = {
    "title": N_("Title"),
    "points": N_("Points"),
    "priority": N_("Priority"),
    "moscow": N_("MoSCoW"),
    "status": N_("Status"),
    "assignee_id": N_("Assignee"),
    "description": N_("Description"),
}
# The fields as a history sentence names them ("Ada changed status from Draft to Done").
HISTORY_LABELS = {
    "title": N_("the title"),
    "key": N_("the key"),
    "status": N_("status"),
    "priority": N_("priority"),
    "moscow": N_("MoSCoW"),
    "points": N_("points"),
    "assignee_id": N_("the assignee"),
    "sprint_id": N_("the sprint"),
    "phase_id": N_("the phase"),
    "description": N_("description"),
    "notes": N_("notes"),
    "acceptance_criteria": N_("acceptance criteria"),
}
_MESSAGES = {
    "title": N_("Enter a title of at most 500 characters."),
    "points": N_("Points must be a whole number from 0 to 1000, or empty."),
    "priority": N_("Choose one of the priorities."),
    "moscow": N_("Choose one of the MoSCoW values."),
    "status": N_("Choose one of the statuses."),
    "assignee_id": N_("Choose a member of the project."),
    "description": N_("The description is not valid."),
    "sprint": N_("Choose the backlog or a planned or active sprint."),
    "version": N_("Reload the page: the form is incomplete."),
    "stale": N_(
        "Someone else changed this story since you opened the page: it was not moved to the "
        "trash. Check it and try again."
    ),
}
_TASK_TEXT_MESSAGE = N_("Enter the task's text.")
_COMMENT_MESSAGE = N_("Write a comment of at most 20,000 characters.")


def story_url(project_key: str, story_key: str, fragment: str = "") -> str:
    path = _PAGE.format(key=quote(project_key, safe=""), story_key=quote(story_key, safe=""))
    return path + (f"#{fragment}" if fragment else "")


def _back(
    project_key: str, story_key: str, fragment: str = "", *, saved: bool = False
) -> RedirectResponse:
    path, _, anchor = story_url(project_key, story_key, fragment).partition("#")
    location = path + ("?saved=1" if saved else "") + (f"#{anchor}" if anchor else "")
    return RedirectResponse(location, status_code=status.HTTP_303_SEE_OTHER)


def _values_of(story: Story) -> dict[str, str]:
    """The story as the form shows it: every field a string."""
    return {
        "title": story.title,
        "points": "" if story.points is None else str(story.points),
        "priority": story.priority.value,
        "moscow": "" if story.moscow is None else story.moscow.value,
        "status": story.status.value,
        "assignee_id": "" if story.assignee_id is None else str(story.assignee_id),
        "description": story.description,
        "version": str(story.version),
    }


def _typed(form: FormData, extra: str = "version") -> dict[str, str]:
    """The form's fields as typed: the story's, and ``extra`` (the edit form's version, the
    new story form's sprint)."""
    return {name: _text(form, name) for name in (*EDITABLE, extra)}


def _as_int(raw: str) -> int | str | None:
    """A whole number, None for an empty field, or the text as typed (the schema refuses it)."""
    text = raw.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        return text


_Input = TypeVar("_Input", bound=InputSchema)


def _validated(schema: type[_Input], typed: dict[str, str], **more: Any) -> _Input | dict[str, str]:
    """The story's fields as typed (and ``more``) as ``schema``, or the fields' messages."""
    data: dict[str, Any] = {
        "title": typed["title"],
        "description": typed["description"].replace("\r\n", "\n"),
        "priority": typed["priority"],
        "status": typed["status"],
        "moscow": typed["moscow"] or None,
        "points": _as_int(typed["points"]),
        "assignee_id": _as_int(typed["assignee_id"]),
        **more,
    }
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "version"
            errors.setdefault(name, _MESSAGES.get(name, _MESSAGES["version"]))
        return errors


def _update_from(typed: dict[str, str]) -> StoryUpdate | dict[str, str]:
    """The form as a StoryUpdate, or the fields' error messages."""
    return _validated(StoryUpdate, typed, version=_as_int(typed["version"]))


def _create_from(typed: dict[str, str], form: StoryForm) -> StoryCreate | dict[str, str]:
    """The new story form as a StoryCreate (its sprint one the form offers), or the fields'
    error messages."""
    sprint = form.sprint_numbered(typed["sprint"])
    sprint_error = {} if sprint or typed["sprint"] == BACKLOG else {"sprint": _MESSAGES["sprint"]}
    data = _validated(StoryCreate, typed, sprint_id=sprint.id if sprint else None)
    if isinstance(data, StoryCreate):
        return sprint_error or data
    return {**data, **sprint_error}


def _error_of(exc: InvalidInput) -> dict[str, str]:
    """A field's message for the service's refusal (its ``sprint_id`` is the form's sprint)."""
    field = str(exc.extra.get("field", "")).replace("sprint_id", "sprint")
    return {field: _MESSAGES[field]} if field in _MESSAGES else {"form": exc.detail}


@dataclass(frozen=True)
class ConflictRow:
    name: str
    yours: str
    current: str


def _shown(view: StoryView, name: str, value: str) -> str:
    """A form value as a person reads it (the select's option text, not its value)."""
    if name == "assignee_id":
        if not value:
            return ""
        try:
            return view.member_name(int(value)) or value
        except ValueError:
            return value
    return value


def _conflict_rows(view: StoryView, typed: dict[str, str]) -> list[ConflictRow]:
    current = _values_of(view.story)
    rows = []
    for name in EDITABLE:
        mine = typed[name].replace("\r\n", "\n")
        if name == "title":
            mine = mine.strip()
        if mine != current[name]:
            rows.append(
                ConflictRow(name, _shown(view, name, mine), _shown(view, name, current[name]))
            )
    return rows


def _render(
    request: Request,
    visitor: Visitor,
    view: StoryView,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    conflict: list[ConflictRow] | None = None,
    task_text: str = "",
    task_parent: str = "",
    comment_body: str = "",
    editing: tuple[int, str] | None = None,
    status_code: int = status.HTTP_200_OK,
) -> HTMLResponse:
    """``editing``: a comment's id and the text typed into its edit form, shown open."""
    return templates.TemplateResponse(
        request,
        "stories/show.html",
        {
            "visitor": visitor,
            "view": view,
            "story": view.story,
            "project": view.project,
            "values": values or _values_of(view.story),
            "errors": errors or {},
            "conflict": conflict,
            "task_text": task_text,
            "task_parent": task_parent,
            "comment_body": comment_body,
            "editing": editing,
            "field_labels": FIELD_LABELS,
            "history_labels": HISTORY_LABELS,
            "statuses": list(StoryStatus),
            "priorities": list(Priority),
            "moscows": list(MoSCoW),
            "story_url": story_url(view.project.key, view.story.key),
            "saved": request.query_params.get("saved") == "1",
        },
        status_code=status_code,
    )


async def _form(request: Request, settings: AppSettings) -> FormData:
    form = await request.form()
    token = form.get("csrf_token")
    check_csrf(
        request,
        settings,
        token if isinstance(token, str) else request.headers.get("X-CSRF-Token"),
    )
    return form


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


async def _check_task_of(post: _StoryPost, task_id: int) -> None:
    """The task must be one of the story's that the URL names (not another story's)."""
    tasks = await task_service.list_by_story_key(
        post.session, post.user, post.project, post.story_key
    )
    _check_one_of(tasks, task_id, f"task {task_id} not found in story {post.story_key}")


async def _check_comment_of(post: _StoryPost, comment_id: int) -> None:
    comments = await comment_service.list_by_story_key(
        post.session, post.user, post.project, post.story_key
    )
    _check_one_of(comments, comment_id, f"comment {comment_id} not found in story {post.story_key}")


def _check_one_of(items: Sequence[Task | Comment], item_id: int, missing: str) -> None:
    if not any(item.id == item_id for item in items):
        raise NotFound(missing)


@dataclass(frozen=True)
class _StoryPost:
    """A form posted to a story page, its CSRF token checked and the project found for the
    visitor (a non-member gets 404 before anything of the form is used)."""

    request: Request
    session: AsyncSession
    visitor: Visitor
    project: Project
    key: str
    story_key: str
    form: FormData

    @property
    def user(self) -> User:
        return self.visitor.user

    def text(self, name: str) -> str:
        return _text(self.form, name)

    def back(self, fragment: str = "", *, saved: bool = False) -> RedirectResponse:
        return _back(self.key, self.story_key, fragment, saved=saved)

    async def view(self) -> StoryView:
        return await story_view_service.get(self.session, self.user, self.key, self.story_key)

    async def page(
        self, *, status_code: int = status.HTTP_422_UNPROCESSABLE_CONTENT, **context: Any
    ) -> HTMLResponse:
        """The story page again, e.g. with what the user typed and why it was refused."""
        return _render(
            self.request, self.visitor, await self.view(), status_code=status_code, **context
        )


async def _story_post(
    request: Request,
    key: str,
    story_key: str,
    session: DbSession,
    visitor: WebVisitor,
    settings: AppSettings,
) -> _StoryPost:
    form = await _form(request, settings)
    project = await project_service.get(session, visitor.user, key)
    return _StoryPost(request, session, visitor, project, key, story_key, form)


StoryPost = Annotated[_StoryPost, Depends(_story_post)]


def _new_values(sprint: str) -> dict[str, str]:
    """The new story form's first values: StoryCreate's defaults, in ``sprint``."""
    defaults = StoryCreate.model_fields
    return {
        **dict.fromkeys(EDITABLE, ""),
        "priority": Priority(defaults["priority"].default).value,
        "status": StoryStatus(defaults["status"].default).value,
        "sprint": sprint,
    }


def _render_new(
    request: Request,
    visitor: Visitor,
    form: StoryForm,
    values: dict[str, str],
    *,
    errors: dict[str, str] | None = None,
    status_code: int = status.HTTP_200_OK,
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "stories/new.html",
        {
            "visitor": visitor,
            "form": form,
            "project": form.project,
            "project_url": "/projects/" + quote(form.project.key, safe=""),
            "values": values,
            "errors": errors or {},
            "statuses": list(StoryStatus),
            "priorities": list(Priority),
            "moscows": list(MoSCoW),
        },
        status_code=status_code,
    )


# Before the story page's routes, which would take "new" for a story key.
@router.get(_NEW, response_class=HTMLResponse)
async def new_story(
    request: Request,
    key: str,
    session: DbSession,
    visitor: WebVisitor,
    sprint: str = BACKLOG,
) -> HTMLResponse:
    """The form, in the sprint of ``?sprint=N`` when it can take stories, else the backlog."""
    form = await board_view_service.story_form(session, visitor.user, key)
    chosen = form.sprint_numbered(sprint)
    return _render_new(
        request, visitor, form, _new_values(str(chosen.number) if chosen else BACKLOG)
    )


@router.post(_NEW, response_class=HTMLResponse)
async def create_story(
    request: Request, key: str, session: DbSession, visitor: WebVisitor, settings: AppSettings
) -> Response:
    """Creates the story (its key generated) and shows its page; refused input comes back in
    the form, beside the fields, and nothing is written."""
    posted = await _form(request, settings)
    form = await board_view_service.story_form(session, visitor.user, key)
    typed = _typed(posted, extra="sprint")
    data = _create_from(typed, form)
    if not isinstance(data, StoryCreate):
        return _render_new(
            request,
            visitor,
            form,
            typed,
            errors=data,
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    try:
        story = await story_service.create(session, visitor.user, form.project, data)
    except InvalidInput as exc:
        # A sprint or an assignee gone since the page was read. Nothing of the refused story
        # is kept: the unit of work commits the page that says so.
        await session.rollback()
        await session.refresh(visitor.user)
        return _render_new(
            request,
            visitor,
            await board_view_service.story_form(session, visitor.user, key),
            typed,
            errors=_error_of(exc),
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    return RedirectResponse(
        story_url(form.project.key, story.key), status_code=status.HTTP_303_SEE_OTHER
    )


@router.get(_PAGE, response_class=HTMLResponse)
async def show_story(
    request: Request, key: str, story_key: str, session: DbSession, visitor: WebVisitor
) -> HTMLResponse:
    view = await story_view_service.get(session, visitor.user, key, story_key)
    return _render(request, visitor, view)


@router.post(_PAGE, response_class=HTMLResponse)
async def save_story(post: StoryPost) -> Response:
    typed = _typed(post.form)
    update = _update_from(typed)
    if not isinstance(update, StoryUpdate):
        return await post.page(values=typed, errors=update)
    try:
        await story_service.update_by_key(
            post.session, post.user, post.project, post.story_key, update
        )
    except Conflict as exc:
        # A stale version (or a save that lost the race to another one at the write):
        # nothing was written. Show what the user typed beside the current values, and
        # let the next save knowingly replace the version they have now seen.
        if not isinstance(exc, StaleVersion):
            # The failed write ended the transaction: start afresh, reload the visitor.
            await post.session.rollback()
            await post.session.refresh(post.user)
        view = await post.view()
        return _render(
            post.request,
            post.visitor,
            view,
            values={**typed, "version": str(view.story.version)},
            conflict=_conflict_rows(view, typed),
            status_code=status.HTTP_409_CONFLICT,
        )
    except InvalidInput as exc:
        return await post.page(values=typed, errors=_error_of(exc))
    return post.back(saved=True)


@router.post(_PAGE + "/tasks", response_class=HTMLResponse)
async def add_task(post: StoryPost) -> Response:
    text, parent = post.text("text"), post.text("parent_id")
    parent_id = _as_int(parent)
    try:
        data = TaskCreate(text=text, parent_id=parent_id if isinstance(parent_id, int) else None)
    except ValidationError:
        return await post.page(
            errors={"task_text": _TASK_TEXT_MESSAGE}, task_text=text, task_parent=parent
        )
    task = await task_service.create_by_story_key(
        post.session, post.user, post.project, post.story_key, data
    )
    return post.back(f"task-{task.id}")


@router.post(_PAGE + "/tasks/{task_id}/toggle", response_class=HTMLResponse)
async def toggle_task(task_id: int, post: StoryPost) -> Response:
    await _check_task_of(post, task_id)
    await task_service.toggle(post.session, post.user, post.project, task_id)
    if post.request.headers.get("HX-Request") != "true":
        return post.back(f"task-{task_id}")
    view = await post.view()
    row = next(row for row in view.tasks if row.task.id == task_id)
    return templates.TemplateResponse(
        post.request,
        "stories/_toggled.html",
        {
            "visitor": post.visitor,
            "view": view,
            "row": row,
            "story_url": story_url(view.project.key, view.story.key),
        },
    )


@router.post(_PAGE + "/tasks/{task_id}/move")
async def move_task(task_id: int, post: StoryPost) -> Response:
    await story_view_service.move_task(
        post.session,
        post.user,
        post.project,
        post.story_key,
        task_id,
        up=post.text("direction") == "up",
    )
    return post.back(f"task-{task_id}")


@router.post(_PAGE + "/tasks/{task_id}/delete")
async def delete_task(task_id: int, post: StoryPost) -> Response:
    await _check_task_of(post, task_id)
    await task_service.delete(post.session, post.user, post.project, task_id)
    return post.back("tasks")


@router.post(_PAGE + "/comments", response_class=HTMLResponse)
async def add_comment(post: StoryPost) -> Response:
    body = post.text("body").replace("\r\n", "\n")
    try:
        data = CommentCreate(body=body)
    except ValidationError:
        return await post.page(errors={"comment_body": _COMMENT_MESSAGE}, comment_body=body)
    comment = await comment_service.create_by_story_key(
        post.session, post.user, post.project, post.story_key, data
    )
    return post.back(f"comment-{comment.id}")


@router.post(_PAGE + "/comments/{comment_id}", response_class=HTMLResponse)
async def edit_comment(comment_id: int, post: StoryPost) -> Response:
    """Its author rewrites a comment; an empty one comes back in its open edit form."""
    await _check_comment_of(post, comment_id)
    body = post.text("body").replace("\r\n", "\n")
    try:
        data = CommentUpdate(body=body)
    except ValidationError:
        return await post.page(
            errors={f"comment-body-{comment_id}": _COMMENT_MESSAGE}, editing=(comment_id, body)
        )
    await comment_service.update(post.session, post.user, post.project, comment_id, data)
    return post.back(f"comment-{comment_id}")


@router.post(_PAGE + "/comments/{comment_id}/delete")
async def delete_comment(comment_id: int, post: StoryPost) -> Response:
    """To the trash (its author or an admin), from where the trash page restores it."""
    await _check_comment_of(post, comment_id)
    await comment_service.delete(post.session, post.user, post.project, comment_id)
    return post.back("comments")


@router.post(_PAGE + "/delete")
async def trash_story(post: StoryPost) -> Response:
    """To the trash, unless it changed since the page was rendered; then to the board it was
    on (its sprint's or the backlog), which names it."""
    version = _as_int(post.text("version"))
    if not isinstance(version, int):
        return await post.page(errors={"delete": _MESSAGES["version"]})
    try:
        story = await story_service.delete_by_key(
            post.session, post.user, post.project, post.story_key, expected_version=version
        )
    except StaleVersion:
        return await post.page(
            errors={"delete": _MESSAGES["stale"]}, status_code=status.HTTP_409_CONFLICT
        )
    project_path = "/projects/" + quote(post.project.key, safe="")
    if story.sprint_id is None:
        board = project_path + "/backlog"
    else:
        sprint = await sprint_service.get(post.session, post.user, post.project, story.sprint_id)
        board = f"{project_path}/sprints/{sprint.number}"
    return RedirectResponse(f"{board}?trashed={story.id}", status_code=status.HTTP_303_SEE_OTHER)
