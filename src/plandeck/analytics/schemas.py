"""The API's view of the analytics results: ``SprintBurndown``, ``Velocity``,
``CumulativeFlow`` and ``Forecast``, each built from the service's dataclass by its
``of()`` classmethod (the dataclasses stay free of HTTP concerns)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, Field

from plandeck.analytics import forecast as fc
from plandeck.analytics import series
from plandeck.analytics.forecast import ForecastStatus
from plandeck.models import StoryStatus

# Burndown and burnup

_AFTER_TODAY = " Null for days after today."


class BurndownDay(BaseModel):
    """One day of a sprint. Burndown: ``remaining`` against ``ideal``; burnup: ``done``
    against ``scope``."""

    day: date = Field(examples=["2026-03-02"])
    ideal: float = Field(
        description="The committed points falling linearly to 0 on the sprint's last day.",
        examples=[6.0],
    )
    remaining: int | None = Field(
        description="Points in the sprint not done at the end of the day." + _AFTER_TODAY,
        examples=[5],
    )
    done: int | None = Field(
        description="Points in the sprint done at the end of the day." + _AFTER_TODAY,
        examples=[3],
    )
    scope: int | None = Field(
        description="Every point in the sprint at the end of the day (remaining + done)."
        + _AFTER_TODAY,
        examples=[8],
    )
    added: int | None = Field(
        description="Points that joined the sprint's scope that day (stories moved in, "
        "re-estimated up, restored); 0 on the first day, which is the commitment." + _AFTER_TODAY,
        examples=[2],
    )
    removed: int | None = Field(
        description="Points that left the sprint's scope that day (stories moved out, "
        "re-estimated down, trashed)." + _AFTER_TODAY,
        examples=[0],
    )


class SprintBurndown(BaseModel):
    """A sprint's burndown and burnup: one entry per calendar day (in the project's time
    zone) from ``starts_on`` to ``ends_on``, rebuilt from the activity history."""

    sprint_number: int = Field(examples=[9])
    starts_on: date = Field(examples=["2026-03-02"])
    ends_on: date = Field(examples=["2026-03-06"])
    committed: int = Field(
        description="Points in the sprint at the end of its first day.", examples=[8]
    )
    days: list[BurndownDay]
    carried_over: int = Field(
        default=0,
        description="Points of the unfinished stories the sprint's completion moved on. They "
        "count as remaining on its last day, not as scope removed.",
        examples=[3],
    )

    @classmethod
    def of(cls, burndown: series.Burndown) -> SprintBurndown:
        return cls(
            sprint_number=burndown.sprint_number,
            starts_on=burndown.starts_on,
            ends_on=burndown.ends_on,
            committed=burndown.committed,
            days=[
                BurndownDay(
                    day=d.day,
                    ideal=d.ideal,
                    remaining=d.remaining,
                    done=d.done,
                    scope=d.scope,
                    added=d.added,
                    removed=d.removed,
                )
                for d in burndown.days
            ],
            carried_over=burndown.carried_over,
        )


# Velocity


class SprintVelocity(BaseModel):
    number: int = Field(description="The sprint's number.", examples=[9])
    starts_on: date = Field(examples=["2026-03-02"])
    ends_on: date = Field(examples=["2026-03-13"])
    committed: int = Field(
        description="Points in the sprint at the end of its first day.", examples=[21]
    )
    completed: int = Field(
        description="Points in the sprint and done at the end of its last day.", examples=[18]
    )


class Velocity(BaseModel):
    """Committed vs completed points of the last finished (``completed``) sprints."""

    sprints: list[SprintVelocity] = Field(description="Oldest first, by sprint number.")
    mean: float | None = Field(
        description="The mean of the completed points; null without sprints.", examples=[17.5]
    )
    spread: float | None = Field(
        description="The population standard deviation of the completed points; null "
        "without sprints.",
        examples=[2.5],
    )
    skipped: list[int] = Field(
        description="Numbers of finished sprints among the last N left out for having no "
        "start or end date.",
        examples=[[4]],
    )

    @classmethod
    def of(cls, velocity: series.Velocity) -> Velocity:
        return cls(
            sprints=[
                SprintVelocity(
                    number=s.number,
                    starts_on=s.starts_on,
                    ends_on=s.ends_on,
                    committed=s.committed,
                    completed=s.completed,
                )
                for s in velocity.sprints
            ],
            mean=velocity.mean,
            spread=velocity.stdev,
            skipped=list(velocity.skipped),
        )


# Cumulative flow

PerStatus = Annotated[
    dict[StoryStatus, int],
    Field(
        description="Every status, in workflow order.",
        examples=[
            {"draft": 3, "approved": 5, "in_progress": 8, "review": 2, "done": 13, "blocked": 0}
        ],
    ),
]


class FlowDay(BaseModel):
    day: date = Field(examples=["2026-03-02"])
    points: PerStatus
    stories: PerStatus


class CumulativeFlow(BaseModel):
    """Points and story counts per status per day over a phase: from the first start to
    the last end of its dated sprints, up to today. A phase's stories are those of the
    phase or in one of its sprints."""

    phase_number: int = Field(examples=[2])
    first: date = Field(description="The range's first day.", examples=["2026-03-02"])
    last: date = Field(
        description="The range's last day (the series stops at today).",
        examples=["2026-04-10"],
    )
    days: list[FlowDay]

    @classmethod
    def of(cls, phase_number: int, flow: series.CumulativeFlow) -> CumulativeFlow:
        return cls(
            phase_number=phase_number,
            first=flow.first,
            last=flow.last,
            days=[
                FlowDay(day=d.day, points=dict(d.points), stories=dict(d.stories))
                for d in flow.days
            ],
        )


# Forecast

_STATUS_DETAIL = {
    ForecastStatus.FORECAST: "Forecast from {n} finished sprints.",
    ForecastStatus.DONE: "Nothing remains to be done in the phase.",
    ForecastStatus.NOT_ENOUGH_HISTORY: (
        "Not enough history: {n} finished sprints with dates; a forecast needs at least "
        f"{fc.MIN_HISTORY}."
    ),
    ForecastStatus.NO_VELOCITY: "No finished sprint completed any points: no velocity to "
    "forecast from.",
}


class PlanTarget(BaseModel):
    """Where the plan says the phase ends: its last sprint and that sprint's weeks."""

    sprint_number: int = Field(examples=[11])
    weeks: str | None = Field(
        description="The plan's week label of that sprint, when it has one.", examples=["5-6"]
    )


class ForecastPoint(BaseModel):
    percentile: int = Field(examples=[50])
    sprints: int = Field(description="How many more sprints.", examples=[3])
    sprint_number: int = Field(description="The sprint that finishes the phase.", examples=[12])
    ends_on: date = Field(description="When that sprint ends.", examples=["2026-05-08"])
    weeks: str | None = Field(
        description="The plan's week label shifted by the weeks late; null without a plan "
        "target with weeks.",
        examples=["7-8"],
    )
    weeks_late: int | None = Field(
        description="Weeks behind the plan's target (0 or less: on track); null without a "
        "plan target.",
        examples=[2],
    )
    on_track: bool | None = Field(
        description="weeks_late <= 0; null without a plan target.", examples=[False]
    )


class Forecast(BaseModel):
    """A seeded Monte Carlo forecast of when a phase's remaining points are done, from the
    completed points of the project's finished sprints. Only ``status == "forecast"`` has
    ``p50`` and ``p85``; with fewer than 3 finished sprints the status is
    ``not_enough_history`` and no numbers are invented."""

    status: ForecastStatus = Field(examples=["forecast"])
    detail: str = Field(
        description="The status in words.", examples=["Forecast from 4 finished sprints."]
    )
    remaining_points: int = Field(
        description="Points of the phase's stories not done at the end of today.",
        examples=[34],
    )
    history: list[int] = Field(
        description="The completed points sampled, oldest sprint first.", examples=[[13, 8, 11]]
    )
    trials: int = Field(examples=[10000])
    seed: int = Field(examples=[0])
    sprint_days: int | None = Field(
        description="The assumed length of a future sprint in days (the median of the "
        "history's); null without a forecast.",
        examples=[14],
    )
    plan: PlanTarget | None = Field(
        description="The plan's end of the phase; null when the phase has no sprints."
    )
    p50: ForecastPoint | None
    p85: ForecastPoint | None

    @classmethod
    def of(cls, forecast: fc.Forecast) -> Forecast:
        plan = forecast.plan
        return cls(
            status=forecast.status,
            detail=_STATUS_DETAIL[forecast.status].format(n=len(forecast.history)),
            remaining_points=forecast.remaining_points,
            history=list(forecast.history),
            trials=forecast.trials,
            seed=forecast.seed,
            sprint_days=forecast.sprint_days,
            plan=None
            if plan is None
            else PlanTarget(sprint_number=plan.sprint_number, weeks=_weeks(plan.weeks)),
            p50=_point(forecast.p50),
            p85=_point(forecast.p85),
        )


def _weeks(span: fc.WeekSpan | None) -> str | None:
    return None if span is None else str(span)


def _point(point: fc.ForecastPoint | None) -> ForecastPoint | None:
    if point is None:
        return None
    return ForecastPoint(
        percentile=point.percentile,
        sprints=point.sprints,
        sprint_number=point.sprint_number,
        ends_on=point.ends_on,
        weeks=_weeks(point.weeks),
        weeks_late=point.weeks_late,
        on_track=point.on_track,
    )
