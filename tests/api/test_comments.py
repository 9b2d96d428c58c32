"""Comments over HTTP against a real server: authors edit their own, admins may delete any."""

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


def _comment(caller: Caller, key: str, body: str = "Looks good") -> dict[str, Any]:
    response = caller.client.post(f"/projects/{key}/stories/1.1/comments", json={"body": body})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _bodies(caller: Caller, key: str) -> list[str]:
    response = caller.client.get(f"/projects/{key}/stories/1.1/comments")
    assert response.status_code == 200, response.text
    return [comment["body"] for comment in response.json()]


@pytest.fixture
def key(live: LiveServer, alice: Caller) -> str:
    key = str(live.project(alice)["key"])
    created = alice.client.post(f"/projects/{key}/stories", json={"title": "A story", "key": "1.1"})
    assert created.status_code == 201, created.text
    return key


class TestCreateComment:
    def test_member_comments_as_author(self, live: LiveServer, alice: Caller, key: str) -> None:
        member = live.member(alice, key, "member")
        comment = _comment(member, key, "First")
        _comment(alice, key, "Second")
        assert comment["author_id"] == member.user["id"]
        viewer = live.member(alice, key, "viewer")
        assert _bodies(viewer, key) == ["First", "Second"]

    def test_viewer_cannot_comment(self, live: LiveServer, alice: Caller, key: str) -> None:
        viewer = live.member(alice, key, "viewer")
        response = viewer.client.post(f"/projects/{key}/stories/1.1/comments", json={"body": "x"})
        _problem(response, 403)

    def test_non_member_and_unknown_story_are_not_found(
        self, live: LiveServer, alice: Caller, key: str
    ) -> None:
        stranger = live.signup("stranger")
        _problem(stranger.client.get(f"/projects/{key}/stories/1.1/comments"), 404)
        _problem(alice.client.get(f"/projects/{key}/stories/2.2/comments"), 404)

    def test_blank_or_missing_body_is_invalid(self, alice: Caller, key: str) -> None:
        url = f"/projects/{key}/stories/1.1/comments"
        for payload in ({"body": "  "}, {}):
            problem = _problem(alice.client.post(url, json=payload), 422)
            assert [e["loc"] for e in problem["errors"]] == [["body", "body"]]


class TestUpdateComment:
    def test_author_edits_their_own(self, alice: Caller, key: str) -> None:
        comment = _comment(alice, key, "Typo")
        response = alice.client.patch(
            f"/projects/{key}/comments/{comment['id']}", json={"body": "Fixed"}
        )
        assert response.status_code == 200, response.text
        assert response.json()["body"] == "Fixed"
        assert _bodies(alice, key) == ["Fixed"]

    def test_nobody_else_edits_not_even_an_owner(
        self, live: LiveServer, alice: Caller, key: str
    ) -> None:
        member = live.member(alice, key, "member")
        comment = _comment(member, key)
        url = f"/projects/{key}/comments/{comment['id']}"
        assert (
            "only its author"
            in _problem(alice.client.patch(url, json={"body": "x"}), 403)["detail"]
        )
        _problem(live.signup("stranger").client.patch(url, json={"body": "x"}), 404)

    def test_unknown_comment_is_not_found(self, alice: Caller, key: str) -> None:
        _problem(alice.client.patch(f"/projects/{key}/comments/999999", json={"body": "x"}), 404)


class TestDeleteComment:
    def test_author_deletes_their_own(self, live: LiveServer, alice: Caller, key: str) -> None:
        member = live.member(alice, key, "member")
        comment = _comment(member, key)
        response = member.client.delete(f"/projects/{key}/comments/{comment['id']}")
        assert response.status_code == 204, response.text
        assert _bodies(alice, key) == []

    def test_admin_deletes_anyones_member_does_not(
        self, live: LiveServer, alice: Caller, key: str
    ) -> None:
        author = live.member(alice, key, "member")
        other = live.member(alice, key, "member")
        admin = live.member(alice, key, "admin")
        comment = _comment(author, key)
        url = f"/projects/{key}/comments/{comment['id']}"
        _problem(other.client.delete(url), 403)
        assert admin.client.delete(url).status_code == 204
