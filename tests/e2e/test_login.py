"""Logging in and out in Chromium against a server on PostgreSQL."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.api.live import Caller, LiveServer

pytestmark = pytest.mark.slow


def test_logged_in_user_sees_their_projects_and_logs_out(
    user_page: Page, server: LiveServer, user: Caller
) -> None:
    key = server.project(user, name="Browser plan")["key"]
    user_page.reload()
    assert user_page.get_by_role("link", name=key).is_visible()
    user_page.get_by_role("button", name="Log out").click()
    user_page.wait_for_url("**/login")
    user_page.goto(server.base_url + f"/projects/{key}")
    user_page.wait_for_url(f"**/login?next=/projects/{key}")
