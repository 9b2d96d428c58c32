"""A project's trash over HTTP against a real server: list, restore, purge.

Stories and tasks come from a plan import (its prune and its re-import trash them too).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.live import Caller, LiveServer

pytestmark = pytest.mark.slow

PLAN = """# Phase 1: Small - Planning

## Sprint 1: First

### Story 1.1: Login (3 pts)

**Tasks:**
- [ ] Form
- [x] Hashing

### Story 1.2: Logout (2 pts)
"""
WITHOUT_LOGOUT = PLAN.split("### Story 1.2")[0]
WITHOUT_LOGOUT_AND_HASHING = WITHOUT_LOGOUT.replace("- [x] Hashing\n", "")


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    return body


def _import(caller: Caller, key: str, text: str, **params: Any) -> None:
    response = caller.client.post(
        f"/projects/{key}/imports",
        files=[("files", ("plan.md", text.encode(), "text/markdown"))],
        params=params,
    )
    assert response.status_code == 200, response.text


def _trash(caller: Caller, key: str) -> list[tuple[str, str]]:
    response = caller.client.get(f"/projects/{key}/trash")
    assert response.status_code == 200, response.text
    return [(item["kind"], item["label"]) for item in response.json()]


def _item(caller: Caller, key: str, label: str) -> dict[str, Any]:
    (item,) = [i for i in caller.client.get(f"/projects/{key}/trash").json() if i["label"] == label]
    return item


def _story_keys(caller: Caller, key: str) -> list[str]:
    data = caller.client.get(f"/projects/{key}/export.json").json()
    stories = list(data["backlog"])
    for phase in data["phases"]:
        stories += phase["stories"]
        for sprint in phase["sprints"]:
            stories += sprint["stories"]
    return sorted(story["key"] for story in stories)


@pytest.fixture
def key(live: LiveServer, alice: Caller) -> str:
    project_key = str(live.project(alice)["key"])
    _import(alice, project_key, PLAN)
    return project_key


class TestListTrash:
    def test_a_new_project_has_an_empty_trash(self, live: LiveServer, alice: Caller) -> None:
        assert _trash(alice, live.project(alice)["key"]) == []

    def test_a_phase_is_listed_with_what_went_along(
        self, live: LiveServer, alice: Caller, key: str
    ) -> None:
        assert alice.client.delete(f"/projects/{key}/phases/1").status_code == 204
        viewer = live.member(alice, key, "viewer")
        items = viewer.client.get(f"/projects/{key}/trash").json()
        assert sorted((i["kind"], i["label"]) for i in items) == [
            ("phase", "Phase 1: Small"),
            ("sprint", "Sprint 1: First"),
            ("story", "1.1 Login"),
            ("story", "1.2 Logout"),
        ]
        assert {i["deleted_at"] for i in items} == {items[0]["deleted_at"]}
        assert all(
            i["deleted_by"] == {"id": alice.user["id"], "name": "alice", "email": alice.email}
            for i in items
        )

    def test_most_recently_deleted_first_and_who_did_it(
        self, live: LiveServer, alice: Caller, key: str
    ) -> None:
        admin = live.member(alice, key, "admin", name="admin")
        _import(admin, key, WITHOUT_LOGOUT_AND_HASHING, prune="true")
        assert alice.client.delete(f"/projects/{key}/sprints/1").status_code == 204
        items = alice.client.get(f"/projects/{key}/trash").json()
        listed = [(i["kind"], i["label"], i["deleted_by"]["name"]) for i in items]
        assert listed[0] == ("sprint", "Sprint 1: First", "alice")
        assert sorted(listed[1:]) == [
            ("story", "1.2 Logout", "admin"),
            ("task", "Task of 1.1: Hashing", "admin"),
        ]

    def test_non_member_gets_not_found(self, live: LiveServer, alice: Caller, key: str) -> None:
        stranger = live.signup("stranger")
        _problem(stranger.client.get(f"/projects/{key}/trash"), 404)


class TestRestore:
    def test_a_phase_comes_back_with_what_went_along(self, alice: Caller, key: str) -> None:
        assert alice.client.delete(f"/projects/{key}/phases/1").status_code == 204
        assert _story_keys(alice, key) == []
        phase = _item(alice, key, "Phase 1: Small")
        response = alice.client.post(f"/projects/{key}/trash/phase/{phase['id']}/restore")
        assert response.status_code == 204, response.text
        assert _trash(alice, key) == []
        assert alice.client.get(f"/projects/{key}/sprints/1").status_code == 200
        assert _story_keys(alice, key) == ["1.1", "1.2"]

    def test_a_member_restores_a_story_and_a_task(
        self, live: LiveServer, alice: Caller, key: str
    ) -> None:
        _import(alice, key, WITHOUT_LOGOUT_AND_HASHING, prune="true")
        member = live.member(alice, key, "member")
        story = _item(alice, key, "1.2 Logout")
        task = _item(alice, key, "Task of 1.1: Hashing")
        assert (
            member.client.post(f"/projects/{key}/trash/story/{story['id']}/restore").status_code
            == 204
        )
        assert (
            member.client.post(f"/projects/{key}/trash/task/{task['id']}/restore").status_code
            == 204
        )
        assert _trash(alice, key) == []
        assert _story_keys(alice, key) == ["1.1", "1.2"]

    def test_a_member_may_not_restore_a_sprint(
        self, live: LiveServer, alice: Caller, key: str
    ) -> None:
        assert alice.client.delete(f"/projects/{key}/sprints/1").status_code == 204
        sprint = _item(alice, key, "Sprint 1: First")
        member = live.member(alice, key, "member")
        _problem(member.client.post(f"/projects/{key}/trash/sprint/{sprint['id']}/restore"), 403)
        assert _trash(alice, key) == [("sprint", "Sprint 1: First")]

    def test_a_viewer_may_not_restore_a_story(
        self, live: LiveServer, alice: Caller, key: str
    ) -> None:
        _import(alice, key, WITHOUT_LOGOUT, prune="true")
        story = _item(alice, key, "1.2 Logout")
        viewer = live.member(alice, key, "viewer")
        _problem(viewer.client.post(f"/projects/{key}/trash/story/{story['id']}/restore"), 403)

    def test_what_is_not_in_the_trash_is_not_found(self, alice: Caller, key: str) -> None:
        sprint = alice.client.get(f"/projects/{key}/sprints/1").json()
        _problem(alice.client.post(f"/projects/{key}/trash/sprint/{sprint['id']}/restore"), 404)
        _problem(alice.client.post(f"/projects/{key}/trash/story/2000000000/restore"), 404)

    def test_unknown_kind_or_bad_id_is_invalid(self, alice: Caller, key: str) -> None:
        response = alice.client.post(f"/projects/{key}/trash/project/1/restore")
        assert ["path", "kind"] in [e["loc"] for e in _problem(response, 422)["errors"]]
        response = alice.client.delete(f"/projects/{key}/trash/story/0")
        assert ["path", "item_id"] in [e["loc"] for e in _problem(response, 422)["errors"]]

    def test_non_member_gets_not_found(self, live: LiveServer, alice: Caller, key: str) -> None:
        assert alice.client.delete(f"/projects/{key}/sprints/1").status_code == 204
        sprint = _item(alice, key, "Sprint 1: First")
        stranger = live.signup("stranger")
        _problem(stranger.client.post(f"/projects/{key}/trash/sprint/{sprint['id']}/restore"), 404)
        _problem(stranger.client.delete(f"/projects/{key}/trash/sprint/{sprint['id']}"), 404)


class TestPurge:
    def test_admin_purges_for_good(self, live: LiveServer, alice: Caller, key: str) -> None:
        _import(alice, key, WITHOUT_LOGOUT, prune="true")
        story = _item(alice, key, "1.2 Logout")
        admin = live.member(alice, key, "admin")
        response = admin.client.delete(f"/projects/{key}/trash/story/{story['id']}")
        assert response.status_code == 204, response.text
        assert _trash(alice, key) == []
        _problem(alice.client.post(f"/projects/{key}/trash/story/{story['id']}/restore"), 404)
        events = alice.client.get(
            f"/projects/{key}/activity", params={"entity_type": "story", "entity_id": story["id"]}
        ).json()["items"]
        assert events[0]["action"] == "purged"
        assert events[0]["actor_id"] == admin.user["id"]
        assert events[0]["before"]["key"] == "1.2"

    def test_a_member_may_not_purge(self, live: LiveServer, alice: Caller, key: str) -> None:
        _import(alice, key, WITHOUT_LOGOUT, prune="true")
        story = _item(alice, key, "1.2 Logout")
        member = live.member(alice, key, "member")
        _problem(member.client.delete(f"/projects/{key}/trash/story/{story['id']}"), 403)
        assert _trash(alice, key) == [("story", "1.2 Logout")]

    def test_a_live_item_cannot_be_purged(self, alice: Caller, key: str) -> None:
        phase = alice.client.get(f"/projects/{key}/phases/1").json()
        _problem(alice.client.delete(f"/projects/{key}/trash/phase/{phase['id']}"), 404)
        assert alice.client.get(f"/projects/{key}/phases/1").status_code == 200
