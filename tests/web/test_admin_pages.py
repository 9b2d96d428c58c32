"""Creating projects, members and roles, API tokens and the language, in the browser's forms
(over HTTP, real server)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.api.live import Caller, LiveServer, csrf_of

pytestmark = pytest.mark.slow

HTML = {"Accept": "text/html"}


class Browser:
    """An HTTP client logged in through the login form, with the session's CSRF token."""

    def __init__(self, live: LiveServer, caller: Caller) -> None:
        self.client = live.browser_for(caller, **HTML)
        self.csrf = csrf_of(self.client.get("/"))

    def get(self, path: str) -> httpx.Response:
        return self.client.get(path)

    def post(self, path: str, data: dict[str, object]) -> httpx.Response:
        return self.client.post(path, data={"csrf_token": self.csrf, **data})


def _key() -> str:
    return f"W{uuid.uuid4().hex[:6].upper()}"


def _field_error(page: str, field_id: str) -> str:
    found = re.search(rf'<p class="error field-error" id="{field_id}-error">([^<]*)</p>', page)
    assert found, f"no error next to {field_id}"
    return found.group(1)


def _roles(caller: Caller, key: str) -> dict[str, str]:
    members = caller.client.get(f"/projects/{key}/members")
    assert members.status_code == 200, members.text
    return {m["user"]["email"]: m["role"] for m in members.json()}


class TestNewProject:
    def test_the_creator_owns_the_new_project(self, live: LiveServer, alice: Caller) -> None:
        browser = Browser(live, alice)
        assert browser.get("/projects/new").status_code == 200
        key = _key()
        done = browser.post("/projects/new", {"key": key, "name": "Web plan"})
        assert (done.status_code, done.headers["location"]) == (303, f"/projects/{key}")
        assert "Web plan" in browser.get(f"/projects/{key}").text
        assert f'href="/projects/{key}"' in browser.get("/").text
        assert _roles(alice, key) == {alice.email: "owner"}

    def test_invalid_fields_are_marked_and_kept(self, live: LiveServer, alice: Caller) -> None:
        page = Browser(live, alice).post("/projects/new", {"key": "9 lives", "name": ""})
        assert page.status_code == 422
        assert _field_error(page.text, "key").startswith("A key starts with a letter")
        assert _field_error(page.text, "name") == "Enter a name (at most 200 characters)."
        key_input = re.search(r'<input id="key"[^>]*>', page.text)
        assert key_input
        assert 'value="9 lives"' in key_input.group(0)
        assert 'aria-invalid="true"' in key_input.group(0)
        assert 'aria-describedby="key-error"' in key_input.group(0)

    def test_a_taken_key_is_a_conflict_next_to_the_key(
        self, live: LiveServer, alice: Caller
    ) -> None:
        bob = live.signup("bob")
        taken = live.project(bob)["key"]
        page = Browser(live, alice).post("/projects/new", {"key": taken, "name": "Mine"})
        assert page.status_code == 409
        assert _field_error(page.text, "key") == "A project with this key already exists."
        assert _roles(bob, taken) == {bob.email: "owner"}, "the other project is untouched"

    def test_a_form_without_the_csrf_token_is_refused(
        self, live: LiveServer, alice: Caller
    ) -> None:
        browser = Browser(live, alice)
        key = _key()
        refused = browser.client.post("/projects/new", data={"key": key, "name": "X"})
        assert refused.status_code == 403
        assert browser.get(f"/projects/{key}").status_code == 404

    def test_anonymous_visitors_are_sent_to_log_in(self, live: LiveServer) -> None:
        with httpx.Client(base_url=live.base_url, headers=HTML) as anonymous:
            for path in ("/projects/new", "/settings", "/projects/X/members"):
                response = anonymous.get(path)
                assert response.status_code == 303
                assert response.headers["location"].startswith("/login?next=")


class TestMembers:
    def test_an_admin_adds_a_member_by_email_changes_the_role_and_removes_them(
        self, live: LiveServer, alice: Caller
    ) -> None:
        key = live.project(alice)["key"]
        bob = live.signup("bob")
        browser = Browser(live, alice)
        added = browser.post(f"/projects/{key}/members", {"email": bob.email, "role": "viewer"})
        assert (added.status_code, added.headers["location"]) == (303, f"/projects/{key}/members")
        assert _roles(alice, key)[bob.email] == "viewer"
        page = browser.get(f"/projects/{key}/members")
        assert bob.email in page.text

        bob_id = bob.user["id"]
        changed = browser.post(f"/projects/{key}/members/{bob_id}/role", {"role": "admin"})
        assert changed.status_code == 303
        assert _roles(alice, key)[bob.email] == "admin"

        removed = browser.post(f"/projects/{key}/members/{bob_id}/remove", {})
        assert removed.status_code == 303
        assert bob.email not in _roles(alice, key)
        assert bob.email not in browser.get(f"/projects/{key}/members").text

    def test_an_unknown_email_is_said_next_to_the_field(
        self, live: LiveServer, alice: Caller
    ) -> None:
        key = live.project(alice)["key"]
        page = Browser(live, alice).post(
            f"/projects/{key}/members", {"email": "nobody@example.com", "role": "member"}
        )
        assert page.status_code == 422
        assert _field_error(page.text, "member-email") == (
            "Nobody with an active account has this email address yet."
        )
        assert 'value="nobody@example.com"' in page.text

    def test_adding_someone_twice_is_a_conflict(self, live: LiveServer, alice: Caller) -> None:
        key = live.project(alice)["key"]
        bob = live.member(alice, key, "member", name="bob")
        page = Browser(live, alice).post(
            f"/projects/{key}/members", {"email": bob.email, "role": "viewer"}
        )
        assert page.status_code == 409
        assert _field_error(page.text, "member-email") == (
            "This person is already a member of the project."
        )
        assert _roles(alice, key)[bob.email] == "member"

    def test_an_admin_cannot_appoint_an_owner(self, live: LiveServer, alice: Caller) -> None:
        key = live.project(alice)["key"]
        admin = live.member(alice, key, "admin", name="admin")
        carol = live.signup("carol")
        browser = Browser(live, admin)
        page = browser.get(f"/projects/{key}/members")
        assert 'value="owner"' not in page.text.split("Add a member")[1], "not offered"
        refused = browser.post(f"/projects/{key}/members", {"email": carol.email, "role": "owner"})
        assert refused.status_code == 403
        assert _field_error(refused.text, "member-role") == (
            "Only an owner may make someone an owner."
        )
        assert carol.email not in _roles(alice, key)

    def test_the_last_owner_cannot_step_down(self, live: LiveServer, alice: Caller) -> None:
        key = live.project(alice)["key"]
        page = Browser(live, alice).post(
            f"/projects/{key}/members/{alice.user['id']}/role", {"role": "member"}
        )
        assert page.status_code == 409
        assert "A project must keep at least one owner." in page.text
        assert _roles(alice, key)[alice.email] == "owner"

    def test_a_member_sees_the_list_but_no_forms_and_cannot_post(
        self, live: LiveServer, alice: Caller
    ) -> None:
        key = live.project(alice)["key"]
        member = live.member(alice, key, "member", name="member")
        carol = live.signup("carol")
        browser = Browser(live, member)
        page = browser.get(f"/projects/{key}/members")
        assert page.status_code == 200
        assert alice.email in page.text
        assert "Add a member" not in page.text
        assert "/remove" not in page.text
        refused = browser.post(f"/projects/{key}/members", {"email": carol.email, "role": "viewer"})
        assert refused.status_code == 403
        demote = browser.post(
            f"/projects/{key}/members/{alice.user['id']}/role", {"role": "viewer"}
        )
        assert demote.status_code == 403
        assert _roles(alice, key) == {alice.email: "owner", member.email: "member"}

    def test_a_non_member_finds_nothing(self, live: LiveServer, alice: Caller) -> None:
        key = live.project(alice)["key"]
        bob = live.signup("bob")
        browser = Browser(live, bob)
        assert browser.get(f"/projects/{key}/members").status_code == 404
        sneaky = browser.post(f"/projects/{key}/members", {"email": bob.email, "role": "owner"})
        assert sneaky.status_code == 404
        assert bob.email not in _roles(alice, key)


def _new_token(page: str) -> str | None:
    found = re.search(r'<code class="secret" id="new-token"[^>]*>(pdk_[^<]+)</code>', page)
    return found.group(1) if found else None


class TestApiTokens:
    def test_a_token_is_shown_once_works_and_stops_when_revoked(
        self, live: LiveServer, alice: Caller
    ) -> None:
        browser = Browser(live, alice)
        created = browser.post("/settings/tokens", {"name": "ci robot", "scopes": ["read"]})
        assert created.status_code == 201
        assert created.headers["cache-control"] == "no-store"
        token = _new_token(created.text)
        assert token
        later = browser.get("/settings")
        assert "ci robot" in later.text
        assert token not in later.text, "the plain token is shown only once"
        assert _new_token(later.text) is None

        with httpx.Client(base_url=live.api, headers={"Authorization": f"Bearer {token}"}) as api:
            assert api.get("/users/me").json()["email"] == alice.email
            # A read-only token cannot write.
            assert api.post("/projects", json={"key": _key(), "name": "x"}).status_code == 403
            listed = alice.client.get("/tokens").json()
            (mine,) = [t for t in listed if t["name"] == "ci robot"]
            revoked = browser.post(f"/settings/tokens/{mine['id']}/revoke", {})
            assert revoked.status_code == 303
            assert api.get("/users/me").status_code == 401
        assert "Revoked" in browser.get("/settings").text

    def test_scopes_and_expiry_are_those_chosen(self, live: LiveServer, alice: Caller) -> None:
        day = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
        created = Browser(live, alice).post(
            "/settings/tokens", {"name": "deploy", "scopes": ["read", "write"], "expires": day}
        )
        assert created.status_code == 201
        (token,) = [t for t in alice.client.get("/tokens").json() if t["name"] == "deploy"]
        assert sorted(token["scopes"]) == ["read", "write"]
        assert token["expires_at"].startswith(day)

    @pytest.mark.parametrize(
        ("data", "field", "message"),
        [
            ({"name": "", "scopes": ["read"]}, "name", "Give the token a name"),
            ({"name": "x"}, "scopes", "Choose at least one scope."),
            (
                {"name": "x", "scopes": ["read"], "expires": "2001-01-01"},
                "expires_at",
                "The expiry date must be in the future.",
            ),
            (
                {"name": "x", "scopes": ["read"], "expires": "soon"},
                "expires_at",
                "Enter a date as YYYY-MM-DD.",
            ),
        ],
    )
    def test_invalid_tokens_are_refused_next_to_the_field(
        self,
        live: LiveServer,
        alice: Caller,
        data: dict[str, object],
        field: str,
        message: str,
    ) -> None:
        page = Browser(live, alice).post("/settings/tokens", data)
        assert page.status_code == 422
        assert _field_error(page.text, f"token-{field}").startswith(message)
        assert _new_token(page.text) is None
        assert alice.client.get("/tokens").json() == []

    def test_nobody_revokes_someone_elses_token(self, live: LiveServer, alice: Caller) -> None:
        created = alice.client.post("/tokens", json={"name": "mine"})
        assert created.status_code == 201
        bob = live.signup("bob")
        refused = Browser(live, bob).post(f"/settings/tokens/{created.json()['id']}/revoke", {})
        assert refused.status_code == 404
        assert alice.client.get("/tokens").json()[0]["revoked_at"] is None


class TestLanguage:
    def test_choosing_persian_turns_the_pages_right_to_left(
        self, live: LiveServer, alice: Caller
    ) -> None:
        browser = Browser(live, alice)
        assert 'dir="ltr"' in browser.get("/settings").text
        saved = browser.post("/settings/language", {"locale": "fa"})
        assert (saved.status_code, saved.headers["location"]) == (303, "/settings")
        assert alice.client.get("/users/me").json()["locale"] == "fa"
        page = browser.get("/settings")
        assert '<html lang="fa" dir="rtl">' in page.text
        assert re.search(r'value="fa" checked', page.text)
        browser.post("/settings/language", {"locale": "en"})
        assert '<html lang="en" dir="ltr">' in browser.get("/").text

    def test_an_unknown_language_is_refused(self, live: LiveServer, alice: Caller) -> None:
        page = Browser(live, alice).post("/settings/language", {"locale": "xx"})
        assert page.status_code == 422
        assert _field_error(page.text, "locale") == "Choose one of the languages offered."
        assert alice.client.get("/users/me").json()["locale"] == "en"
