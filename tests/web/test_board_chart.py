"""The burndown chart on the sprint board over HTTP (real server): the SVG and the numbers
behind it, their change after a move, and the note for a sprint without dates."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.api.live import Caller, LiveServer

pytestmark = pytest.mark.slow

NOTE = "Give the sprint start and end dates to see its burndown."


def _sprint_with_stories(live: LiveServer, owner: Caller, **dates: str) -> tuple[str, str]:
    """Sprint 1 with Alpha (3 points), Beta (5) and Gamma (2, done): the board's path and
    Beta's key."""
    key = live.project(owner)["key"]
    created = owner.client.post(
        f"/projects/{key}/sprints", json={"number": 1, "name": "Chart sprint", **dates}
    )
    assert created.status_code == 201, created.text
    sprint: dict[str, Any] = created.json()
    keys = {}
    for title, points, status in (
        ("Alpha", 3, "draft"),
        ("Beta", 5, "draft"),
        ("Gamma", 2, "done"),
    ):
        story = owner.client.post(
            f"/projects/{key}/stories",
            json={"title": title, "points": points, "status": status, "sprint_id": sprint["id"]},
        )
        assert story.status_code == 201, story.text
        keys[title] = story.json()["key"]
    return f"/projects/{key}/sprints/1", keys["Beta"]


def _dated(live: LiveServer, owner: Caller) -> tuple[str, str]:
    """A five-day sprint starting today (the project's zone is UTC)."""
    today = datetime.now(UTC).date()
    return _sprint_with_stories(
        live,
        owner,
        starts_on=today.isoformat(),
        ends_on=(today + timedelta(days=4)).isoformat(),
    )


def _svg(page: str) -> str:
    found = re.search(r"<svg [^>]*chart-burndown.*?</svg>", page, re.S)
    assert found, "the page has no burndown chart"
    return found.group(0)


def _today_row(page: str) -> list[str]:
    found = re.search(r'<tr id="burndown-today">(.*?)</tr>', page, re.S)
    assert found, "the numbers have no row for today"
    return [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(r"<t[hd][^>]*>.*?</t[hd]>", found.group(1), re.S)
    ]


class TestBoardBurndown:
    def test_a_dated_sprint_shows_the_chart_and_its_numbers(
        self, live: LiveServer, alice: Caller
    ) -> None:
        path, _ = _dated(live, alice)
        page = live.browser_for(alice).get(path)
        assert page.status_code == 200
        svg = _svg(page.text)
        assert 'role="img"' in svg
        assert 'dir="ltr"' in svg
        assert 'data-remaining="8"' in svg
        assert "10 points committed, 8 remaining today." in svg
        assert "<summary>Numbers</summary>" in page.text
        # Day, date, ideal, remaining, done, scope, added, removed.
        day, _date, ideal, remaining, done, scope, added, removed = _today_row(page.text)
        assert (day, ideal, remaining, done, scope, added, removed) == (
            "1",
            "10",
            "8",
            "2",
            "10",
            "0",
            "0",
        )
        assert page.text.count("not yet") == 4
        assert NOTE not in page.text
        # The chart comes before the columns.
        assert page.text.index("chart-burndown") < page.text.index('data-status="draft"')

    def test_the_numbers_follow_a_move_to_done(self, live: LiveServer, alice: Caller) -> None:
        path, beta = _dated(live, alice)
        client = live.browser_for(alice)
        page = client.get(path)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        moved = client.post(
            path.rsplit("/sprints/", 1)[0] + "/board/move",
            data={"csrf_token": token.group(1), "story": beta, "status": "done"},
        )
        assert moved.status_code == 303, moved.text
        after = client.get(path).text
        assert 'data-remaining="3"' in _svg(after)
        assert _today_row(after)[3] == "3"

    def test_a_sprint_without_dates_shows_a_note(self, live: LiveServer, alice: Caller) -> None:
        path, _ = _sprint_with_stories(live, alice)
        page = live.browser_for(alice).get(path)
        assert page.status_code == 200
        assert NOTE in page.text
        assert "chart-burndown" not in page.text
        assert "burndown-today" not in page.text

    def test_in_persian_the_chart_keeps_time_left_to_right(
        self, live: LiveServer, alice: Caller
    ) -> None:
        path, _ = _dated(live, alice)
        assert alice.client.patch("/users/me", json={"locale": "fa"}).status_code == 200
        page = live.browser_for(alice).get(path)
        assert 'dir="rtl"' in page.text
        assert 'dir="ltr"' in _svg(page.text)
        assert 'data-remaining="8"' in _svg(page.text)
