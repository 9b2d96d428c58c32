"""A team lead's first sprint in plandeck, from the browser alone, start to finish."""

from __future__ import annotations

import uuid

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.api.live import LiveServer
from tests.e2e.conftest import FIXTURE
from tests.e2e.pages import ProjectPage
from tests.e2e.pages_admin import ImportPage, NewProjectPage, SignupPage
from tests.e2e.pages_board import SprintBoardPage
from tests.e2e.pages_story import StoryPage

pytestmark = pytest.mark.slow
PASSWORD = "a sprint from the browser"


def test_sign_up_import_work_the_sprint_export_and_log_out(
    browser: Browser, server: LiveServer
) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    base = server.base_url
    email = f"lead-{uuid.uuid4().hex[:8]}@example.com"
    key = f"J{uuid.uuid4().hex[:5].upper()}"
    try:
        SignupPage(page, base).open().sign_up("Lead", email, PASSWORD)
        page.wait_for_url(base + "/")
        NewProjectPage(page, base).open().create(key, "Phase 3")
        page.wait_for_url(f"{base}/projects/{key}")

        importer = ImportPage(page, base).open(key)
        importer.preview(FIXTURE)
        expect(page.get_by_role("button", name="Confirm import")).to_be_visible()
        importer.confirm()
        page.wait_for_url(f"{base}/projects/{key}")
        project = ProjectPage(page)
        assert len(project.sprint_headings()) == 3
        assert project.story_rows().count() == 8

        board = SprintBoardPage(page, base).open(key, 9)
        done_before = board.done_points()
        board.drag("9.1", to="done")
        page.reload()
        assert board.keys("done") == ["9.1"]
        assert int(board.done_points()) == int(done_before) + 8

        story = StoryPage(page, base, key, "9.1").open()
        task = story.task("Setup database connection")
        task.click()
        expect(story.progress()).to_contain_text("1 of 5")
        page.reload()
        assert story.task("Setup database connection").is_checked()
        story.edit(points="13").save()
        expect(story.saved_notice()).to_be_visible()
        story.add_comment("Connected to PostgreSQL 15 on **staging**.")
        expect(story.comment_bodies().first).to_contain_text("staging")
        history = " | ".join(story.history())
        for change in ("status from Draft to Done", "points from 8 to 13", "commented"):
            assert change in history

        page.goto(f"{base}/projects/{key}")
        exported = ImportPage(page, base).download_markdown()
        downloaded = exported.path().read_text(encoding="utf-8")
        with httpx.Client(base_url=base, timeout=30) as api:
            token = api.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
            from_api = api.get(
                f"/api/v1/projects/{key}/export.md",
                headers={"Authorization": f"Bearer {token.json()['access_token']}"},
            )
        assert downloaded == from_api.text
        assert "#### Story 9.1: Database Connection & Migration (13 pts)" in downloaded
        assert "**Status:** Done" in downloaded.split("Story 9.1:", 1)[1].split("#### Story", 1)[0]

        page.get_by_role("button", name="Log out").click()
        page.wait_for_url("**/login")
        page.goto(f"{base}/projects/{key}/sprints/9")
        page.wait_for_url(f"**/login?next=/projects/{key}/sprints/9")
        assert dialogs == []
    finally:
        context.close()
