"""The analytics results as CSV (RFC 4180: a header row, CRLF line ends), one row per day
or per sprint, for spreadsheets. Empty cells stand for null (days after today)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from plandeck.analytics.forecast import Forecast, ForecastPoint
from plandeck.analytics.series import Burndown, CumulativeFlow, Velocity
from plandeck.models import StoryStatus

Cell = str | int | float | None


def _write(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows([["" if cell is None else cell for cell in row] for row in rows])
    return buffer.getvalue()


def _number(value: float | None) -> str | None:
    """At most two decimals, no trailing zeros: 6.666... -> "6.67", 6.0 -> "6"."""
    if value is None:
        return None
    return f"{value:.2f}".rstrip("0").rstrip(".")


def burndown_csv(burndown: Burndown) -> str:
    return _write(
        ("day", "ideal", "remaining", "done", "scope", "added", "removed"),
        (
            (d.day.isoformat(), _number(d.ideal), d.remaining, d.done, d.scope, d.added, d.removed)
            for d in burndown.days
        ),
    )


def velocity_csv(velocity: Velocity) -> str:
    """One row per measured sprint; the mean and spread are in the JSON."""
    return _write(
        ("sprint", "starts_on", "ends_on", "committed", "completed"),
        (
            (s.number, s.starts_on.isoformat(), s.ends_on.isoformat(), s.committed, s.completed)
            for s in velocity.sprints
        ),
    )


def cumulative_flow_csv(flow: CumulativeFlow) -> str:
    """``points_<status>`` then ``stories_<status>`` columns, statuses in workflow order."""
    statuses = list(StoryStatus)
    header = [
        "day",
        *(f"points_{s.value}" for s in statuses),
        *(f"stories_{s.value}" for s in statuses),
    ]
    return _write(
        header,
        (
            (
                d.day.isoformat(),
                *(d.points.get(s, 0) for s in statuses),
                *(d.stories.get(s, 0) for s in statuses),
            )
            for d in flow.days
        ),
    )


_FORECAST_HEADER = (
    "status",
    "remaining_points",
    "percentile",
    "sprints",
    "sprint_number",
    "ends_on",
    "weeks",
    "planned_sprint",
    "planned_weeks",
    "weeks_late",
    "on_track",
)


def forecast_csv(forecast: Forecast) -> str:
    """One row per percentile (P50, P85); without a forecast (not enough history, nothing
    remaining, no velocity) a single row with the status and empty percentile cells."""
    plan = forecast.plan
    planned = (
        plan.sprint_number if plan else None,
        str(plan.weeks) if plan and plan.weeks else None,
    )
    points = [p for p in (forecast.p50, forecast.p85) if p is not None]

    def _row(point: ForecastPoint | None) -> tuple[Cell, ...]:
        head = (forecast.status.value, forecast.remaining_points)
        if point is None:
            return (*head, None, None, None, None, None, *planned, None, None)
        on_track = None if point.on_track is None else str(point.on_track).lower()
        return (
            *head,
            point.percentile,
            point.sprints,
            point.sprint_number,
            point.ends_on.isoformat(),
            str(point.weeks) if point.weeks else None,
            *planned,
            point.weeks_late,
            on_track,
        )

    return _write(_FORECAST_HEADER, [_row(p) for p in points] or [_row(None)])
