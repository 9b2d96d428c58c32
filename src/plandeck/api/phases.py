"""A project's phases (or epics), addressed by their number in the project."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response, status

from plandeck import models
from plandeck.api.numbered import NumberedRoutes
from plandeck.api.projects import ProjectMember, with_etag
from plandeck.api.responses import problems
from plandeck.auth.deps import CurrentUser, DbSession
from plandeck.kit.etag import IfMatch, expected_version
from plandeck.plans.phases import phase_service
from plandeck.plans.schemas import MAX_INT, Phase, PhaseCreate, PhaseUpdate

router = APIRouter(prefix="/projects/{key}/phases", tags=["phases"])


async def phase_in_path(
    number: Annotated[int, Path(ge=0, le=MAX_INT, description="The phase's number.")],
    project: ProjectMember,
    session: DbSession,
    user: CurrentUser,
) -> models.Phase:
    return await phase_service.get_by_number(session, user, project, number)


PhaseInPath = Annotated[models.Phase, Depends(phase_in_path)]
_phases = NumberedRoutes(phase_service, Phase)


@router.get("", responses=problems(401, 404, 422, 429), summary="A project's phases")
async def list_phases(project: ProjectMember, session: DbSession, user: CurrentUser) -> list[Phase]:
    """The phases that are not in the trash, by number."""
    return await _phases.list_in(session, user, project)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={**with_etag(201), **problems(401, 403, 404, 409, 422, 429)},
    summary="Create a phase",
)
async def create_phase(
    data: PhaseCreate,
    project: ProjectMember,
    session: DbSession,
    user: CurrentUser,
    response: Response,
) -> Phase:
    """Admins. The number is unique in the project, the trash included (409)."""
    return _phases.tagged(response, await phase_service.create(session, user, project, data))


@router.get(
    "/{number}",
    responses={**with_etag(), **problems(401, 404, 422, 429)},
    summary="A phase",
)
async def read_phase(phase: PhaseInPath, response: Response) -> Phase:
    """Answers with an ``ETag`` to send back in ``If-Match`` when changing the phase."""
    return _phases.tagged(response, phase)


@router.patch(
    "/{number}",
    responses={**with_etag(), **problems(401, 403, 404, 409, 422, 429)},
    summary="Change a phase",
)
async def update_phase(
    data: PhaseUpdate,
    phase: PhaseInPath,
    project: ProjectMember,
    session: DbSession,
    user: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
) -> Phase:
    """Admins. With ``If-Match`` (or ``version`` in the body) the change is refused with 409
    when somebody else changed the phase since."""
    data.version = expected_version(if_match, data.version)
    return _phases.tagged(
        response, await phase_service.update(session, user, project, phase.id, data)
    )


@router.delete(
    "/{number}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 404, 409, 422, 429),
    summary="Move a phase to the trash",
)
async def delete_phase(
    phase: PhaseInPath,
    project: ProjectMember,
    session: DbSession,
    user: CurrentUser,
    if_match: IfMatch = None,
) -> None:
    """Admins. Its sprints and stories go to the trash with it, and come back with it when
    it is restored (``POST /projects/{key}/trash/phase/{id}/restore``)."""
    await _phases.delete(session, user, project, phase, if_match)
