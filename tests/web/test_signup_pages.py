"""Signing up in the browser (over HTTP, real server): the API's rules, then logged in."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.live import PASSWORD, Caller, LiveServer
from tests.processes import env_for, plandeck_server

pytestmark = pytest.mark.slow

HTML = {"Accept": "text/html"}


def _email() -> str:
    return f"signup-{uuid.uuid4().hex[:10]}@example.com"


def _input(page: str, name: str) -> str:
    found = re.search(rf'<input [^>]*name="{name}"[^>]*>', page)
    assert found, f"no {name} field"
    return found.group(0)


def _field_error(page: str, name: str) -> str:
    found = re.search(rf'<p class="error field-error" id="{name}-error">([^<]*)</p>', page)
    assert found, f"no error next to {name}"
    return found.group(1)


class TestSignUp:
    def test_the_form_asks_for_name_email_and_password(self, live: LiveServer) -> None:
        page = live.browser(**HTML).get("/signup")
        assert page.status_code == 200
        for name in ("name", "email", "password"):
            assert f'name="{name}"' in page.text
        assert 'action="/signup"' in page.text

    def test_a_new_account_is_logged_in_and_lands_on_the_projects(self, live: LiveServer) -> None:
        browser = live.browser(**HTML)
        email = _email()
        done = browser.post(
            "/signup", data={"name": "Nasrin", "email": email, "password": PASSWORD}
        )
        assert (done.status_code, done.headers["location"]) == (303, "/")
        assert done.headers["set-cookie"].startswith("plandeck_session=")
        home = browser.get("/")
        assert home.status_code == 200
        assert "Nasrin" in home.text
        # The same account the API knows, with the same password.
        api = live.anonymous().post("/auth/login", json={"email": email, "password": PASSWORD})
        assert api.status_code == 200
        assert api.json()["user"]["name"] == "Nasrin"

    def test_the_language_defaults_from_the_browser(self, live: LiveServer) -> None:
        browser = live.browser(**HTML, **{"Accept-Language": "fa-IR,fa;q=0.9,en;q=0.5"})
        email = _email()
        assert (
            browser.post(
                "/signup", data={"name": "Sara", "email": email, "password": PASSWORD}
            ).status_code
            == 303
        )
        me = live.anonymous().post("/auth/login", json={"email": email, "password": PASSWORD})
        assert me.json()["user"]["locale"] == "fa"
        # The account's language now wins over whatever the browser says.
        home = browser.get("/", headers={"Accept-Language": "en"})
        assert 'dir="rtl"' in home.text

    def test_an_english_browser_gets_an_english_account(self, live: LiveServer) -> None:
        email = _email()
        live.browser(**HTML, **{"Accept-Language": "en-GB"}).post(
            "/signup", data={"name": "Ada", "email": email, "password": PASSWORD}
        )
        me = live.anonymous().post("/auth/login", json={"email": email, "password": PASSWORD})
        assert me.json()["user"]["locale"] == "en"

    def test_errors_sit_next_to_their_fields_and_the_typed_values_stay(
        self, live: LiveServer
    ) -> None:
        page = live.browser(**HTML).post(
            "/signup", data={"name": "  ", "email": "not-an-email", "password": "short"}
        )
        assert page.status_code == 422
        assert _field_error(page.text, "name") == "Enter your name (at most 200 characters)."
        assert _field_error(page.text, "email") == "Enter a valid email address."
        email = _input(page.text, "email")
        assert 'value="not-an-email"' in email
        assert 'aria-invalid="true"' in email
        assert 'aria-describedby="email-error"' in email
        assert "plandeck_session" not in page.headers.get("set-cookie", "")

    def test_a_short_password_is_refused_and_never_echoed(self, live: LiveServer) -> None:
        email = _email()
        page = live.browser(**HTML).post(
            "/signup", data={"name": "Bo", "email": email, "password": "s3cret!"}
        )
        assert page.status_code == 422
        assert "at least 8 characters" in _field_error(page.text, "password")
        password = _input(page.text, "password")
        assert "value=" not in password
        assert 'aria-describedby="password-error"' in password
        assert "s3cret!" not in page.text
        assert f'value="{email}"' in page.text
        login = live.anonymous().post("/auth/login", json={"email": email, "password": "s3cret!"})
        assert login.status_code == 401, "no account was made"

    def test_a_taken_email_is_said_next_to_the_email(self, live: LiveServer, alice: Caller) -> None:
        page = live.browser(**HTML).post(
            "/signup",
            data={"name": "Alice two", "email": alice.email.upper(), "password": PASSWORD},
        )
        assert page.status_code == 409
        assert _field_error(page.text, "email") == (
            "An account with this email address already exists."
        )
        assert 'value="Alice two"' in page.text

    def test_a_logged_in_visitor_is_sent_home(self, live: LiveServer) -> None:
        browser = live.browser(**HTML)
        browser.post("/signup", data={"name": "Eve", "email": _email(), "password": PASSWORD})
        again = browser.get("/signup")
        assert (again.status_code, again.headers["location"]) == (303, "/")

    def test_user_text_is_escaped(self, live: LiveServer) -> None:
        page = live.browser(**HTML).post(
            "/signup",
            data={"name": "<script>alert(1)</script>", "email": "x", "password": PASSWORD},
        )
        assert "<script>alert(1)</script>" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


@pytest.fixture(scope="module")
def invite_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server (SQLite in its data directory) where only administrators create accounts."""
    workdir: Path = tmp_path_factory.mktemp("invite")
    env = env_for(
        None,
        workdir / "data",
        PLANDECK_AUTH_REGISTRATION="invite",
        PLANDECK_RATE_LIMIT_ENABLED="false",
        PLANDECK_PASSWORD_HASHING="fast",
    )
    with plandeck_server(env=env, cwd=workdir) as base_url:
        yield base_url


class TestInviteOnly:
    def test_the_page_says_to_ask_an_administrator(self, invite_only: str) -> None:
        with httpx.Client(base_url=invite_only, headers=HTML) as browser:
            page = browser.get("/signup")
        assert page.status_code == 200
        assert "Registration is by invitation only" in page.text
        assert 'name="password"' not in page.text

    def test_posting_anyway_makes_no_account(self, invite_only: str) -> None:
        email = _email()
        with httpx.Client(base_url=invite_only, headers=HTML) as browser:
            page = browser.post(
                "/signup", data={"name": "Mallory", "email": email, "password": PASSWORD}
            )
            assert page.status_code == 403
            assert "Registration is by invitation only" in page.text
            assert "plandeck_session" not in page.headers.get("set-cookie", "")
            login = browser.post("/login", data={"email": email, "password": PASSWORD})
        assert login.status_code == 401
