"""A project's trash: list it, restore from it, purge from it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from plandeck.api.projects import ProjectMember
from plandeck.api.responses import problems
from plandeck.auth.deps import CurrentUser, DbSession
from plandeck.plans.schemas import MAX_INT, TrashItem, TrashKind
from plandeck.plans.trash import trash_service

router = APIRouter(prefix="/projects/{key}/trash", tags=["trash"])

ItemId = Annotated[
    int, Path(ge=1, le=MAX_INT, description="The item's id (as the trash lists it).")
]


@router.get("", responses=problems(401, 404, 422, 429), summary="A project's trash")
async def list_trash(
    project: ProjectMember, session: DbSession, user: CurrentUser
) -> list[TrashItem]:
    """Phases, sprints, stories, tasks and comments in the trash, most recently deleted first.
    A trashed phase's sprints and stories are listed too: they went with it."""
    return await trash_service.list_trash(session, user, project)


@router.post(
    "/{kind}/{item_id}/restore",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 404, 422, 429),
    summary="Restore from the trash",
)
async def restore_item(
    kind: TrashKind,
    item_id: ItemId,
    project: ProjectMember,
    session: DbSession,
    user: CurrentUser,
) -> None:
    """Takes the role that may delete such an item: admins for phases and sprints, members
    for stories and tasks, a comment's author or an admin for a comment. A phase brings back
    what went to the trash with it; a sprint, the stories it sent to the backlog."""
    await trash_service.restore(session, user, project, kind, item_id)


@router.delete(
    "/{kind}/{item_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 404, 422, 429),
    summary="Purge from the trash",
)
async def purge_item(
    kind: TrashKind,
    item_id: ItemId,
    project: ProjectMember,
    session: DbSession,
    user: CurrentUser,
) -> None:
    """Admins. Removes the item for good (a story with its tasks and comments); the activity
    trail keeps its last state. ``plandeck purge`` does this by age for every project."""
    await trash_service.purge(session, user, project, kind, item_id)
