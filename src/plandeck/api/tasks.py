"""A story's tasks (its checklist): listed and added under the story, changed by id."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from plandeck.api.projects import ProjectMember
from plandeck.api.responses import problems
from plandeck.api.stories import StoryKeyInPath
from plandeck.auth.deps import CurrentUser, DbSession
from plandeck.plans.schemas import MAX_INT, Task, TaskCreate, TaskUpdate
from plandeck.plans.tasks import task_service

router = APIRouter(tags=["tasks"])

TaskId = Annotated[int, Path(ge=1, le=MAX_INT, description="The task's id.")]


@router.get(
    "/projects/{key}/stories/{story_key}/tasks",
    responses=problems(401, 404, 422, 429),
    summary="A story's tasks",
)
async def list_tasks(
    story_key: StoryKeyInPath, project: ProjectMember, session: DbSession, user: CurrentUser
) -> list[Task]:
    """By position; subtasks name their task in ``parent_id``."""
    tasks = await task_service.list_by_story_key(session, user, project, story_key)
    return [Task.model_validate(task) for task in tasks]


@router.post(
    "/projects/{key}/stories/{story_key}/tasks",
    status_code=status.HTTP_201_CREATED,
    responses=problems(401, 403, 404, 422, 429),
    summary="Add a task",
)
async def create_task(
    data: TaskCreate,
    story_key: StoryKeyInPath,
    project: ProjectMember,
    session: DbSession,
    user: CurrentUser,
) -> Task:
    """Members. Appended after the story's last task unless ``position`` is given;
    ``parent_id`` nests it under another task of the same story."""
    task = await task_service.create_by_story_key(session, user, project, story_key, data)
    return Task.model_validate(task)


@router.patch(
    "/projects/{key}/tasks/{task_id}",
    responses=problems(401, 403, 404, 422, 429),
    summary="Change a task",
)
async def update_task(
    task_id: TaskId,
    data: TaskUpdate,
    project: ProjectMember,
    session: DbSession,
    user: CurrentUser,
) -> Task:
    """Members: tick it off (``done``), edit its ``text``, or move it (``position``)."""
    return Task.model_validate(await task_service.update(session, user, project, task_id, data))


@router.get(
    "/projects/{key}/tasks/{task_id}",
    responses=problems(401, 404, 422, 429),
    summary="One task",
)
async def read_task(
    task_id: TaskId, project: ProjectMember, session: DbSession, user: CurrentUser
) -> Task:
    return Task.model_validate(await task_service.get(session, user, project, task_id))


@router.post(
    "/projects/{key}/tasks/{task_id}/toggle",
    responses=problems(401, 403, 404, 422, 429),
    summary="Tick a task off (or on again)",
)
async def toggle_task(
    task_id: TaskId, project: ProjectMember, session: DbSession, user: CurrentUser
) -> Task:
    """Members. Flips ``done`` on the server, so two people ticking never overwrite a
    value they did not see."""
    return Task.model_validate(await task_service.toggle(session, user, project, task_id))


@router.delete(
    "/projects/{key}/tasks/{task_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 404, 422, 429),
    summary="Move a task to the trash",
)
async def delete_task(
    task_id: TaskId, project: ProjectMember, session: DbSession, user: CurrentUser
) -> None:
    """Members. The task can be restored from the project's trash."""
    await task_service.delete(session, user, project, task_id)
