"""Accounts in the browser: sign up, create a project, manage its members, API tokens, language."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.api.live import PASSWORD, Caller, LiveServer
from tests.conftest import SHARED
from tests.e2e.axe import severe_violations
from tests.e2e.conftest import log_in
from tests.e2e.pages_admin import MembersPage, NewProjectPage, SettingsPage, SignupPage

pytestmark = pytest.mark.slow


def _key() -> str:
    return f"E{uuid.uuid4().hex[:6].upper()}"


def test_sign_up_create_a_project_and_manage_its_members(
    browser: Browser, server: LiveServer, screenshots_dir: Path
) -> None:
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    try:
        email = f"newcomer-{uuid.uuid4().hex[:8]}@example.com"
        signup = SignupPage(page, server.base_url).open()
        signup.sign_up("Newcomer", email, "short")
        expect(signup.field_error("password")).to_contain_text("at least 8 characters")
        expect(page.get_by_label("Email")).to_have_value(email)
        expect(page.get_by_label("Password")).to_have_value("")
        expect(page.get_by_label("Password")).to_have_attribute("aria-invalid", "true")
        signup.sign_up("Newcomer", email, PASSWORD)
        page.wait_for_url(server.base_url + "/")
        expect(page.get_by_role("navigation", name="Account")).to_contain_text("Newcomer")

        key = _key()
        NewProjectPage(page, server.base_url).open().create(key, "Browser-made plan")
        page.wait_for_url(f"{server.base_url}/projects/{key}")
        expect(page.get_by_role("heading", level=1)).to_have_text("Browser-made plan")

        teammate = server.signup("teammate")
        members = MembersPage(page, server.base_url).open(key)
        expect(members.row(email)).to_contain_text("Owner")
        members.add("nobody@example.com", "Member")
        expect(page.locator("#member-email-error")).to_have_text(
            "Nobody with an active account has this email address yet."
        )
        members.add(teammate.email, "Viewer")
        page.wait_for_url(f"{server.base_url}/projects/{key}/members")
        assert members.role_of(teammate.email) == "Viewer"
        members.change_role("teammate", "Admin")
        page.wait_for_url(f"{server.base_url}/projects/{key}/members")
        assert members.role_of(teammate.email) == "Admin"
        page.screenshot(path=screenshots_dir / "members-en.png", full_page=True)
        roles = {
            m["user"]["email"]: m["role"]
            for m in teammate.client.get(f"/projects/{key}/members").json()
        }
        assert roles == {email: "owner", teammate.email: "admin"}

        # The last owner cannot step down: the page says so and nothing changes.
        members.change_role("Newcomer", "Member")
        expect(page.get_by_role("alert")).to_have_text("A project must keep at least one owner.")
        assert members.role_of(email) == "Owner"

        members.remove("teammate")
        page.wait_for_url(f"{server.base_url}/projects/{key}/members")
        expect(members.row(teammate.email)).to_have_count(0)
        assert teammate.client.get(f"/projects/{key}").status_code == 404
    finally:
        context.close()


def test_an_api_token_is_shown_once_and_can_be_revoked(
    user_page: Page, server: LiveServer, user: Caller
) -> None:
    settings = SettingsPage(user_page, server.base_url).open()
    settings.create_token("laptop script", write=True)
    token = settings.new_token().inner_text().strip()
    assert token.startswith("pdk_")
    expect(settings.token_row("laptop script")).to_contain_text("Read, Write")
    with httpx.Client(base_url=server.api, headers={"Authorization": f"Bearer {token}"}) as api:
        assert api.get("/users/me").json()["email"] == user.email
        settings.open()
        expect(settings.new_token()).to_have_count(0)
        assert token not in user_page.content()
        settings.revoke("laptop script")
        expect(settings.token_row("laptop script")).to_contain_text("Revoked")
        assert api.get("/users/me").status_code == 401


def test_persian_turns_the_interface_right_to_left(
    user_page: Page, server: LiveServer, user: Caller, screenshots_dir: Path
) -> None:
    settings = SettingsPage(user_page, server.base_url).open()
    expect(user_page.locator("html")).to_have_attribute("dir", "ltr")
    settings.choose_language("فارسی")
    user_page.wait_for_url(server.base_url + "/settings")
    html = user_page.locator("html")
    expect(html).to_have_attribute("dir", "rtl")
    expect(html).to_have_attribute("lang", "fa")
    # The layout mirrors: the brand sits on the right, the account menu on the left.
    brand = user_page.locator("header .brand").bounding_box()
    account = user_page.locator("header nav").bounding_box()
    assert brand is not None
    assert account is not None
    assert brand["x"] > account["x"]
    user_page.screenshot(path=screenshots_dir / "settings-fa.png", full_page=True)
    assert user.client.get("/users/me").json()["locale"] == "fa"
    # Back to English with the same form (its labels are in Persian once translated, so by
    # the radio's value).
    user_page.locator('input[name="locale"][value="en"]').check()
    user_page.locator('form[action="/settings/language"] button[type="submit"]').click()
    user_page.wait_for_url(server.base_url + "/settings")
    expect(user_page.locator("html")).to_have_attribute("dir", "ltr")


@pytest.mark.parametrize("locale", ["en", "fa"])
def test_these_pages_have_no_serious_accessibility_violations(
    browser: Browser, server: LiveServer, user: Caller, locale: str
) -> None:
    key = server.project(user)["key"]
    server.member(user, key, "viewer", name="viewer")
    user.client.post("/tokens", json={"name": "existing"})
    assert user.client.patch("/users/me", json={"locale": locale}).status_code == 200
    # axe is injected as an inline script, which the CSP rightly refuses.
    context = browser.new_context(locale=locale, bypass_csp=True)
    try:
        anonymous = context.new_page()
        anonymous.goto(server.base_url + "/signup")
        found = {"/signup": severe_violations(anonymous)}
        anonymous.close()
        page = log_in(context, server, user)
        for path in ("/projects/new", f"/projects/{key}/members", "/settings"):
            page.goto(server.base_url + path)
            found[path] = severe_violations(page)
        page.goto(f"{server.base_url}/projects/{key}/import")
        found["import"] = severe_violations(page)
        page.locator("#plan-files").set_input_files(SHARED / "fixtures" / "phase3-plan.md")
        page.locator('form[action$="/import/preview"] button[type="submit"]').click()
        page.wait_for_url(f"{server.base_url}/projects/{key}/import/preview")
        found["preview"] = severe_violations(page)
    finally:
        context.close()
    assert {path: v for path, v in found.items() if v} == {}
