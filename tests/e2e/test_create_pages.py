"""Creating a sprint and a story in Chromium: the backlog's new sprint form, then the new
story page reached from the sprint's board."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.api.live import Caller, LiveServer
from tests.e2e.axe import severe_violations
from tests.e2e.conftest import log_in
from tests.e2e.pages_board import BacklogPage, SprintBoardPage
from tests.e2e.pages_story import StoryPage

pytestmark = pytest.mark.slow


def test_creating_a_sprint_then_a_story_in_it_from_the_pages(
    server: LiveServer, user: Caller, browser: Browser
) -> None:
    key = server.project(user)["key"]
    # axe is injected as an inline script, which the CSP rightly refuses.
    context = browser.new_context(bypass_csp=True)
    try:
        page = log_in(context, server, user)
        backlog = BacklogPage(page, server.base_url).open(key)
        form = backlog.open_form(backlog.new_sprint_form())
        expect(form.locator('[name="number"]')).to_have_value("1")
        assert severe_violations(page) == []
        backlog.create_sprint(name="Polish", goal="Ship the board")
        assert page.url == f"{server.base_url}/projects/{key}/sprints/1"

        board = SprintBoardPage(page, server.base_url)
        new = board.new_story()
        assert new.chosen_sprint() == "Sprint 1: Polish (Planned)"
        assert severe_violations(page) == []
        new.edit(title="Drag cards", points="3", priority="High").create()
        story = StoryPage(page, server.base_url, key, "1.1")
        assert page.url == story.url
        expect(story.heading()).to_contain_text("Drag cards")

        backlog.open(key)
        assert backlog.keys("1") == ["1.1"]
        assert backlog.keys("backlog") == []
    finally:
        context.close()
