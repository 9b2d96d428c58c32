"""Project pages: the visitor's projects, a project's overview and a phase's plan."""

from __future__ import annotations

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from plandeck.auth.deps import DbSession
from plandeck.models import StoryStatus
from plandeck.plans.project_view import project_overview
from plandeck.plans.projects import project_service
from plandeck.web.deps import WebVisitor
from plandeck.web.routes.analytics import phase_charts
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
    """Phases with goals and progress, status counts, then every sprint's stories. A
    visitor who is not a member gets the same 404 as for a project that does not exist."""
    overview = await project_overview(session, visitor.user, key)
    return templates.TemplateResponse(
        request, "projects/show.html", {"overview": overview, "visitor": visitor}
    )


@router.get("/projects/{key}/phases/{number}", response_class=HTMLResponse)
async def show_phase(
    request: Request,
    key: str,
    session: DbSession,
    visitor: WebVisitor,
    number: int = Path(ge=1, le=1_000_000),
) -> HTMLResponse:
    """A phase's sprints in order with their goals and weeks, its burnup, cumulative flow and
    forecast, its MoSCoW lists, its timeline."""
    overview = await project_overview(session, visitor.user, key)
    view = overview.phase(number)
    charts = await phase_charts(session, visitor.user, key, number)
    return templates.TemplateResponse(
        request,
        "projects/phase.html",
        {
            "overview": overview,
            "view": view,
            "charts": charts,
            "statuses": list(StoryStatus),
            "visitor": visitor,
        },
    )
