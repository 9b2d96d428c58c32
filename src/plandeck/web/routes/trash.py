"""The project's trash page: what its members moved to the trash, newest first, each with a
"Restore" button for those whose role may bring it back.

Viewers read it; a visitor who is not a member gets 404. A restore is a form POST answered
by a redirect back with ``?restored=<kind>``; a refused one (the item gone from the trash
since the page was read, a role that may not, a conflict) changes nothing and answers with
the page again, the reason beside the item (or above the list when it is no longer there),
with the refusal's status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Path, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.auth.deps import DbSession
from plandeck.errors import Conflict, Forbidden, NotFound
from plandeck.models import Role
from plandeck.plans.admin_view import MembersView, admin_view_service
from plandeck.plans.phases import phase_service
from plandeck.plans.schemas import MAX_INT, TrashKind
from plandeck.plans.sprints import sprint_service
from plandeck.plans.stories import story_service
from plandeck.plans.trash import trash_service
from plandeck.web.deps import Visitor, WebVisitor
from plandeck.web.i18n import N_
from plandeck.web.routes.board import FormVisitor
from plandeck.web.templating import templates

router = APIRouter(include_in_schema=False)

_PAGE = "/projects/{key}/trash"
ItemId = Annotated[int, Path(ge=1, le=MAX_INT)]

# Lower case: the nouns, not the buttons ("Comment" is the comment form's verb).
KIND_LABELS = {
    TrashKind.PHASE: N_("phase"),
    TrashKind.SPRINT: N_("sprint"),
    TrashKind.STORY: N_("story"),
    TrashKind.TASK: N_("task"),
    TrashKind.COMMENT: N_("comment"),
}
_RESTORED = {
    TrashKind.PHASE: N_("The phase is back, with what went to the trash with it."),
    TrashKind.SPRINT: N_("The sprint is back, with the stories it sent to the backlog."),
    TrashKind.STORY: N_("The story is back where it was."),
    TrashKind.TASK: N_("The task is back on its story."),
    TrashKind.COMMENT: N_("The comment is back on its story."),
}
# The role that may bring each kind back (the one that may delete it). A comment is also
# its author's, which the list does not say: members see its button, and the service
# refuses those who are neither its author nor an admin.
_RESTORE_ROLE = {
    TrashKind.PHASE: phase_service.edit_role,
    TrashKind.SPRINT: sprint_service.edit_role,
    TrashKind.STORY: story_service.edit_role,
    TrashKind.TASK: Role.MEMBER,
    TrashKind.COMMENT: Role.MEMBER,
}


@dataclass(frozen=True)
class RestoreRefusal:
    """Why an item was not restored: ``reason`` is one the template words (``other``: it
    shows ``detail``, the service's own message)."""

    kind: TrashKind
    item_id: int
    reason: Literal["gone", "role", "other"]
    detail: str = ""


def _restored_notice(raw: str) -> str | None:
    """What the page says after a restore's redirect (``?restored=story``)."""
    try:
        return _RESTORED[TrashKind(raw)]
    except ValueError:
        return None


def trash_url(project_key: str) -> str:
    return _PAGE.format(key=quote(project_key, safe=""))


async def _render(
    request: Request,
    session: AsyncSession,
    visitor: Visitor,
    key: str,
    *,
    refusal: RestoreRefusal | None = None,
    status_code: int = status.HTTP_200_OK,
) -> HTMLResponse:
    view: MembersView = await admin_view_service.members(session, visitor.user, key)
    items = await trash_service.list_trash(session, visitor.user, view.project)
    restorable = {kind for kind, role in _RESTORE_ROLE.items() if view.role.at_least(role)}
    listed = refusal is not None and any(
        (item.kind, item.id) == (refusal.kind, refusal.item_id) for item in items
    )
    return templates.TemplateResponse(
        request,
        "trash/show.html",
        {
            "visitor": visitor,
            "project": view.project,
            "items": items,
            "restorable": restorable,
            "kind_labels": KIND_LABELS,
            "refusal": refusal,
            "refusal_listed": listed,
            "notice": None
            if refusal
            else _restored_notice(request.query_params.get("restored", "")),
            "trash_url": trash_url(view.project.key),
        },
        status_code=status_code,
    )


@router.get(_PAGE, response_class=HTMLResponse)
async def show_trash(
    request: Request, key: str, session: DbSession, visitor: WebVisitor
) -> HTMLResponse:
    return await _render(request, session, visitor, key)


def _reason(exc: Conflict | Forbidden | NotFound) -> Literal["gone", "role", "other"]:
    if isinstance(exc, NotFound):
        return "gone"
    return "role" if isinstance(exc, Forbidden) else "other"


@router.post(_PAGE + "/{kind}/{item_id}/restore", response_model=None)
async def restore_item(
    request: Request,
    key: str,
    kind: TrashKind,
    item_id: ItemId,
    session: DbSession,
    visitor: FormVisitor,
) -> Response:
    """Back from the trash, for the role that may delete it (the service checks); a non-member
    gets 404 before anything is tried."""
    project = (await admin_view_service.members(session, visitor.user, key)).project
    try:
        await trash_service.restore(session, visitor.user, project, kind, item_id)
    except (Conflict, Forbidden, NotFound) as exc:
        # Nothing of the refused restore is kept: the unit of work commits the page saying so.
        await session.rollback()
        await session.refresh(visitor.user)
        refusal = RestoreRefusal(kind, item_id, _reason(exc), exc.detail)
        return await _render(
            request, session, visitor, key, refusal=refusal, status_code=exc.status_code
        )
    return RedirectResponse(
        f"{trash_url(project.key)}?restored={kind.value}", status_code=status.HTTP_303_SEE_OTHER
    )
