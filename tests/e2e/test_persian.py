"""The Persian interface in Chromium: right to left, mirrored, with the plan's own headings."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.api.live import Caller, LiveServer
from tests.conftest import SHARED
from tests.e2e.conftest import log_in

pytestmark = pytest.mark.slow
FIXTURE = SHARED / "fixtures" / "phase3-plan.md"
REPAIRED_HEADINGS = ["📋 Phase 3 Stories (پیشنهادی)", "🎯 اولویت‌بندی", "📅 Timeline پیشنهادی"]


def _import_fixture(server: LiveServer, user: Caller) -> str:
    key = server.project(user, name="برنامه فاز ۳")["key"]
    with FIXTURE.open("rb") as document:
        imported = user.client.post(
            f"/projects/{key}/imports", files={"files": (FIXTURE.name, document, "text/markdown")}
        )
    assert imported.status_code in (200, 201), imported.text
    return key


@pytest.mark.parametrize("locale", ["fa", "en"])
def test_phase_view_mirrors_in_persian(
    browser: Browser, server: LiveServer, user: Caller, screenshots_dir: Path, locale: str
) -> None:
    key = _import_fixture(server, user)
    assert user.client.patch("/users/me", json={"locale": locale}).status_code == 200
    context = browser.new_context(viewport={"width": 1000, "height": 800})
    try:
        page = log_in(context, server, user)
        page.goto(f"{server.base_url}/projects/{key}/phases/3")
        html = page.locator("html")
        assert html.get_attribute("lang") == locale
        assert html.get_attribute("dir") == ("rtl" if locale == "fa" else "ltr")
        brand = page.get_by_role("link", name="plandeck").bounding_box()
        assert brand is not None
        # The header's first item sits at the start of the line: the right in Persian.
        assert (brand["x"] > 500) == (locale == "fa")
        for heading in REPAIRED_HEADINGS:
            assert page.get_by_text(heading, exact=True).is_visible()
        title = page.get_by_role("heading", level=1)
        assert ("فاز 3" if locale == "fa" else "Phase 3") in title.inner_text()
        page.screenshot(path=screenshots_dir / f"phase-{locale}.png", full_page=True)
    finally:
        context.close()
