"""A real plandeck server process per database kind, and signed-up API callers for it."""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.processes import env_for, noting_secrets, plandeck_server, remember_secret

PASSWORD = "correct-horse-battery"
remember_secret(PASSWORD, "password")
_counter = itertools.count(1)


@dataclass
class LiveServer:
    base_url: str
    kind: str
    database_url: str
    data_dir: Path
    env: dict[str, str]
    _clients: list[httpx.Client] = field(default_factory=list)

    def _track(self, client: httpx.Client) -> httpx.Client:
        self._clients.append(client)
        return noting_secrets(client)

    def close_clients(self, keep: int = 0) -> None:
        """Close the clients handed out after the first ``keep`` (the API tests' autouse
        fixture closes what each test opened; module fixtures keep theirs)."""
        while len(self._clients) > keep:
            self._clients.pop().close()

    @property
    def api(self) -> str:
        return self.base_url + "/api/v1"

    def anonymous(self) -> httpx.Client:
        return self._track(httpx.Client(base_url=self.api, timeout=30))

    def browser(self, **headers: str) -> httpx.Client:
        """An HTTP client for the pages (the site's root), as a browser without a session."""
        return self._track(httpx.Client(base_url=self.base_url, timeout=30, headers=headers))

    def browser_for(self, caller: Caller, **headers: str) -> httpx.Client:
        """A page client logged in as ``caller`` through the login form (the session
        cookie in its jar)."""
        browser = self.browser(**headers)
        response = browser.post("/login", data={"email": caller.email, "password": PASSWORD})
        assert response.status_code == 303, response.text
        return browser

    def signup(self, name: str = "user") -> Caller:
        """A new account, logged in with an access token."""
        email = f"{name}-{next(_counter)}-{uuid.uuid4().hex[:8]}@example.com"
        with self.anonymous() as client:
            created = client.post(
                "/auth/register", json={"email": email, "name": name, "password": PASSWORD}
            )
            assert created.status_code == 201, created.text
            login = client.post("/auth/login", json={"email": email, "password": PASSWORD})
            assert login.status_code == 200, login.text
        body = login.json()
        client = self._track(
            httpx.Client(
                base_url=self.api,
                timeout=30,
                headers={"Authorization": f"Bearer {body['access_token']}"},
            )
        )
        return Caller(client=client, user=body["user"], email=email, tokens=body)

    def project(self, owner: Caller, **fields: Any) -> dict[str, Any]:
        key = fields.pop("key", f"P{uuid.uuid4().hex[:6].upper()}")
        created = owner.client.post(
            "/projects", json={"key": key, "name": f"Project {key}", **fields}
        )
        assert created.status_code == 201, created.text
        body: dict[str, Any] = created.json()
        return body

    def member(self, owner: Caller, project_key: str, role: str, name: str = "member") -> Caller:
        caller = self.signup(name)
        added = owner.client.post(
            f"/projects/{project_key}/members", json={"user_id": caller.user["id"], "role": role}
        )
        assert added.status_code == 201, added.text
        return caller


@dataclass
class Caller:
    client: httpx.Client
    user: dict[str, Any]
    email: str
    tokens: dict[str, Any]


@contextmanager
def live_server(kind: str, database_url: str, data_dir: Path, **env: str) -> Iterator[LiveServer]:
    environment = env_for(
        database_url,
        data_dir,
        PLANDECK_RATE_LIMIT_ENABLED="false",
        # Many accounts are made: cheap argon2 parameters (the default ones are tested elsewhere).
        PLANDECK_PASSWORD_HASHING="fast",
        **env,
    )
    with plandeck_server(env=environment, cwd=data_dir) as base_url:
        yield LiveServer(base_url, kind, database_url, data_dir, environment)


def csrf_of(page: httpx.Response) -> str:
    """The CSRF token of a page's forms."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, "the page has no form with a CSRF token"
    remember_secret(found.group(1))
    return found.group(1)
