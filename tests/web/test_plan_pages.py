"""Importing a plan through the preview and exporting it, in the browser's forms (over HTTP,
real server)."""

from __future__ import annotations

import base64
import re
import uuid
from typing import Any

import httpx
import pytest

from tests.api.live import Caller, LiveServer, csrf_of
from tests.conftest import SHARED

pytestmark = pytest.mark.slow

HTML = {"Accept": "text/html"}
PLAN = SHARED / "fixtures" / "phase3-plan.md"
SMALL = """# Phase 1: Start

### Sprint 1: First

#### Story 1.1: {title} (3 pts)
**Priority:** High
**Status:** Draft

#### Story 1.2: Second (5 pts)
**Priority:** Low
"""


class Browser:
    def __init__(self, live: LiveServer, caller: Caller) -> None:
        self.client = live.browser_for(caller, **HTML)
        self.csrf = csrf_of(self.client.get("/"))

    def preview(self, key: str, name: str, data: bytes, **extra: str) -> httpx.Response:
        return self.client.post(
            f"/projects/{key}/import/preview",
            data={"csrf_token": self.csrf, **extra},
            files={"files": (name, data, "text/markdown")},
        )

    def confirm(self, key: str, preview: httpx.Response) -> httpx.Response:
        return self.client.post(f"/projects/{key}/import", data=_carried(preview) | self.tokens)

    @property
    def tokens(self) -> dict[str, Any]:
        return {"csrf_token": self.csrf}


def _carried(preview: httpx.Response) -> dict[str, Any]:
    return {
        "name": re.findall(r'<input type="hidden" name="name" value="([^"]*)">', preview.text),
        "data": re.findall(r'<input type="hidden" name="data" value="([^"]*)">', preview.text),
    }


def _stories(caller: Caller, key: str) -> dict[str, dict[str, Any]]:
    listed = caller.client.get(f"/projects/{key}/stories", params={"limit": 200})
    assert listed.status_code == 200, listed.text
    return {story["key"]: story for story in listed.json()["items"]}


def _section(page: str, section_id: str) -> str:
    found = re.search(rf'<section id="{section_id}".*?</section>', page, re.S)
    assert found, f"no section {section_id}"
    return found.group(0)


@pytest.fixture
def project(live: LiveServer, alice: Caller) -> str:
    key: str = live.project(alice, key=f"I{uuid.uuid4().hex[:6].upper()}")["key"]
    return key


class TestImport:
    def test_the_preview_shows_the_diff_and_the_repairs_and_writes_nothing(
        self, live: LiveServer, alice: Caller, project: str
    ) -> None:
        browser = Browser(live, alice)
        form = browser.client.get(f"/projects/{project}/import")
        assert form.status_code == 200
        assert 'enctype="multipart/form-data"' in form.text
        preview = browser.preview(project, "phase3-plan.md", PLAN.read_bytes())
        assert preview.status_code == 200, preview.text
        added = _section(preview.text, "stories-added")
        assert "Stories added (8)" in added
        assert "<strong>9.1</strong>" in added
        assert "Database Connection &amp; Migration" in added
        warnings = _section(preview.text, "import-warnings")
        assert "phase3-plan.md:9" in warnings
        assert "repaired damaged text" in warnings
        assert "وضعیت" in warnings, "the repaired Persian heading"
        assert "Confirm import" in preview.text
        assert _stories(alice, project) == {}, "a preview writes nothing"

    def test_a_persian_reader_gets_the_warnings_in_persian(
        self, live: LiveServer, alice: Caller, project: str
    ) -> None:
        assert alice.client.patch("/users/me", json={"locale": "fa"}).status_code == 200
        try:
            browser = Browser(live, alice)
            document = SMALL.format(title="First").replace(
                "**Priority:** Low", "**Priority:** <Soon>"
            )
            preview = browser.preview(project, "plan.md", document.encode())
            assert preview.status_code == 200, preview.text
            warnings = _section(preview.text, "import-warnings")
            # The sentence is Persian; the document's own word is kept as written (escaped).
            # Each value isolated (<bdi>), so it keeps its direction inside the Persian text.
            assert (
                "استوری <bdi>1.2</bdi>: بی‌تغییر در یادداشت‌هایش نگه داشته شد: "
                "<bdi>&#39;**Priority:** &lt;Soon&gt;&#39;</bdi>"
            ) in warnings
            assert "kept verbatim" not in warnings
            fixture = _section(
                browser.preview(project, "phase3-plan.md", PLAN.read_bytes()).text,
                "import-warnings",
            )
            assert "متن آسیب‌دیده ترمیم شد" in fixture
            assert "repaired damaged text" not in fixture
            # A document that cannot be imported says why in Persian too.
            twice = SMALL.format(title="One") + "\n#### Story 1.1: Again (1 pts)\n"
            refused = browser.preview(project, "twice.md", twice.encode())
            assert refused.status_code == 422
            assert re.search(
                r"twice\.md:1[0-9]</span>: استوری <bdi>1\.1</bdi> دو بار آمده است \(نخست در سطر "
                r"<bdi>[0-9]+</bdi>\)</p>",
                refused.text,
            )
        finally:
            alice.client.patch("/users/me", json={"locale": "en"})

    def test_confirming_imports_what_was_previewed(
        self, live: LiveServer, alice: Caller, project: str
    ) -> None:
        browser = Browser(live, alice)
        preview = browser.preview(project, "phase3-plan.md", PLAN.read_bytes())
        carried = _carried(preview)
        assert carried["name"] == ["phase3-plan.md"]
        assert base64.b64decode(carried["data"][0]) == PLAN.read_bytes()
        done = browser.confirm(project, preview)
        assert (done.status_code, done.headers["location"]) == (303, f"/projects/{project}")
        assert set(_stories(alice, project)) == {
            "9.1",
            "9.2",
            "9.3",
            "10.1",
            "10.2",
            "10.3",
            "11.1",
            "11.2",
        }
        sprints = alice.client.get(f"/projects/{project}/sprints").json()
        assert [s["number"] for s in sprints] == [9, 10, 11]

    def test_a_second_preview_shows_changed_and_missing_stories(
        self, live: LiveServer, alice: Caller, project: str
    ) -> None:
        browser = Browser(live, alice)
        browser.confirm(
            project, browser.preview(project, "a.md", SMALL.format(title="One").encode())
        )
        changed = SMALL.format(title="One, renamed").split("#### Story 1.2")[0]
        preview = browser.preview(project, "a.md", changed.encode())
        assert preview.status_code == 200
        section = _section(preview.text, "stories-changed")
        assert "Stories changed (1)" in section
        assert (
            '<code>title</code>: <span dir="auto">One</span> → <span dir="auto">One, renamed</span>'
            in section
        )
        assert "<li>1.2</li>" in _section(preview.text, "stories-missing")
        assert _stories(alice, project)["1.1"]["title"] == "One"

    def test_an_invalid_document_names_the_file_and_line_and_changes_nothing(
        self, live: LiveServer, alice: Caller, project: str
    ) -> None:
        browser = Browser(live, alice)
        twice = SMALL.format(title="One") + "\n#### Story 1.1: Again (1 pts)\n"
        page = browser.preview(project, "twice.md", twice.encode())
        assert page.status_code == 422
        assert "The document cannot be imported; nothing was changed." in page.text
        assert re.search(
            r"twice\.md:1[0-9]</span>: story <bdi>1\.1</bdi> appears twice \(first on line "
            r"<bdi>[0-9]+</bdi>\)</p>",
            page.text,
        )
        assert 'aria-invalid="true"' in page.text
        # Confirming such a document anyway (a forged confirmation) is refused the same way.
        forged = browser.client.post(
            f"/projects/{project}/import",
            data={
                "csrf_token": browser.csrf,
                "name": "twice.md",
                "data": base64.b64encode(twice.encode()).decode(),
            },
        )
        assert forged.status_code == 422
        assert "appears twice" in forged.text
        assert _stories(alice, project) == {}

    def test_a_tampered_confirmation_is_refused(
        self, live: LiveServer, alice: Caller, project: str
    ) -> None:
        browser = Browser(live, alice)
        page = browser.client.post(
            f"/projects/{project}/import",
            data={"csrf_token": browser.csrf, "name": "a.md", "data": "not base64!"},
        )
        assert page.status_code == 422
        assert "upload it again" in page.text
        assert _stories(alice, project) == {}

    def test_an_empty_upload_asks_for_a_document(
        self, live: LiveServer, alice: Caller, project: str
    ) -> None:
        browser = Browser(live, alice)
        page = browser.client.post(
            f"/projects/{project}/import/preview",
            data={"csrf_token": browser.csrf},
            files={"files": ("", b"", "application/octet-stream")},
        )
        assert page.status_code == 422
        assert "Choose a plan document to upload." in page.text

    def test_a_document_too_big_for_the_page_is_refused(
        self, live: LiveServer, alice: Caller, project: str
    ) -> None:
        page = Browser(live, alice).preview(project, "big.md", b"x" * (512 * 1024 + 1))
        assert page.status_code == 413
        assert "use the API or the command line" in page.text

    def test_the_forms_need_the_csrf_token(
        self, live: LiveServer, alice: Caller, project: str
    ) -> None:
        browser = Browser(live, alice)
        refused = browser.client.post(
            f"/projects/{project}/import/preview",
            files={"files": ("a.md", SMALL.format(title="x").encode(), "text/markdown")},
        )
        assert refused.status_code == 403
        preview = browser.preview(project, "a.md", SMALL.format(title="x").encode())
        forged = browser.client.post(f"/projects/{project}/import", data=_carried(preview))
        assert forged.status_code == 403
        assert _stories(alice, project) == {}

    def test_only_admins_import(self, live: LiveServer, alice: Caller, project: str) -> None:
        member = live.member(alice, project, "member")
        browser = Browser(live, member)
        assert browser.client.get(f"/projects/{project}/import").status_code == 403
        refused = browser.preview(project, "a.md", SMALL.format(title="x").encode())
        assert refused.status_code == 403
        outsider = Browser(live, live.signup("outsider"))
        assert outsider.client.get(f"/projects/{project}/import").status_code == 404
        assert _stories(alice, project) == {}

    def test_a_script_in_a_title_is_shown_as_text(
        self, live: LiveServer, alice: Caller, project: str
    ) -> None:
        browser = Browser(live, alice)
        preview = browser.preview(
            project, "x.md", SMALL.format(title="<script>alert(1)</script>").encode()
        )
        assert "<script>alert(1)</script>" not in preview.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in preview.text
        browser.confirm(project, preview)
        page = browser.client.get(f"/projects/{project}")
        assert "<script>alert(1)</script>" not in page.text
        assert _stories(alice, project)["1.1"]["title"] == "<script>alert(1)</script>"


class TestExport:
    def test_the_download_is_the_apis_markdown(
        self, live: LiveServer, alice: Caller, project: str
    ) -> None:
        imported = alice.client.post(
            f"/projects/{project}/imports",
            files={"files": ("phase3-plan.md", PLAN.read_bytes(), "text/markdown")},
        )
        assert imported.status_code == 200, imported.text
        browser = Browser(live, alice)
        download = browser.client.get(f"/projects/{project}/export.md")
        assert download.status_code == 200
        assert download.headers["content-type"].startswith("text/markdown")
        assert download.headers["content-disposition"] == (f'attachment; filename="{project}.md"')
        api = alice.client.get(f"/projects/{project}/export.md")
        assert download.text == api.text
        assert "#### Story 9.1" in download.text

        phase = browser.client.get(f"/projects/{project}/export.md", params={"phase": 3})
        assert phase.headers["content-disposition"] == (
            f'attachment; filename="{project}-phase-3.md"'
        )
        assert (
            phase.text
            == alice.client.get(f"/projects/{project}/export.md", params={"phase": 3}).text
        )

    def test_non_members_cannot_download(
        self, live: LiveServer, alice: Caller, project: str
    ) -> None:
        outsider = Browser(live, live.signup("outsider"))
        assert outsider.client.get(f"/projects/{project}/export.md").status_code == 404
        with httpx.Client(base_url=live.base_url) as anonymous:
            assert anonymous.get(f"/projects/{project}/export.md").status_code == 303
