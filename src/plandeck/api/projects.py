"""Projects and their members. ``ProjectMember`` resolves ``{key}`` for every project route."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response, status

from plandeck import models
from plandeck.api.responses import problems
from plandeck.auth.deps import CurrentUser, DbSession
from plandeck.kit.etag import IfMatch, expected_version, set_etag
from plandeck.plans.projects import project_service
from plandeck.plans.schemas import (
    MAX_INT,
    Membership,
    MembershipCreate,
    MembershipUpdate,
    Project,
    ProjectCreate,
    ProjectUpdate,
)

router = APIRouter(tags=["projects"])


async def project_in_path(key: str, session: DbSession, user: CurrentUser) -> models.Project:
    """The project whose key is in the path; 404 unless the caller is a member."""
    return await project_service.get(session, user, key)


ProjectMember = Annotated[models.Project, Depends(project_in_path)]


def with_etag(status_code: int = 200) -> dict[int | str, dict[str, Any]]:
    """Declares the ``ETag`` header of a success response in the OpenAPI document."""
    header = {
        "description": 'The record\'s version, for If-Match (e.g. "phase-12-v3").',
        "schema": {"type": "string"},
    }
    return {status_code: {"headers": {"ETag": header}}}


UserId = Annotated[int, Path(ge=1, le=MAX_INT, description="The member's user id.")]


def _project(response: Response, project: models.Project) -> Project:
    set_etag(response, "project", project.id, project.version)
    return Project.model_validate(project)


@router.get("/projects", responses=problems(401, 429), summary="My projects")
async def list_projects(session: DbSession, user: CurrentUser) -> list[Project]:
    """The projects the caller is a member of, by key."""
    return [Project.model_validate(p) for p in await project_service.list_for(session, user)]


@router.post(
    "/projects",
    status_code=status.HTTP_201_CREATED,
    responses={**with_etag(201), **problems(401, 403, 409, 422, 429)},
    summary="Create a project",
)
async def create_project(
    data: ProjectCreate, session: DbSession, user: CurrentUser, response: Response
) -> Project:
    """The caller becomes its owner. The key is unique across the site."""
    return _project(response, await project_service.create(session, user, data))


@router.get(
    "/projects/{key}",
    responses={**with_etag(), **problems(401, 404, 422, 429)},
    summary="A project",
)
async def read_project(project: ProjectMember, response: Response) -> Project:
    """Answers with an ``ETag`` to send back in ``If-Match`` when changing the project."""
    return _project(response, project)


@router.patch(
    "/projects/{key}",
    responses={**with_etag(), **problems(401, 403, 404, 409, 422, 429)},
    summary="Change a project",
)
async def update_project(
    data: ProjectUpdate,
    project: ProjectMember,
    session: DbSession,
    user: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
) -> Project:
    """Admins and owners. With ``If-Match`` (or ``version`` in the body) the change is refused
    with 409 when somebody else changed the project since."""
    data.version = expected_version(if_match, data.version)
    return _project(response, await project_service.update(session, user, project, data))


@router.delete(
    "/projects/{key}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 404, 409, 422, 429),
    summary="Delete a project",
)
async def delete_project(
    project: ProjectMember, session: DbSession, user: CurrentUser, if_match: IfMatch = None
) -> None:
    """Owners only. Removes the project and everything in it for good (no trash)."""
    await project_service.delete(
        session, user, project, expected_version=expected_version(if_match)
    )


# Members


@router.get(
    "/projects/{key}/members", responses=problems(401, 404, 422, 429), summary="A project's members"
)
async def list_members(
    project: ProjectMember, session: DbSession, user: CurrentUser
) -> list[Membership]:
    members = await project_service.list_members(session, user, project)
    return [Membership.model_validate(m) for m in members]


@router.post(
    "/projects/{key}/members",
    status_code=status.HTTP_201_CREATED,
    responses=problems(401, 403, 404, 409, 422, 429),
    summary="Add a member",
)
async def add_member(
    data: MembershipCreate, project: ProjectMember, session: DbSession, user: CurrentUser
) -> Membership:
    """Admins add people by ``user_id`` or by ``email``; they need an account already. Only an
    owner may add another owner."""
    return Membership.model_validate(await project_service.add_member(session, user, project, data))


@router.patch(
    "/projects/{key}/members/{user_id}",
    responses=problems(401, 403, 404, 409, 422, 429),
    summary="Change a member's role",
)
async def change_member_role(
    user_id: UserId,
    data: MembershipUpdate,
    project: ProjectMember,
    session: DbSession,
    user: CurrentUser,
) -> Membership:
    """Admins; granting or taking away the owner role takes an owner. A project keeps at
    least one owner (409)."""
    membership = await project_service.change_role(session, user, project, user_id, data.role)
    return Membership.model_validate(membership)


@router.delete(
    "/projects/{key}/members/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 404, 409, 422, 429),
    summary="Remove a member",
)
async def remove_member(
    user_id: UserId, project: ProjectMember, session: DbSession, user: CurrentUser
) -> None:
    """Anyone may leave (their own ``user_id``); removing somebody else takes an admin, and
    an owner takes an owner. A project keeps at least one owner (409)."""
    await project_service.remove_member(session, user, project, user_id)
