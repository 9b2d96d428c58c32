"""Importing a plan through its preview and exporting it, in Chromium, as a user would."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Dialog, Page, expect

from tests.api.live import Caller, LiveServer
from tests.conftest import SHARED
from tests.e2e.pages import ProjectPage
from tests.e2e.pages_admin import ImportPage, NewProjectPage

pytestmark = pytest.mark.slow

PLAN = SHARED / "fixtures" / "phase3-plan.md"


def _new_project(page: Page, server: LiveServer, name: str) -> str:
    key = f"M{uuid.uuid4().hex[:6].upper()}"
    NewProjectPage(page, server.base_url).open().create(key, name)
    page.wait_for_url(f"{server.base_url}/projects/{key}")
    return key


def test_import_through_the_preview_then_export(
    user_page: Page, server: LiveServer, user: Caller, screenshots_dir: Path, tmp_path: Path
) -> None:
    key = _new_project(user_page, server, "Phase 3")
    importer = ImportPage(user_page, server.base_url).open(key)
    importer.preview(PLAN)
    user_page.wait_for_url(f"{server.base_url}/projects/{key}/import/preview")
    expect(importer.section("stories-added")).to_contain_text("Stories added (8)")
    expect(importer.section("stories-added")).to_contain_text("Database Connection & Migration")
    expect(importer.section("stories-changed")).to_contain_text("Stories changed (0)")
    warnings = importer.section("import-warnings")
    expect(warnings).to_contain_text("repaired damaged text")
    expect(warnings).to_contain_text("وضعیت فعلی")
    user_page.screenshot(path=screenshots_dir / "import-preview-en.png", full_page=True)
    # Nothing is written before the confirmation.
    assert user.client.get(f"/projects/{key}/stories").json()["items"] == []

    importer.confirm()
    user_page.wait_for_url(f"{server.base_url}/projects/{key}")
    project = ProjectPage(user_page)
    assert project.sprint_headings() == [
        "Sprint 9: Real Backend Integration · weeks 1-2",
        "Sprint 10: Production Deployment · weeks 3-4",
        "Sprint 11: Quality & Monitoring · weeks 5-6",
    ]
    expect(project.story_rows()).to_have_count(8)

    download = ImportPage(user_page, server.base_url).open(key).download_markdown()
    assert download.suggested_filename == f"{key}.md"
    saved = tmp_path / "export.md"
    download.save_as(saved)
    api = user.client.get(f"/projects/{key}/export.md")
    assert api.status_code == 200
    assert saved.read_text(encoding="utf-8") == api.text
    assert "#### Story 9.1: Database Connection & Migration" in api.text


def test_the_preview_in_persian_is_right_to_left(
    user_page: Page, server: LiveServer, user: Caller, screenshots_dir: Path
) -> None:
    key = _new_project(user_page, server, "برنامه فاز ۳")
    assert user.client.patch("/users/me", json={"locale": "fa"}).status_code == 200
    importer = ImportPage(user_page, server.base_url).open(key)
    expect(user_page.locator("html")).to_have_attribute("dir", "rtl")
    # By the form's own elements: the labels are Persian once the catalogs are merged.
    user_page.locator("#plan-files").set_input_files(PLAN)
    user_page.locator('form[action$="/import/preview"] button[type="submit"]').click()
    user_page.wait_for_url(f"{server.base_url}/projects/{key}/import/preview")
    expect(importer.section("import-warnings")).to_contain_text("وضعیت فعلی")
    expect(user_page.locator("html")).to_have_attribute("dir", "rtl")
    user_page.screenshot(path=screenshots_dir / "import-preview-fa.png", full_page=True)


def test_an_invalid_document_shows_where_and_changes_nothing(
    user_page: Page, server: LiveServer, user: Caller, tmp_path: Path
) -> None:
    key = _new_project(user_page, server, "Broken")
    document = tmp_path / "broken.md"
    document.write_text(
        "# Phase 1: One\n\n### Sprint 1: A\n\n#### Story 1.1: First (3 pts)\n\n"
        "#### Story 1.1: Again (2 pts)\n",
        encoding="utf-8",
    )
    importer = ImportPage(user_page, server.base_url).open(key)
    importer.preview(document)
    expect(importer.error()).to_contain_text("nothing was changed")
    expect(importer.error()).to_contain_text("broken.md:7")
    expect(user_page.locator("#plan-files")).to_have_attribute("aria-invalid", "true")
    assert user.client.get(f"/projects/{key}/stories").json()["items"] == []


def test_a_script_in_an_imported_title_is_only_text(
    user_page: Page, server: LiveServer, tmp_path: Path
) -> None:
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    user_page.on("dialog", record)
    key = _new_project(user_page, server, "XSS")
    title = "<script>alert(1)</script> <img src=x onerror=alert(2)>"
    document = tmp_path / "xss.md"
    document.write_text(
        f"# Phase 1: One\n\n### Sprint 1: A\n\n#### Story 1.1: {title} (3 pts)\n"
        "**Priority:** High\n",
        encoding="utf-8",
    )
    importer = ImportPage(user_page, server.base_url).open(key)
    importer.preview(document)
    expect(importer.section("stories-added")).to_contain_text(title)
    importer.confirm()
    user_page.wait_for_url(f"{server.base_url}/projects/{key}")
    expect(ProjectPage(user_page).story_rows().first).to_contain_text(title)
    assert user_page.locator("main script, main img").count() == 0
    user_page.wait_for_timeout(300)
    assert dialogs == []
