"""Pages: a project's analytics (velocity, each phase's forecast, the CSV downloads), and the
charts of a phase that the phase view shows (burnup, cumulative flow, forecast).

The series come from ``analytics_service``, rebuilt from the activity history; the charts
are drawn by ``web/charts.py`` as inline SVG. The CSV downloads are the API's own routes
(``/api/v1/...csv``), which the browser's session cookie opens.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.analytics.forecast import Forecast
from plandeck.analytics.series import SprintWithoutDates
from plandeck.analytics.service import analytics_service
from plandeck.auth.deps import DbSession
from plandeck.models import Phase, Sprint, User
from plandeck.plans.phases import phase_service
from plandeck.plans.projects import project_service
from plandeck.plans.sprints import sprint_service
from plandeck.web.charts import BurnupChart, FlowChart, VelocityChart
from plandeck.web.deps import WebVisitor
from plandeck.web.templating import templates

router = APIRouter(include_in_schema=False)

# The finished sprints the velocity chart shows (the API's default, too).
VELOCITY_SPRINTS = 6


@dataclass(frozen=True, slots=True)
class PhaseCharts:
    """A phase's burnup and cumulative flow (None when none of its sprints has dates) and
    its forecast."""

    burnup: BurnupChart | None
    flow: FlowChart | None
    forecast: Forecast


async def phase_charts(session: AsyncSession, user: User, key: str, number: int) -> PhaseCharts:
    try:
        flow = await analytics_service.cumulative_flow(session, user, key, number)
    except SprintWithoutDates:
        burnup, flow_chart = None, None  # the page says how to get them
    else:
        burnup, flow_chart = BurnupChart(flow), FlowChart(flow)
    forecast = await analytics_service.forecast(session, user, key, number)
    return PhaseCharts(burnup, flow_chart, forecast)


@dataclass(frozen=True, slots=True)
class PhaseForecast:
    phase: Phase
    forecast: Forecast
    dated: bool  # some sprint of the phase has dates (its cumulative flow can be downloaded)


@router.get("/projects/{key}/analytics", response_class=HTMLResponse)
async def show_analytics(
    request: Request, key: str, session: DbSession, visitor: WebVisitor
) -> HTMLResponse:
    """Velocity of the last finished sprints, each phase's forecast, and the CSV downloads."""
    user = visitor.user
    project = await project_service.get(session, user, key)
    phases = await phase_service.list_in(session, user, project)
    sprints: list[Sprint] = list(await sprint_service.list_in(session, user, project))
    velocity = await analytics_service.velocity(session, user, key, last=VELOCITY_SPRINTS)
    dated_phases = {s.phase_id for s in sprints if s.starts_on and s.ends_on}
    forecasts = [
        PhaseForecast(
            phase,
            await analytics_service.forecast(session, user, key, phase.number),
            phase.id in dated_phases,
        )
        for phase in phases
    ]
    return templates.TemplateResponse(
        request,
        "analytics/show.html",
        {
            "project": project,
            "velocity": VelocityChart(velocity) if velocity.sprints else None,
            "skipped": velocity.skipped,
            "last": VELOCITY_SPRINTS,
            "forecasts": forecasts,
            "dated_sprints": [s for s in sprints if s.starts_on and s.ends_on],
            "visitor": visitor,
        },
    )
