"""Projects and members over HTTP against a real server: roles, ETags, problems."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.api.live import Caller, LiveServer

pytestmark = pytest.mark.slow


def _key() -> str:
    return f"K{uuid.uuid4().hex[:8].upper()}"


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


def _locations(response: httpx.Response) -> list[list[str]]:
    return [error["loc"] for error in _problem(response, 422)["errors"]]


class TestCreateProject:
    def test_creator_becomes_owner(self, live: LiveServer, alice: Caller) -> None:
        key = _key()
        response = alice.client.post(
            "/projects",
            json={"key": key, "name": "Planner", "description": "d", "timezone": "Europe/Berlin"},
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert (body["key"], body["name"], body["timezone"], body["version"]) == (
            key,
            "Planner",
            "Europe/Berlin",
            1,
        )
        assert response.headers["ETag"] == f'"project-{body["id"]}-v1"'
        members = alice.client.get(f"/projects/{key}/members").json()
        assert [(m["user_id"], m["role"]) for m in members] == [(alice.user["id"], "owner")]
        assert members[0]["user"] == {
            "id": alice.user["id"],
            "name": "alice",
            "email": alice.email,
        }

    def test_duplicate_key_is_a_conflict(self, live: LiveServer, alice: Caller) -> None:
        key = live.project(alice)["key"]
        bob = live.signup("bob")
        body = _problem(bob.client.post("/projects", json={"key": key, "name": "Again"}), 409)
        assert body["field"] == "key"

    def test_malformed_input_names_each_field(self, live: LiveServer, alice: Caller) -> None:
        response = alice.client.post("/projects", json={"key": "1 bad", "extra": True})
        locations = _locations(response)
        assert ["body", "key"] in locations
        assert ["body", "name"] in locations
        assert ["body", "extra"] in locations

    def test_unknown_time_zone_is_invalid(self, live: LiveServer, alice: Caller) -> None:
        response = alice.client.post(
            "/projects", json={"key": _key(), "name": "X", "timezone": "Mars/Olympus"}
        )
        assert _problem(response, 422)["field"] == "timezone"

    def test_anonymous_is_not_authenticated(self, live: LiveServer) -> None:
        with live.anonymous() as client:
            response = client.post("/projects", json={"key": _key(), "name": "X"})
        _problem(response, 401)


class TestReadProjects:
    def test_lists_only_my_projects_by_key(self, live: LiveServer) -> None:
        dave, erin = live.signup("dave"), live.signup("erin")
        second = live.project(dave, key="B" + _key())["key"]
        first = live.project(dave, key="A" + _key())["key"]
        live.project(erin)
        assert [p["key"] for p in dave.client.get("/projects").json()] == [first, second]

    def test_get_answers_with_an_etag(self, live: LiveServer, alice: Caller) -> None:
        project = live.project(alice)
        response = alice.client.get(f"/projects/{project['key']}")
        assert response.status_code == 200
        assert response.json() == project
        assert response.headers["ETag"] == f'"project-{project["id"]}-v1"'

    def test_non_member_gets_not_found(self, live: LiveServer, alice: Caller) -> None:
        key = live.project(alice)["key"]
        stranger = live.signup("stranger")
        _problem(stranger.client.get(f"/projects/{key}"), 404)
        _problem(stranger.client.get(f"/projects/{key}/members"), 404)
        _problem(stranger.client.patch(f"/projects/{key}", json={"name": "Mine"}), 404)
        _problem(stranger.client.delete(f"/projects/{key}"), 404)
        assert key not in [p["key"] for p in stranger.client.get("/projects").json()]

    def test_unknown_project_is_not_found(self, live: LiveServer, alice: Caller) -> None:
        _problem(alice.client.get("/projects/NOSUCHPROJECT"), 404)


class TestUpdateProject:
    def test_admin_changes_with_the_etag(self, live: LiveServer, alice: Caller) -> None:
        key = live.project(alice)["key"]
        admin = live.member(alice, key, "admin")
        etag = admin.client.get(f"/projects/{key}").headers["ETag"]
        response = admin.client.patch(
            f"/projects/{key}",
            json={"name": "Renamed", "timezone": "Asia/Tehran"},
            headers={"If-Match": etag},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["name"], body["timezone"], body["version"]) == ("Renamed", "Asia/Tehran", 2)
        assert response.headers["ETag"] == f'"project-{body["id"]}-v2"'
        assert alice.client.get(f"/projects/{key}").json()["name"] == "Renamed"

    def test_stale_etag_is_a_conflict_and_changes_nothing(
        self, live: LiveServer, alice: Caller
    ) -> None:
        key = live.project(alice)["key"]
        etag = alice.client.get(f"/projects/{key}").headers["ETag"]
        assert alice.client.patch(f"/projects/{key}", json={"name": "First"}).status_code == 200
        response = alice.client.patch(
            f"/projects/{key}", json={"name": "Second"}, headers={"If-Match": etag}
        )
        body = _problem(response, 409)
        assert body["current_version"] == 2
        assert alice.client.get(f"/projects/{key}").json()["name"] == "First"

    def test_stale_body_version_is_a_conflict(self, live: LiveServer, alice: Caller) -> None:
        key = live.project(alice)["key"]
        assert alice.client.patch(f"/projects/{key}", json={"name": "First"}).status_code == 200
        _problem(alice.client.patch(f"/projects/{key}", json={"name": "X", "version": 1}), 409)
        response = alice.client.patch(f"/projects/{key}", json={"name": "Y", "version": 2})
        assert response.status_code == 200

    def test_malformed_if_match_is_invalid(self, live: LiveServer, alice: Caller) -> None:
        key = live.project(alice)["key"]
        response = alice.client.patch(
            f"/projects/{key}", json={"name": "X"}, headers={"If-Match": "yesterday"}
        )
        assert ["header", "If-Match"] in [e["loc"] for e in _problem(response, 422)["errors"]]

    def test_invalid_fields_are_named(self, live: LiveServer, alice: Caller) -> None:
        key = live.project(alice)["key"]
        response = alice.client.patch(f"/projects/{key}", json={"name": "", "version": 0})
        assert {("body", "name"), ("body", "version")} <= {
            tuple(loc) for loc in _locations(response)
        }

    @pytest.mark.parametrize("role", ["member", "viewer"])
    def test_below_admin_is_forbidden(self, live: LiveServer, alice: Caller, role: str) -> None:
        key = live.project(alice)["key"]
        caller = live.member(alice, key, role)
        _problem(caller.client.patch(f"/projects/{key}", json={"name": "Mine"}), 403)


class TestDeleteProject:
    def test_owner_deletes_with_the_etag(self, live: LiveServer, alice: Caller) -> None:
        key = live.project(alice)["key"]
        etag = alice.client.get(f"/projects/{key}").headers["ETag"]
        response = alice.client.delete(f"/projects/{key}", headers={"If-Match": etag})
        assert response.status_code == 204
        assert response.content == b""
        _problem(alice.client.get(f"/projects/{key}"), 404)

    def test_stale_etag_keeps_the_project(self, live: LiveServer, alice: Caller) -> None:
        key = live.project(alice)["key"]
        etag = alice.client.get(f"/projects/{key}").headers["ETag"]
        assert alice.client.patch(f"/projects/{key}", json={"name": "Changed"}).status_code == 200
        _problem(alice.client.delete(f"/projects/{key}", headers={"If-Match": etag}), 409)
        assert alice.client.get(f"/projects/{key}").status_code == 200

    def test_admin_may_not_delete(self, live: LiveServer, alice: Caller) -> None:
        key = live.project(alice)["key"]
        admin = live.member(alice, key, "admin")
        _problem(admin.client.delete(f"/projects/{key}"), 403)


class TestMembers:
    def test_admin_adds_by_user_id(self, live: LiveServer, alice: Caller) -> None:
        key = live.project(alice)["key"]
        admin = live.member(alice, key, "admin")
        newcomer = live.signup("newcomer")
        response = admin.client.post(
            f"/projects/{key}/members", json={"user_id": newcomer.user["id"], "role": "viewer"}
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert (body["user_id"], body["role"]) == (newcomer.user["id"], "viewer")
        assert body["user"]["email"] == newcomer.email
        assert newcomer.client.get(f"/projects/{key}").status_code == 200

    def test_admin_adds_by_email_in_any_case(self, live: LiveServer, alice: Caller) -> None:
        key = live.project(alice)["key"]
        newcomer = live.signup("newcomer")
        response = alice.client.post(
            f"/projects/{key}/members", json={"email": newcomer.email.upper()}
        )
        assert response.status_code == 201, response.text
        assert (response.json()["user_id"], response.json()["role"]) == (
            newcomer.user["id"],
            "member",
        )

    def test_unknown_email_is_invalid(self, live: LiveServer, alice: Caller) -> None:
        key = live.project(alice)["key"]
        response = alice.client.post(
            f"/projects/{key}/members", json={"email": "nobody-here@example.com"}
        )
        body = _problem(response, 422)
        assert body["field"] == "email"
        assert "sign up" in body["detail"]

    def test_unknown_user_id_is_invalid(self, live: LiveServer, alice: Caller) -> None:
        key = live.project(alice)["key"]
        response = alice.client.post(f"/projects/{key}/members", json={"user_id": 2_000_000_000})
        assert _problem(response, 422)["field"] == "user_id"

    @pytest.mark.parametrize(
        ("payload", "location"),
        [
            ({"role": "member"}, ["body"]),
            ({"user_id": 1, "email": "a@example.com"}, ["body"]),
            ({"email": "not an email"}, ["body", "email"]),
            ({"user_id": 1, "role": "boss"}, ["body", "role"]),
        ],
    )
    def test_malformed_member_is_invalid(
        self, live: LiveServer, alice: Caller, payload: dict[str, Any], location: list[str]
    ) -> None:
        key = live.project(alice)["key"]
        assert location in _locations(alice.client.post(f"/projects/{key}/members", json=payload))

    def test_adding_a_member_twice_is_a_conflict(self, live: LiveServer, alice: Caller) -> None:
        key = live.project(alice)["key"]
        member = live.member(alice, key, "member")
        response = alice.client.post(
            f"/projects/{key}/members", json={"user_id": member.user["id"]}
        )
        _problem(response, 409)

    @pytest.mark.parametrize("role", ["member", "viewer"])
    def test_below_admin_may_not_add(self, live: LiveServer, alice: Caller, role: str) -> None:
        key = live.project(alice)["key"]
        caller = live.member(alice, key, role)
        newcomer = live.signup("newcomer")
        response = caller.client.post(
            f"/projects/{key}/members", json={"user_id": newcomer.user["id"]}
        )
        _problem(response, 403)

    def test_only_an_owner_makes_owners(self, live: LiveServer, alice: Caller) -> None:
        key = live.project(alice)["key"]
        admin = live.member(alice, key, "admin")
        newcomer = live.signup("newcomer")
        response = admin.client.post(
            f"/projects/{key}/members", json={"user_id": newcomer.user["id"], "role": "owner"}
        )
        _problem(response, 403)
        member = live.member(alice, key, "member")
        path = f"/projects/{key}/members/{member.user['id']}"
        _problem(admin.client.patch(path, json={"role": "owner"}), 403)
        assert alice.client.patch(path, json={"role": "owner"}).json()["role"] == "owner"

    def test_admin_changes_a_role(self, live: LiveServer, alice: Caller) -> None:
        key = live.project(alice)["key"]
        admin = live.member(alice, key, "admin")
        viewer = live.member(alice, key, "viewer")
        response = admin.client.patch(
            f"/projects/{key}/members/{viewer.user['id']}", json={"role": "member"}
        )
        assert response.status_code == 200, response.text
        assert response.json()["role"] == "member"
        assert response.json()["user"]["id"] == viewer.user["id"]

    def test_last_owner_cannot_step_down_or_leave(self, live: LiveServer, alice: Caller) -> None:
        key = live.project(alice)["key"]
        path = f"/projects/{key}/members/{alice.user['id']}"
        _problem(alice.client.patch(path, json={"role": "admin"}), 409)
        _problem(alice.client.delete(path), 409)

    def test_invalid_role_change_is_named(self, live: LiveServer, alice: Caller) -> None:
        key = live.project(alice)["key"]
        response = alice.client.patch(
            f"/projects/{key}/members/{alice.user['id']}", json={"role": "boss"}
        )
        assert ["body", "role"] in _locations(response)
        assert ["path", "user_id"] in _locations(
            alice.client.patch(f"/projects/{key}/members/0", json={"role": "admin"})
        )

    def test_non_member_user_is_not_found(self, live: LiveServer, alice: Caller) -> None:
        key = live.project(alice)["key"]
        stranger = live.signup("stranger")
        path = f"/projects/{key}/members/{stranger.user['id']}"
        _problem(alice.client.patch(path, json={"role": "admin"}), 404)
        _problem(alice.client.delete(path), 404)

    def test_admin_removes_a_member(self, live: LiveServer, alice: Caller) -> None:
        key = live.project(alice)["key"]
        admin = live.member(alice, key, "admin")
        member = live.member(alice, key, "member")
        response = admin.client.delete(f"/projects/{key}/members/{member.user['id']}")
        assert response.status_code == 204
        _problem(member.client.get(f"/projects/{key}"), 404)

    def test_member_leaves_but_may_not_remove_others(self, live: LiveServer, alice: Caller) -> None:
        key = live.project(alice)["key"]
        member = live.member(alice, key, "member")
        viewer = live.member(alice, key, "viewer")
        _problem(member.client.delete(f"/projects/{key}/members/{viewer.user['id']}"), 403)
        assert (
            member.client.delete(f"/projects/{key}/members/{member.user['id']}").status_code == 204
        )
        remaining = [m["user_id"] for m in alice.client.get(f"/projects/{key}/members").json()]
        assert remaining == [alice.user["id"], viewer.user["id"]]
