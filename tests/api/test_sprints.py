"""Sprints over HTTP against a real server, addressed by number: roles, ETags, the trash."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
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


def _story(caller: Caller, key: str, sprint_id: int, points: int, status: str) -> str:
    response = caller.client.post(
        f"/projects/{key}/stories",
        json={
            "title": f"{status} {points}",
            "points": points,
            "status": status,
            "sprint_id": sprint_id,
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["key"])


class TestStartSprint:
    def test_defaults_and_etag(self, alice: Caller, key: str) -> None:
        created = _create(alice, key, 3, starts_on="2025-01-06", ends_on="2025-01-17")
        response = alice.client.post(f"/projects/{key}/sprints/3/start")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "active"
        starts, ends = date.fromisoformat(body["starts_on"]), date.fromisoformat(body["ends_on"])
        assert abs((starts - datetime.now(UTC).date()).days) <= 1  # today in the project's zone
        assert ends - starts == timedelta(days=11)  # the planned length
        assert response.headers["ETag"] == f'"sprint-{created["id"]}-v2"'

    def test_given_dates_with_if_match(self, alice: Caller, key: str) -> None:
        _create(alice, key, 3)
        etag = alice.client.get(f"/projects/{key}/sprints/3").headers["ETag"]
        response = alice.client.post(
            f"/projects/{key}/sprints/3/start",
            json={"starts_on": "2025-02-03", "ends_on": "2025-02-14"},
            headers={"If-Match": etag},
        )
        assert response.status_code == 200, response.text
        assert (response.json()["starts_on"], response.json()["ends_on"]) == (
            "2025-02-03",
            "2025-02-14",
        )

    def test_refusals_change_nothing(self, live: LiveServer, alice: Caller, key: str) -> None:
        _create(alice, key, 1, status="active")
        _create(alice, key, 2)
        path = f"/projects/{key}/sprints/2"
        assert "sprint 1 is active" in problem(alice.client.post(f"{path}/start"), 409)["detail"]
        stale = stale_etag(alice, path, {"goal": "G"})
        problem(alice.client.post(f"{path}/start", headers={"If-Match": stale}), 409)
        out_of_order = {"starts_on": "2025-02-14", "ends_on": "2025-02-03"}
        problem(alice.client.post(f"{path}/start", json=out_of_order), 422)
        problem(alice.client.post(f"{path}/start", json={"weeks": "1-2"}), 422)
        member = live.member(alice, key, "member")
        problem(member.client.post(f"{path}/start"), 403)
        stranger = live.signup("stranger")
        problem(stranger.client.post(f"{path}/start"), 404)
        assert alice.client.get(path).json()["status"] == "planned"


class TestCompleteSprint:
    def test_carries_the_unfinished_stories_to_the_next_planned_sprint(
        self, alice: Caller, key: str
    ) -> None:
        sprint = _create(alice, key, 1, status="active", starts_on="2025-01-06")
        following = _create(alice, key, 2)
        done = _story(alice, key, sprint["id"], 5, "done")
        open_ = _story(alice, key, sprint["id"], 3, "in_progress")
        response = alice.client.post(f"/projects/{key}/sprints/1/complete")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["sprint"]["status"] == "completed"
        assert body["sprint"]["ends_on"] is not None
        assert (body["completed"], body["completed_points"]) == ([done], 5)
        assert (body["carried_over"], body["carried_over_points"]) == ([open_], 3)
        assert body["carried_over_to"] == 2
        assert response.headers["ETag"] == f'"sprint-{sprint["id"]}-v{body["sprint"]["version"]}"'
        story = alice.client.get(f"/projects/{key}/stories/{open_}").json()
        assert story["sprint_id"] == following["id"]

    def test_to_the_backlog_on_request(self, alice: Caller, key: str) -> None:
        sprint = _create(alice, key, 1, status="active")
        _create(alice, key, 2)
        open_ = _story(alice, key, sprint["id"], 3, "review")
        response = alice.client.post(
            f"/projects/{key}/sprints/1/complete", json={"carry_over_to": "backlog"}
        )
        assert response.status_code == 200, response.text
        assert response.json()["carried_over_to"] is None
        assert alice.client.get(f"/projects/{key}/stories/{open_}").json()["sprint_id"] is None

    def test_refusals_change_nothing(self, live: LiveServer, alice: Caller, key: str) -> None:
        sprint = _create(alice, key, 1, status="active")
        _create(alice, key, 2, status="completed")
        open_ = _story(alice, key, sprint["id"], 3, "draft")
        path = f"/projects/{key}/sprints/1/complete"
        assert problem(alice.client.post(path, json={"carry_over_to": 7}), 422)["field"] == (
            "carry_over_to"
        )
        assert (
            "is completed"
            in problem(alice.client.post(path, json={"carry_over_to": 2}), 409)["detail"]
        )
        assert ["body", "carry_over_to"] in error_locations(
            alice.client.post(path, json={"carry_over_to": "next"})
        )
        problem(alice.client.post(f"/projects/{key}/sprints/2/complete"), 409)
        problem(live.member(alice, key, "member").client.post(path), 403)
        problem(live.signup("stranger").client.post(path), 404)
        assert alice.client.get(f"/projects/{key}/sprints/1").json()["status"] == "active"
        assert (
            alice.client.get(f"/projects/{key}/stories/{open_}").json()["sprint_id"] == sprint["id"]
        )

    def test_the_burndown_counts_the_carried_over_points(self, alice: Caller, key: str) -> None:
        sprint = _create(alice, key, 1, status="active")
        _story(alice, key, sprint["id"], 5, "done")
        _story(alice, key, sprint["id"], 3, "in_progress")
        assert alice.client.post(f"/projects/{key}/sprints/1/complete").status_code == 200
        burndown = alice.client.get(f"/projects/{key}/sprints/1/burndown")
        assert burndown.status_code == 200, burndown.text
        body = burndown.json()
        assert body["carried_over"] == 3
        assert (body["days"][-1]["remaining"], body["days"][-1]["removed"]) == (3, 0)
