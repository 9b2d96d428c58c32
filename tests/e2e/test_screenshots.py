"""The sample plan's board and story page in both languages, as the README shows them."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.api.live import Caller, LiveServer
from tests.e2e.conftest import import_fixture, log_in

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("locale", ["en", "fa"])
def test_board_and_story_of_the_sample_plan(
    browser: Browser, server: LiveServer, user: Caller, screenshots_dir: Path, locale: str
) -> None:
    key = import_fixture(server, user)
    api = user.client
    # A sprint in motion: one story done, one in progress, a task ticked.
    assert api.post(f"/projects/{key}/stories/9.1/move", json={"status": "done"}).is_success
    assert api.post(f"/projects/{key}/stories/9.2/move", json={"status": "in_progress"}).is_success
    assert api.patch("/users/me", json={"locale": locale}).status_code == 200
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale=locale)
    try:
        page = log_in(context, server, user)
        page.goto(f"{server.base_url}/projects/{key}/sprints/9")
        assert page.locator("html").get_attribute("dir") == ("rtl" if locale == "fa" else "ltr")
        assert page.get_by_text("Database Connection & Migration").is_visible()
        page.screenshot(path=screenshots_dir / f"readme-board-{locale}.png", full_page=True)
        page.goto(f"{server.base_url}/projects/{key}/stories/9.1")
        assert page.get_by_role("heading", level=1).is_visible()
        page.screenshot(path=screenshots_dir / f"readme-story-{locale}.png", full_page=True)
    finally:
        context.close()
