"""Comments on a story: listed and added under the story, edited and deleted by id."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from plandeck.api.projects import ProjectMember
from plandeck.api.responses import problems
from plandeck.api.stories import StoryKeyInPath
from plandeck.auth.deps import CurrentUser, DbSession
from plandeck.plans.comments import comment_service
from plandeck.plans.schemas import MAX_INT, Comment, CommentCreate, CommentUpdate

router = APIRouter(tags=["comments"])

CommentId = Annotated[int, Path(ge=1, le=MAX_INT, description="The comment's id.")]


@router.get(
    "/projects/{key}/stories/{story_key}/comments",
    responses=problems(401, 404, 422, 429),
    summary="A story's comments",
)
async def list_comments(
    story_key: StoryKeyInPath, project: ProjectMember, session: DbSession, user: CurrentUser
) -> list[Comment]:
    """Oldest first."""
    comments = await comment_service.list_by_story_key(session, user, project, story_key)
    return [Comment.model_validate(comment) for comment in comments]


@router.post(
    "/projects/{key}/stories/{story_key}/comments",
    status_code=status.HTTP_201_CREATED,
    responses=problems(401, 403, 404, 422, 429),
    summary="Comment on a story",
)
async def create_comment(
    data: CommentCreate,
    story_key: StoryKeyInPath,
    project: ProjectMember,
    session: DbSession,
    user: CurrentUser,
) -> Comment:
    """Members; the caller is the author."""
    comment = await comment_service.create_by_story_key(session, user, project, story_key, data)
    return Comment.model_validate(comment)


@router.patch(
    "/projects/{key}/comments/{comment_id}",
    responses=problems(401, 403, 404, 422, 429),
    summary="Edit a comment",
)
async def update_comment(
    comment_id: CommentId,
    data: CommentUpdate,
    project: ProjectMember,
    session: DbSession,
    user: CurrentUser,
) -> Comment:
    """Only its author, while a member or above."""
    comment = await comment_service.update(session, user, project, comment_id, data)
    return Comment.model_validate(comment)


@router.delete(
    "/projects/{key}/comments/{comment_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 404, 422, 429),
    summary="Move a comment to the trash",
)
async def delete_comment(
    comment_id: CommentId, project: ProjectMember, session: DbSession, user: CurrentUser
) -> None:
    """Its author (a member or above) or an admin. It can be restored from the project's trash."""
    await comment_service.delete(session, user, project, comment_id)
