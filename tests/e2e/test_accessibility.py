"""axe-core finds no serious or critical violations on the main pages, in both languages."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser

from tests.api.live import Caller, LiveServer
from tests.e2e.axe import severe_violations
from tests.e2e.conftest import import_fixture, log_in

pytestmark = pytest.mark.slow


@pytest.fixture
def imported(server: LiveServer, user: Caller) -> str:
    return import_fixture(server, user, name="Accessible plan")


@pytest.mark.parametrize("locale", ["en", "fa"])
def test_main_pages_have_no_serious_violations(
    browser: Browser, server: LiveServer, user: Caller, imported: str, locale: str
) -> None:
    assert user.client.patch("/users/me", json={"locale": locale}).status_code == 200
    # The test injects axe as an inline script, which our CSP rightly refuses.
    context = browser.new_context(locale=locale, bypass_csp=True)
    try:
        anonymous = context.new_page()
        anonymous.goto(server.base_url + "/login")
        found = {"/login": severe_violations(anonymous)}
        anonymous.close()
        page = log_in(context, server, user)
        for path in ("/", f"/projects/{imported}", f"/projects/{imported}/phases/3"):
            page.goto(server.base_url + path)
            found[path] = severe_violations(page)
    finally:
        context.close()
    assert {path: v for path, v in found.items() if v} == {}
