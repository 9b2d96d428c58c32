"""The sprint board and the backlog over HTTP (real server): what they show, and moving
stories with the cards' forms and with the drag's JSON request."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.api.live import Caller, LiveServer, csrf_of
from tests.web.board_html import parse_board

pytestmark = pytest.mark.slow

HTML = {"Accept": "text/html"}
STATUSES = ["draft", "approved", "in_progress", "review", "done", "blocked"]


@dataclass
class Plan:
    key: str
    owner: Caller
    sprint: dict[str, Any]
    stories: dict[str, str] = field(default_factory=dict)  # title -> key

    @property
    def board_path(self) -> str:
        return f"/projects/{self.key}/sprints/{self.sprint['number']}"

    @property
    def backlog_path(self) -> str:
        return f"/projects/{self.key}/backlog"

    def story(self, title: str) -> dict[str, Any]:
        response = self.owner.client.get(f"/projects/{self.key}/stories/{self.stories[title]}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def _sprint(owner: Caller, key: str, number: int, **fields: Any) -> dict[str, Any]:
    created = owner.client.post(
        f"/projects/{key}/sprints", json={"number": number, "name": f"Sprint {number}", **fields}
    )
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


def _story(owner: Caller, key: str, title: str, **fields: Any) -> str:
    created = owner.client.post(f"/projects/{key}/stories", json={"title": title, **fields})
    assert created.status_code == 201, created.text
    story_key: str = created.json()["key"]
    return story_key


def _plan(live: LiveServer, owner: Caller) -> Plan:
    """Sprint 1 with Alpha (3 points, high, assigned, 1 of 2 tasks done), Beta (5) and
    Gamma (2, done); the backlog holds Delta (8) and Epsilon (1)."""
    key = live.project(owner)["key"]
    sprint = _sprint(owner, key, 1, name="Board sprint", goal="Ship the board", weeks="1-2")
    plan = Plan(key, owner, sprint)
    in_sprint = {"sprint_id": sprint["id"]}
    plan.stories["Alpha"] = _story(
        owner,
        key,
        "Alpha",
        points=3,
        priority="high",
        assignee_id=owner.user["id"],
        **in_sprint,
    )
    plan.stories["Beta"] = _story(owner, key, "Beta", points=5, **in_sprint)
    plan.stories["Gamma"] = _story(owner, key, "Gamma", points=2, status="done", **in_sprint)
    plan.stories["Delta"] = _story(owner, key, "Delta", points=8)
    plan.stories["Epsilon"] = _story(owner, key, "Epsilon", points=1)
    for text, done in (("Write it", True), ("Test it", False)):
        task = owner.client.post(
            f"/projects/{key}/stories/{plan.stories['Alpha']}/tasks",
            json={"text": text, "done": done},
        )
        assert task.status_code == 201, task.text
    return plan


def _move(client: httpx.Client, plan: Plan, page: httpx.Response, **fields: str) -> httpx.Response:
    data = {"csrf_token": csrf_of(page), **fields}
    return client.post(f"/projects/{plan.key}/board/move", data=data, headers=HTML)


class TestSprintBoard:
    def test_a_column_per_status_with_the_cards_in_rank_order(
        self, live: LiveServer, alice: Caller
    ) -> None:
        plan = _plan(live, alice)
        page = live.browser_for(alice).get(plan.board_path)
        assert page.status_code == 200
        board = parse_board(page)
        assert list(board.lists) == STATUSES
        alpha, beta, gamma = (plan.stories[title] for title in ("Alpha", "Beta", "Gamma"))
        assert board.lists["draft"] == [alpha, beta]
        assert board.lists["done"] == [gamma]
        assert board.lists["in_progress"] == []
        assert [board.text(f"column-{status}") for status in STATUSES] == [
            "Draft 2",
            "Approved 0",
            "In progress 0",
            "Review 0",
            "Done 1",
            "Blocked 0",
        ]
        card = board.text(f"story-{alpha}")
        for shown in (alpha, "Alpha", "3 pts", "High", alice.user["name"], "Tasks 1/2"):
            assert shown in card
        assert "Unassigned" in board.text(f"story-{beta}")

    def test_the_sprint_name_goal_weeks_and_points_are_at_the_top(
        self, live: LiveServer, alice: Caller
    ) -> None:
        plan = _plan(live, alice)
        board = parse_board(live.browser_for(alice).get(plan.board_path))
        assert board.text("sprint-title") == "Sprint 1: Board sprint"
        assert "weeks 1-2" in board.texts["main"]
        assert "Goal: Ship the board" in " ".join(board.texts["main"].split())
        assert (board.text("committed-points"), board.text("done-points")) == ("10", "2")

    def test_titles_are_shown_as_text(self, live: LiveServer, alice: Caller) -> None:
        plan = _plan(live, alice)
        _story(alice, plan.key, "<script>alert(1)</script>", sprint_id=plan.sprint["id"])
        page = live.browser_for(alice).get(plan.board_path)
        assert "<script>alert(1)</script>" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text

    def test_links_lead_to_the_project_the_sprints_and_the_backlog(
        self, live: LiveServer, alice: Caller
    ) -> None:
        plan = _plan(live, alice)
        page = live.browser_for(alice).get(plan.board_path)
        for href in (f"/projects/{plan.key}", plan.board_path, plan.backlog_path):
            assert f'href="{href}"' in page.text

    def test_anonymous_visitor_is_sent_to_log_in(self, live: LiveServer, alice: Caller) -> None:
        plan = _plan(live, alice)
        client = live._track(httpx.Client(base_url=live.base_url, timeout=30))
        for path in (plan.board_path, plan.backlog_path):
            response = client.get(path)
            assert response.status_code == 303
            assert response.headers["location"] == "/login?next=" + path

    def test_a_non_member_gets_the_same_404_as_for_a_missing_project(
        self, live: LiveServer, alice: Caller
    ) -> None:
        plan = _plan(live, alice)
        bob = live.browser_for(live.signup("bob"))
        for path in (plan.board_path, plan.backlog_path):
            hidden = bob.get(path, headers=HTML)
            missing = bob.get(path.replace(plan.key, "NOSUCH"), headers=HTML)
            assert hidden.status_code == missing.status_code == 404
            assert hidden.text.replace(plan.key, "NOSUCH") == missing.text

    def test_a_missing_sprint_is_not_found(self, live: LiveServer, alice: Caller) -> None:
        plan = _plan(live, alice)
        page = live.browser_for(alice).get(f"/projects/{plan.key}/sprints/99", headers=HTML)
        assert page.status_code == 404
        assert "sprint 99 not found" in page.text
        assert "Traceback" not in page.text


class TestMoveForms:
    def test_the_status_form_moves_a_story_and_the_done_points_follow(
        self, live: LiveServer, alice: Caller
    ) -> None:
        plan = _plan(live, alice)
        client = live.browser_for(alice)
        page = client.get(plan.board_path)
        alpha = plan.stories["Alpha"]
        moved = _move(client, plan, page, story=alpha, status="done", back=plan.board_path)
        assert moved.status_code == 303
        assert moved.headers["location"] == f"{plan.board_path}#story-{alpha}"
        board = parse_board(client.get(plan.board_path))
        assert board.lists["done"] == [alpha, plan.stories["Gamma"]]
        assert board.text("done-points") == "5"
        assert plan.story("Alpha")["status"] == "done"

    def test_every_card_has_a_status_form_with_its_status_chosen(
        self, live: LiveServer, alice: Caller
    ) -> None:
        plan = _plan(live, alice)
        page = live.browser_for(alice).get(plan.board_path)
        gamma = plan.stories["Gamma"]
        chosen = re.search(
            rf'<select id="status-{re.escape(gamma)}" name="status">(.*?)</select>',
            page.text,
            re.S,
        )
        assert chosen
        assert re.findall(r'<option value="(\w+)"', chosen.group(1)) == STATUSES
        assert re.findall(r'<option value="(\w+)" selected', chosen.group(1)) == ["done"]

    def test_up_and_down_reorder_within_a_column(self, live: LiveServer, alice: Caller) -> None:
        plan = _plan(live, alice)
        client = live.browser_for(alice)
        page = client.get(plan.board_path)
        alpha, beta = plan.stories["Alpha"], plan.stories["Beta"]
        # The forms name the neighbours: Beta's "up" is "before Alpha", Alpha's "down" "after Beta".
        forms = parse_board(page).move_forms()
        assert {"story": beta, "before": alpha} in [
            {name: form[name] for name in ("story", "before") if name in form} for form in forms
        ]
        up = _move(client, plan, page, story=beta, before=alpha, back=plan.board_path)
        assert up.status_code == 303
        page = client.get(plan.board_path)
        assert parse_board(page).lists["draft"] == [beta, alpha]
        down = _move(client, plan, page, story=beta, after=alpha, back=plan.board_path)
        assert down.status_code == 303
        assert parse_board(client.get(plan.board_path)).lists["draft"] == [alpha, beta]

    def test_a_drag_is_answered_with_the_story_as_json(
        self, live: LiveServer, alice: Caller
    ) -> None:
        plan = _plan(live, alice)
        client = live.browser_for(alice)
        token = csrf_of(client.get(plan.board_path))
        beta, gamma = plan.stories["Beta"], plan.stories["Gamma"]
        response = client.post(
            f"/projects/{plan.key}/board/move",
            data={"story": beta, "status": "done", "before": gamma},
            headers={"X-CSRF-Token": token, "Accept": "application/json"},
        )
        assert response.status_code == 200, response.text
        assert response.json()["key"] == beta
        assert response.json()["status"] == "done"
        board = parse_board(client.get(plan.board_path))
        assert board.lists["done"] == [beta, gamma]
        assert board.text("done-points") == "7"

    def test_a_move_without_the_csrf_token_is_refused(
        self, live: LiveServer, alice: Caller
    ) -> None:
        plan = _plan(live, alice)
        client = live.browser_for(alice)
        for headers in ({"Accept": "application/json"}, {"X-CSRF-Token": "forged", **HTML}):
            refused = client.post(
                f"/projects/{plan.key}/board/move",
                data={"story": plan.stories["Alpha"], "status": "done"},
                headers=headers,
            )
            assert refused.status_code == 403
        assert plan.story("Alpha")["status"] == "draft"

    def test_a_viewer_sees_no_controls_and_cannot_move(
        self, live: LiveServer, alice: Caller
    ) -> None:
        plan = _plan(live, alice)
        viewer = live.browser_for(live.member(alice, plan.key, "viewer"))
        for path in (plan.board_path, plan.backlog_path):
            page = viewer.get(path)
            assert page.status_code == 200
            assert "your role in this project is viewer" in page.text
            assert parse_board(page).move_forms() == []
            assert "data-can-move" not in page.text
        refused = _move(viewer, plan, page, story=plan.stories["Alpha"], status="done")
        assert refused.status_code == 403
        assert "only a project member or above" in refused.text
        assert plan.story("Alpha")["status"] == "draft"

    @pytest.mark.parametrize(
        ("fields", "message"),
        [
            ({"status": "finished"}, "status"),
            ({"sprint": "99"}, "no sprint 99"),
            ({"before": "NOPE-1"}, "no story NOPE-1"),
        ],
    )
    def test_an_invalid_move_shows_a_readable_message(
        self, live: LiveServer, alice: Caller, fields: dict[str, str], message: str
    ) -> None:
        plan = _plan(live, alice)
        client = live.browser_for(alice)
        page = client.get(plan.board_path)
        refused = _move(client, plan, page, story=plan.stories["Alpha"], **fields)
        assert refused.status_code == 422
        assert message in refused.text
        assert "<h1>Invalid input</h1>" in refused.text
        assert "Traceback" not in refused.text
        assert plan.story("Alpha")["status"] == "draft"

    @pytest.mark.parametrize("back", ["https://evil.example/", "//evil.example/", "/other"])
    def test_the_redirect_stays_in_the_project(
        self, live: LiveServer, alice: Caller, back: str
    ) -> None:
        plan = _plan(live, alice)
        client = live.browser_for(alice)
        page = client.get(plan.board_path)
        alpha = plan.stories["Alpha"]
        moved = _move(client, plan, page, story=alpha, status="review", back=back)
        assert moved.status_code == 303
        assert moved.headers["location"] == f"/projects/{plan.key}#story-{alpha}"


class TestBacklog:
    def test_the_backlog_lists_the_stories_in_no_sprint_by_rank(
        self, live: LiveServer, alice: Caller
    ) -> None:
        plan = _plan(live, alice)
        backlog = parse_board(live.browser_for(alice).get(plan.backlog_path))
        assert backlog.lists["backlog"] == [plan.stories["Delta"], plan.stories["Epsilon"]]
        # The planned sprint is a list to plan into, with its stories and committed points.
        assert backlog.lists["1"] == [plan.stories[title] for title in ("Alpha", "Beta", "Gamma")]
        assert "10 points committed" in backlog.text("plan-1")
        assert backlog.text("average-velocity") == "no velocity yet"
        assert "no velocity yet" in backlog.text("plan-1")

    def test_velocity_is_the_mean_done_points_of_the_completed_sprints(
        self, live: LiveServer, alice: Caller
    ) -> None:
        plan = _plan(live, alice)
        for number, done_points in ((7, (4,)), (8, (5, 2))):
            sprint = _sprint(alice, plan.key, number, status="completed")
            for points in done_points:
                _story(alice, plan.key, "Old", points=points, status="done", sprint_id=sprint["id"])
            # Stories not done do not count.
            _story(alice, plan.key, "Unfinished", points=13, sprint_id=sprint["id"])
        _sprint(alice, plan.key, 9, status="cancelled")
        backlog = parse_board(live.browser_for(alice).get(plan.backlog_path))
        assert backlog.text("average-velocity") == "5.5 points"
        assert "10 points committed · 4.5 over the average velocity" in backlog.text("plan-1")
        # Completed and cancelled sprints are not planned into.
        assert [name for name in backlog.lists if name != "backlog"] == ["1"]

    def test_a_completed_sprint_that_finished_nothing_counts_as_zero(
        self, live: LiveServer, alice: Caller
    ) -> None:
        plan = _plan(live, alice)
        done = _sprint(alice, plan.key, 5, status="completed")
        _story(alice, plan.key, "Old", points=6, status="done", sprint_id=done["id"])
        _sprint(alice, plan.key, 6, status="completed")
        backlog = parse_board(live.browser_for(alice).get(plan.backlog_path))
        assert backlog.text("average-velocity") == "3 points"
        assert "10 points committed · 7 over the average velocity" in backlog.text("plan-1")

    def test_the_plan_form_moves_a_story_into_a_sprint_and_back(
        self, live: LiveServer, alice: Caller
    ) -> None:
        plan = _plan(live, alice)
        client = live.browser_for(alice)
        page = client.get(plan.backlog_path)
        delta = plan.stories["Delta"]
        planned = _move(client, plan, page, story=delta, sprint="1", back=plan.backlog_path)
        assert (planned.status_code, planned.headers["location"]) == (
            303,
            f"{plan.backlog_path}#story-{delta}",
        )
        page = client.get(plan.backlog_path)
        backlog = parse_board(page)
        assert backlog.lists["backlog"] == [plan.stories["Epsilon"]]
        assert backlog.lists["1"][-1] == delta
        assert "18 points committed" in backlog.text("plan-1")
        assert plan.story("Delta")["sprint_id"] == plan.sprint["id"]
        unplanned = _move(client, plan, page, story=delta, sprint="backlog", back=plan.backlog_path)
        assert unplanned.status_code == 303
        assert plan.story("Delta")["sprint_id"] is None

    def test_an_empty_backlog_says_so(self, live: LiveServer, alice: Caller) -> None:
        key = live.project(alice)["key"]
        page = live.browser_for(alice).get(f"/projects/{key}/backlog")
        assert page.status_code == 200
        assert "The backlog is empty." in page.text
        assert "No planned or active sprint to plan into." in page.text
