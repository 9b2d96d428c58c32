"""Page object of the story page: what a test may look at and do there, in a user's words."""

from __future__ import annotations

import re
from typing import Self
from urllib.parse import quote

from playwright.sync_api import Locator, Page


class _StoryForm:
    """The story's fields, as the story page and the new story page share them."""

    page: Page

    def field(self, label: str) -> Locator:
        return self.page.locator("#story-form").get_by_label(label, exact=True)

    def edit(self, **values: str) -> Self:
        """Fill text fields (title, points, description) and pick options (status, priority,
        moscow, assignee; sprint on the new story page) by their visible text."""
        for name in ("title", "points", "description"):
            if name in values:
                self.field(name.capitalize()).fill(values[name])
        for name, label in (
            ("status", "Status"),
            ("priority", "Priority"),
            ("moscow", "MoSCoW"),
            ("assignee", "Assignee"),
            ("sprint", "Sprint"),
        ):
            if name in values:
                self.field(label).select_option(label=values[name])
        return self


class NewStoryPage(_StoryForm):
    """The form that creates a story (reached from the backlog or a sprint board)."""

    def __init__(self, page: Page) -> None:
        self.page = page

    def chosen_sprint(self) -> str:
        """The sprint select's chosen option, as shown."""
        return self.field("Sprint").locator("option:checked").inner_text().strip()

    def create(self) -> None:
        """Create the story; wait for its page."""
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="Create story", exact=True).click()


class StoryPage(_StoryForm):
    def __init__(self, page: Page, base_url: str, project_key: str, story_key: str) -> None:
        self.page = page
        self.url = f"{base_url}/projects/{quote(project_key)}/stories/{quote(story_key)}"

    def open(self) -> StoryPage:
        self.page.goto(self.url)
        return self

    # The story's form

    def save(self) -> None:
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="Save", exact=True).click()

    def saved_notice(self) -> Locator:
        return self.page.get_by_role("status").filter(has_text="Saved.")

    def heading(self) -> Locator:
        return self.page.get_by_role("heading", level=1)

    def description(self) -> Locator:
        return self.page.locator("#story-description")

    # A stale save

    def conflict(self) -> Locator:
        return self.page.locator("section.conflict")

    def conflict_row(self, field: str) -> Locator:
        return self.conflict().locator(f'tr[data-field="{field}"]')

    # Tasks

    def task(self, text: str) -> Locator:
        return self.page.get_by_role("checkbox", name=text, exact=True)

    def task_texts(self) -> list[str]:
        return [t.strip() for t in self.page.locator(".tasks .task-text").all_inner_texts()]

    def progress(self) -> Locator:
        return self.page.locator("#task-progress")

    def add_task(self, text: str) -> None:
        self.page.get_by_label("New task").fill(text)
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="Add task").click()

    def move_task(self, text: str, direction: str) -> None:
        with self.page.expect_navigation():
            self.page.get_by_role("button", name=f"Move “{text}” {direction}").click()

    def delete_task(self, text: str) -> None:
        with self.page.expect_navigation():
            self.page.get_by_role("button", name=f"Delete “{text}”").click()

    # Comments and history

    def add_comment(self, text: str) -> None:
        self.page.get_by_label("Add a comment").fill(text)
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="Comment", exact=True).click()

    def comments(self) -> Locator:
        return self.page.locator("article.comment")

    def comment_bodies(self) -> Locator:
        """The comments as shown (their edit forms, which hold the source too, left out)."""
        return self.page.locator("article.comment > .markdown")

    def edit_comment(self, index: int, text: str) -> None:
        comment = self.comments().nth(index)
        comment.get_by_text("Edit", exact=True).click()
        comment.get_by_label("Your comment").fill(text)
        with self.page.expect_navigation():
            comment.get_by_role("button", name="Save comment").click()

    def history(self) -> list[str]:
        return [
            re.sub(r"\s+", " ", text).strip()
            for text in self.page.locator("ol.history > li").all_inner_texts()
        ]
