"""Logging in and out in the browser, and who may see which page (over HTTP, real server)."""

from __future__ import annotations

import pytest

from tests.api.live import PASSWORD, Caller, LiveServer, csrf_of

pytestmark = pytest.mark.slow


class TestLogin:
    @pytest.mark.parametrize("path", ["/", "/projects/ANY", "/projects/ANY?tab=x"])
    def test_anonymous_visitor_is_sent_to_the_login_page(self, live: LiveServer, path: str) -> None:
        response = live.browser().get(path)
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=" + path.replace("?", "%3F").replace(
            "=", "%3D"
        )

    def test_wrong_password_shows_the_form_again_with_the_error(
        self, live: LiveServer, alice: Caller
    ) -> None:
        response = live.browser().post(
            "/login", data={"email": alice.email, "password": "wrong", "next": "/"}
        )
        assert response.status_code == 401
        assert "Wrong email or password." in response.text
        assert f'value="{alice.email}"' in response.text
        assert "plandeck_session" not in response.headers.get("set-cookie", "")

    def test_login_sets_the_session_cookie_and_goes_to_next(
        self, live: LiveServer, alice: Caller
    ) -> None:
        response = live.browser().post(
            "/login",
            data={"email": alice.email, "password": PASSWORD, "next": "/projects/X"},
        )
        assert (response.status_code, response.headers["location"]) == (303, "/projects/X")
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("plandeck_session=")
        assert "HttpOnly" in cookie
        assert "samesite=lax" in cookie.lower()

    @pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil"])
    def test_next_never_leaves_the_site(self, live: LiveServer, alice: Caller, target: str) -> None:
        response = live.browser().post(
            "/login", data={"email": alice.email, "password": PASSWORD, "next": target}
        )
        assert (response.status_code, response.headers["location"]) == (303, "/")

    def test_logout_needs_the_forms_csrf_token_and_ends_the_session(
        self, live: LiveServer, alice: Caller
    ) -> None:
        browser = live.browser_for(alice)
        home = browser.get("/")
        assert home.status_code == 200
        assert browser.post("/logout", data={"csrf_token": "forged"}).status_code == 403
        assert browser.get("/").status_code == 200, "a refused logout changes nothing"
        done = browser.post("/logout", data={"csrf_token": csrf_of(home)})
        assert (done.status_code, done.headers["location"]) == (303, "/login")
        # The old cookie no longer opens a session, even if a client keeps sending it.
        assert browser.get("/").status_code == 303


class TestWhoSeesWhat:
    def test_the_list_shows_only_the_visitors_projects(
        self, live: LiveServer, alice: Caller
    ) -> None:
        mine = live.project(alice)["key"]
        bob = live.signup("bob")
        theirs = live.project(bob)["key"]
        page = live.browser_for(alice).get("/")
        assert f'href="/projects/{mine}"' in page.text
        assert theirs not in page.text

    def test_a_non_member_gets_not_found_as_for_a_missing_project(
        self, live: LiveServer, alice: Caller
    ) -> None:
        bob = live.signup("bob")
        theirs = live.project(bob)["key"]
        browser = live.browser_for(alice)
        hidden = browser.get(f"/projects/{theirs}", headers={"Accept": "text/html"})
        missing = browser.get("/projects/NOSUCH", headers={"Accept": "text/html"})
        assert hidden.status_code == missing.status_code == 404
        # The same page, word for word, as for a key that does not exist.
        assert hidden.text.replace(theirs, "NOSUCH") == missing.text
        assert "Traceback" not in hidden.text

    def test_a_member_sees_the_project(self, live: LiveServer, alice: Caller) -> None:
        key = live.project(alice, name="Visible plan")["key"]
        viewer = live.member(alice, key, "viewer")
        page = live.browser_for(viewer).get(f"/projects/{key}")
        assert page.status_code == 200
        assert "Visible plan" in page.text
