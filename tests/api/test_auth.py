"""Accounts, logins and credentials against a real server: tokens, refresh families, CSRF."""

from __future__ import annotations

import base64
import json
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt
import pytest
from sqlalchemy import update

from plandeck.config import DEFAULT_SECRET_KEY, to_async_url
from plandeck.db import create_engine
from plandeck.models import User
from tests.api.live import PASSWORD, Caller, LiveServer, live_server
from tests.processes import env_for, run_cli

pytestmark = pytest.mark.slow


def _access(live: LiveServer, token: str) -> httpx.Response:
    with live.anonymous() as client:
        return client.get("/users/me", headers={"Authorization": f"Bearer {token}"})


def _claims(user_id: int, **override: object) -> dict[str, object]:
    now = datetime.now(UTC)
    return {
        "iss": "plandeck",
        "sub": str(user_id),
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "typ": "access",
        **override,
    }


async def _set_active(live: LiveServer, user_id: int, *, active: bool) -> None:
    """Deactivate or reactivate an account in the server's database, as a site
    administrator would (there is no API for it yet)."""
    engine = create_engine(to_async_url(live.database_url))
    try:
        async with engine.begin() as connection:
            await connection.execute(
                update(User).where(User.id == user_id).values(is_active=active)
            )
    finally:
        await engine.dispose()


def _login(live: LiveServer, email: str, password: str = PASSWORD) -> httpx.Response:
    with live.anonymous() as client:
        return client.post("/auth/login", json={"email": email, "password": password})


class TestRegister:
    def test_register_returns_the_account_without_secrets(self, live: LiveServer) -> None:
        with live.anonymous() as client:
            response = client.post(
                "/auth/register",
                json={"email": "New.Person@Example.com", "name": "New", "password": PASSWORD},
            )
        assert response.status_code == 201
        body = response.json()
        assert body["email"] == "new.person@example.com"
        assert "password" not in json.dumps(body)
        assert "password_hash" not in body

    def test_duplicate_email_is_a_conflict(self, live: LiveServer, alice: Caller) -> None:
        with live.anonymous() as client:
            response = client.post(
                "/auth/register", json={"email": alice.email, "name": "x", "password": PASSWORD}
            )
        assert response.status_code == 409
        assert response.headers["content-type"] == "application/problem+json"

    def test_weak_password_is_refused_with_the_field(self, live: LiveServer) -> None:
        with live.anonymous() as client:
            response = client.post(
                "/auth/register",
                json={"email": "weak@example.com", "name": "x", "password": "short"},
            )
        assert response.status_code == 422
        assert response.json()["field"] == "password"

    def test_malformed_email_is_a_validation_problem(self, live: LiveServer) -> None:
        with live.anonymous() as client:
            response = client.post(
                "/auth/register", json={"email": "nope", "name": "x", "password": PASSWORD}
            )
        assert response.status_code == 422
        assert ["body", "email"] in [e["loc"] for e in response.json()["errors"]]


class TestLogin:
    def test_wrong_password_is_401_without_saying_which_part(
        self, live: LiveServer, alice: Caller
    ) -> None:
        wrong = _login(live, alice.email, "not-the-password")
        unknown = _login(live, "nobody@example.com")
        assert wrong.status_code == unknown.status_code == 401
        assert wrong.json()["detail"] == unknown.json()["detail"]

    def test_login_sets_an_httponly_lax_session_cookie(
        self, live: LiveServer, alice: Caller
    ) -> None:
        response = _login(live, alice.email)
        cookie = response.headers["set-cookie"].lower()
        assert cookie.startswith("plandeck_session=")
        assert "httponly" in cookie
        assert "samesite=lax" in cookie
        assert "secure" not in cookie  # development server on plain http

    def test_oauth2_password_form_logs_in(self, live: LiveServer, alice: Caller) -> None:
        with live.anonymous() as client:
            response = client.post(
                "/auth/token", data={"username": alice.email, "password": PASSWORD}
            )
        assert response.status_code == 200
        assert _access(live, response.json()["access_token"]).status_code == 200


class TestAccessTokens:
    def test_no_credentials_is_401_with_www_authenticate(self, live: LiveServer) -> None:
        with live.anonymous() as client:
            response = client.get("/users/me")
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["type"].endswith("/not-authenticated")

    def test_a_valid_token_names_its_user(self, live: LiveServer, alice: Caller) -> None:
        response = _access(live, alice.tokens["access_token"])
        assert response.json()["email"] == alice.email

    def test_expired_token_is_refused(self, live: LiveServer, alice: Caller) -> None:
        past = datetime.now(UTC) - timedelta(hours=1)
        token = jwt.encode(
            _claims(alice.user["id"], iat=past, exp=past + timedelta(minutes=15)),
            DEFAULT_SECRET_KEY,
            algorithm="HS256",
        )
        response = _access(live, token)
        assert response.status_code == 401
        assert "expired" in response.json()["detail"]

    def test_tampered_signature_is_refused(self, live: LiveServer, alice: Caller) -> None:
        header, payload, signature = alice.tokens["access_token"].split(".")
        flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
        assert _access(live, f"{header}.{payload}.{flipped}").status_code == 401

    def test_tampered_claims_are_refused(self, live: LiveServer, alice: Caller) -> None:
        header, _payload, signature = alice.tokens["access_token"].split(".")
        forged = base64.urlsafe_b64encode(json.dumps(_claims(1), default=str).encode())
        payload = forged.decode().rstrip("=")
        assert _access(live, f"{header}.{payload}.{signature}").status_code == 401

    def test_alg_none_is_refused(self, live: LiveServer, alice: Caller) -> None:
        token = jwt.encode(_claims(alice.user["id"]), key=None, algorithm="none")
        assert _access(live, token).status_code == 401

    def test_token_signed_with_another_key_is_refused(
        self, live: LiveServer, alice: Caller
    ) -> None:
        token = jwt.encode(_claims(alice.user["id"]), "another-key-" + "x" * 40, "HS256")
        assert _access(live, token).status_code == 401

    def test_the_same_key_signs_valid_tokens(self, live: LiveServer, alice: Caller) -> None:
        # The control for the tests above: a token we sign with the server's key works.
        token = jwt.encode(_claims(alice.user["id"]), DEFAULT_SECRET_KEY, "HS256")
        assert _access(live, token).status_code == 200

    async def test_deactivated_account_is_refused_with_a_valid_token(
        self, live: LiveServer, alice: Caller
    ) -> None:
        project = live.project(alice)
        key = project["key"]
        sprint = alice.client.post(
            f"/projects/{key}/sprints", json={"number": 1, "name": "Sprint 1"}
        )
        assert sprint.status_code == 201, sprint.text
        story = {"title": "On the board", "sprint_id": sprint.json()["id"]}
        assert alice.client.post(f"/projects/{key}/stories", json=story).status_code == 201
        reads = ["/users/me", f"/projects/{key}", f"/projects/{key}/sprints/1/stories"]
        reads.append(f"/projects/{key}/backlog")
        assert [alice.client.get(path).status_code for path in reads] == [200] * 4

        await _set_active(live, alice.user["id"], active=False)
        refused = [alice.client.get(path) for path in reads]
        assert [r.status_code for r in refused] == [401] * 4
        assert all("inactive" in r.json()["detail"] for r in refused)
        assert alice.client.post(f"/projects/{key}/stories", json=story).status_code == 401

        await _set_active(live, alice.user["id"], active=True)
        assert [alice.client.get(path).status_code for path in reads] == [200] * 4

    def test_garbage_is_refused(self, live: LiveServer) -> None:
        assert _access(live, "not.a.jwt").status_code == 401


class TestRefreshTokens:
    def test_refresh_rotates_the_pair(self, live: LiveServer, alice: Caller) -> None:
        with live.anonymous() as client:
            response = client.post(
                "/auth/refresh", json={"refresh_token": alice.tokens["refresh_token"]}
            )
        assert response.status_code == 200
        body = response.json()
        assert body["refresh_token"] != alice.tokens["refresh_token"]
        assert _access(live, body["access_token"]).status_code == 200

    def test_reusing_a_rotated_token_revokes_the_whole_family(
        self, live: LiveServer, alice: Caller
    ) -> None:
        first = alice.tokens["refresh_token"]
        with live.anonymous() as client:
            second = client.post("/auth/refresh", json={"refresh_token": first}).json()
            replay = client.post("/auth/refresh", json={"refresh_token": first})
            assert replay.status_code == 401
            # The thief's replay also ended the legitimate holder's newer token.
            after = client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
        assert after.status_code == 401

    def test_other_logins_survive_a_family_revocation(
        self, live: LiveServer, alice: Caller
    ) -> None:
        other = _login(live, alice.email).json()["refresh_token"]
        first = alice.tokens["refresh_token"]
        with live.anonymous() as client:
            client.post("/auth/refresh", json={"refresh_token": first})
            client.post("/auth/refresh", json={"refresh_token": first})
            response = client.post("/auth/refresh", json={"refresh_token": other})
        assert response.status_code == 200

    def test_unknown_refresh_token_is_refused(self, live: LiveServer) -> None:
        with live.anonymous() as client:
            response = client.post("/auth/refresh", json={"refresh_token": "pdr_nothing"})
        assert response.status_code == 401

    def test_logout_ends_the_refresh_family(self, live: LiveServer, alice: Caller) -> None:
        token = alice.tokens["refresh_token"]
        with live.anonymous() as client:
            assert client.post("/auth/logout", json={"refresh_token": token}).status_code == 204
            assert client.post("/auth/refresh", json={"refresh_token": token}).status_code == 401


class TestApiTokens:
    def _token(self, alice: Caller, scopes: list[str], **extra: object) -> dict[str, object]:
        response = alice.client.post("/tokens", json={"name": "ci", "scopes": scopes, **extra})
        assert response.status_code == 201, response.text
        body: dict[str, object] = response.json()
        return body

    def test_token_is_shown_once(self, live: LiveServer, alice: Caller) -> None:
        created = self._token(alice, ["read"])
        assert str(created["token"]).startswith("pdk_")
        listed = alice.client.get("/tokens").json()
        assert "token" not in listed[0]
        assert listed[0]["prefix"] == str(created["token"])[:10]

    def test_read_token_reads_but_cannot_write(self, live: LiveServer, alice: Caller) -> None:
        created = self._token(alice, ["read"])
        with live.anonymous() as client:
            headers = {"Authorization": f"Bearer {created['token']}"}
            assert client.get("/users/me", headers=headers).status_code == 200
            write = client.patch("/users/me", json={"name": "x"}, headers=headers)
        assert write.status_code == 403
        assert "write scope" in write.json()["detail"]

    def test_write_token_writes(self, live: LiveServer, alice: Caller) -> None:
        created = self._token(alice, ["read", "write"])
        with live.anonymous() as client:
            response = client.patch(
                "/users/me",
                json={"name": "Renamed"},
                headers={"Authorization": f"Bearer {created['token']}"},
            )
        assert response.status_code == 200
        assert response.json()["name"] == "Renamed"

    def test_revoked_token_stops_working(self, live: LiveServer, alice: Caller) -> None:
        created = self._token(alice, ["read"])
        headers = {"Authorization": f"Bearer {created['token']}"}
        with live.anonymous() as client:
            assert client.get("/users/me", headers=headers).status_code == 200
            assert alice.client.delete(f"/tokens/{created['id']}").status_code == 204
            assert client.get("/users/me", headers=headers).status_code == 401

    def test_expired_token_stops_working(self, live: LiveServer, alice: Caller) -> None:
        soon = datetime.now(UTC) + timedelta(seconds=2)
        created = self._token(alice, ["read"], expires_at=soon.isoformat())
        headers = {"Authorization": f"Bearer {created['token']}"}
        with live.anonymous() as client:
            assert client.get("/users/me", headers=headers).status_code == 200
            time.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.2)
            assert client.get("/users/me", headers=headers).status_code == 401

    def test_someone_elses_token_cannot_be_revoked(self, live: LiveServer, alice: Caller) -> None:
        created = self._token(alice, ["read"])
        bob = live.signup("bob")
        assert bob.client.delete(f"/tokens/{created['id']}").status_code == 404


class TestBrowserSession:
    def _browser(self, live: LiveServer, alice: Caller) -> tuple[httpx.Client, str]:
        client = live.anonymous()
        response = client.post("/auth/login", json={"email": alice.email, "password": PASSWORD})
        return client, response.json()["csrf_token"]

    def test_cookie_authenticates_reads(self, live: LiveServer, alice: Caller) -> None:
        client, _csrf = self._browser(live, alice)
        with closing(client):
            assert client.get("/users/me").json()["email"] == alice.email

    def test_unsafe_request_without_csrf_is_refused(self, live: LiveServer, alice: Caller) -> None:
        client, _csrf = self._browser(live, alice)
        with closing(client):
            response = client.patch("/users/me", json={"name": "x"})
            wrong = client.patch("/users/me", json={"name": "x"}, headers={"X-CSRF-Token": "0"})
        assert response.status_code == wrong.status_code == 403
        assert "CSRF" in response.json()["detail"]

    def test_unsafe_request_with_csrf_passes(self, live: LiveServer, alice: Caller) -> None:
        client, csrf = self._browser(live, alice)
        with closing(client):
            response = client.patch(
                "/users/me", json={"name": "Cookie"}, headers={"X-CSRF-Token": csrf}
            )
        assert response.status_code == 200

    def test_csrf_endpoint_returns_the_sessions_token(
        self, live: LiveServer, alice: Caller
    ) -> None:
        client, csrf = self._browser(live, alice)
        with closing(client):
            assert client.get("/auth/csrf").json()["csrf_token"] == csrf

    def test_logout_ends_the_session(self, live: LiveServer, alice: Caller) -> None:
        client, csrf = self._browser(live, alice)
        cookie = client.cookies["plandeck_session"]
        with closing(client):
            assert client.post("/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
        with live.anonymous() as other:
            other.cookies.set("plandeck_session", cookie)
            assert other.get("/users/me").status_code == 401

    def test_password_change_logs_out_everywhere(self, live: LiveServer) -> None:
        carol = live.signup("carol")
        client, _csrf = self._browser(live, carol)
        with closing(client):
            changed = carol.client.post(
                "/users/me/password",
                json={"current_password": PASSWORD, "new_password": "a-new-long-password"},
            )
            assert changed.status_code == 204
            assert client.get("/users/me").status_code == 401
        with live.anonymous() as anon:
            refreshed = anon.post(
                "/auth/refresh", json={"refresh_token": carol.tokens["refresh_token"]}
            )
        assert refreshed.status_code == 401
        assert _login(live, carol.email, "a-new-long-password").status_code == 200


class TestInviteOnlyRegistration:
    def test_only_an_administrator_creates_accounts(self, tmp_path: Path) -> None:
        database = f"sqlite:///{tmp_path / 'invite.sqlite3'}"
        env = env_for(database, tmp_path, PLANDECK_PASSWORD="admin-password-1")
        made = run_cli(
            "user", "create", "--email", "admin@example.com", "--name", "Admin",
            "--superuser", env=env, cwd=tmp_path,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        with (
            live_server(
                "sqlite", database, tmp_path, PLANDECK_AUTH_REGISTRATION="invite"
            ) as server,
            server.anonymous() as client,
        ):
            newcomer = {"email": "new@example.com", "name": "New", "password": PASSWORD}
            refused = client.post("/auth/register", json=newcomer)
            assert refused.status_code == 403
            assert "invitation" in refused.json()["detail"]
            login = client.post(
                "/auth/login",
                json={"email": "admin@example.com", "password": "admin-password-1"},
            )
            token = login.json()["access_token"]
            created = client.post(
                "/auth/register", json=newcomer, headers={"Authorization": f"Bearer {token}"}
            )
            assert created.status_code == 201
