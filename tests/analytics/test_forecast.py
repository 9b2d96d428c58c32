from __future__ import annotations

import math
from datetime import date, timedelta
from random import Random

import pytest

from plandeck.analytics.forecast import (
    MAX_SPRINTS,
    Forecast,
    ForecastPoint,
    ForecastStatus,
    PlanTarget,
    WeekSpan,
    forecast_sprints,
    simulate,
)
from plandeck.analytics.series import SprintVelocity
from plandeck.errors import InvalidInput

FIRST_START = date(2026, 1, 5)


def history(*completed: int) -> list[SprintVelocity]:
    """Two-week sprints numbered from 1, back to back from Monday 5 January 2026."""
    return [
        SprintVelocity(
            number,
            number,
            FIRST_START + timedelta(days=14 * (number - 1)),
            FIRST_START + timedelta(days=14 * number - 1),
            0,
            points,
        )
        for number, points in enumerate(completed, start=1)
    ]


class TestForecast:
    def test_a_huge_remainder_stops_at_the_horizon(self) -> None:
        # 10**9 points at one point a sprint would take 10**9 draws a trial.
        counts = simulate(10**9, [1, 1, 1], trials=50, rng=Random(1))
        assert counts == [MAX_SPRINTS] * 50

    def test_trials_follow_the_exact_distribution(self) -> None:
        # One sprint in four completes 10 points, the others nothing; 10 points left: a
        # trial takes k sprints or fewer with probability 1 - 0.75**k (0.578 for 3, 0.822
        # for 6, 0.867 for 7), so P50 is 3 and P85 is 7. The trials share one stream of
        # draws; a trial that used another's would skew this.
        counts = simulate(10, [0, 0, 0, 10], trials=10_000, rng=Random(3))
        for k, probability in ((1, 0.25), (3, 1 - 0.75**3), (7, 1 - 0.75**7)):
            share = sum(count <= k for count in counts) / len(counts)
            assert share == pytest.approx(probability, abs=0.015)
        assert (counts[4_999], counts[8_499]) == (3, 7)

    def test_fixed_seed_gives_fixed_percentiles(self) -> None:
        # Completed 5, 10, 15, 8 (mean 9.5); 40 points left: about 4.2 sprints on average.
        result = forecast_sprints(
            40, history(5, 10, 15, 8), plan=PlanTarget(8, WeekSpan(13, 14)), seed=42
        )
        assert result.status is ForecastStatus.FORECAST
        assert result.sprint_days == 14
        # Sprint 4 ended on 1 March; P50: 5 more sprints -> sprint 9, 70 days later, 10 May.
        # Against sprint 8 (weeks 13-14): one sprint of 2 weeks late -> weeks 15-16.
        assert result.p50 == ForecastPoint(50, 5, 9, date(2026, 5, 10), WeekSpan(15, 16), 2)
        assert result.p85 == ForecastPoint(85, 6, 10, date(2026, 5, 24), WeekSpan(17, 18), 4)
        assert result.p50.on_track is False
        again = forecast_sprints(
            40, history(5, 10, 15, 8), plan=PlanTarget(8, WeekSpan(13, 14)), seed=42
        )
        assert again == result

    def test_constant_velocity_gives_the_arithmetic_answer(self) -> None:
        result = forecast_sprints(
            25, history(10, 10, 10), plan=PlanTarget(7, WeekSpan(13, 14)), seed=7
        )
        sprints = math.ceil(25 / 10)  # 3
        assert result.p50 is not None
        assert result.p85 is not None
        assert result.p50.sprints == result.p85.sprints == sprints
        # Sprint 3 ended on 15 February; 3 more: sprint 6, 42 days later, 29 March.
        assert result.p50.sprint_number == 6
        assert result.p50.ends_on == date(2026, 3, 29)
        # Sprint 6 against sprint 7: one sprint (2 weeks) early: on track, weeks 11-12.
        assert result.p50.weeks_late == -2
        assert result.p50.weeks == WeekSpan(11, 12)
        assert result.p50.on_track is True

    @pytest.mark.parametrize(("remaining", "velocity"), [(1, 7), (30, 10), (31, 10), (100, 3)])
    def test_constant_velocity_for_any_remainder(self, remaining: int, velocity: int) -> None:
        result = forecast_sprints(remaining, history(velocity, velocity, velocity, velocity))
        assert result.p85 is not None
        assert result.p85.sprints == math.ceil(remaining / velocity)

    def test_fewer_than_three_finished_sprints_is_not_enough_history(self) -> None:
        result = forecast_sprints(40, history(10, 12), seed=1)
        assert result == Forecast(ForecastStatus.NOT_ENOUGH_HISTORY, 40, (10, 12), 10_000, 1)
        assert result.p50 is None
        assert result.p85 is None

    def test_nothing_remaining_is_done(self) -> None:
        assert forecast_sprints(0, history(1, 2, 3)).status is ForecastStatus.DONE

    def test_no_completed_points_is_no_velocity(self) -> None:
        result = forecast_sprints(5, history(0, 0, 0))
        assert result.status is ForecastStatus.NO_VELOCITY
        assert result.p50 is None

    def test_without_a_plan_there_is_no_lateness(self) -> None:
        result = forecast_sprints(20, history(10, 10, 10))
        # 20 / 10 = 2 more sprints after sprint 3 (ended 15 February): sprint 5, 15 March.
        assert result.p50 == ForecastPoint(50, 2, 5, date(2026, 3, 15))
        assert result.p50.on_track is None

    def test_trials_must_be_positive(self) -> None:
        with pytest.raises(InvalidInput):
            forecast_sprints(5, history(1, 2, 3), trials=0)


class TestWeekSpan:
    @pytest.mark.parametrize(
        ("label", "span"),
        [("5-6", WeekSpan(5, 6)), (" 3 ", WeekSpan(3, 3)), ("11 \u2013 12", WeekSpan(11, 12))],
    )
    def test_parse(self, label: str, span: WeekSpan) -> None:
        assert WeekSpan.parse(label) == span

    @pytest.mark.parametrize("label", [None, "", "weeks", "5-"])
    def test_unreadable_label(self, label: str | None) -> None:
        assert WeekSpan.parse(label) is None

    def test_str(self) -> None:
        assert (str(WeekSpan(5, 6)), str(WeekSpan(3, 3))) == ("5-6", "3")
