"""A project's sprints, addressed by their number in the project."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response, status

from plandeck import models
from plandeck.api.numbered import NumberedRoutes
from plandeck.api.projects import ProjectMember, with_etag
from plandeck.api.responses import problems
from plandeck.auth.deps import CurrentUser, DbSession
from plandeck.kit.etag import IfMatch, expected_version
from plandeck.plans.schemas import (
    MAX_INT,
    Sprint,
    SprintComplete,
    SprintCompletion,
    SprintCreate,
    SprintStart,
    SprintUpdate,
)
from plandeck.plans.sprints import sprint_service

router = APIRouter(prefix="/projects/{key}/sprints", tags=["sprints"])


async def sprint_in_path(
    number: Annotated[int, Path(ge=0, le=MAX_INT, description="The sprint's number.")],
    project: ProjectMember,
    session: DbSession,
    user: CurrentUser,
) -> models.Sprint:
    return await sprint_service.get_by_number(session, user, project, number)


SprintInPath = Annotated[models.Sprint, Depends(sprint_in_path)]
_sprints = NumberedRoutes(sprint_service, Sprint)


@router.get("", responses=problems(401, 404, 422, 429), summary="A project's sprints")
async def list_sprints(
    project: ProjectMember, session: DbSession, user: CurrentUser
) -> list[Sprint]:
    """The sprints that are not in the trash, by number."""
    return await _sprints.list_in(session, user, project)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={**with_etag(201), **problems(401, 403, 404, 409, 422, 429)},
    summary="Create a sprint",
)
async def create_sprint(
    data: SprintCreate,
    project: ProjectMember,
    session: DbSession,
    user: CurrentUser,
    response: Response,
) -> Sprint:
    """Admins. The number is unique in the project, the trash included (409); ``phase_id``
    must name a phase of the project that is not in the trash (422)."""
    return _sprints.tagged(response, await sprint_service.create(session, user, project, data))


@router.get(
    "/{number}",
    responses={**with_etag(), **problems(401, 404, 422, 429)},
    summary="A sprint",
)
async def read_sprint(sprint: SprintInPath, response: Response) -> Sprint:
    """Answers with an ``ETag`` to send back in ``If-Match`` when changing the sprint."""
    return _sprints.tagged(response, sprint)


@router.patch(
    "/{number}",
    responses={**with_etag(), **problems(401, 403, 404, 409, 422, 429)},
    summary="Change a sprint",
)
async def update_sprint(
    data: SprintUpdate,
    sprint: SprintInPath,
    project: ProjectMember,
    session: DbSession,
    user: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
) -> Sprint:
    """Admins. With ``If-Match`` (or ``version`` in the body) the change is refused with 409
    when somebody else changed the sprint since."""
    data.version = expected_version(if_match, data.version)
    return _sprints.tagged(
        response, await sprint_service.update(session, user, project, sprint.id, data)
    )


@router.post(
    "/{number}/start",
    responses={**with_etag(), **problems(401, 403, 404, 409, 422, 429)},
    summary="Start a sprint",
)
async def start_sprint(
    sprint: SprintInPath,
    project: ProjectMember,
    session: DbSession,
    user: CurrentUser,
    response: Response,
    data: SprintStart | None = None,
    if_match: IfMatch = None,
) -> Sprint:
    """Admins. A planned sprint becomes the active one (409 while another is active, or when
    this one is not planned). ``starts_on`` defaults to today in the project's time zone,
    ``ends_on`` to the start plus the sprint's planned length (two weeks without one)."""
    data = data or SprintStart()
    data.version = expected_version(if_match, data.version)
    return _sprints.tagged(
        response, await sprint_service.start(session, user, project, sprint.id, data)
    )


@router.post(
    "/{number}/complete",
    responses={**with_etag(), **problems(401, 403, 404, 409, 422, 429)},
    summary="Complete a sprint",
)
async def complete_sprint(
    sprint: SprintInPath,
    project: ProjectMember,
    session: DbSession,
    user: CurrentUser,
    response: Response,
    data: SprintComplete | None = None,
    if_match: IfMatch = None,
) -> SprintCompletion:
    """Admins. The active sprint ends today (its ``ends_on`` becomes today): its done stories
    stay in it, the unfinished ones move to ``carry_over_to``, at the top of its order (by
    default the next planned sprint, or the backlog when there is none). The ``ETag`` is the
    sprint's. Its burndown shows the carried-over points as left undone on the last day, not
    as scope removed."""
    data = data or SprintComplete()
    data.version = expected_version(if_match, data.version)
    completion = await sprint_service.complete(session, user, project, sprint.id, data)
    _sprints.tagged(response, completion.sprint)
    return SprintCompletion.model_validate(completion)


@router.delete(
    "/{number}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 404, 409, 422, 429),
    summary="Move a sprint to the trash",
)
async def delete_sprint(
    sprint: SprintInPath,
    project: ProjectMember,
    session: DbSession,
    user: CurrentUser,
    if_match: IfMatch = None,
) -> None:
    """Admins. Its stories move to the backlog; restoring the sprint
    (``POST /projects/{key}/trash/sprint/{id}/restore``) takes back those still there."""
    await _sprints.delete(session, user, project, sprint, if_match)
