"""Analytics over HTTP against a real server: burndown, velocity, cumulative flow, forecast,
their CSV downloads, and the errors (401, 404 for a stranger, 409 for a sprint without dates).

Every event happens today (the server's clock, the project in UTC), so the exact values
asserted are today's: the first day of the active sprint, the only day of the finished ones.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.api.live import Caller, LiveServer
from tests.api.numbered import create, problem

pytestmark = pytest.mark.slow


@dataclass
class Plan:
    """A project with phase 1 (active sprint 1 over five days from today), finished
    one-day sprints 2 and 3 outside the phase, and finished sprint 4 without dates."""

    owner: Caller
    viewer: Caller
    key: str
    today: date


def _story(caller: Caller, key: str, story_key: str, points: int, sprint_id: int) -> None:
    body = {"key": story_key, "title": f"Story {story_key}", "points": points}
    response = caller.client.post(f"/projects/{key}/stories", json={**body, "sprint_id": sprint_id})
    assert response.status_code == 201, response.text


def _move(caller: Caller, key: str, story_key: str, status: str) -> None:
    response = caller.client.post(
        f"/projects/{key}/stories/{story_key}/move", json={"status": status}
    )
    assert response.status_code == 200, response.text


def _sprint(caller: Caller, key: str, number: int, **fields: Any) -> int:
    sprint = create(caller, key, "sprints", {"number": number, "name": f"S{number}", **fields})
    return int(sprint["id"])


def _today() -> date:
    return datetime.now(UTC).date()


@pytest.fixture(scope="module")
def plan(live: LiveServer) -> Iterator[Plan]:
    opened_before = len(live._clients)
    owner = live.signup("analyst")
    key = str(live.project(owner)["key"])
    today = _today()
    phase = create(owner, key, "phases", {"number": 1, "title": "Build"})
    active = _sprint(
        owner,
        key,
        1,
        phase_id=phase["id"],
        status="active",
        weeks="1-2",
        starts_on=today.isoformat(),
        ends_on=(today + timedelta(days=4)).isoformat(),
    )
    one_day = {"status": "completed", "starts_on": today.isoformat(), "ends_on": today.isoformat()}
    second = _sprint(owner, key, 2, **one_day)
    third = _sprint(owner, key, 3, **one_day)
    _sprint(owner, key, 4, status="completed")
    for story_key, points, sprint_id in (
        ("1.1", 5, active),
        ("1.2", 3, active),
        ("1.3", 2, active),
        ("2.1", 8, second),
        ("2.2", 2, second),
        ("3.1", 4, third),
    ):
        _story(owner, key, story_key, points, sprint_id)
    _move(owner, key, "1.1", "done")
    _move(owner, key, "1.3", "in_progress")
    _move(owner, key, "2.1", "done")
    _move(owner, key, "3.1", "done")
    viewer = live.member(owner, key, "viewer", "viewer")
    # The module's clients live as long as the module, not one test.
    mine = live._clients[opened_before:]
    del live._clients[opened_before:]
    yield Plan(owner, viewer, key, today)
    for client in mine:
        client.close()


def _json(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    return body


def _csv(response: httpx.Response, filename: str) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == f'attachment; filename="{filename}"'
    return list(csv.reader(io.StringIO(response.text)))


def _skip_if_the_day_changed(plan: Plan) -> None:
    if _today() != plan.today:
        pytest.skip("the day changed (UTC midnight) since the events were written")


class TestBurndown:
    def test_today_and_the_days_after(self, plan: Plan) -> None:
        _skip_if_the_day_changed(plan)
        body = _json(plan.viewer.client.get(f"/projects/{plan.key}/sprints/1/burndown"))
        days = [plan.today + timedelta(days=offset) for offset in range(5)]
        assert (body["sprint_number"], body["starts_on"], body["ends_on"]) == (
            1,
            days[0].isoformat(),
            days[-1].isoformat(),
        )
        # 1.1 (5) done, 1.2 (3) and 1.3 (2) not: all committed on the first day.
        assert body["committed"] == 10
        assert [day["day"] for day in body["days"]] == [d.isoformat() for d in days]
        assert [day["ideal"] for day in body["days"]] == [10, 7.5, 5, 2.5, 0]
        assert body["days"][0] == {
            "day": days[0].isoformat(),
            "ideal": 10,
            "remaining": 5,
            "done": 5,
            "scope": 10,
            "added": 0,
            "removed": 0,
        }
        for later in body["days"][1:]:
            assert {k: v for k, v in later.items() if k not in ("day", "ideal")} == dict.fromkeys(
                ("remaining", "done", "scope", "added", "removed")
            )

    def test_csv_has_a_row_per_day(self, plan: Plan) -> None:
        _skip_if_the_day_changed(plan)
        response = plan.owner.client.get(f"/projects/{plan.key}/sprints/1/burndown.csv")
        rows = _csv(response, f"{plan.key}-sprint-1-burndown.csv")
        assert rows[0] == ["day", "ideal", "remaining", "done", "scope", "added", "removed"]
        assert rows[1] == [plan.today.isoformat(), "10", "5", "5", "10", "0", "0"]
        assert rows[2] == [(plan.today + timedelta(days=1)).isoformat(), "7.5", "", "", "", "", ""]
        assert len(rows) == 1 + 5

    def test_sprint_without_dates_is_a_conflict(self, plan: Plan) -> None:
        for suffix in ("", ".csv"):
            response = plan.owner.client.get(f"/projects/{plan.key}/sprints/4/burndown{suffix}")
            assert "no start or end date" in problem(response, 409)["detail"]

    def test_unknown_sprint_is_not_found(self, plan: Plan) -> None:
        response = plan.owner.client.get(f"/projects/{plan.key}/sprints/99/burndown")
        assert "sprint 99" in problem(response, 404)["detail"]


class TestVelocity:
    def test_finished_sprints_with_mean_and_spread(self, plan: Plan) -> None:
        _skip_if_the_day_changed(plan)
        body = _json(plan.viewer.client.get(f"/projects/{plan.key}/velocity"))
        today = plan.today.isoformat()
        assert body == {
            "sprints": [
                {
                    "number": 2,
                    "starts_on": today,
                    "ends_on": today,
                    "committed": 10,
                    "completed": 8,
                },
                {
                    "number": 3,
                    "starts_on": today,
                    "ends_on": today,
                    "committed": 4,
                    "completed": 4,
                },
            ],
            "mean": 6,
            "spread": 2,
            "skipped": [4],
        }

    def test_last_limits_the_sprints(self, plan: Plan) -> None:
        body = _json(plan.owner.client.get(f"/projects/{plan.key}/velocity", params={"last": 1}))
        # The last finished sprint by number is 4, which has no dates.
        assert (body["sprints"], body["mean"], body["spread"], body["skipped"]) == (
            [],
            None,
            None,
            [4],
        )

    def test_last_below_one_is_invalid(self, plan: Plan) -> None:
        response = plan.owner.client.get(f"/projects/{plan.key}/velocity", params={"last": 0})
        problem(response, 422)

    def test_csv_has_a_row_per_sprint(self, plan: Plan) -> None:
        _skip_if_the_day_changed(plan)
        rows = _csv(
            plan.owner.client.get(f"/projects/{plan.key}/velocity.csv"),
            f"{plan.key}-velocity.csv",
        )
        today = plan.today.isoformat()
        assert rows == [
            ["sprint", "starts_on", "ends_on", "committed", "completed"],
            ["2", today, today, "10", "8"],
            ["3", today, today, "4", "4"],
        ]


class TestCumulativeFlow:
    def test_points_and_stories_per_status(self, plan: Plan) -> None:
        _skip_if_the_day_changed(plan)
        body = _json(plan.viewer.client.get(f"/projects/{plan.key}/phases/1/cumulative-flow"))
        assert (body["phase_number"], body["first"], body["last"]) == (
            1,
            plan.today.isoformat(),
            (plan.today + timedelta(days=4)).isoformat(),
        )
        statuses = ["draft", "approved", "in_progress", "review", "done", "blocked"]
        zero = dict.fromkeys(statuses, 0)
        assert body["days"] == [
            {
                "day": plan.today.isoformat(),
                "points": {**zero, "draft": 3, "in_progress": 2, "done": 5},
                "stories": {**zero, "draft": 1, "in_progress": 1, "done": 1},
            }
        ]
        assert list(body["days"][0]["points"]) == statuses

    def test_csv_has_a_column_per_status(self, plan: Plan) -> None:
        _skip_if_the_day_changed(plan)
        rows = _csv(
            plan.owner.client.get(f"/projects/{plan.key}/phases/1/cumulative-flow.csv"),
            f"{plan.key}-phase-1-cumulative-flow.csv",
        )
        assert rows[0][:3] == ["day", "points_draft", "points_approved"]
        assert dict(zip(rows[0], rows[1], strict=True)) | {"day": "today"} == {
            "day": "today",
            **{f"points_{s}": "0" for s in ("approved", "review", "blocked")},
            **{f"stories_{s}": "0" for s in ("approved", "review", "blocked")},
            "points_draft": "3",
            "points_in_progress": "2",
            "points_done": "5",
            "stories_draft": "1",
            "stories_in_progress": "1",
            "stories_done": "1",
        }
        assert rows[1][0] == plan.today.isoformat()
        assert len(rows) == 2

    def test_phase_without_dated_sprints_is_a_conflict(self, plan: Plan) -> None:
        create(plan.owner, plan.key, "phases", {"number": 2, "title": "Later"})
        response = plan.owner.client.get(f"/projects/{plan.key}/phases/2/cumulative-flow")
        problem(response, 409)

    def test_unknown_phase_is_not_found(self, plan: Plan) -> None:
        response = plan.owner.client.get(f"/projects/{plan.key}/phases/99/cumulative-flow")
        assert "phase 99" in problem(response, 404)["detail"]


class TestForecast:
    def test_fewer_than_three_sprints_is_not_enough_history(self, plan: Plan) -> None:
        _skip_if_the_day_changed(plan)
        body = _json(plan.viewer.client.get(f"/projects/{plan.key}/phases/1/forecast"))
        assert body["status"] == "not_enough_history"
        assert "Not enough history" in body["detail"]
        # 1.2 (3) and 1.3 (2) are not done; the history is sprints 2 and 3 (4 has no dates).
        assert (body["remaining_points"], body["history"]) == (5, [8, 4])
        assert body["plan"] == {"sprint_number": 1, "weeks": "1-2"}
        assert (body["p50"], body["p85"], body["sprint_days"]) == (None, None, None)
        assert (body["seed"], body["trials"]) == (0, 10_000)

    def test_csv_says_not_enough_history(self, plan: Plan) -> None:
        _skip_if_the_day_changed(plan)
        rows = _csv(
            plan.owner.client.get(f"/projects/{plan.key}/phases/1/forecast.csv"),
            f"{plan.key}-phase-1-forecast.csv",
        )
        assert rows[0][:3] == ["status", "remaining_points", "percentile"]
        assert rows[1:] == [["not_enough_history", "5", "", "", "", "", "", "1", "1-2", "", ""]]

    def test_constant_velocity_gives_the_exact_answer(
        self, live: LiveServer, alice: Caller
    ) -> None:
        key = str(live.project(alice)["key"])
        today = _today()
        dates = {"starts_on": today.isoformat(), "ends_on": today.isoformat()}
        for number in (1, 2, 3):
            sprint_id = _sprint(alice, key, number, status="completed", **dates)
            _story(alice, key, f"{number}.1", 5, sprint_id)
            _move(alice, key, f"{number}.1", "done")
        phase = create(alice, key, "phases", {"number": 1, "title": "Next"})
        planned = _sprint(alice, key, 4, phase_id=phase["id"], weeks="3")
        _story(alice, key, "4.1", 8, planned)
        _story(alice, key, "4.2", 4, planned)
        if _today() != today:
            pytest.skip("the day changed (UTC midnight) while the history was written")

        params = {"seed": 7, "trials": 500}
        body = _json(alice.client.get(f"/projects/{key}/phases/1/forecast", params=params))
        # 12 points at 5 a sprint: 3 more one-day sprints after sprint 3, whatever the draws.
        point = {
            "sprints": 3,
            "sprint_number": 6,
            "ends_on": (today + timedelta(days=3)).isoformat(),
            "weeks": "5",  # the plan's week 3, 2 one-week sprints later
            "weeks_late": 2,
            "on_track": False,
        }
        assert body == {
            "status": "forecast",
            "detail": "Forecast from 3 finished sprints.",
            "remaining_points": 12,
            "history": [5, 5, 5],
            "trials": 500,
            "seed": 7,
            "sprint_days": 1,
            "plan": {"sprint_number": 4, "weeks": "3"},
            "p50": {"percentile": 50, **point},
            "p85": {"percentile": 85, **point},
        }
        rows = _csv(
            alice.client.get(f"/projects/{key}/phases/1/forecast.csv", params=params),
            f"{key}-phase-1-forecast.csv",
        )
        ends_on = point["ends_on"]
        assert rows[1:] == [
            ["forecast", "12", "50", "3", "6", ends_on, "5", "4", "3", "2", "false"],
            ["forecast", "12", "85", "3", "6", ends_on, "5", "4", "3", "2", "false"],
        ]

    def test_trials_out_of_range_are_invalid(self, plan: Plan) -> None:
        for trials in (0, 1_000_000):
            response = plan.owner.client.get(
                f"/projects/{plan.key}/phases/1/forecast", params={"trials": trials}
            )
            problem(response, 422)


class TestAccess:
    PATHS = (
        "/sprints/1/burndown",
        "/sprints/1/burndown.csv",
        "/velocity",
        "/velocity.csv",
        "/phases/1/cumulative-flow",
        "/phases/1/cumulative-flow.csv",
        "/phases/1/forecast",
        "/phases/1/forecast.csv",
    )

    def test_stranger_gets_not_found(self, live: LiveServer, plan: Plan) -> None:
        stranger = live.signup("stranger")
        for path in self.PATHS:
            response = stranger.client.get(f"/projects/{plan.key}{path}")
            assert plan.key in problem(response, 404)["detail"], path

    def test_without_a_token_is_unauthenticated(self, live: LiveServer, plan: Plan) -> None:
        with live.anonymous() as client:
            for path in self.PATHS:
                problem(client.get(f"/projects/{plan.key}{path}"), 401)
