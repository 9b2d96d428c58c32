"""Phases over HTTP against a real server, addressed by number: roles, ETags, the trash."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.live import Caller, LiveServer
from tests.api.numbered import create, error_locations, hidden_from, problem, stale_etag

pytestmark = pytest.mark.slow


def _create(caller: Caller, key: str, number: int, **fields: Any) -> dict[str, Any]:
    return create(caller, key, "phases", {"number": number, "title": f"Phase {number}", **fields})


@pytest.fixture
def key(live: LiveServer, alice: Caller) -> str:
    return str(live.project(alice)["key"])


class TestCreatePhase:
    def test_admin_creates_with_its_fields(self, live: LiveServer, alice: Caller, key: str) -> None:
        admin = live.member(alice, key, "admin")
        response = admin.client.post(
            f"/projects/{key}/phases",
            json={
                "number": 3,
                "title": "Production",
                "status": "active",
                "goals": ["Ship", "Measure"],
                "meta": {"date": "2025-01"},
            },
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert (body["number"], body["title"], body["status"], body["goals"]) == (
            3,
            "Production",
            "active",
            ["Ship", "Measure"],
        )
        assert (body["meta"], body["version"], body["deleted_at"]) == ({"date": "2025-01"}, 1, None)
        assert response.headers["ETag"] == f'"phase-{body["id"]}-v1"'

    def test_duplicate_number_is_a_conflict(self, alice: Caller, key: str) -> None:
        _create(alice, key, 1)
        response = alice.client.post(f"/projects/{key}/phases", json={"number": 1, "title": "X"})
        assert problem(response, 409)["field"] == "number"

    def test_number_of_a_trashed_phase_is_a_conflict(self, alice: Caller, key: str) -> None:
        _create(alice, key, 1)
        assert alice.client.delete(f"/projects/{key}/phases/1").status_code == 204
        response = alice.client.post(f"/projects/{key}/phases", json={"number": 1, "title": "X"})
        assert "trash" in problem(response, 409)["detail"]

    def test_malformed_input_names_each_field(self, alice: Caller, key: str) -> None:
        response = alice.client.post(
            f"/projects/{key}/phases",
            json={"number": -1, "title": " ", "status": "someday", "goals": "all"},
        )
        locations = error_locations(response)
        for field in ("number", "title", "status", "goals"):
            assert ["body", field] in locations

    @pytest.mark.parametrize("role", ["member", "viewer"])
    def test_below_admin_is_forbidden(
        self, live: LiveServer, alice: Caller, key: str, role: str
    ) -> None:
        caller = live.member(alice, key, role)
        response = caller.client.post(f"/projects/{key}/phases", json={"number": 1, "title": "X"})
        problem(response, 403)


class TestReadPhases:
    def test_lists_live_phases_by_number(self, live: LiveServer, alice: Caller, key: str) -> None:
        for number in (2, 0, 1):
            _create(alice, key, number)
        assert alice.client.delete(f"/projects/{key}/phases/1").status_code == 204
        viewer = live.member(alice, key, "viewer")
        response = viewer.client.get(f"/projects/{key}/phases")
        assert response.status_code == 200
        assert [p["number"] for p in response.json()] == [0, 2]

    def test_get_by_number_answers_with_an_etag(
        self, live: LiveServer, alice: Caller, key: str
    ) -> None:
        created = _create(alice, key, 7)
        viewer = live.member(alice, key, "viewer")
        response = viewer.client.get(f"/projects/{key}/phases/7")
        assert response.status_code == 200
        assert response.json() == created
        assert response.headers["ETag"] == f'"phase-{created["id"]}-v1"'

    def test_unknown_or_trashed_number_is_not_found(self, alice: Caller, key: str) -> None:
        problem(alice.client.get(f"/projects/{key}/phases/4"), 404)
        _create(alice, key, 4)
        assert alice.client.delete(f"/projects/{key}/phases/4").status_code == 204
        problem(alice.client.get(f"/projects/{key}/phases/4"), 404)

    def test_same_number_in_another_project_is_apart(
        self, live: LiveServer, alice: Caller, key: str
    ) -> None:
        _create(alice, key, 1, title="Mine")
        other = live.project(alice)["key"]
        _create(alice, other, 1, title="Other")
        assert alice.client.get(f"/projects/{key}/phases/1").json()["title"] == "Mine"

    def test_non_number_in_the_path_is_invalid(self, alice: Caller, key: str) -> None:
        assert ["path", "number"] in error_locations(
            alice.client.get(f"/projects/{key}/phases/one")
        )
        assert ["path", "number"] in error_locations(alice.client.get(f"/projects/{key}/phases/-1"))

    def test_non_member_gets_not_found_for_everything(
        self, live: LiveServer, alice: Caller, key: str
    ) -> None:
        _create(alice, key, 1)
        stranger = live.signup("stranger")
        new, change = {"number": 2, "title": "X"}, {"title": "X"}
        hidden_from(stranger, f"/projects/{key}/phases", 1, new, change)


class TestUpdatePhase:
    def test_change_with_the_etag_answers_the_next_one(self, alice: Caller, key: str) -> None:
        created = _create(alice, key, 1)
        etag = alice.client.get(f"/projects/{key}/phases/1").headers["ETag"]
        response = alice.client.patch(
            f"/projects/{key}/phases/1",
            json={"title": "Renamed", "status": "completed"},
            headers={"If-Match": etag},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["title"], body["status"], body["version"]) == ("Renamed", "completed", 2)
        assert response.headers["ETag"] == f'"phase-{created["id"]}-v2"'

    def test_stale_etag_is_a_conflict_and_changes_nothing(self, alice: Caller, key: str) -> None:
        _create(alice, key, 1)
        etag = stale_etag(alice, f"/projects/{key}/phases/1", {"title": "A"})
        response = alice.client.patch(
            f"/projects/{key}/phases/1", json={"title": "B"}, headers={"If-Match": etag}
        )
        assert problem(response, 409)["current_version"] == 2
        assert alice.client.get(f"/projects/{key}/phases/1").json()["title"] == "A"

    def test_stale_body_version_is_a_conflict(self, alice: Caller, key: str) -> None:
        _create(alice, key, 1)
        assert alice.client.patch(f"/projects/{key}/phases/1", json={"title": "A"}).is_success
        response = alice.client.patch(
            f"/projects/{key}/phases/1", json={"title": "B", "version": 1}
        )
        problem(response, 409)

    def test_renumbering_moves_the_address(self, alice: Caller, key: str) -> None:
        _create(alice, key, 1)
        _create(alice, key, 2)
        taken = alice.client.patch(f"/projects/{key}/phases/1", json={"number": 2})
        assert problem(taken, 409)["field"] == "number"
        moved = alice.client.patch(f"/projects/{key}/phases/1", json={"number": 5})
        assert moved.json()["number"] == 5
        problem(alice.client.get(f"/projects/{key}/phases/1"), 404)
        assert alice.client.get(f"/projects/{key}/phases/5").status_code == 200

    def test_invalid_fields_are_named(self, alice: Caller, key: str) -> None:
        _create(alice, key, 1)
        response = alice.client.patch(
            f"/projects/{key}/phases/1", json={"title": "", "number": "x", "color": "red"}
        )
        locations = error_locations(response)
        for field in ("title", "number", "color"):
            assert ["body", field] in locations

    def test_member_is_forbidden(self, live: LiveServer, alice: Caller, key: str) -> None:
        _create(alice, key, 1)
        member = live.member(alice, key, "member")
        problem(member.client.patch(f"/projects/{key}/phases/1", json={"title": "X"}), 403)


class TestDeletePhase:
    def test_delete_with_the_etag_trashes_it(self, alice: Caller, key: str) -> None:
        created = _create(alice, key, 1)
        etag = alice.client.get(f"/projects/{key}/phases/1").headers["ETag"]
        response = alice.client.delete(f"/projects/{key}/phases/1", headers={"If-Match": etag})
        assert response.status_code == 204
        trash = alice.client.get(f"/projects/{key}/trash").json()
        assert [(i["kind"], i["id"]) for i in trash] == [("phase", created["id"])]

    def test_stale_etag_keeps_it(self, alice: Caller, key: str) -> None:
        _create(alice, key, 1)
        etag = stale_etag(alice, f"/projects/{key}/phases/1", {"title": "A"})
        response = alice.client.delete(f"/projects/{key}/phases/1", headers={"If-Match": etag})
        problem(response, 409)
        assert alice.client.get(f"/projects/{key}/phases/1").status_code == 200

    def test_its_sprints_go_along(self, alice: Caller, key: str) -> None:
        phase = _create(alice, key, 1)
        sprint = alice.client.post(
            f"/projects/{key}/sprints", json={"number": 9, "name": "S", "phase_id": phase["id"]}
        )
        assert sprint.status_code == 201
        assert alice.client.delete(f"/projects/{key}/phases/1").status_code == 204
        problem(alice.client.get(f"/projects/{key}/sprints/9"), 404)

    def test_member_is_forbidden(self, live: LiveServer, alice: Caller, key: str) -> None:
        _create(alice, key, 1)
        member = live.member(alice, key, "member")
        problem(member.client.delete(f"/projects/{key}/phases/1"), 403)
        assert alice.client.get(f"/projects/{key}/phases/1").status_code == 200
