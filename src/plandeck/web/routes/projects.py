"""Project pages: the visitor's projects and one project's plan, for members only."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from plandeck.auth.deps import DbSession
from plandeck.models import Phase, Sprint, Story, Task
from plandeck.plans.projects import project_service
from plandeck.web.deps import WebVisitor
from plandeck.web.templating import templates

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def list_projects(request: Request, session: DbSession, visitor: WebVisitor) -> HTMLResponse:
    projects = await project_service.list_for(session, visitor.user)
    return templates.TemplateResponse(
        request, "projects/list.html", {"projects": projects, "visitor": visitor}
    )


@router.get("/projects/{key}", response_class=HTMLResponse)
async def show_project(
    request: Request, key: str, session: DbSession, visitor: WebVisitor
) -> HTMLResponse:
    # A visitor who is not a member gets the same 404 as for a project that does not exist.
    project = await project_service.get(session, visitor.user, key)
    phases = (
        await session.scalars(
            select(Phase)
            .where(Phase.project_id == project.id, Phase.deleted_at.is_(None))
            .order_by(Phase.number)
        )
    ).all()
    sprints = (
        await session.scalars(
            select(Sprint)
            .where(Sprint.project_id == project.id, Sprint.deleted_at.is_(None))
            .order_by(Sprint.number)
        )
    ).all()
    stories = (
        await session.scalars(
            select(Story)
            .where(Story.project_id == project.id, Story.deleted_at.is_(None))
            .order_by(Story.sprint_id, Story.rank)
        )
    ).all()
    tasks = (
        await session.execute(
            select(Task.story_id, Task.done)
            .join(Story, Story.id == Task.story_id)
            .where(Story.project_id == project.id, Task.deleted_at.is_(None))
        )
    ).all()
    progress: dict[int, list[int]] = {}
    for story_id, done in tasks:
        counts = progress.setdefault(story_id, [0, 0])
        counts[0] += int(done)
        counts[1] += 1
    by_sprint: dict[int | None, list[Story]] = {}
    for story in stories:
        by_sprint.setdefault(story.sprint_id, []).append(story)
    return templates.TemplateResponse(
        request,
        "projects/show.html",
        {
            "project": project,
            "phases": phases,
            "sprints": sprints,
            "by_sprint": by_sprint,
            "progress": progress,
            "total_points": sum(story.points or 0 for story in stories),
            "visitor": visitor,
        },
    )
