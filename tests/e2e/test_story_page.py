"""The story page in Chromium against a server on PostgreSQL: edit, tasks, comments,
history, a stale edit from a second browser, and user text that must stay text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Dialog, Page, expect

from tests.api.live import Caller, LiveServer
from tests.e2e.axe import severe_violations
from tests.e2e.conftest import log_in
from tests.e2e.pages_story import StoryPage

pytestmark = pytest.mark.slow

XSS_IMG = "<img src=x onerror=alert(1)>"
XSS_SCRIPT = "<script>alert(1)</script>"
XSS_LINK = "[x](javascript:alert(1))"


def _story(server: LiveServer, user: Caller, **fields: Any) -> tuple[str, dict[str, Any]]:
    key = server.project(user)["key"]
    created = user.client.post(
        f"/projects/{key}/stories",
        json={"title": "Keyboard moves on the board", "points": 3, **fields},
    )
    assert created.status_code == 201, created.text
    story: dict[str, Any] = created.json()
    return key, story


def _api_story(user: Caller, key: str, story_key: str) -> dict[str, Any]:
    body: dict[str, Any] = user.client.get(f"/projects/{key}/stories/{story_key}").json()
    return body


def test_edit_a_story_and_see_it_saved(
    user_page: Page, server: LiveServer, user: Caller, screenshots_dir: Path
) -> None:
    key, story = _story(server, user, description="Cards move with **arrows**")
    page = StoryPage(user_page, server.base_url, key, story["key"]).open()
    expect(page.description().locator("strong")).to_have_text("arrows")
    page.edit(
        title="Move cards with the keyboard",
        points="5",
        status="Done",
        priority="High",
        moscow="Must have",
        assignee="e2e",
        description="Arrows *and* Enter",
    )
    page.save()
    expect(page.saved_notice()).to_be_visible()
    user_page.reload()
    expect(page.heading()).to_contain_text("Move cards with the keyboard")
    expect(page.field("Points")).to_have_value("5")
    expect(page.field("Status")).to_have_value("done")
    expect(page.field("Priority")).to_have_value("high")
    expect(page.field("MoSCoW")).to_have_value("must")
    expect(page.field("Assignee")).to_have_value(str(user.user["id"]))
    expect(page.description().locator("em")).to_have_text("and")
    saved = _api_story(user, key, story["key"])
    assert (saved["title"], saved["points"], saved["status"]) == (
        "Move cards with the keyboard",
        5,
        "done",
    )
    history = page.history()
    assert "e2e changed status from Draft to Done" in history[0]
    assert "e2e changed points from 3 to 5" in history[0]
    assert history[-1].startswith("e2e created the story")
    user_page.screenshot(path=screenshots_dir / "story-en.png", full_page=True)


def test_invalid_input_is_shown_next_to_the_field(
    user_page: Page, server: LiveServer, user: Caller
) -> None:
    key, story = _story(server, user)
    page = StoryPage(user_page, server.base_url, key, story["key"]).open()
    page.edit(title=" ", points="-2")
    page.save()
    title, points = page.field("Title"), page.field("Points")
    expect(title).to_have_attribute("aria-invalid", "true")
    expect(points).to_have_attribute("aria-invalid", "true")
    expect(user_page.locator("#title-error")).to_have_text(
        "Enter a title of at most 500 characters."
    )
    expect(points).to_have_accessible_description(
        "Points must be a whole number from 0 to 1000, or empty."
    )
    expect(points).to_have_value("-2")
    assert _api_story(user, key, story["key"])["title"] == "Keyboard moves on the board"


def test_tick_a_task_without_reload_and_it_persists(
    user_page: Page, server: LiveServer, user: Caller
) -> None:
    key, story = _story(server, user)
    for text in ("Write the handler", "Test it"):
        added = user.client.post(
            f"/projects/{key}/stories/{story['key']}/tasks", json={"text": text}
        )
        assert added.status_code == 201, added.text
    page = StoryPage(user_page, server.base_url, key, story["key"]).open()
    expect(page.progress()).to_have_text("0 of 2 done")
    # A marker on the window survives only if the page is not reloaded.
    user_page.evaluate("window.__stillHere = true")
    page.task("Test it").click()
    expect(page.task("Test it")).to_have_attribute("aria-checked", "true")
    expect(page.progress()).to_have_text("1 of 2 done")
    assert user_page.evaluate("window.__stillHere") is True
    user_page.reload()
    expect(page.task("Test it")).to_have_attribute("aria-checked", "true")
    expect(page.task("Write the handler")).to_have_attribute("aria-checked", "false")
    # And off again.
    page.task("Test it").click()
    expect(page.task("Test it")).to_have_attribute("aria-checked", "false")
    user_page.reload()
    expect(page.task("Test it")).to_have_attribute("aria-checked", "false")


def test_add_reorder_and_delete_tasks(user_page: Page, server: LiveServer, user: Caller) -> None:
    key, story = _story(server, user)
    page = StoryPage(user_page, server.base_url, key, story["key"]).open()
    for text in ("One", "Two", "Three"):
        page.add_task(text)
    assert page.task_texts() == ["One", "Two", "Three"]
    page.move_task("Three", "up")
    assert page.task_texts() == ["One", "Three", "Two"]
    page.move_task("One", "down")
    assert page.task_texts() == ["Three", "One", "Two"]
    page.delete_task("One")
    assert page.task_texts() == ["Three", "Two"]
    tasks = user.client.get(f"/projects/{key}/stories/{story['key']}/tasks").json()
    assert [task["text"] for task in tasks] == ["Three", "Two"]


def test_add_a_comment_and_see_it_in_the_history(
    user_page: Page, server: LiveServer, user: Caller
) -> None:
    key, story = _story(server, user)
    page = StoryPage(user_page, server.base_url, key, story["key"]).open()
    expect(page.comments()).to_have_count(0)
    page.add_comment("Looks **right** to me")
    expect(page.comments()).to_have_count(1)
    expect(page.comment_bodies().first.locator("strong")).to_have_text("right")
    expect(page.comments().first).to_contain_text("e2e")
    assert page.history()[0].startswith("e2e commented")
    # Its author rewrites it in place: the edit form opens under the comment.
    page.edit_comment(0, "Looks *fine* to me")
    expect(page.comments()).to_have_count(1)
    expect(page.comment_bodies().first.locator("em")).to_have_text("fine")
    expect(page.comment_bodies().first).not_to_contain_text("right")
    assert page.history()[0].startswith("e2e edited a comment")


def test_a_stale_save_from_a_second_browser_gets_the_conflict_and_loses_nothing(
    browser: Browser, server: LiveServer, user: Caller
) -> None:
    key, story = _story(server, user)
    colleague = server.member(user, key, "member", name="grace")
    first_context, second_context = browser.new_context(), browser.new_context()
    try:
        first = StoryPage(
            log_in(first_context, server, user), server.base_url, key, story["key"]
        ).open()
        second = StoryPage(
            log_in(second_context, server, colleague), server.base_url, key, story["key"]
        ).open()
        first.edit(title="Title from the first", status="Review")
        first.save()
        expect(first.saved_notice()).to_be_visible()

        second.edit(title="Title from the second", points="8")
        second.save()
        conflict = second.conflict()
        expect(conflict).to_be_visible()
        expect(conflict).to_contain_text("Someone else changed this story while you were editing")
        # What the second user typed is still in the form...
        expect(second.field("Title")).to_have_value("Title from the second")
        expect(second.field("Points")).to_have_value("8")
        # ...beside the values saved now.
        expect(second.conflict_row("title").locator(".yours")).to_have_text("Title from the second")
        expect(second.conflict_row("title").locator(".current")).to_have_text(
            "Title from the first"
        )
        expect(second.conflict_row("points")).to_contain_text("8")
        saved = _api_story(user, key, story["key"])
        assert (saved["title"], saved["points"], saved["status"]) == (
            "Title from the first",
            3,
            "review",
        )
        # Saving again, now knowingly, replaces the first user's values with the form's.
        second.save()
        expect(second.saved_notice()).to_be_visible()
        saved = _api_story(user, key, story["key"])
        assert (saved["title"], saved["points"]) == ("Title from the second", 8)
    finally:
        first_context.close()
        second_context.close()


def test_markup_from_users_is_text_and_runs_nothing(
    user_page: Page, server: LiveServer, user: Caller
) -> None:
    dialogs: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    user_page.on("dialog", dismiss)
    key, story = _story(server, user)
    page = StoryPage(user_page, server.base_url, key, story["key"]).open()
    # Through the page's own forms, as a user would type it.
    page.edit(title=XSS_IMG, description=f"{XSS_SCRIPT}\n\n{XSS_IMG}\n\n{XSS_LINK}")
    page.save()
    page.add_comment(f"{XSS_SCRIPT}\n\n{XSS_LINK}")
    page.add_task(XSS_SCRIPT)
    user_page.reload()
    user_page.wait_for_load_state("load")
    expect(page.heading()).to_contain_text(XSS_IMG)
    expect(page.description()).to_contain_text(XSS_SCRIPT)
    expect(page.description()).to_contain_text(XSS_IMG)
    expect(page.description()).to_contain_text(XSS_LINK)
    expect(page.comment_bodies().first).to_contain_text(XSS_SCRIPT)
    expect(page.comment_bodies().first).to_contain_text(XSS_LINK)
    expect(page.task(XSS_SCRIPT)).to_be_visible()
    # None of it became an element.
    assert user_page.locator("main img").count() == 0
    assert user_page.locator("main script").count() == 0
    assert user_page.locator('a[href^="javascript"]').count() == 0
    # Clicking where the link's text is does nothing either.
    page.comment_bodies().first.get_by_text(XSS_LINK).click()
    user_page.wait_for_timeout(300)
    assert dialogs == []


def test_the_persian_story_page_mirrors(
    browser: Browser, server: LiveServer, user: Caller, screenshots_dir: Path
) -> None:
    key, story = _story(server, user, title="کشیدن کارت‌ها با صفحه‌کلید", description="**مهم**")
    user.client.post(f"/projects/{key}/stories/{story['key']}/tasks", json={"text": "نوشتن آزمون"})
    assert user.client.patch("/users/me", json={"locale": "fa"}).status_code == 200
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    try:
        page = log_in(context, server, user)
        StoryPage(page, server.base_url, key, story["key"]).open()
        assert page.locator("html").get_attribute("dir") == "rtl"
        form = page.locator("#story-form").bounding_box()
        history = page.locator("aside.story-history").bounding_box()
        assert form is not None
        assert history is not None
        # The history column sits at the end of the line: on the left in Persian.
        assert history["x"] < form["x"]
        page.screenshot(path=screenshots_dir / "story-fa.png", full_page=True)
    finally:
        context.close()


def test_the_story_page_has_no_serious_accessibility_violations(
    browser: Browser, server: LiveServer, user: Caller
) -> None:
    key, story = _story(server, user, description="Some *words*")
    user.client.post(f"/projects/{key}/stories/{story['key']}/tasks", json={"text": "A task"})
    user.client.post(f"/projects/{key}/stories/{story['key']}/comments", json={"body": "Hi"})
    # bypass_csp: axe is injected as an inline script, which the page's policy refuses.
    context = browser.new_context(bypass_csp=True)
    try:
        page = StoryPage(log_in(context, server, user), server.base_url, key, story["key"]).open()
        assert severe_violations(page.page) == []
        # With errors next to the fields and a conflict panel too.
        user.client.patch(f"/projects/{key}/stories/{story['key']}", json={"title": "Changed"})
        page.edit(title=" ")
        page.save()
        expect(page.field("Title")).to_have_attribute("aria-invalid", "true")
        assert severe_violations(page.page) == []
        page.edit(title="Mine")
        page.save()
        expect(page.conflict()).to_be_visible()
        assert severe_violations(page.page) == []
    finally:
        context.close()
