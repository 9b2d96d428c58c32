"""A project's activity over HTTP against a real server: newest first, cursor pages, filters."""

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


def _page(caller: Caller, key: str, **params: Any) -> dict[str, Any]:
    response = caller.client.get(f"/projects/{key}/activity", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def key(live: LiveServer, alice: Caller) -> str:
    """A project with 1 + 3 + 1 + 1 events: created, three phases, an update, a delete."""
    project_key = str(live.project(alice)["key"])
    for number in (1, 2, 3):
        response = alice.client.post(
            f"/projects/{project_key}/phases", json={"number": number, "title": f"P{number}"}
        )
        assert response.status_code == 201
    assert alice.client.patch(f"/projects/{project_key}/phases/2", json={"title": "B"}).is_success
    assert alice.client.delete(f"/projects/{project_key}/phases/3").status_code == 204
    return project_key


class TestActivity:
    def test_newest_first_with_before_and_after(
        self, live: LiveServer, alice: Caller, key: str
    ) -> None:
        viewer = live.member(alice, key, "viewer")
        page = _page(viewer, key)
        actions = [(e["entity_type"], e["action"]) for e in page["items"]]
        assert actions == [
            ("membership", "created"),
            ("phase", "deleted"),
            ("phase", "updated"),
            ("phase", "created"),
            ("phase", "created"),
            ("phase", "created"),
            ("project", "created"),
        ]
        assert page["next_before"] is None
        ids = [e["id"] for e in page["items"]]
        assert ids == sorted(ids, reverse=True)
        updated = page["items"][2]
        assert (updated["before"], updated["after"], updated["actor_id"]) == (
            {"title": "P2"},
            {"title": "B"},
            alice.user["id"],
        )

    def test_pages_follow_the_cursor_without_gaps_or_repeats(self, alice: Caller, key: str) -> None:
        everything = [e["id"] for e in _page(alice, key)["items"]]
        seen: list[int] = []
        params: dict[str, Any] = {"limit": 2}
        pages = 0
        while True:
            page = _page(alice, key, **params)
            pages += 1
            seen += [e["id"] for e in page["items"]]
            if page["next_before"] is None:
                break
            assert page["next_before"] == page["items"][-1]["id"]
            params["before"] = page["next_before"]
        assert seen == everything
        assert pages == 3  # 2 + 2 + 2: a full last page says it is the last

    def test_filter_by_record(self, alice: Caller, key: str) -> None:
        phase = alice.client.get(f"/projects/{key}/phases/2").json()
        page = _page(alice, key, entity_type="phase", entity_id=phase["id"])
        assert [e["action"] for e in page["items"]] == ["updated", "created"]
        assert {e["entity_id"] for e in page["items"]} == {phase["id"]}
        assert len(_page(alice, key, entity_type="phase")["items"]) == 5

    @pytest.mark.parametrize(
        ("params", "name"),
        [
            ({"limit": 0}, "limit"),
            ({"limit": 201}, "limit"),
            ({"before": 0}, "before"),
            ({"before": "latest"}, "before"),
            ({"entity_type": "sprintz"}, "entity_type"),
            ({"entity_id": -1}, "entity_id"),
        ],
    )
    def test_malformed_query_is_named(
        self, alice: Caller, key: str, params: dict[str, Any], name: str
    ) -> None:
        response = alice.client.get(f"/projects/{key}/activity", params=params)
        assert ["query", name] in [e["loc"] for e in _problem(response, 422)["errors"]]

    def test_non_member_gets_not_found(self, live: LiveServer, key: str) -> None:
        stranger = live.signup("stranger")
        _problem(stranger.client.get(f"/projects/{key}/activity"), 404)
