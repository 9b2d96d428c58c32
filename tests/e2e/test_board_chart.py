"""The sprint's burndown chart on the board in Chromium: it follows a drag to Done."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.api.live import Caller, LiveServer
from tests.e2e.pages_board import SprintBoardPage

pytestmark = pytest.mark.slow


def _dated_sprint(server: LiveServer, owner: Caller) -> tuple[str, dict[str, str]]:
    """Sprint 1 (active, five days from today in the project's zone, UTC) with Alpha (3
    points), Beta (5) and Gamma (2, done): the project's key and the stories' keys."""
    key = server.project(owner)["key"]
    today = datetime.now(UTC).date()
    sprint = owner.client.post(
        f"/projects/{key}/sprints",
        json={
            "number": 1,
            "name": "Chart sprint",
            "status": "active",
            "starts_on": today.isoformat(),
            "ends_on": (today + timedelta(days=4)).isoformat(),
        },
    )
    assert sprint.status_code == 201, sprint.text
    stories = {}
    for title, points, status in (
        ("Alpha", 3, "draft"),
        ("Beta", 5, "draft"),
        ("Gamma", 2, "done"),
    ):
        created = owner.client.post(
            f"/projects/{key}/stories",
            json={
                "title": title,
                "points": points,
                "status": status,
                "sprint_id": sprint.json()["id"],
            },
        )
        assert created.status_code == 201, created.text
        stories[title] = created.json()["key"]
    return key, stories


def _chart(page: Page) -> dict[str, str | None]:
    """Today's remaining points as the chart and its numbers table give them."""
    svg = page.locator("svg.chart-burndown")
    numbers = page.locator("#burndown-today td[data-remaining]")
    return {"svg": svg.get_attribute("data-remaining"), "table": numbers.text_content()}


def test_the_burndown_chart_on_the_board_updates_after_a_story_is_moved_to_done(
    server: LiveServer, user: Caller, user_page: Page, screenshots_dir: Path
) -> None:
    key, stories = _dated_sprint(server, user)
    board = SprintBoardPage(user_page, server.base_url).open(key, 1)
    expect(user_page.locator("svg.chart-burndown")).to_be_visible()
    assert _chart(user_page) == {"svg": "8", "table": "8"}

    # The numbers are one click away.
    numbers = user_page.locator("#burndown details")
    numbers.locator("summary").click()
    expect(user_page.locator("#burndown-today td[data-remaining]")).to_be_visible()
    user_page.screenshot(path=screenshots_dir / "board-burndown-en.png", full_page=True)
    numbers.locator("summary").click()

    board.drag(stories["Beta"], to="done")
    assert board.done_points() == "7"
    assert _chart(user_page) == {"svg": "3", "table": "3"}
    user_page.reload()
    assert _chart(user_page) == {"svg": "3", "table": "3"}


def test_in_persian_the_chart_keeps_time_left_to_right(
    server: LiveServer, user: Caller, user_page: Page, screenshots_dir: Path
) -> None:
    key, _ = _dated_sprint(server, user)
    assert user.client.patch("/users/me", json={"locale": "fa"}).status_code == 200
    SprintBoardPage(user_page, server.base_url).open(key, 1)
    expect(user_page.locator("html")).to_have_attribute("dir", "rtl")
    svg = user_page.locator("svg.chart-burndown")
    expect(svg).to_have_attribute("dir", "ltr")
    # The first day's tick is left of the last one's (the points' ticks are 0, 3, ... 12).
    ticks = svg.locator("text.chart-tick")
    first, last = ticks.get_by_text("1", exact=True), ticks.get_by_text("5", exact=True)
    first_box, last_box = first.bounding_box(), last.bounding_box()
    assert first_box is not None
    assert last_box is not None
    assert first_box["x"] < last_box["x"]
    user_page.locator("#burndown summary").click()
    user_page.screenshot(path=screenshots_dir / "board-burndown-fa.png", full_page=True)
