"""A project's analytics: sprint burndown and burnup, velocity, a phase's cumulative flow and
its forecast, rebuilt from the activity history (read-only; viewers may read them).

Each series has a JSON route and a CSV download at the same path with a ``.csv`` suffix
(``/burndown`` and ``/burndown.csv``): a separate operation in the OpenAPI document with
its own content type, a link that can be bookmarked or handed to a spreadsheet, like the
plan's ``/export.md``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from plandeck.analytics import csv as analytics_csv
from plandeck.analytics.forecast import DEFAULT_TRIALS
from plandeck.analytics.schemas import CumulativeFlow, Forecast, SprintBurndown, Velocity
from plandeck.analytics.service import analytics_service
from plandeck.api.responses import problems
from plandeck.auth.deps import CurrentUser, DbSession
from plandeck.plans.schemas import MAX_INT

router = APIRouter(tags=["analytics"])

ProjectKeyInPath = Annotated[
    str, Path(max_length=32, description="The project's key.", examples=["PLAN"])
]
SprintNumber = Annotated[int, Path(ge=0, le=MAX_INT, description="The sprint's number.")]
PhaseNumber = Annotated[int, Path(ge=0, le=MAX_INT, description="The phase's number.")]
Last = Annotated[
    int, Query(ge=1, le=100, description="How many of the last finished sprints to show.")
]
Seed = Annotated[
    int,
    Query(
        ge=0,
        le=MAX_INT,
        description="The random seed: the same history and seed give the same forecast.",
    ),
]
Trials = Annotated[int, Query(ge=1, le=20_000, description="How many Monte Carlo trials to run.")]
History = Annotated[
    int | None,
    Query(
        ge=1,
        le=100,
        description="Sample only the last N finished sprints; all of them when left out.",
    ),
]

_SPRINT = "/projects/{key}/sprints/{number}/burndown"
_VELOCITY = "/projects/{key}/velocity"
_FLOW = "/projects/{key}/phases/{number}/cumulative-flow"
_FORECAST = "/projects/{key}/phases/{number}/forecast"
_READ_ERRORS = (401, 404, 422, 429)


def _undated(description: str) -> dict[int | str, dict[str, Any]]:
    """The 409 of a chart over days that has no days (``SprintWithoutDates``)."""
    conflict = problems(409)[409]
    return {
        **problems(*_READ_ERRORS),
        409: {**conflict, "description": description},
    }


_NO_SPRINT_DATES = _undated("The sprint has no start or end date, so it has no days to chart.")
_NO_PHASE_DATES = _undated("No sprint of the phase has both dates, so it has no days to chart.")


class CSVResponse(Response):
    """CSV text; Starlette adds ``; charset=utf-8`` to the content type."""

    media_type = "text/csv"


def _csv_responses(
    description: str, filename: str, errors: dict[int | str, dict[str, Any]]
) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": description,
            "headers": {
                "Content-Disposition": {
                    "description": f'For example: attachment; filename="{filename}"',
                    "schema": {"type": "string"},
                }
            },
        },
        **errors,
    }


_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9_.-]")


def _csv(text: str, key: str, name: str) -> CSVResponse:
    # The key matched a project, so it is already safe; filtered anyway, as it comes from
    # the path and ends up in a header.
    filename = _UNSAFE_FILENAME.sub("_", f"{key}-{name}.csv")
    return CSVResponse(text, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# Sprint burndown and burnup


@router.get(_SPRINT, responses=_NO_SPRINT_DATES, summary="A sprint's burndown and burnup")
async def read_burndown(
    key: ProjectKeyInPath, number: SprintNumber, session: DbSession, user: CurrentUser
) -> SprintBurndown:
    """Per day of the sprint, in the project's time zone: points remaining against the
    ideal line, points done against the scope, and the scope added or removed that day.
    Past days come from the activity history and never change; days after today have the
    ideal line only. A sprint needs both ``starts_on`` and ``ends_on`` (409 otherwise)."""
    return SprintBurndown.of(await analytics_service.sprint_burndown(session, user, key, number))


@router.get(
    _SPRINT + ".csv",
    response_class=CSVResponse,
    responses=_csv_responses(
        "day,ideal,remaining,done,scope,added,removed: one row per day of the sprint.",
        "PLAN-sprint-9-burndown.csv",
        _NO_SPRINT_DATES,
    ),
    summary="A sprint's burndown and burnup as CSV",
)
async def download_burndown(
    key: ProjectKeyInPath, number: SprintNumber, session: DbSession, user: CurrentUser
) -> CSVResponse:
    """The JSON route's days as CSV; the cells of days after today, but ``ideal``, are empty."""
    burndown = await analytics_service.sprint_burndown(session, user, key, number)
    return _csv(analytics_csv.burndown_csv(burndown), key, f"sprint-{number}-burndown")


# Velocity


@router.get(_VELOCITY, responses=problems(*_READ_ERRORS), summary="A project's velocity")
async def read_velocity(
    key: ProjectKeyInPath, session: DbSession, user: CurrentUser, last: Last = 6
) -> Velocity:
    """Committed vs completed points of the last ``last`` finished (``completed``) sprints
    by number, with the mean and spread (population standard deviation) of the completed
    points. Finished sprints without dates are listed in ``skipped``."""
    return Velocity.of(await analytics_service.velocity(session, user, key, last=last))


@router.get(
    _VELOCITY + ".csv",
    response_class=CSVResponse,
    responses=_csv_responses(
        "sprint,starts_on,ends_on,committed,completed: one row per sprint, oldest first.",
        "PLAN-velocity.csv",
        problems(*_READ_ERRORS),
    ),
    summary="A project's velocity as CSV",
)
async def download_velocity(
    key: ProjectKeyInPath, session: DbSession, user: CurrentUser, last: Last = 6
) -> CSVResponse:
    """The JSON route's sprints as CSV (the mean and spread are in the JSON)."""
    velocity = await analytics_service.velocity(session, user, key, last=last)
    return _csv(analytics_csv.velocity_csv(velocity), key, "velocity")


# Cumulative flow


@router.get(_FLOW, responses=_NO_PHASE_DATES, summary="A phase's cumulative flow")
async def read_cumulative_flow(
    key: ProjectKeyInPath, number: PhaseNumber, session: DbSession, user: CurrentUser
) -> CumulativeFlow:
    """Points and story counts per status per day, from the first start to the last end of
    the phase's dated sprints, up to today. Needs one sprint of the phase with dates (409
    otherwise)."""
    flow = await analytics_service.cumulative_flow(session, user, key, number)
    return CumulativeFlow.of(number, flow)


@router.get(
    _FLOW + ".csv",
    response_class=CSVResponse,
    responses=_csv_responses(
        "day, then points_<status> and stories_<status> for every status in workflow "
        "order: one row per day.",
        "PLAN-phase-2-cumulative-flow.csv",
        _NO_PHASE_DATES,
    ),
    summary="A phase's cumulative flow as CSV",
)
async def download_cumulative_flow(
    key: ProjectKeyInPath, number: PhaseNumber, session: DbSession, user: CurrentUser
) -> CSVResponse:
    """The JSON route's days as CSV."""
    flow = await analytics_service.cumulative_flow(session, user, key, number)
    return _csv(analytics_csv.cumulative_flow_csv(flow), key, f"phase-{number}-cumulative-flow")


# Forecast


@router.get(_FORECAST, responses=problems(*_READ_ERRORS), summary="A phase's forecast")
async def read_forecast(
    key: ProjectKeyInPath,
    number: PhaseNumber,
    session: DbSession,
    user: CurrentUser,
    seed: Seed = 0,
    trials: Trials = DEFAULT_TRIALS,
    history: History = None,
) -> Forecast:
    """When the phase's remaining points are done: P50 and P85 sprint and date from a
    seeded Monte Carlo run over the completed points of the finished sprints, set against
    the plan's end of the phase (its last sprint and weeks). With fewer than 3 finished
    sprints the status is ``not_enough_history`` and there are no percentiles."""
    forecast = await analytics_service.forecast(
        session, user, key, number, seed=seed, trials=trials, history=history
    )
    return Forecast.of(forecast)


@router.get(
    _FORECAST + ".csv",
    response_class=CSVResponse,
    responses=_csv_responses(
        "status,remaining_points,percentile,sprints,sprint_number,ends_on,weeks,"
        "planned_sprint,planned_weeks,weeks_late,on_track: one row per percentile (50, 85), "
        "or one row with the status alone when there is no forecast.",
        "PLAN-phase-2-forecast.csv",
        problems(*_READ_ERRORS),
    ),
    summary="A phase's forecast as CSV",
)
async def download_forecast(
    key: ProjectKeyInPath,
    number: PhaseNumber,
    session: DbSession,
    user: CurrentUser,
    seed: Seed = 0,
    trials: Trials = DEFAULT_TRIALS,
    history: History = None,
) -> CSVResponse:
    """The JSON route's percentiles as CSV."""
    forecast = await analytics_service.forecast(
        session, user, key, number, seed=seed, trials=trials, history=history
    )
    return _csv(analytics_csv.forecast_csv(forecast), key, f"phase-{number}-forecast")
