"""Sprints over HTTP against a real server, addressed by number: roles, ETags, the trash."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.live import Caller, LiveServer
from tests.api.numbered import create, error_locations, hidden_from, problem, stale_etag

pytestmark = pytest.mark.slow


def _create(caller: Caller, key: str, number: int, **fields: Any) -> dict[str, Any]:
    return create(caller, key, "sprints", {"number": number, "name": f"Sprint {number}", **fields})


@pytest.fixture
def key(live: LiveServer, alice: Caller) -> str:
    return str(live.project(alice)["key"])


class TestCreateSprint:
    def test_admin_creates_in_a_phase(self, live: LiveServer, alice: Caller, key: str) -> None:
        phase = alice.client.post(f"/projects/{key}/phases", json={"number": 3, "title": "P"})
        admin = live.member(alice, key, "admin")
        response = admin.client.post(
            f"/projects/{key}/sprints",
            json={
                "number": 9,
                "name": "Backend",
                "phase_id": phase.json()["id"],
                "goal": "Real APIs",
                "weeks": "1-2",
                "starts_on": "2025-01-06",
                "ends_on": "2025-01-17",
            },
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert (body["number"], body["name"], body["phase_id"], body["status"]) == (
            9,
            "Backend",
            phase.json()["id"],
            "planned",
        )
        assert (body["weeks"], body["starts_on"], body["ends_on"]) == (
            "1-2",
            "2025-01-06",
            "2025-01-17",
        )
        assert response.headers["ETag"] == f'"sprint-{body["id"]}-v1"'

    def test_duplicate_number_is_a_conflict(self, alice: Caller, key: str) -> None:
        _create(alice, key, 1)
        response = alice.client.post(f"/projects/{key}/sprints", json={"number": 1, "name": "X"})
        assert problem(response, 409)["field"] == "number"

    def test_phase_of_another_project_is_invalid(
        self, live: LiveServer, alice: Caller, key: str
    ) -> None:
        other = live.project(alice)["key"]
        phase = alice.client.post(f"/projects/{other}/phases", json={"number": 1, "title": "P"})
        response = alice.client.post(
            f"/projects/{key}/sprints",
            json={"number": 1, "name": "X", "phase_id": phase.json()["id"]},
        )
        assert problem(response, 422)["field"] == "phase_id"

    def test_malformed_input_names_each_field(self, alice: Caller, key: str) -> None:
        response = alice.client.post(
            f"/projects/{key}/sprints",
            json={"number": 2**40, "name": "", "status": "done", "starts_on": "soon"},
        )
        locations = error_locations(response)
        for field in ("number", "name", "status", "starts_on"):
            assert ["body", field] in locations

    def test_dates_out_of_order_are_invalid(self, alice: Caller, key: str) -> None:
        response = alice.client.post(
            f"/projects/{key}/sprints",
            json={"number": 1, "name": "X", "starts_on": "2025-02-01", "ends_on": "2025-01-01"},
        )
        body = problem(response, 422)
        assert "starts_on must not be after ends_on" in body["errors"][0]["msg"]

    @pytest.mark.parametrize("role", ["member", "viewer"])
    def test_below_admin_is_forbidden(
        self, live: LiveServer, alice: Caller, key: str, role: str
    ) -> None:
        caller = live.member(alice, key, role)
        response = caller.client.post(f"/projects/{key}/sprints", json={"number": 1, "name": "X"})
        problem(response, 403)


class TestReadSprints:
    def test_lists_live_sprints_by_number(self, live: LiveServer, alice: Caller, key: str) -> None:
        for number in (11, 9, 10):
            _create(alice, key, number)
        assert alice.client.delete(f"/projects/{key}/sprints/10").status_code == 204
        viewer = live.member(alice, key, "viewer")
        assert [s["number"] for s in viewer.client.get(f"/projects/{key}/sprints").json()] == [
            9,
            11,
        ]

    def test_get_by_number_answers_with_an_etag(
        self, live: LiveServer, alice: Caller, key: str
    ) -> None:
        created = _create(alice, key, 9)
        viewer = live.member(alice, key, "viewer")
        response = viewer.client.get(f"/projects/{key}/sprints/9")
        assert response.json() == created
        assert response.headers["ETag"] == f'"sprint-{created["id"]}-v1"'

    def test_unknown_number_is_not_found(self, alice: Caller, key: str) -> None:
        problem(alice.client.get(f"/projects/{key}/sprints/9"), 404)
        assert ["path", "number"] in error_locations(
            alice.client.get(f"/projects/{key}/sprints/nine")
        )

    def test_non_member_gets_not_found_for_everything(
        self, live: LiveServer, alice: Caller, key: str
    ) -> None:
        _create(alice, key, 1)
        stranger = live.signup("stranger")
        new, change = {"number": 2, "name": "X"}, {"name": "X"}
        hidden_from(stranger, f"/projects/{key}/sprints", 1, new, change)


class TestUpdateSprint:
    def test_start_with_the_etag(self, alice: Caller, key: str) -> None:
        created = _create(alice, key, 9)
        etag = alice.client.get(f"/projects/{key}/sprints/9").headers["ETag"]
        response = alice.client.patch(
            f"/projects/{key}/sprints/9",
            json={"status": "active", "starts_on": "2025-01-06"},
            headers={"If-Match": etag},
        )
        assert response.status_code == 200, response.text
        assert (response.json()["status"], response.json()["starts_on"]) == ("active", "2025-01-06")
        assert response.headers["ETag"] == f'"sprint-{created["id"]}-v2"'

    def test_stale_etag_is_a_conflict_and_changes_nothing(self, alice: Caller, key: str) -> None:
        _create(alice, key, 9)
        etag = stale_etag(alice, f"/projects/{key}/sprints/9", {"goal": "A"})
        response = alice.client.patch(
            f"/projects/{key}/sprints/9", json={"goal": "B"}, headers={"If-Match": etag}
        )
        problem(response, 409)
        assert alice.client.get(f"/projects/{key}/sprints/9").json()["goal"] == "A"

    def test_dates_out_of_order_with_the_stored_ones_are_invalid(
        self, alice: Caller, key: str
    ) -> None:
        _create(alice, key, 9, starts_on="2025-01-06", ends_on="2025-01-17")
        response = alice.client.patch(f"/projects/{key}/sprints/9", json={"ends_on": "2025-01-01"})
        assert problem(response, 422)["field"] == "starts_on"

    def test_null_name_is_invalid(self, alice: Caller, key: str) -> None:
        _create(alice, key, 9)
        response = alice.client.patch(f"/projects/{key}/sprints/9", json={"name": None})
        assert problem(response, 422)["field"] == "name"

    def test_member_is_forbidden(self, live: LiveServer, alice: Caller, key: str) -> None:
        _create(alice, key, 9)
        member = live.member(alice, key, "member")
        problem(member.client.patch(f"/projects/{key}/sprints/9", json={"goal": "X"}), 403)


class TestDeleteSprint:
    def test_delete_with_the_etag_trashes_it(self, alice: Caller, key: str) -> None:
        created = _create(alice, key, 9)
        etag = alice.client.get(f"/projects/{key}/sprints/9").headers["ETag"]
        response = alice.client.delete(f"/projects/{key}/sprints/9", headers={"If-Match": etag})
        assert response.status_code == 204
        trash = alice.client.get(f"/projects/{key}/trash").json()
        assert [(i["kind"], i["id"], i["label"]) for i in trash] == [
            ("sprint", created["id"], "Sprint 9: Sprint 9")
        ]

    def test_stale_etag_keeps_it(self, alice: Caller, key: str) -> None:
        _create(alice, key, 9)
        etag = stale_etag(alice, f"/projects/{key}/sprints/9", {"goal": "A"})
        response = alice.client.delete(f"/projects/{key}/sprints/9", headers={"If-Match": etag})
        problem(response, 409)
        assert alice.client.get(f"/projects/{key}/sprints/9").status_code == 200

    def test_member_is_forbidden(self, live: LiveServer, alice: Caller, key: str) -> None:
        _create(alice, key, 9)
        member = live.member(alice, key, "member")
        problem(member.client.delete(f"/projects/{key}/sprints/9"), 403)
