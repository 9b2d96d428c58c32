"""plandeck report, run as a user runs it, on the imported phase 3 fixture with dated sprints
and a few stories moved (events dated on chosen days relative to today)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.analytics.forecast import (
    Forecast,
    ForecastPoint,
    ForecastStatus,
    PlanTarget,
    WeekSpan,
)
from plandeck.analytics.series import Burndown, BurndownDay
from plandeck.auth.users import user_service
from plandeck.cli.report import burndown_summary, forecast_lines
from plandeck.db import create_sessionmaker, unit_of_work
from plandeck.models import Project, SprintStatus, StoryStatus, User
from plandeck.plans.schemas import SprintUpdate, StoryMove
from plandeck.plans.sprints import sprint_service
from plandeck.plans.stories import story_service
from tests.conftest import SHARED
from tests.databases import TestDatabase
from tests.factories.accounts import make_user
from tests.history import EventClock
from tests.processes import env_for, run_cli

FIXTURE = SHARED / "fixtures" / "phase3-plan.md"
LEAD = "lead@example.com"


@dataclass(frozen=True)
class Deck:
    env: dict[str, str]
    workdir: Path
    today: date

    def report(self, *args: str) -> tuple[int, str, str]:
        result = run_cli("report", "--project", "P3", *args, env=self.env, cwd=self.workdir)
        return result.returncode, result.stdout, result.stderr


async def _plan_the_sprints(database: TestDatabase, today: date) -> None:
    """Sprint 9 finished (today-10 to today-4: 9.1 and 9.2 done, 9.3 not), sprint 10 active
    (today-3 to today+3: 10.1 done on day 2, 11.1 moved in on day 3, 10.3 moved to the
    backlog today), sprint 11 without dates."""
    async with unit_of_work(create_sessionmaker(database.engine)) as session:
        project = await session.scalar(select(Project).where(Project.key == "P3"))
        assert project is not None
        lead = await _lead(session)
        clock = EventClock(session)
        await clock.stamp(today - timedelta(days=12))  # the import
        for number, status, first, last in (
            (9, SprintStatus.COMPLETED, -10, -4),
            (10, SprintStatus.ACTIVE, -3, 3),
        ):
            sprint = await sprint_service.get_by_number(session, lead, project, number)
            dates = SprintUpdate(
                status=status,
                starts_on=today + timedelta(days=first),
                ends_on=today + timedelta(days=last),
            )
            await sprint_service.update(session, lead, project, sprint.id, dates)
        await clock.stamp(today - timedelta(days=11))

        async def move(key: str, day: int, data: StoryMove) -> None:
            await story_service.move(session, lead, project, key, data)
            if day:
                await clock.stamp(today + timedelta(days=day))

        done = StoryMove(status=StoryStatus.DONE)
        await move("9.1", -8, done)
        await move("9.2", -5, done)
        await move("10.1", -2, done)
        await move("11.1", -1, StoryMove(sprint=10))
        await move("10.3", 0, StoryMove(sprint=None))  # today, at the real time


async def _lead(session: AsyncSession) -> User:
    lead = await user_service.get_by_email(session, LEAD)
    assert lead is not None
    return lead


@pytest.fixture(scope="module")
async def deck(
    database: TestDatabase, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Deck]:
    workdir = tmp_path_factory.mktemp("report")
    db = await database.copy(workdir)
    async with unit_of_work(create_sessionmaker(db.engine)) as session:
        await make_user(session, email=LEAD, name="Lead")
    env = env_for(db.url, workdir)
    imported = run_cli(
        "import", str(FIXTURE), "--project", "P3", "--user", LEAD, env=env, cwd=workdir
    )
    assert imported.returncode == 0, imported.stderr
    today = datetime.now(UTC).date()  # the project's zone is UTC
    await _plan_the_sprints(db, today)
    yield Deck(env, workdir, today)
    await db.engine.dispose()


def _rows(stdout: str, first: str) -> list[list[str]]:
    """The cells of the table rows whose first cell starts with ``first``."""
    rows = []
    for line in stdout.splitlines():
        cells = [cell for cell in re.split(r"[\s│┃|]+", line) if cell]
        if cells and cells[0].startswith(first):
            rows.append(cells)
    return rows


@pytest.mark.slow
class TestReport:
    def test_sprint_burndown_table(self, deck: Deck) -> None:
        code, stdout, stderr = deck.report("--sprint", "10")
        assert code == 0, stderr
        days = [(deck.today + timedelta(days=offset)).isoformat() for offset in range(-3, 4)]
        rows = [row for row in _rows(stdout, "20") if row[0] in days]
        assert rows == [
            [days[0], "21.0", "21", "0", "21", "0", "0"],
            [days[1], "17.5", "13", "8", "21", "0", "0"],  # 10.1 done
            [days[2], "14.0", "18", "8", "26", "5", "0"],  # 11.1 moved in
            [days[3], "10.5", "13", "8", "21", "0", "5"],  # 10.3 to the backlog
            [days[4], "7.0", "-", "-", "-", "-", "-"],
            [days[5], "3.5", "-", "-", "-", "-", "-"],
            [days[6], "0.0", "-", "-", "-", "-", "-"],
        ]
        assert (
            f"sprint 10, {days[0]} to {days[6]}: committed 21 points; on {days[3]} 13 "
            "remaining (ideal 10.5), 8 done of 21; scope +5 -5"
        ) in stdout
        # Without --phase: the latest sprint's phase, with a single finished sprint.
        assert (
            "forecast for phase 3: 28 points remaining; not enough history for a forecast: "
            "1 finished sprint, at least 3 needed"
        ) in stdout
        assert "velocity" not in stdout

    def test_velocity_without_sprint(self, deck: Deck) -> None:
        code, stdout, stderr = deck.report()
        assert code == 0, stderr
        nine = [(deck.today + timedelta(days=offset)).isoformat() for offset in (-10, -4)]
        assert _rows(stdout, "9") == [["9", *nine, "21", "16"]]
        assert "velocity: mean 16.0 points, spread 0.0 over the last 1 finished sprint" in stdout
        assert "not enough history" in stdout
        assert "burndown" not in stdout

    def test_json_burndown_and_forecast(self, deck: Deck) -> None:
        code, stdout, stderr = deck.report("--sprint", "10", "--json")
        assert code == 0, stderr
        data = json.loads(stdout)
        assert data["project"] == "P3"
        assert "velocity" not in data
        burndown = data["burndown"]
        assert (burndown["sprint"], burndown["committed"]) == (10, 21)
        assert burndown["starts_on"] == (deck.today - timedelta(days=3)).isoformat()
        assert [
            (d["ideal"], d["remaining"], d["done"], d["scope"], d["added"], d["removed"])
            for d in burndown["days"]
        ] == [
            (21.0, 21, 0, 21, 0, 0),
            (17.5, 13, 8, 21, 0, 0),
            (14.0, 18, 8, 26, 5, 0),
            (10.5, 13, 8, 21, 0, 5),
            (7.0, None, None, None, None, None),
            (3.5, None, None, None, None, None),
            (0.0, None, None, None, None, None),
        ]
        assert data["forecast"] == {
            "phase": 3,
            "status": "not_enough_history",
            "remaining_points": 28,
            "history": [16],
            "trials": 10_000,
            "seed": 0,
            "sprint_days": None,
            "plan": {"sprint": 11, "weeks": "5-6"},
            "p50": None,
            "p85": None,
        }

    def test_json_velocity_with_phase_and_seed(self, deck: Deck) -> None:
        code, stdout, stderr = deck.report("--json", "--phase", "3", "--seed", "7", "--last", "2")
        assert code == 0, stderr
        data = json.loads(stdout)
        assert "burndown" not in data
        assert data["velocity"] == {
            "sprints": [
                {
                    "sprint": 9,
                    "starts_on": (deck.today - timedelta(days=10)).isoformat(),
                    "ends_on": (deck.today - timedelta(days=4)).isoformat(),
                    "committed": 21,
                    "completed": 16,
                }
            ],
            "mean": 16.0,
            "stdev": 0.0,
            "skipped": [],
        }
        assert (data["forecast"]["phase"], data["forecast"]["seed"]) == (3, 7)

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (("--project", "NOPE"), "error: no project 'NOPE'"),
            (("--sprint", "12"), "error: sprint 12 not found in project P3"),
            (("--phase", "7"), "error: phase 7 not found in project P3"),
            (
                ("--sprint", "11"),
                "error: sprint 11 has no start or end date; set both to chart it",
            ),
            (
                ("--user", "nobody@example.com"),
                "error: no user nobody@example.com: create one with `plandeck user create`",
            ),
        ],
        ids=["project", "sprint", "phase", "undated-sprint", "user"],
    )
    def test_errors_are_one_line(self, deck: Deck, args: tuple[str, ...], message: str) -> None:
        code, stdout, stderr = deck.report(*args)
        assert code == 1
        assert stderr.splitlines() == [message]
        assert stdout == ""


def _point(percentile: int, sprints: int, weeks_late: int) -> ForecastPoint:
    return ForecastPoint(
        percentile,
        sprints,
        11 + sprints - 2,
        date(2026, 12, 1) + timedelta(days=14 * sprints),
        WeekSpan(5, 6).shifted(weeks_late),
        weeks_late,
    )


class TestText:
    """The wording of what the database scenario above does not reach."""

    def test_forecast_on_track_and_late(self) -> None:
        forecast = Forecast(
            ForecastStatus.FORECAST,
            30,
            (10, 12, 8),
            10_000,
            4,
            sprint_days=14,
            plan=PlanTarget(11, WeekSpan(5, 6)),
            p50=_point(50, 2, 0),
            p85=_point(85, 3, 2),
        )
        assert forecast_lines(3, forecast) == [
            "forecast for phase 3: 30 points remaining, from 3 finished sprints (seed 4)",
            "plan: ends with sprint 11, weeks 5-6",
            "P50: sprint 11, ends 2026-12-29 (weeks 5-6): on track",
            "P85: sprint 12, ends 2027-01-12 (weeks 7-8): late by 2 weeks",
        ]

    def test_forecast_without_plan_or_phase(self) -> None:
        bare = ForecastPoint(50, 1, 4, date(2026, 12, 1))
        forecast = Forecast(ForecastStatus.FORECAST, 5, (5, 5, 5), 100, 0, 7, None, bare, bare)
        assert forecast_lines(1, forecast)[1:] == ["P50: sprint 4, ends 2026-12-01"] * 2
        assert forecast_lines(None, None) == ["forecast: no phase to forecast (pass --phase N)"]

    def test_forecast_done_and_no_velocity(self) -> None:
        done = Forecast(ForecastStatus.DONE, 0, (1, 2, 3), 100, 0)
        idle = Forecast(ForecastStatus.NO_VELOCITY, 9, (0, 0, 0), 100, 0)
        assert forecast_lines(2, done) == [
            "forecast for phase 2: 0 points remaining: the phase is done"
        ]
        assert forecast_lines(2, idle) == [
            "forecast for phase 2: 9 points remaining; no forecast: no finished sprint "
            "completed any points"
        ]

    def test_sprint_not_started(self) -> None:
        day = BurndownDay(date(2026, 12, 1), 0.0, None, None, None, None, None)
        burndown = Burndown(4, date(2026, 12, 1), date(2026, 12, 1), 0, (day,))
        assert burndown_summary(burndown) == "sprint 4, 2026-12-01 to 2026-12-01: not started yet"

    def test_completed_sprint_names_what_it_carried_over(self) -> None:
        days = (
            BurndownDay(date(2026, 12, 1), 8.0, 8, 0, 8, 0, 0),
            BurndownDay(date(2026, 12, 2), 0.0, 3, 5, 8, 0, 0),
        )
        burndown = Burndown(4, date(2026, 12, 1), date(2026, 12, 2), 8, days, carried_over=3)
        assert burndown_summary(burndown) == (
            "sprint 4, 2026-12-01 to 2026-12-02: committed 8 points; on 2026-12-02 3 remaining "
            "(ideal 0.0), 5 done of 8; scope +0 -0; 3 carried over when it was completed"
        )
