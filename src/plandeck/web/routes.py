"""Server-rendered pages. Until accounts exist (the API issue), pages are read-only views."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from plandeck.db import unit_of_work
from plandeck.errors import NotFound
from plandeck.models import Phase, Project, Sprint, Story, Task

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def list_projects(request: Request) -> HTMLResponse:
    async with unit_of_work(request.app.state.sessionmaker, read_only=True) as session:
        projects = (await session.scalars(select(Project).order_by(Project.key))).all()
    return templates.TemplateResponse(request, "projects/list.html", {"projects": projects})


@router.get("/projects/{key}", response_class=HTMLResponse)
async def show_project(request: Request, key: str) -> HTMLResponse:
    async with unit_of_work(request.app.state.sessionmaker, read_only=True) as session:
        project = await session.scalar(select(Project).where(Project.key == key))
        if project is None:
            raise NotFound(f"project {key!r} not found")
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
        },
    )
