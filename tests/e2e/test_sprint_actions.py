"""Completing a sprint and starting the next one with the board's forms in Chromium."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Browser, expect

from tests.api.live import Caller, LiveServer
from tests.e2e.axe import severe_violations
from tests.e2e.conftest import log_in
from tests.e2e.pages_board import SprintBoardPage

pytestmark = pytest.mark.slow


def test_completing_a_sprint_then_starting_the_next_with_the_boards_forms(
    server: LiveServer, user: Caller, browser: Browser
) -> None:
    key = server.project(user)["key"]
    today = datetime.now(UTC).date()
    sprint_ids = {}
    for number, fields in (
        (1, {"status": "active", "starts_on": (today - timedelta(days=2)).isoformat()}),
        (2, {}),
    ):
        created = user.client.post(
            f"/projects/{key}/sprints", json={"number": number, "name": f"S{number}", **fields}
        )
        assert created.status_code == 201, created.text
        sprint_ids[number] = created.json()["id"]
    stories = {}
    for title, points, status in (("Alpha", 3, "draft"), ("Gamma", 2, "done")):
        created = user.client.post(
            f"/projects/{key}/stories",
            json={"title": title, "points": points, "status": status, "sprint_id": sprint_ids[1]},
        )
        assert created.status_code == 201, created.text
        stories[title] = created.json()["key"]
    # axe is injected as an inline script, which the CSP rightly refuses.
    context = browser.new_context(bypass_csp=True)
    try:
        board = SprintBoardPage(log_in(context, server, user), server.base_url).open(key, 1)
        board.open_form(board.complete_form())
        assert severe_violations(board.page) == []
        board.complete_sprint(carry_over_to="2")
        expect(board.notice()).to_have_text(
            "Sprint 1 completed: 1 story (2 points) done, 1 story (3 points) moved to sprint 2."
        )
        assert board.sprint_status() == "Completed"
        expect(board.complete_form()).to_have_count(0)
        assert (board.keys("draft"), board.keys("done")) == ([], [stories["Gamma"]])

        board.open(key, 2)
        assert board.keys("draft") == [stories["Alpha"]]
        board.open_form(board.start_form())
        assert severe_violations(board.page) == []
        board.start_sprint()
        expect(board.notice()).to_contain_text("Sprint 2 started")
        assert board.sprint_status() == "Active"
    finally:
        context.close()
