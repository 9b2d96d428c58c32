"""Page objects for signing up, project administration, settings and plan import/export."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Download, Locator, Page


class SignupPage:
    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url

    def open(self) -> SignupPage:
        self.page.goto(self.base_url + "/signup")
        return self

    def sign_up(self, name: str, email: str, password: str) -> None:
        self.page.get_by_label("Name").fill(name)
        self.page.get_by_label("Email").fill(email)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Create account").click()

    def field_error(self, field: str) -> Locator:
        return self.page.locator(f"#{field}-error")


class NewProjectPage:
    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url

    def open(self) -> NewProjectPage:
        self.page.goto(self.base_url + "/projects/new")
        return self

    def create(self, key: str, name: str) -> None:
        self.page.get_by_label("Key").fill(key)
        self.page.get_by_label("Name").fill(name)
        self.page.get_by_role("button", name="Create project").click()


class MembersPage:
    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url

    def open(self, key: str) -> MembersPage:
        self.page.goto(f"{self.base_url}/projects/{key}/members")
        return self

    def add(self, email: str, role: str) -> None:
        self.page.locator("#member-email").fill(email)
        self.page.locator("#member-role").select_option(label=role)
        self.page.get_by_role("button", name="Add member").click()

    def row(self, email: str) -> Locator:
        return self.page.locator(f'tr[data-email="{email}"]')

    def role_of(self, email: str) -> str:
        return self.row(email).locator("td.role").inner_text().strip()

    def change_role(self, name: str, role: str) -> None:
        self.page.get_by_label(f"Role of {name}", exact=True).select_option(label=role)
        self.page.get_by_role("button", name=f"Save role: {name}").click()

    def remove(self, name: str) -> None:
        self.page.get_by_role("button", name=f"Remove: {name}").click()


class SettingsPage:
    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url

    def open(self) -> SettingsPage:
        self.page.goto(self.base_url + "/settings")
        return self

    def create_token(self, name: str, *, write: bool = False) -> None:
        self.page.get_by_label("Token name").fill(name)
        if write:
            self.page.get_by_label("Write", exact=True).check()
        self.page.get_by_role("button", name="Create token").click()

    def new_token(self) -> Locator:
        return self.page.locator("#new-token")

    def token_row(self, name: str) -> Locator:
        return self.page.locator("tr[data-token]").filter(has_text=name)

    def revoke(self, name: str) -> None:
        self.page.get_by_role("button", name=f"Revoke: {name}").click()

    def choose_language(self, label: str, button: str = "Save language") -> None:
        self.page.get_by_label(label).check()
        self.page.get_by_role("button", name=button).click()


class ImportPage:
    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url

    def open(self, key: str) -> ImportPage:
        self.page.goto(f"{self.base_url}/projects/{key}/import")
        return self

    def preview(self, document: Path, button: str = "Preview the import") -> None:
        self.page.locator("#plan-files").set_input_files(document)
        self.page.get_by_role("button", name=button).click()

    def section(self, section_id: str) -> Locator:
        return self.page.locator(f"#{section_id}")

    def confirm(self, button: str = "Confirm import") -> None:
        self.page.get_by_role("button", name=button).click()

    def error(self) -> Locator:
        return self.page.get_by_role("alert")

    def download_markdown(self, link: str = "Download the plan as markdown") -> Download:
        with self.page.expect_download() as download:
            self.page.get_by_role("link", name=link).click()
        return download.value
