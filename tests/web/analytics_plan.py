"""A project with an analytics history, made through the API of a live server: what the page
tests (tests/web) and the browser tests (tests/e2e) of the analytics pages look at.

Every event happens today (the server's clock; the project's zone is UTC), so the finished
sprints are one-day sprints of today and the phase's chart has one day so far.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tests.api.live import Caller

# Phase 1's stories: in sprint 1, 5 points done, 3 draft, 2 in progress.
PHASE_STORIES = (("1.1", 5, "done"), ("1.2", 3, "draft"), ("1.3", 2, "in_progress"))
# The finished sprints' stories: completed 8, 4 and 6 points (sprint 2 committed 10).
FINISHED = {
    2: (("2.1", 8, "done"), ("2.2", 2, "draft")),
    3: (("3.1", 4, "done"),),
    4: (("4.1", 6, "done"),),
}


@dataclass
class AnalyticsPlan:
    """Phase 1 "Build": active sprint 1 over five days from today, and sprint 5 (weeks 9-10,
    no dates), the plan's end of the phase. Finished one-day sprints 2, 3 and 4 outside the
    phase, and phase 2 "Polish" whose only sprint, 6, has no dates.

    The forecast of phase 1: 5 points remain; from 8, 4 and 6, P50 is one more sprint
    (sprint 5: on track) and P85 two (sprint 6: late by 1 week, weeks 10-11)."""

    key: str
    today: date


def _post(caller: Caller, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = caller.client.post(path, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _stories(caller: Caller, key: str, sprint_id: int, stories: Any) -> None:
    for story_key, points, status in stories:
        _post(
            caller,
            f"/projects/{key}/stories",
            {
                "key": story_key,
                "title": f"Story {story_key}",
                "points": points,
                "sprint_id": sprint_id,
            },
        )
        if status != "draft":
            moved = caller.client.post(
                f"/projects/{key}/stories/{story_key}/move", json={"status": status}
            )
            assert moved.status_code == 200, moved.text


def analytics_plan(owner: Caller, key: str) -> AnalyticsPlan:
    """Fill project ``key`` (made by ``owner``) with the plan described by ``AnalyticsPlan``."""
    today = datetime.now(UTC).date()
    build = _post(owner, f"/projects/{key}/phases", {"number": 1, "title": "Build"})
    polish = _post(owner, f"/projects/{key}/phases", {"number": 2, "title": "Polish"})

    def sprint(number: int, **fields: Any) -> int:
        body = {"number": number, "name": f"S{number}", **fields}
        return int(_post(owner, f"/projects/{key}/sprints", body)["id"])

    active = sprint(
        1,
        phase_id=build["id"],
        status="active",
        weeks="1-2",
        starts_on=today.isoformat(),
        ends_on=(today + timedelta(days=4)).isoformat(),
    )
    one_day = {"status": "completed", "starts_on": today.isoformat(), "ends_on": today.isoformat()}
    finished = {number: sprint(number, **one_day) for number in FINISHED}
    sprint(5, phase_id=build["id"], weeks="9-10")
    sprint(6, phase_id=polish["id"])
    _stories(owner, key, active, PHASE_STORIES)
    for number, stories in FINISHED.items():
        _stories(owner, key, finished[number], stories)
    return AnalyticsPlan(key, today)
