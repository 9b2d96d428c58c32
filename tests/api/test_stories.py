"""Stories over HTTP against a real server: CRUD by key, lists with cursors, the board, moves."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
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


def _locations(response: httpx.Response) -> list[list[str]]:
    return [error["loc"] for error in _problem(response, 422)["errors"]]


def _sprint(caller: Caller, key: str, number: int) -> dict[str, Any]:
    response = caller.client.post(
        f"/projects/{key}/sprints", json={"number": number, "name": f"Sprint {number}"}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _story(caller: Caller, project_key: str, /, **fields: Any) -> dict[str, Any]:
    response = caller.client.post(
        f"/projects/{project_key}/stories", json={"title": "A story", **fields}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _keys(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    body = response.json()
    items = body["items"] if isinstance(body, dict) else body
    return [item["key"] for item in items]


@pytest.fixture
def key(live: LiveServer, alice: Caller) -> str:
    return str(live.project(alice)["key"])


class TestCreateStory:
    def test_member_creates_with_generated_key_etag_and_location(
        self, live: LiveServer, alice: Caller, key: str
    ) -> None:
        sprint = _sprint(alice, key, 9)
        member = live.member(alice, key, "member")
        response = member.client.post(
            f"/projects/{key}/stories",
            json={"title": "Board", "points": 5, "priority": "high", "sprint_id": sprint["id"]},
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert (body["key"], body["points"], body["priority"], body["status"]) == (
            "9.1",
            5,
            "high",
            "draft",
        )
        assert body["reporter_id"] == member.user["id"]
        assert response.headers["ETag"] == f'"story-{body["id"]}-v1"'
        assert response.headers["Location"].endswith(f"/api/v1/projects/{key}/stories/9.1")

    def test_location_of_a_key_beyond_ascii_is_percent_encoded(
        self, alice: Caller, key: str
    ) -> None:
        response = alice.client.post(f"/projects/{key}/stories", json={"title": "x", "key": "۹.۱"})
        assert response.status_code == 201, response.text
        location = response.headers["Location"]
        assert location.endswith(f"/projects/{key}/stories/%DB%B9.%DB%B1")
        assert alice.client.get(location).json()["key"] == "۹.۱"

    def test_viewer_cannot_create(self, live: LiveServer, alice: Caller, key: str) -> None:
        viewer = live.member(alice, key, "viewer")
        response = viewer.client.post(f"/projects/{key}/stories", json={"title": "x"})
        assert "you are a viewer" in _problem(response, 403)["detail"]

    def test_non_member_gets_not_found(self, live: LiveServer, key: str) -> None:
        stranger = live.signup("stranger")
        response = stranger.client.post(f"/projects/{key}/stories", json={"title": "x"})
        _problem(response, 404)

    def test_invalid_fields_name_their_paths(self, alice: Caller, key: str) -> None:
        response = alice.client.post(
            f"/projects/{key}/stories",
            json={"points": -1, "priority": "urgent", "colour": "red"},
        )
        assert sorted(_locations(response)) == [
            ["body", "colour"],
            ["body", "points"],
            ["body", "priority"],
            ["body", "title"],
        ]

    def test_duplicate_key_is_a_conflict(self, alice: Caller, key: str) -> None:
        _story(alice, key, key="1.1")
        response = alice.client.post(f"/projects/{key}/stories", json={"title": "x", "key": "1.1"})
        assert _problem(response, 409)["field"] == "key"

    def test_new_is_no_story_key(self, alice: Caller, key: str) -> None:
        """/projects/{key}/stories/new is the page that creates a story."""
        created = alice.client.post(f"/projects/{key}/stories", json={"title": "x", "key": "new"})
        assert _locations(created) == [["body", "key"]]
        story = _story(alice, key, key="1.1")
        renamed = alice.client.patch(f"/projects/{key}/stories/{story['key']}", json={"key": "new"})
        assert _locations(renamed) == [["body", "key"]]
        assert "'new' is reserved" in renamed.text
        news = alice.client.post(f"/projects/{key}/stories", json={"title": "x", "key": "News"})
        assert news.status_code == 201, news.text

    def test_anonymous_caller_is_not_authenticated(self, live: LiveServer, key: str) -> None:
        with live.anonymous() as client:
            _problem(client.post(f"/projects/{key}/stories", json={"title": "x"}), 401)


class TestReadStory:
    def test_reads_by_key_with_an_etag(self, live: LiveServer, alice: Caller, key: str) -> None:
        created = _story(alice, key, key="PD-7", title="Login")
        viewer = live.member(alice, key, "viewer")
        response = viewer.client.get(f"/projects/{key}/stories/PD-7")
        assert response.status_code == 200, response.text
        assert response.json()["title"] == "Login"
        assert response.headers["ETag"] == f'"story-{created["id"]}-v1"'

    def test_unknown_key_and_non_member_are_not_found(
        self, live: LiveServer, alice: Caller, key: str
    ) -> None:
        _story(alice, key, key="1.1")
        assert (
            "story 9.9 not found"
            in _problem(alice.client.get(f"/projects/{key}/stories/9.9"), 404)["detail"]
        )
        stranger = live.signup("stranger")
        _problem(stranger.client.get(f"/projects/{key}/stories/1.1"), 404)


class TestUpdateStory:
    def test_if_match_guards_the_change_and_names_the_current_version(
        self, alice: Caller, key: str
    ) -> None:
        story = _story(alice, key, key="1.1")
        read = alice.client.get(f"/projects/{key}/stories/1.1")
        etag = read.headers["ETag"]
        first = alice.client.patch(
            f"/projects/{key}/stories/1.1",
            json={"status": "in_progress", "points": 8},
            headers={"If-Match": etag},
        )
        assert first.status_code == 200, first.text
        assert (first.json()["status"], first.json()["points"], first.json()["version"]) == (
            "in_progress",
            8,
            2,
        )
        assert first.headers["ETag"] == f'"story-{story["id"]}-v2"'

        stale = alice.client.patch(
            f"/projects/{key}/stories/1.1", json={"title": "late"}, headers={"If-Match": etag}
        )
        problem = _problem(stale, 409)
        assert (problem["current_version"], problem["entity"]) == (2, "story")
        assert alice.client.get(f"/projects/{key}/stories/1.1").json()["title"] == "A story"

    def test_body_version_is_checked_too(self, alice: Caller, key: str) -> None:
        _story(alice, key, key="1.1")
        response = alice.client.patch(
            f"/projects/{key}/stories/1.1", json={"title": "x", "version": 4}
        )
        assert _problem(response, 409)["current_version"] == 1

    def test_malformed_if_match_and_null_title_are_invalid(self, alice: Caller, key: str) -> None:
        _story(alice, key, key="1.1")
        response = alice.client.patch(
            f"/projects/{key}/stories/1.1", json={"title": "x"}, headers={"If-Match": "v1"}
        )
        assert ["header", "If-Match"] in [e["loc"] for e in _problem(response, 422)["errors"]]
        response = alice.client.patch(f"/projects/{key}/stories/1.1", json={"title": None})
        assert _locations(response) == [["body"]]

    def test_viewer_cannot_change(self, live: LiveServer, alice: Caller, key: str) -> None:
        _story(alice, key, key="1.1")
        viewer = live.member(alice, key, "viewer")
        _problem(viewer.client.patch(f"/projects/{key}/stories/1.1", json={"title": "x"}), 403)


class TestDeleteStory:
    def test_goes_to_the_trash(self, alice: Caller, key: str) -> None:
        story = _story(alice, key, key="1.1")
        response = alice.client.delete(f"/projects/{key}/stories/1.1")
        assert response.status_code == 204, response.text
        _problem(alice.client.get(f"/projects/{key}/stories/1.1"), 404)
        trash = alice.client.get(f"/projects/{key}/trash")
        assert [(item["kind"], item["id"]) for item in trash.json()] == [("story", story["id"])]

    def test_stale_if_match_is_a_conflict(self, alice: Caller, key: str) -> None:
        story = _story(alice, key, key="1.1")
        alice.client.patch(f"/projects/{key}/stories/1.1", json={"title": "changed"})
        response = alice.client.delete(
            f"/projects/{key}/stories/1.1", headers={"If-Match": f'"story-{story["id"]}-v1"'}
        )
        _problem(response, 409)

    def test_viewer_cannot_delete(self, live: LiveServer, alice: Caller, key: str) -> None:
        _story(alice, key, key="1.1")
        viewer = live.member(alice, key, "viewer")
        _problem(viewer.client.delete(f"/projects/{key}/stories/1.1"), 403)


class TestListStories:
    def test_filters(self, live: LiveServer, alice: Caller, key: str) -> None:
        sprint = _sprint(alice, key, 3)
        bob = live.member(alice, key, "member")
        _story(alice, key, key="a", title="Login form", status="done", assignee_id=alice.user["id"])
        _story(alice, key, key="b", title="Logout", status="review", sprint_id=sprint["id"])
        _story(alice, key, key="c", title="Search", description="LOGIN audit", moscow="must")
        _story(alice, key, key="d", title="Export", assignee_id=bob.user["id"], priority="low")
        url = f"/projects/{key}/stories"

        assert _keys(alice.client.get(url, params={"status": ["done", "review"]})) == ["b", "a"]
        assert _keys(alice.client.get(url, params={"assignee": "me"})) == ["a"]
        assert _keys(bob.client.get(url, params={"assignee": "me"})) == ["d"]
        assert _keys(alice.client.get(url, params={"assignee": "none"})) == ["b", "c"]
        assert _keys(alice.client.get(url, params={"assignee": bob.user["id"]})) == ["d"]
        assert _keys(alice.client.get(url, params={"sprint": 3})) == ["b"]
        assert _keys(alice.client.get(url, params={"sprint": "backlog", "q": "login"})) == [
            "a",
            "c",
        ]
        assert _keys(alice.client.get(url, params={"moscow": "must", "priority": "medium"})) == [
            "c"
        ]

    def test_cursor_pages_through_every_story_once(self, alice: Caller, key: str) -> None:
        for index in range(7):
            _story(alice, key, key=f"K{index}", points=index % 3)
        seen: list[str] = []
        pages = 0
        params: dict[str, Any] = {"sort": "-points", "limit": 3}
        while True:
            response = alice.client.get(f"/projects/{key}/stories", params=params)
            body = response.json()
            seen += _keys(response)
            pages += 1
            if body["next_cursor"] is None:
                break
            params["cursor"] = body["next_cursor"]
        assert pages == 3
        # Descending reverses the whole order, the tie-breaking id included.
        assert seen == ["K5", "K2", "K4", "K1", "K6", "K3", "K0"]

    @pytest.mark.parametrize(
        ("params", "location"),
        [
            ({"limit": 0}, ["query", "limit"]),
            ({"limit": 201}, ["query", "limit"]),
            ({"sort": "title"}, ["query", "sort"]),
            ({"status": ["done", "finished"]}, ["query", "status", "1"]),
            ({"assignee": "someone"}, ["query", "assignee"]),
            ({"sprint": "next"}, ["query", "sprint"]),
        ],
    )
    def test_invalid_parameters_name_their_paths(
        self, alice: Caller, key: str, params: dict[str, Any], location: list[str]
    ) -> None:
        locations = _locations(alice.client.get(f"/projects/{key}/stories", params=params))
        assert all(loc[: len(location)] == location for loc in locations), locations
        assert locations

    def test_damaged_cursor_is_invalid(self, alice: Caller, key: str) -> None:
        response = alice.client.get(f"/projects/{key}/stories", params={"cursor": "garbage"})
        assert _problem(response, 422)["field"] == "cursor"

    def test_non_member_gets_not_found(self, live: LiveServer, key: str) -> None:
        _problem(live.signup("stranger").client.get(f"/projects/{key}/stories"), 404)


class TestBoard:
    def test_sprint_stories_by_rank_with_task_counts(
        self, live: LiveServer, alice: Caller, key: str
    ) -> None:
        _sprint(alice, key, 4)
        sprint_id = alice.client.get(f"/projects/{key}/sprints/4").json()["id"]
        _story(alice, key, sprint_id=sprint_id)
        _story(alice, key, sprint_id=sprint_id)
        _story(alice, key, key="B-1")
        for done in (True, False, True):
            task = alice.client.post(
                f"/projects/{key}/stories/4.2/tasks", json={"text": "t", "done": done}
            )
            assert task.status_code == 201, task.text

        viewer = live.member(alice, key, "viewer")
        response = viewer.client.get(f"/projects/{key}/sprints/4/stories")
        assert response.status_code == 200, response.text
        assert [(s["key"], s["tasks_total"], s["tasks_done"]) for s in response.json()] == [
            ("4.1", 0, 0),
            ("4.2", 3, 2),
        ]
        assert _keys(viewer.client.get(f"/projects/{key}/backlog")) == ["B-1"]

    def test_unknown_sprint_or_non_member_is_not_found(
        self, live: LiveServer, alice: Caller, key: str
    ) -> None:
        _sprint(alice, key, 1)
        assert (
            "sprint 2 not found"
            in _problem(alice.client.get(f"/projects/{key}/sprints/2/stories"), 404)["detail"]
        )
        stranger = live.signup("stranger")
        _problem(stranger.client.get(f"/projects/{key}/sprints/1/stories"), 404)
        _problem(stranger.client.get(f"/projects/{key}/backlog"), 404)

    def test_negative_sprint_number_is_invalid(self, alice: Caller, key: str) -> None:
        response = alice.client.get(f"/projects/{key}/sprints/-1/stories")
        assert _locations(response) == [["path", "number"]]


class TestMoveStory:
    @pytest.fixture
    def board(self, alice: Caller, key: str) -> str:
        sprint = _sprint(alice, key, 7)
        for _ in range(3):
            _story(alice, key, sprint_id=sprint["id"])
        return key

    def _order(self, caller: Caller, key: str, number: int = 7) -> list[str]:
        return _keys(caller.client.get(f"/projects/{key}/sprints/{number}/stories"))

    def test_moves_into_a_sprint_between_neighbours(
        self, live: LiveServer, alice: Caller, board: str
    ) -> None:
        story = _story(alice, board, key="B-1")
        member = live.member(alice, board, "member")
        response = member.client.post(
            f"/projects/{board}/stories/B-1/move",
            json={"sprint": 7, "status": "approved", "after": "7.1", "before": "7.2"},
        )
        assert response.status_code == 200, response.text
        assert (response.json()["status"], response.json()["version"]) == ("approved", 2)
        assert response.headers["ETag"] == f'"story-{story["id"]}-v2"'
        assert self._order(alice, board) == ["7.1", "B-1", "7.2", "7.3"]
        events = alice.client.get(
            f"/projects/{board}/activity", params={"entity_type": "story", "entity_id": story["id"]}
        )
        moved = events.json()["items"][0]
        assert (moved["action"], moved["actor_id"]) == ("moved", member.user["id"])
        assert moved["before"]["sprint_id"] is None
        assert (moved["after"]["sprint_id"], moved["after"]["status"]) == (
            response.json()["sprint_id"],
            "approved",
        )

    def test_to_the_backlog_and_back_to_the_top(self, alice: Caller, board: str) -> None:
        response = alice.client.post(f"/projects/{board}/stories/7.3/move", json={"sprint": None})
        assert response.status_code == 200, response.text
        assert _keys(alice.client.get(f"/projects/{board}/backlog")) == ["7.3"]
        alice.client.post(
            f"/projects/{board}/stories/7.3/move", json={"sprint": 7, "before": "7.1"}
        )
        assert self._order(alice, board) == ["7.3", "7.1", "7.2"]

    def test_stale_if_match_is_a_conflict(self, alice: Caller, board: str) -> None:
        etag = alice.client.get(f"/projects/{board}/stories/7.1").headers["ETag"]
        alice.client.patch(f"/projects/{board}/stories/7.1", json={"points": 1})
        response = alice.client.post(
            f"/projects/{board}/stories/7.1/move", json={"after": "7.3"}, headers={"If-Match": etag}
        )
        assert _problem(response, 409)["current_version"] == 2

    def test_neighbours_out_of_order_are_a_conflict(self, alice: Caller, board: str) -> None:
        response = alice.client.post(
            f"/projects/{board}/stories/7.1/move", json={"after": "7.3", "before": "7.2"}
        )
        _problem(response, 409)

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"after": "9.9"}, "after"),
            ({"before": "7.1"}, "before"),
            ({"sprint": 99}, "sprint"),
            ({"sprint": None, "after": "7.2"}, "after"),
        ],
    )
    def test_bad_targets_are_invalid(
        self, alice: Caller, board: str, body: dict[str, Any], field: str
    ) -> None:
        response = alice.client.post(f"/projects/{board}/stories/7.1/move", json=body)
        assert _problem(response, 422)["field"] == field

    def test_malformed_body_names_its_paths(self, alice: Caller, board: str) -> None:
        response = alice.client.post(
            f"/projects/{board}/stories/7.1/move",
            json={"sprint": "seven", "status": "lost", "rank": "a0"},
        )
        assert sorted(_locations(response)) == [
            ["body", "rank"],
            ["body", "sprint"],
            ["body", "status"],
        ]

    def test_viewer_cannot_move_non_member_gets_not_found(
        self, live: LiveServer, alice: Caller, board: str
    ) -> None:
        viewer = live.member(alice, board, "viewer")
        url = f"/projects/{board}/stories/7.1/move"
        _problem(viewer.client.post(url, json={"after": "7.3"}), 403)
        _problem(live.signup("stranger").client.post(url, json={"after": "7.3"}), 404)

    def test_concurrent_moves_into_one_gap_all_land_in_order(
        self, live: LiveServer, alice: Caller, board: str
    ) -> None:
        movers = [live.member(alice, board, "member", name=f"mover{i}") for i in range(6)]
        keys = [_story(alice, board, key=f"C{i}")["key"] for i in range(6)]
        start = threading.Barrier(len(movers))

        def move(caller: Caller, story_key: str) -> httpx.Response:
            start.wait()
            return caller.client.post(
                f"/projects/{board}/stories/{story_key}/move",
                json={"sprint": 7, "after": "7.1", "before": "7.2"},
            )

        with ThreadPoolExecutor(len(movers)) as pool:
            responses = list(pool.map(move, movers, keys))
        assert [r.status_code for r in responses] == [200] * len(movers), [
            r.text for r in responses
        ]

        board_rows = alice.client.get(f"/projects/{board}/sprints/7/stories").json()
        order = [row["key"] for row in board_rows]
        assert order[0] == "7.1"
        assert order[-2:] == ["7.2", "7.3"]
        assert sorted(order[1:-2]) == keys
        ranks = [row["rank"] for row in board_rows]
        assert ranks == sorted(ranks)
        assert len(set(ranks)) == len(ranks)
        for mover in movers:
            mover.client.close()
