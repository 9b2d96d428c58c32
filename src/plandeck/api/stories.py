"""Stories, addressed by their key in the project (``9.1``): lists, the board, edits and moves."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck import models
from plandeck.api.projects import ProjectMember
from plandeck.api.responses import problems
from plandeck.auth.deps import CurrentUser, CurrentUserId, DbSession, require_active_user
from plandeck.kit.etag import IfMatch, expected_version, set_etag
from plandeck.kit.pagination import MAX_LIMIT
from plandeck.kit.responses import json_response
from plandeck.plans.schemas import (
    MAX_INT,
    BoardStory,
    Story,
    StoryCreate,
    StoryFilter,
    StoryMove,
    StoryPage,
    StorySort,
    StoryUpdate,
)
from plandeck.plans.stories import story_service

router = APIRouter(tags=["stories"])

StoryKeyInPath = Annotated[
    str, Path(max_length=32, description="The story's key in the project.", examples=["9.1"])
]
SprintNumber = Annotated[int, Path(ge=0, le=MAX_INT, description="The sprint's number.")]


def _story(response: Response, story: models.Story) -> Story:
    set_etag(response, "story", story.id, story.version)
    return Story.model_validate(story)


@router.get(
    "/projects/{key}/stories", responses=problems(401, 404, 422, 429), summary="Find stories"
)
async def list_stories(
    project: ProjectMember,
    session: DbSession,
    user: CurrentUser,
    filters: Annotated[StoryFilter, Query()],
    sort: Annotated[
        StorySort,
        Query(
            description="The order; `-` in front reverses it. `rank` is the plan's order: by "
            "sprint number (the backlog last), then by rank. Missing values sort last."
        ),
    ] = "rank",
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Stories per page.")] = 50,
    cursor: Annotated[
        str | None,
        Query(max_length=2000, description="The `next_cursor` of the previous page."),
    ] = None,
) -> StoryPage:
    """The stories that pass every filter given, one page at a time: follow ``next_cursor``
    until it is null. A cursor belongs to its sort; the filters should stay the same too."""
    page = await story_service.list_filtered(
        session, user, project, filters, sort=sort, limit=limit, cursor=cursor
    )
    return StoryPage.model_validate(page)


# The board routes skip the ProjectMember lookup (the service checks the membership in the
# query that reads the stories) and answer with the rows serialised by orjson:
# response_model documents them, and validating fifty rows the query shaped would cost more
# than the query.


@router.get(
    "/projects/{key}/sprints/{number}/stories",
    response_model=list[BoardStory],
    responses=problems(401, 404, 422, 429),
    summary="A sprint's stories",
)
async def list_sprint_stories(
    key: str, number: SprintNumber, session: DbSession, user_id: CurrentUserId
) -> Response:
    """The sprint's board: its stories in rank order, each with its task counts."""
    return await _board(session, user_id, key, number)


@router.get(
    "/projects/{key}/backlog",
    response_model=list[BoardStory],
    responses=problems(401, 404, 422, 429),
    summary="The backlog",
)
async def list_backlog(key: str, session: DbSession, user_id: CurrentUserId) -> Response:
    """The stories in no sprint, in rank order, each with its task counts."""
    return await _board(session, user_id, key, None)


async def _board(session: AsyncSession, user_id: int, key: str, number: int | None) -> Response:
    body = await story_service.board_json_if_visible(session, user_id, key, number)
    if body is not None:
        return Response(body, media_type="application/json")
    # An empty list, or one the caller may not see: the checked path says which (401 for a
    # deactivated account, 404 for a project or sprint the caller cannot see).
    user = await require_active_user(session, user_id)
    return json_response(await story_service.list_for_board(session, user, key, number))


@router.post(
    "/projects/{key}/stories",
    status_code=status.HTTP_201_CREATED,
    responses=problems(401, 403, 404, 409, 422, 429),
    summary="Create a story",
)
async def create_story(
    data: StoryCreate,
    project: ProjectMember,
    session: DbSession,
    user: CurrentUser,
    request: Request,
    response: Response,
) -> Story:
    """Members. Without a ``key`` one is generated (``S.N`` in sprint S, ``KEY-N`` in the
    backlog); the story joins the end of its sprint or the backlog."""
    story = await story_service.create(session, user, project, data)
    # Keys may hold any non-space character: quoted, so the header stays ASCII.
    response.headers["Location"] = str(
        request.url_for("read_story", key=project.key, story_key=quote(story.key, safe=""))
    )
    return _story(response, story)


@router.get(
    "/projects/{key}/stories/{story_key}",
    responses=problems(401, 404, 422, 429),
    summary="A story",
)
async def read_story(
    story_key: StoryKeyInPath,
    project: ProjectMember,
    session: DbSession,
    user: CurrentUser,
    response: Response,
) -> Story:
    """Answers with an ``ETag`` to send back in ``If-Match`` when changing the story."""
    return _story(response, await story_service.get_by_key(session, user, project, story_key))


@router.patch(
    "/projects/{key}/stories/{story_key}",
    responses=problems(401, 403, 404, 409, 422, 429),
    summary="Change a story",
)
async def update_story(
    data: StoryUpdate,
    story_key: StoryKeyInPath,
    project: ProjectMember,
    session: DbSession,
    user: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
) -> Story:
    """Members. Only the fields sent change. With ``If-Match`` (or ``version`` in the body)
    the change is refused with 409, naming the current version, when somebody else changed
    the story since. A new ``sprint_id`` puts the story at the end of that sprint; use
    ``/move`` to place it."""
    data.version = expected_version(if_match, data.version)
    story = await story_service.update_by_key(session, user, project, story_key, data)
    return _story(response, story)


@router.delete(
    "/projects/{key}/stories/{story_key}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 404, 409, 422, 429),
    summary="Move a story to the trash",
)
async def delete_story(
    story_key: StoryKeyInPath,
    project: ProjectMember,
    session: DbSession,
    user: CurrentUser,
    if_match: IfMatch = None,
) -> None:
    """Members. The story can be restored from the project's trash."""
    await story_service.delete_by_key(
        session, user, project, story_key, expected_version=expected_version(if_match)
    )


@router.post(
    "/projects/{key}/stories/{story_key}/move",
    responses=problems(401, 403, 404, 409, 422, 429),
    summary="Move a story",
)
async def move_story(
    data: StoryMove,
    story_key: StoryKeyInPath,
    project: ProjectMember,
    session: DbSession,
    user: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
) -> Story:
    """Members. Moves the story to another sprint (``"sprint": null``: the backlog) and/or
    status, right ``after`` one story and/or ``before`` another of that list. Neighbours are
    taken where they are now, so moves made from a list that changed meanwhile still land
    next to the story named; neighbours no longer in the order given are a 409."""
    data.version = expected_version(if_match, data.version)
    return _story(response, await story_service.move(session, user, project, story_key, data))
