"""Page objects: what a test may look at on each page, in a user's words."""

from __future__ import annotations

from playwright.sync_api import Locator, Page


class LoginPage:
    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url

    def open(self, path: str = "/") -> LoginPage:
        self.page.goto(self.base_url + path)
        return self

    def log_in(self, email: str, password: str) -> None:
        self.page.get_by_label("Email").fill(email)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Log in").click()

    def error(self) -> Locator:
        return self.page.get_by_role("alert")


class ProjectListPage:
    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url

    def open(self) -> ProjectListPage:
        self.page.goto(self.base_url + "/")
        return self

    def project_link(self, key: str) -> Locator:
        return self.page.get_by_role("link", name=key)


class ProjectPage:
    def __init__(self, page: Page) -> None:
        self.page = page

    def sprint_headings(self) -> list[str]:
        return [text.strip() for text in self.page.locator("section.sprint h3").all_inner_texts()]

    def story_rows(self) -> Locator:
        return self.page.locator("section.sprint tbody tr")
