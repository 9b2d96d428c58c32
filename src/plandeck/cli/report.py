"""``plandeck report``: a sprint's burndown or the velocity of the last sprints, and the
forecast of a phase, in the terminal (or as JSON for scripts)."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from plandeck.cli.main import CommandError, _settings, _with_database, app, out

if TYPE_CHECKING:
    from plandeck.analytics.forecast import Forecast, ForecastPoint
    from plandeck.analytics.series import Burndown, Velocity


@dataclass(frozen=True, slots=True)
class Report:
    """What the command shows: ``burndown`` with ``--sprint``, ``velocity`` without; the
    ``forecast`` of phase ``phase`` unless the project has no phase to forecast."""

    project: str
    burndown: Burndown | None = None
    velocity: Velocity | None = None
    phase: int | None = None
    forecast: Forecast | None = None


async def _default_phase(session: Any, project: Any) -> int | None:
    """The phase of the latest sprint that has one, else the project's only phase."""
    from sqlalchemy import select

    from plandeck.models import Phase, Sprint

    live = (Phase.project_id == project.id, Phase.deleted_at.is_(None))
    latest: int | None = await session.scalar(
        select(Phase.number)
        .join(Sprint, Sprint.phase_id == Phase.id)
        .where(*live, Sprint.deleted_at.is_(None))
        .order_by(Sprint.number.desc())
        .limit(1)
    )
    if latest is not None:
        return latest
    numbers = list(await session.scalars(select(Phase.number).where(*live).limit(2)))
    return numbers[0] if len(numbers) == 1 else None


@app.command("report")
def report_command(
    project_key: Annotated[str, typer.Option("--project", help="Project key.")],
    sprint: Annotated[
        int | None,
        typer.Option(help="Show this sprint's burndown instead of the velocity.", min=0),
    ] = None,
    phase: Annotated[
        int | None,
        typer.Option(
            help="Forecast this phase (default: the latest sprint's phase, or the only one).",
            min=0,
            show_default=False,
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the Monte Carlo forecast.")] = 0,
    last: Annotated[
        int, typer.Option(help="How many finished sprints the velocity table shows.", min=1)
    ] = 6,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    user: Annotated[
        str | None, typer.Option(envvar="PLANDECK_USER", help="Email of the reading user.")
    ] = None,
) -> None:
    """Burndown (with --sprint) or velocity, and the forecast of a phase against the plan."""
    from plandeck.cli.plans import _actor

    settings = _settings()

    async def action(engine: Any) -> Report:
        from sqlalchemy import select

        from plandeck.analytics.service import analytics_service
        from plandeck.db import create_sessionmaker, unit_of_work
        from plandeck.models import Project
        from plandeck.plans.projects import project_service

        async with unit_of_work(create_sessionmaker(engine), read_only=True) as session:
            found = await session.scalar(select(Project).where(Project.key == project_key))
            if found is None:
                raise CommandError(f"no project {project_key!r}")
            actor = await _actor(session, found, user)
            project = await project_service.get(session, actor, project_key)
            burndown = velocity = None
            if sprint is not None:
                burndown = await analytics_service.sprint_burndown(
                    session, actor, project.key, sprint
                )
            else:
                velocity = await analytics_service.velocity(session, actor, project.key, last=last)
            number = phase if phase is not None else await _default_phase(session, project)
            forecast = None
            if number is not None:
                forecast = await analytics_service.forecast(
                    session, actor, project.key, number, seed=seed
                )
            return Report(project.key, burndown, velocity, number, forecast)

    report = asyncio.run(_with_database(settings, action))
    if as_json:
        sys.stdout.write(json.dumps(report_json(report), ensure_ascii=False, indent=2) + "\n")
        return
    if report.burndown is not None:
        out.print(burndown_table(report.burndown))
        out.print(burndown_summary(report.burndown), highlight=False)
    if report.velocity is not None:
        if report.velocity.sprints:
            out.print(velocity_table(report.velocity))
        out.print(velocity_summary(report.velocity), highlight=False)
    for line in forecast_lines(report.phase, report.forecast):
        out.print(line, highlight=False)


# Text


def _number(value: int | None) -> str:
    return "-" if value is None else str(value)


def _weeks(count: int) -> str:
    return f"{count} week{'' if count == 1 else 's'}"


def burndown_table(burndown: Burndown) -> Table:
    table = Table(
        "day",
        "ideal",
        "remaining",
        "done",
        "scope",
        "added",
        "removed",
        title=f"sprint {burndown.sprint_number} burndown",
    )
    for column in table.columns[1:]:
        column.justify = "right"
    for day in burndown.days:
        table.add_row(
            day.day.isoformat(),
            f"{day.ideal:.1f}",
            *(_number(v) for v in (day.remaining, day.done, day.scope, day.added, day.removed)),
        )
    return table


def burndown_summary(burndown: Burndown) -> str:
    span = f"sprint {burndown.sprint_number}, {burndown.starts_on} to {burndown.ends_on}"
    actual = [day for day in burndown.days if day.remaining is not None]
    if not actual:
        return f"{span}: not started yet"
    latest = actual[-1]
    added = sum(day.added or 0 for day in actual)
    removed = sum(day.removed or 0 for day in actual)
    return (
        f"{span}: committed {burndown.committed} points; on {latest.day} {latest.remaining} "
        f"remaining (ideal {latest.ideal:.1f}), {latest.done} done of {latest.scope}; "
        f"scope +{added} -{removed}"
        + (
            f"; {burndown.carried_over} carried over when it was completed"
            if burndown.carried_over
            else ""
        )
    )


def velocity_table(velocity: Velocity) -> Table:
    table = Table("sprint", "starts", "ends", "committed", "completed", title="velocity")
    for column in table.columns[3:]:
        column.justify = "right"
    for row in velocity.sprints:
        table.add_row(
            str(row.number),
            row.starts_on.isoformat(),
            row.ends_on.isoformat(),
            str(row.committed),
            str(row.completed),
        )
    return table


def velocity_summary(velocity: Velocity) -> str:
    skipped = (
        f"; left out for having no dates: sprint {', '.join(map(str, velocity.skipped))}"
        if velocity.skipped
        else ""
    )
    if velocity.mean is None or velocity.stdev is None:
        return f"velocity: no finished sprints with dates yet{skipped}"
    count = len(velocity.sprints)
    return (
        f"velocity: mean {velocity.mean:.1f} points, spread {velocity.stdev:.1f} over the last "
        f"{count} finished sprint{'' if count == 1 else 's'}{skipped}"
    )


def _point_line(point: ForecastPoint) -> str:
    line = f"P{point.percentile}: sprint {point.sprint_number}, ends {point.ends_on}"
    if point.weeks is not None:
        line += f" (weeks {point.weeks})"
    if point.weeks_late is not None:
        line += ": on track" if point.on_track else f": late by {_weeks(point.weeks_late)}"
    return line


def forecast_lines(phase: int | None, forecast: Forecast | None) -> list[str]:
    from plandeck.analytics.forecast import MIN_HISTORY, ForecastStatus

    if phase is None or forecast is None:
        return ["forecast: no phase to forecast (pass --phase N)"]
    head = f"forecast for phase {phase}: {forecast.remaining_points} points remaining"
    finished = len(forecast.history)
    plural = "" if finished == 1 else "s"
    if forecast.status is ForecastStatus.NOT_ENOUGH_HISTORY:
        return [
            f"{head}; not enough history for a forecast: {finished} finished sprint{plural}, "
            f"at least {MIN_HISTORY} needed"
        ]
    if forecast.status is ForecastStatus.DONE:
        return [f"{head}: the phase is done"]
    if forecast.status is ForecastStatus.NO_VELOCITY:
        return [f"{head}; no forecast: no finished sprint completed any points"]
    lines = [f"{head}, from {finished} finished sprint{plural} (seed {forecast.seed})"]
    if forecast.plan is not None:
        weeks = f", weeks {forecast.plan.weeks}" if forecast.plan.weeks else ""
        lines.append(f"plan: ends with sprint {forecast.plan.sprint_number}{weeks}")
    lines.extend(_point_line(point) for point in (forecast.p50, forecast.p85) if point)
    return lines


# JSON


def _burndown_json(burndown: Burndown) -> dict[str, Any]:
    return {
        "sprint": burndown.sprint_number,
        "starts_on": burndown.starts_on.isoformat(),
        "ends_on": burndown.ends_on.isoformat(),
        "committed": burndown.committed,
        "days": [
            {
                "day": day.day.isoformat(),
                "ideal": day.ideal,
                "remaining": day.remaining,
                "done": day.done,
                "scope": day.scope,
                "added": day.added,
                "removed": day.removed,
            }
            for day in burndown.days
        ],
    }


def _velocity_json(velocity: Velocity) -> dict[str, Any]:
    return {
        "sprints": [
            {
                "sprint": row.number,
                "starts_on": row.starts_on.isoformat(),
                "ends_on": row.ends_on.isoformat(),
                "committed": row.committed,
                "completed": row.completed,
            }
            for row in velocity.sprints
        ],
        "mean": velocity.mean,
        "stdev": velocity.stdev,
        "skipped": list(velocity.skipped),
    }


def _point_json(point: ForecastPoint | None) -> dict[str, Any] | None:
    if point is None:
        return None
    return {
        "sprints": point.sprints,
        "sprint": point.sprint_number,
        "ends_on": point.ends_on.isoformat(),
        "weeks": None if point.weeks is None else str(point.weeks),
        "weeks_late": point.weeks_late,
        "on_track": point.on_track,
    }


def _forecast_json(phase: int, forecast: Forecast) -> dict[str, Any]:
    plan = forecast.plan
    return {
        "phase": phase,
        "status": forecast.status.value,
        "remaining_points": forecast.remaining_points,
        "history": list(forecast.history),
        "trials": forecast.trials,
        "seed": forecast.seed,
        "sprint_days": forecast.sprint_days,
        "plan": None
        if plan is None
        else {
            "sprint": plan.sprint_number,
            "weeks": None if plan.weeks is None else str(plan.weeks),
        },
        "p50": _point_json(forecast.p50),
        "p85": _point_json(forecast.p85),
    }


def report_json(report: Report) -> dict[str, Any]:
    data: dict[str, Any] = {"project": report.project}
    if report.burndown is not None:
        data["burndown"] = _burndown_json(report.burndown)
    if report.velocity is not None:
        data["velocity"] = _velocity_json(report.velocity)
    data["forecast"] = (
        None
        if report.phase is None or report.forecast is None
        else _forecast_json(report.phase, report.forecast)
    )
    return data
