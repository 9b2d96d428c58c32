"""Authorisation for every API route, generated from the app's own route table.

A new route cannot escape: each one is called without credentials (401), by a user who is
not a member of the project (404, the project's existence is not revealed) and, when it
writes, by a viewer (403). Unsafe routes need a sample body below; a route without one
fails here until it gets one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from plandeck.app import create_app
from tests.api.live import PASSWORD, Caller, LiveServer

pytestmark = pytest.mark.slow

PREFIX = "/api/v1"
# Routes anyone may call: they are how a caller gets credentials (or gives them up).
PUBLIC = {
    ("POST", "/auth/register"),
    ("POST", "/auth/login"),
    ("POST", "/auth/token"),
    ("POST", "/auth/refresh"),
    ("POST", "/auth/logout"),
}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def _routes() -> list[tuple[str, str]]:
    schema = create_app().openapi()
    found = []
    for path, operations in schema["paths"].items():
        if not path.startswith(PREFIX):
            continue
        for method in operations:
            found.append((method.upper(), path.removeprefix(PREFIX)))
    return sorted(found)


ROUTES = _routes()
PROTECTED = [route for route in ROUTES if route not in PUBLIC]
PROJECT_ROUTES = [route for route in PROTECTED if route[1].startswith("/projects/{key}")]
PROJECT_WRITES = [route for route in PROJECT_ROUTES if route[0] in UNSAFE]


def _id(route: tuple[str, str]) -> str:
    return f"{route[0]} {route[1]}"


@dataclass
class World:
    """A project with one of everything, its owner, a viewer and a stranger."""

    owner: Caller
    viewer: Caller
    stranger: Caller
    key: str
    values: dict[str, str]


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture(scope="module")
def world(live: LiveServer) -> Iterator[World]:
    opened_before = len(live._clients)
    owner = live.signup("owner")
    key = live.project(owner)["key"]
    client = owner.client
    _ok(client.post(f"/projects/{key}/phases", json={"number": 1, "title": "Phase"}))
    _ok(client.post(f"/projects/{key}/sprints", json={"number": 1, "name": "Sprint"}))
    story = _ok(client.post(f"/projects/{key}/stories", json={"key": "1.1", "title": "Story"}))
    doomed = _ok(client.post(f"/projects/{key}/stories", json={"key": "1.2", "title": "Trash"}))
    assert client.delete(f"/projects/{key}/stories/1.2").status_code == 204
    task = _ok(client.post(f"/projects/{key}/stories/1.1/tasks", json={"text": "Task"}))
    comment = _ok(client.post(f"/projects/{key}/stories/1.1/comments", json={"body": "Hi"}))
    token = _ok(client.post("/tokens", json={"name": "t", "scopes": ["read"]}))
    viewer = live.member(owner, key, "viewer", "viewer")
    stranger = live.signup("stranger")
    values = {
        "key": key,
        "number": "1",
        "story_key": story["key"],
        "task_id": str(task["id"]),
        "comment_id": str(comment["id"]),
        "user_id": str(owner.user["id"]),
        "kind": "story",
        "item_id": str(doomed["id"]),
        "token_id": str(token["id"]),
    }
    # The module's clients live as long as the module, not one test.
    mine = live._clients[opened_before:]
    del live._clients[opened_before:]
    yield World(owner, viewer, stranger, key, values)
    for client in mine:
        client.close()


def _bodies(world: World) -> dict[tuple[str, str], dict[str, Any]]:
    """A valid request for each unsafe route, so that only authorisation can refuse it."""
    return {
        ("POST", "/projects"): {"json": {"key": "NEWKEY", "name": "New"}},
        ("PATCH", "/projects/{key}"): {"json": {"name": "Renamed"}},
        ("DELETE", "/projects/{key}"): {},
        ("POST", "/projects/{key}/members"): {
            "json": {"user_id": world.stranger.user["id"], "role": "viewer"}
        },
        ("PATCH", "/projects/{key}/members/{user_id}"): {"json": {"role": "member"}},
        ("DELETE", "/projects/{key}/members/{user_id}"): {},
        ("POST", "/projects/{key}/phases"): {"json": {"number": 2, "title": "Two"}},
        ("PATCH", "/projects/{key}/phases/{number}"): {"json": {"title": "Renamed"}},
        ("DELETE", "/projects/{key}/phases/{number}"): {},
        ("POST", "/projects/{key}/sprints"): {"json": {"number": 2, "name": "Two"}},
        ("PATCH", "/projects/{key}/sprints/{number}"): {"json": {"name": "Renamed"}},
        ("DELETE", "/projects/{key}/sprints/{number}"): {},
        ("POST", "/projects/{key}/sprints/{number}/start"): {},
        ("POST", "/projects/{key}/sprints/{number}/complete"): {
            "json": {"carry_over_to": "backlog"}
        },
        ("POST", "/projects/{key}/stories"): {"json": {"title": "New story"}},
        ("PATCH", "/projects/{key}/stories/{story_key}"): {"json": {"title": "Renamed"}},
        ("DELETE", "/projects/{key}/stories/{story_key}"): {},
        ("POST", "/projects/{key}/stories/{story_key}/move"): {"json": {"sprint": 1}},
        ("POST", "/projects/{key}/stories/{story_key}/tasks"): {"json": {"text": "More"}},
        ("PATCH", "/projects/{key}/tasks/{task_id}"): {"json": {"done": True}},
        ("DELETE", "/projects/{key}/tasks/{task_id}"): {},
        ("POST", "/projects/{key}/tasks/{task_id}/toggle"): {},
        ("POST", "/projects/{key}/stories/{story_key}/comments"): {"json": {"body": "More"}},
        ("PATCH", "/projects/{key}/comments/{comment_id}"): {"json": {"body": "Edited"}},
        ("DELETE", "/projects/{key}/comments/{comment_id}"): {},
        ("POST", "/projects/{key}/trash/{kind}/{item_id}/restore"): {},
        ("DELETE", "/projects/{key}/trash/{kind}/{item_id}"): {},
        ("POST", "/projects/{key}/imports"): {
            "files": [
                (
                    "files",
                    (
                        "plan.md",
                        b"## Sprint 3: Three\n\n### Story 3.1: A (1 pts)\n",
                        "text/markdown",
                    ),
                )
            ]
        },
        ("PATCH", "/users/me"): {"json": {"name": "Renamed"}},
        ("POST", "/users/me/password"): {
            "json": {"current_password": "x" * 12, "new_password": "y" * 12}
        },
        ("DELETE", "/users/me"): {},
        ("POST", "/tokens"): {"json": {"name": "t", "scopes": ["read"]}},
        ("DELETE", "/tokens/{token_id}"): {},
    }


def _call(
    client: httpx.Client, world: World, route: tuple[str, str], *, bodies: bool = True
) -> httpx.Response:
    method, template = route
    path = template.format(**world.values)
    extra: dict[str, Any] = {}
    if method in UNSAFE and bodies:
        samples = _bodies(world)
        assert route in samples, f"add a sample request for {_id(route)} to _bodies()"
        extra = samples[route]
    return client.request(method, path, **extra)


@pytest.mark.parametrize("route", PROTECTED, ids=_id)
def test_unauthenticated_is_401(live: LiveServer, world: World, route: tuple[str, str]) -> None:
    with live.anonymous() as client:
        response = _call(client, world, route)
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("route", PROJECT_ROUTES, ids=_id)
def test_non_member_is_404(world: World, route: tuple[str, str]) -> None:
    response = _call(world.stranger.client, world, route)
    assert response.status_code == 404, response.text
    assert world.key in response.json()["detail"]


@pytest.mark.parametrize("route", PROJECT_WRITES, ids=_id)
def test_viewer_writing_is_403(world: World, route: tuple[str, str]) -> None:
    response = _call(world.viewer.client, world, route)
    assert response.status_code == 403, response.text


def test_every_route_is_covered() -> None:
    # The tables above are built from the schema; check the schema holds every API route.
    routed = set()
    from plandeck.api import router as api_router_module

    for module_name in api_router_module.__dict__:
        module = getattr(api_router_module, module_name)
        router = getattr(module, "router", None)
        for route in getattr(router, "routes", []):
            for method in getattr(route, "methods", set()) - {"HEAD", "OPTIONS"}:
                routed.add((method, route.path))
    assert routed
    assert routed <= set(ROUTES), f"routes missing from the OpenAPI schema: {routed - set(ROUTES)}"
    assert len(PROTECTED) >= 40


COOKIE_WRITES = [route for route in PROTECTED if route[0] in UNSAFE]


@pytest.fixture(scope="module")
def browser(live: LiveServer, world: World) -> Iterator[httpx.Client]:
    """The owner, logged in the way a browser is: by the session cookie alone."""
    client = httpx.Client(base_url=live.api, timeout=30)
    login = client.post("/auth/login", json={"email": world.owner.email, "password": PASSWORD})
    assert login.status_code == 200
    assert "plandeck_session" in client.cookies
    yield client
    client.close()


@pytest.mark.parametrize("route", COOKIE_WRITES, ids=_id)
def test_cookie_write_without_csrf_token_is_403(
    browser: httpx.Client, world: World, route: tuple[str, str]
) -> None:
    response = _call(browser, world, route)
    assert response.status_code == 403, response.text
    assert "CSRF" in response.json()["detail"]
