"""Tasks over HTTP against a real server: a story's checklist, nested, ticked off, reordered."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.live import Caller, LiveServer

pytestmark = pytest.mark.slow


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    return body


def _task(caller: Caller, key: str, story_key: str, **fields: Any) -> dict[str, Any]:
    response = caller.client.post(
        f"/projects/{key}/stories/{story_key}/tasks", json={"text": "A task", **fields}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _texts(caller: Caller, key: str, story_key: str) -> list[str]:
    response = caller.client.get(f"/projects/{key}/stories/{story_key}/tasks")
    assert response.status_code == 200, response.text
    return [task["text"] for task in response.json()]


@pytest.fixture
def key(live: LiveServer, alice: Caller) -> str:
    key = str(live.project(alice)["key"])
    for story_key in ("1.1", "1.2"):
        created = alice.client.post(
            f"/projects/{key}/stories", json={"title": "A story", "key": story_key}
        )
        assert created.status_code == 201, created.text
    return key


class TestCreateTask:
    def test_member_appends_and_nests(self, live: LiveServer, alice: Caller, key: str) -> None:
        member = live.member(alice, key, "member")
        first = _task(member, key, "1.1", text="Schema")
        second = _task(member, key, "1.1", text="Migration")
        sub = _task(member, key, "1.1", text="Down migration", parent_id=second["id"])
        assert [first["position"], second["position"], sub["position"]] == [0, 1, 2]
        assert (sub["parent_id"], sub["done"]) == (second["id"], False)
        assert _texts(alice, key, "1.1") == ["Schema", "Migration", "Down migration"]
        assert _texts(alice, key, "1.2") == []

    def test_parent_in_another_story_is_invalid(self, alice: Caller, key: str) -> None:
        other = _task(alice, key, "1.2")
        response = alice.client.post(
            f"/projects/{key}/stories/1.1/tasks", json={"text": "x", "parent_id": other["id"]}
        )
        assert _problem(response, 422)["field"] == "parent_id"

    def test_malformed_body_names_its_paths(self, alice: Caller, key: str) -> None:
        response = alice.client.post(
            f"/projects/{key}/stories/1.1/tasks", json={"text": " ", "position": -1}
        )
        locations = sorted(error["loc"] for error in _problem(response, 422)["errors"])
        assert locations == [["body", "position"], ["body", "text"]]

    def test_viewer_cannot_add_non_member_gets_not_found(
        self, live: LiveServer, alice: Caller, key: str
    ) -> None:
        viewer = live.member(alice, key, "viewer")
        url = f"/projects/{key}/stories/1.1/tasks"
        _problem(viewer.client.post(url, json={"text": "x"}), 403)
        stranger = live.signup("stranger")
        _problem(stranger.client.post(url, json={"text": "x"}), 404)
        _problem(stranger.client.get(url), 404)

    def test_unknown_story_is_not_found(self, alice: Caller, key: str) -> None:
        _problem(alice.client.get(f"/projects/{key}/stories/9.9/tasks"), 404)
        _problem(alice.client.post(f"/projects/{key}/stories/9.9/tasks", json={"text": "x"}), 404)


class TestUpdateTask:
    def test_toggle_edit_and_reorder(self, alice: Caller, key: str) -> None:
        first = _task(alice, key, "1.1", text="First")
        _task(alice, key, "1.1", text="Second")
        done = alice.client.patch(f"/projects/{key}/tasks/{first['id']}", json={"done": True})
        assert done.status_code == 200, done.text
        assert done.json()["done"] is True
        moved = alice.client.patch(
            f"/projects/{key}/tasks/{first['id']}", json={"text": "Last", "position": 5}
        )
        assert (moved.json()["text"], moved.json()["position"]) == ("Last", 5)
        assert _texts(alice, key, "1.1") == ["Second", "Last"]
        board = alice.client.get(f"/projects/{key}/backlog").json()
        assert [(s["key"], s["tasks_total"], s["tasks_done"]) for s in board] == [
            ("1.1", 2, 1),
            ("1.2", 0, 0),
        ]

    def test_viewer_cannot_change(self, live: LiveServer, alice: Caller, key: str) -> None:
        task = _task(alice, key, "1.1")
        viewer = live.member(alice, key, "viewer")
        _problem(
            viewer.client.patch(f"/projects/{key}/tasks/{task['id']}", json={"done": True}), 403
        )

    def test_task_of_another_project_is_not_found(
        self, live: LiveServer, alice: Caller, key: str
    ) -> None:
        task = _task(alice, key, "1.1")
        other = live.project(alice)["key"]
        _problem(
            alice.client.patch(f"/projects/{other}/tasks/{task['id']}", json={"done": True}), 404
        )
        _problem(alice.client.patch(f"/projects/{key}/tasks/0", json={"done": True}), 422)

    def test_unknown_field_is_invalid(self, alice: Caller, key: str) -> None:
        task = _task(alice, key, "1.1")
        response = alice.client.patch(f"/projects/{key}/tasks/{task['id']}", json={"story_id": 1})
        assert [e["loc"] for e in _problem(response, 422)["errors"]] == [["body", "story_id"]]


class TestToggleTask:
    def test_toggle_flips_done_and_back(self, alice: Caller, key: str) -> None:
        task = _task(alice, key, "1.1", text="Write it")
        on = alice.client.post(f"/projects/{key}/tasks/{task['id']}/toggle")
        assert on.status_code == 200
        assert on.json()["done"] is True
        off = alice.client.post(f"/projects/{key}/tasks/{task['id']}/toggle")
        assert off.json()["done"] is False
        read = alice.client.get(f"/projects/{key}/tasks/{task['id']}")
        assert read.json()["done"] is False

    def test_viewer_cannot_toggle(self, live: LiveServer, alice: Caller, key: str) -> None:
        task = _task(alice, key, "1.1", text="Write it")
        viewer = live.member(alice, key, "viewer")
        assert viewer.client.get(f"/projects/{key}/tasks/{task['id']}").status_code == 200
        _problem(viewer.client.post(f"/projects/{key}/tasks/{task['id']}/toggle"), 403)


class TestDeleteTask:
    def test_goes_to_the_trash(self, alice: Caller, key: str) -> None:
        task = _task(alice, key, "1.1", text="Gone")
        _task(alice, key, "1.1", text="Kept")
        response = alice.client.delete(f"/projects/{key}/tasks/{task['id']}")
        assert response.status_code == 204, response.text
        assert _texts(alice, key, "1.1") == ["Kept"]
        _problem(alice.client.delete(f"/projects/{key}/tasks/{task['id']}"), 404)

    def test_viewer_cannot_delete(self, live: LiveServer, alice: Caller, key: str) -> None:
        task = _task(alice, key, "1.1")
        viewer = live.member(alice, key, "viewer")
        _problem(viewer.client.delete(f"/projects/{key}/tasks/{task['id']}"), 403)
