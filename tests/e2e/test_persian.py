"""The Persian interface in Chromium: right to left, mirrored, with the plan's own headings."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.api.live import Caller, LiveServer
from tests.e2e.conftest import import_fixture, log_in

pytestmark = pytest.mark.slow
REPAIRED_HEADINGS = ["📋 Phase 3 Stories (پیشنهادی)", "🎯 اولویت‌بندی", "📅 Timeline پیشنهادی"]


@pytest.mark.parametrize("locale", ["fa", "en"])
def test_phase_view_mirrors_in_persian(
    browser: Browser, server: LiveServer, user: Caller, screenshots_dir: Path, locale: str
) -> None:
    key = import_fixture(server, user, name="برنامه فاز ۳")
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
