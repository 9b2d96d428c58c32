"""A project's activity trail, newest first, a page at a time."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from plandeck.api.projects import ProjectMember
from plandeck.api.responses import problems
from plandeck.auth.deps import CurrentUser, DbSession
from plandeck.kit.pagination import MAX_LIMIT
from plandeck.models import EntityType
from plandeck.plans.activity import activity_service
from plandeck.plans.schemas import MAX_INT, ActivityEvent

router = APIRouter(tags=["activity"])


class ActivityPage(BaseModel):
    items: list[ActivityEvent]
    next_before: int | None = Field(
        description="Pass as `before` for the next (older) page; null when this page is the last."
    )


@router.get(
    "/projects/{key}/activity",
    responses=problems(401, 404, 422, 429),
    summary="A project's activity",
)
async def list_activity(
    project: ProjectMember,
    session: DbSession,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Events per page.")] = 50,
    before: Annotated[
        int | None,
        Query(ge=1, le=MAX_INT, description="Only events older than this event id (a cursor)."),
    ] = None,
    entity_type: Annotated[
        EntityType | None, Query(description="Only events about this kind of record.")
    ] = None,
    entity_id: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_INT,
            description="Only events about the record of this id (ids are per entity_type).",
        ),
    ] = None,
) -> ActivityPage:
    """What changed in the project, newest first: who did what to which record, with the
    fields before and after."""
    events = await activity_service.list_for_project(
        session,
        user,
        project,
        entity_type=entity_type,
        entity_id=entity_id,
        before_id=before,
        # One more than asked for tells whether there is a next page (the service caps
        # pages well above MAX_LIMIT).
        limit=limit + 1,
    )
    page = [ActivityEvent.model_validate(event) for event in events[:limit]]
    more = len(events) > limit
    return ActivityPage(items=page, next_before=page[-1].id if more else None)
