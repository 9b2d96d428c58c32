"""Creating stories and sprints in the browser, over HTTP (real server): the new story page
(linked from the backlog and the sprint boards) and the backlog's new sprint form: their
defaults, what they create, how refused input comes back, and who may use them."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.api.live import Caller, LiveServer, csrf_of
from tests.web.board_html import BoardPage, Form, parse_board

pytestmark = pytest.mark.slow

HTML = {"Accept": "text/html"}


@dataclass
class Plan:
    """A project with sprint 1 active, sprint 2 planned and sprint 3 completed."""

    live: LiveServer
    key: str
    owner: Caller

    @property
    def backlog_path(self) -> str:
        return f"/projects/{self.key}/backlog"

    @property
    def new_story_path(self) -> str:
        return f"/projects/{self.key}/stories/new"

    def board_path(self, number: int) -> str:
        return f"/projects/{self.key}/sprints/{number}"

    def api(self, path: str = "") -> Any:
        response = self.owner.client.get(f"/projects/{self.key}{path}")
        assert response.status_code == 200, response.text
        return response.json()

    def add(self, path: str, **fields: Any) -> dict[str, Any]:
        """A phase, sprint or story made through the API."""
        created = self.owner.client.post(f"/projects/{self.key}{path}", json=fields)
        assert created.status_code == 201, created.text
        body: dict[str, Any] = created.json()
        return body

    def sprint(self, number: int, **fields: Any) -> dict[str, Any]:
        return self.add("/sprints", number=number, name=f"Sprint {number}", **fields)

    def stories(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.api("/stories")["items"]
        return items

    def sprint_numbers(self) -> list[int]:
        return [sprint["number"] for sprint in self.api("/sprints")]


@pytest.fixture
def plan(live: LiveServer, alice: Caller) -> Plan:
    made = Plan(live, live.project(alice)["key"], alice)
    made.sprint(1, status="active")
    made.sprint(2)
    made.sprint(3, status="completed")
    return made


def _page(client: httpx.Client, path: str, status_code: int = 200) -> BoardPage:
    response = client.get(path)
    assert response.status_code == status_code, response.text
    return parse_board(response)


def _story_form(page: BoardPage) -> Form:
    form = page.form("/stories/new")
    assert form is not None, "no new story form"
    return form


def _post_story(client: httpx.Client, plan: Plan, **fields: str) -> httpx.Response:
    page = client.get(plan.new_story_path)
    data = {
        "csrf_token": csrf_of(page),
        "title": "Keyboard moves",
        "points": "",
        "priority": "medium",
        "moscow": "",
        "status": "draft",
        "assignee_id": "",
        "sprint": "backlog",
        "description": "",
        **fields,
    }
    return client.post(plan.new_story_path, data=data, headers=HTML)


def _post_sprint(client: httpx.Client, plan: Plan, **fields: str) -> httpx.Response:
    page = client.get(plan.backlog_path)
    data = {"csrf_token": csrf_of(page), "number": "4", "name": "Polish", **fields}
    return client.post(f"/projects/{plan.key}/sprints/new", data=data, headers=HTML)


def _textarea(page: str, name: str) -> str:
    found = re.search(rf'<textarea id="{name}" name="{name}"[^>]*>(.*?)</textarea>', page, re.S)
    assert found, f"no textarea {name}"
    return html.unescape(found.group(1))


class TestNewStoryForm:
    def test_the_sprint_is_preselected_from_the_address(self, plan: Plan) -> None:
        client = plan.live.browser_for(plan.owner)
        form = _story_form(_page(client, plan.new_story_path + "?sprint=2"))
        # The backlog and the sprints that can take stories; not the completed one.
        assert [value for value, _ in form.options["sprint"]] == ["backlog", "1", "2"]
        assert form.chosen("sprint") == "2"
        # The service's defaults.
        assert form.fields["title"] == form.fields["points"] == ""
        assert (form.chosen("priority"), form.chosen("status")) == ("medium", "draft")
        assert form.chosen("moscow") == form.chosen("assignee_id") == ""
        for query, chosen in (
            ("?sprint=backlog", "backlog"),
            ("?sprint=3", "backlog"),
            ("", "backlog"),
        ):
            assert (
                _story_form(_page(client, plan.new_story_path + query)).chosen("sprint") == chosen
            )

    def test_the_backlog_and_the_open_sprints_link_to_it(self, plan: Plan) -> None:
        client = plan.live.browser_for(plan.owner)
        backlog = _page(client, plan.backlog_path)
        assert backlog.attributes["new-story"]["href"] == plan.new_story_path + "?sprint=backlog"
        for number in (1, 2):
            board = _page(client, plan.board_path(number))
            assert board.attributes["new-story"]["href"] == f"{plan.new_story_path}?sprint={number}"
        assert "new-story" not in _page(client, plan.board_path(3)).attributes

    def test_a_non_member_gets_not_found(self, plan: Plan) -> None:
        stranger = plan.live.browser_for(plan.live.signup("stranger"))
        assert stranger.get(plan.new_story_path, headers=HTML).status_code == 404


class TestCreateStory:
    def test_creating_lands_on_the_story_in_the_sprint_chosen(self, plan: Plan) -> None:
        grace = plan.live.member(plan.owner, plan.key, "member", name="grace")
        client = plan.live.browser_for(plan.owner)
        created = _post_story(
            client,
            plan,
            title="Drag cards between columns",
            points="5",
            priority="high",
            moscow="must",
            status="approved",
            assignee_id=str(grace.user["id"]),
            sprint="2",
            description="With the *keyboard* too",
        )
        assert created.status_code == 303, created.text
        # A key as the service makes one in sprint 2.
        assert created.headers["location"] == f"/projects/{plan.key}/stories/2.1"
        page = client.get(created.headers["location"])
        assert page.status_code == 200
        assert '<span dir="auto">Drag cards between columns</span>' in page.text
        assert "<em>keyboard</em>" in page.text
        story = plan.api("/stories/2.1")
        assert (story["points"], story["priority"], story["moscow"]) == (5, "high", "must")
        assert (story["status"], story["assignee_id"]) == ("approved", grace.user["id"])
        assert story["sprint_id"] == plan.api("/sprints/2")["id"]
        assert story["description"] == "With the *keyboard* too"
        assert _page(client, plan.backlog_path).lists["2"] == ["2.1"]

    def test_a_story_created_in_the_backlog_joins_its_end(self, plan: Plan) -> None:
        client = plan.live.browser_for(plan.owner)
        first = _post_story(client, plan, title="First")
        second = _post_story(client, plan, title="Second")
        assert first.status_code == second.status_code == 303
        keys = [f"{plan.key}-1", f"{plan.key}-2"]
        assert [first.headers["location"], second.headers["location"]] == [
            f"/projects/{plan.key}/stories/{key}" for key in keys
        ]
        assert _page(client, plan.backlog_path).lists["backlog"] == keys
        assert plan.api(f"/stories/{keys[0]}")["sprint_id"] is None

    def test_invalid_input_keeps_what_was_typed_and_writes_nothing(self, plan: Plan) -> None:
        client = plan.live.browser_for(plan.owner)
        refused = _post_story(
            client,
            plan,
            title="   ",
            points="1001",
            priority="high",
            sprint="2",
            description="Keep <this> text",
        )
        assert refused.status_code == 422
        page = parse_board(refused)
        for name in ("title", "points"):
            assert page.attributes[name]["aria-invalid"] == "true"
            assert page.attributes[name]["aria-describedby"] == f"{name}-error"
        assert page.text("title-error") == "Enter a title of at most 500 characters."
        assert (
            page.text("points-error") == "Points must be a whole number from 0 to 1000, or empty."
        )
        assert page.text("form-error") == "Please correct the marked fields."
        form = _story_form(page)
        assert form.fields["points"] == "1001"
        assert (form.chosen("priority"), form.chosen("sprint")) == ("high", "2")
        assert _textarea(refused.text, "description") == "Keep <this> text"
        assert "Traceback" not in refused.text
        assert plan.stories() == []

    def test_a_sprint_that_takes_no_stories_is_refused_beside_the_field(self, plan: Plan) -> None:
        client = plan.live.browser_for(plan.owner)
        refused = _post_story(client, plan, title="Late", sprint="3")
        assert refused.status_code == 422
        page = parse_board(refused)
        assert page.text("sprint-error") == "Choose the backlog or a planned or active sprint."
        assert page.attributes["title"].get("aria-invalid") is None
        assert _story_form(page).fields["title"] == "Late"
        assert plan.stories() == []

    def test_an_assignee_who_is_not_a_member_is_refused_beside_the_field(self, plan: Plan) -> None:
        stranger = plan.live.signup("stranger")
        client = plan.live.browser_for(plan.owner)
        refused = _post_story(client, plan, assignee_id=str(stranger.user["id"]))
        assert refused.status_code == 422
        assert parse_board(refused).text("assignee_id-error") == "Choose a member of the project."
        assert plan.stories() == []

    def test_a_form_without_the_csrf_token_is_refused(self, plan: Plan) -> None:
        client = plan.live.browser_for(plan.owner)
        for data in ({"title": "Forged"}, {"title": "Forged", "csrf_token": "forged"}):
            refused = client.post(plan.new_story_path, data=data, headers=HTML)
            assert refused.status_code == 403
            assert "this form has expired" in refused.text
        assert plan.stories() == []


class TestViewer:
    def test_a_viewer_sees_no_link_and_is_refused(self, plan: Plan) -> None:
        viewer = plan.live.browser_for(plan.live.member(plan.owner, plan.key, "viewer"))
        for path in (plan.backlog_path, plan.board_path(1)):
            assert "new-story" not in _page(viewer, path).attributes
        page = viewer.get(plan.new_story_path, headers=HTML)
        assert page.status_code == 403
        assert "only a project member or above" in page.text
        refused = viewer.post(
            plan.new_story_path,
            data={
                "csrf_token": csrf_of(viewer.get(plan.backlog_path)),
                "title": "Viewer was here",
                "sprint": "backlog",
                "priority": "medium",
                "status": "draft",
            },
            headers=HTML,
        )
        assert refused.status_code == 403
        assert plan.stories() == []


class TestCreateSprint:
    def test_the_form_proposes_the_number_after_the_highest_the_trash_included(
        self, plan: Plan
    ) -> None:
        plan.sprint(7)
        assert plan.owner.client.delete(f"/projects/{plan.key}/sprints/7").status_code == 204
        phase = plan.add("/phases", number=1, title="Launch")
        page = _page(plan.live.browser_for(plan.owner), plan.backlog_path)
        form = page.form("/sprints/new")
        assert form is not None
        assert form.fields["number"] == "8"
        assert form.fields["name"] == form.fields["starts_on"] == form.fields["ends_on"] == ""
        assert form.options["phase_id"] == [("", True), (str(phase["id"]), False)]
        assert page.attributes["new-sprint"].get("open") is None

    def test_creating_lands_on_its_board(self, plan: Plan) -> None:
        phase = plan.add("/phases", number=1, title="Launch")
        client = plan.live.browser_for(plan.owner)
        created = _post_sprint(
            client,
            plan,
            name="Polish <b>",
            goal="Ship the board",
            starts_on="2026-03-02",
            ends_on="2026-03-13",
            phase_id=str(phase["id"]),
        )
        assert created.status_code == 303, created.text
        assert created.headers["location"] == plan.board_path(4)
        sprint = plan.api("/sprints/4")
        assert (sprint["name"], sprint["goal"], sprint["status"]) == (
            "Polish <b>",
            "Ship the board",
            "planned",
        )
        assert (sprint["starts_on"], sprint["ends_on"]) == ("2026-03-02", "2026-03-13")
        assert sprint["phase_id"] == phase["id"]
        board = client.get(created.headers["location"])
        assert board.status_code == 200
        assert '<span dir="auto">Polish &lt;b&gt;</span>' in board.text
        # The new story form offers it, its name as text.
        new_story = client.get(plan.new_story_path).text
        assert '<option value="4">Sprint 4: Polish &lt;b&gt; (Planned)</option>' in new_story
        # The next proposal follows it.
        form = _page(client, plan.backlog_path).form("/sprints/new")
        assert form is not None
        assert form.fields["number"] == "5"

    def test_a_taken_number_is_refused_with_the_message(self, plan: Plan) -> None:
        plan.sprint(4)
        assert plan.owner.client.delete(f"/projects/{plan.key}/sprints/4").status_code == 204
        client = plan.live.browser_for(plan.owner)
        refused = _post_sprint(client, plan, number="4", name="Again", goal="Typed goal")
        assert refused.status_code == 409
        page = parse_board(refused)
        assert page.text("sprint-number-error") == (
            "This number is taken by another sprint (perhaps one in the trash)."
        )
        assert page.attributes["sprint-number"]["aria-describedby"] == "sprint-number-error"
        assert page.attributes["new-sprint"].get("open") == ""
        form = page.form("/sprints/new")
        assert form is not None
        assert (form.fields["number"], form.fields["name"], form.fields["goal"]) == (
            "4",
            "Again",
            "Typed goal",
        )
        assert plan.sprint_numbers() == [1, 2, 3]

    def test_no_name_and_dates_out_of_order_are_refused(self, plan: Plan) -> None:
        client = plan.live.browser_for(plan.owner)
        refused = _post_sprint(
            client, plan, name="  ", starts_on="2026-03-13", ends_on="2026-03-02"
        )
        assert refused.status_code == 422
        page = parse_board(refused)
        assert page.text("sprint-name-error") == "Enter a name of at most 300 characters."
        assert page.text("new-sprint-error") == (
            "The sprint was not created: correct the marked fields."
        )
        form = page.form("/sprints/new")
        assert form is not None
        assert (form.fields["starts_on"], form.fields["ends_on"]) == ("2026-03-13", "2026-03-02")
        named = _post_sprint(client, plan, starts_on="2026-03-13", ends_on="2026-03-02")
        assert named.status_code == 422
        assert parse_board(named).text("sprint-ends_on-error") == (
            "The start date must be on or before the end date."
        )
        bad_number = _post_sprint(client, plan, number="four")
        assert bad_number.status_code == 422
        assert parse_board(bad_number).text("sprint-number-error") == (
            "Enter a whole number, 0 or more."
        )
        assert plan.sprint_numbers() == [1, 2, 3]

    @pytest.mark.parametrize("role", ["member", "viewer"])
    def test_others_than_admins_see_no_form_and_are_refused(self, plan: Plan, role: str) -> None:
        other = plan.live.browser_for(plan.live.member(plan.owner, plan.key, role))
        page = _page(other, plan.backlog_path)
        assert page.form("/sprints/new") is None
        assert ("new-story" in page.attributes) is (role == "member")
        # Refused before the form is read: even a malformed one gets the 403.
        for fields in ({}, {"name": ""}):
            refused = _post_sprint(other, plan, **fields)
            assert refused.status_code == 403
            assert "only a project admin or above" in refused.text
        assert plan.sprint_numbers() == [1, 2, 3]

    def test_a_form_without_the_csrf_token_is_refused(self, plan: Plan) -> None:
        client = plan.live.browser_for(plan.owner)
        refused = client.post(
            f"/projects/{plan.key}/sprints/new", data={"number": "4", "name": "X"}, headers=HTML
        )
        assert refused.status_code == 403
        assert plan.sprint_numbers() == [1, 2, 3]


class TestPersian:
    def test_the_forms_and_their_messages_are_in_persian(self, plan: Plan) -> None:
        assert plan.owner.client.patch("/users/me", json={"locale": "fa"}).status_code == 200
        try:
            client = plan.live.browser_for(plan.owner)
            new = client.get(plan.new_story_path + "?sprint=1")
            assert '<html lang="fa" dir="rtl">' in new.text
            assert "<h1>استوری جدید</h1>" in new.text
            assert ">ساخت استوری</button>" in new.text
            refused = _post_story(client, plan, sprint="3")
            assert refused.status_code == 422
            assert parse_board(refused).text("sprint-error") == (
                "بک‌لاگ یا یک اسپرینت برنامه‌ریزی‌شده یا فعال را برگزینید."
            )
            backlog = client.get(plan.backlog_path)
            assert "<summary>اسپرینت جدید</summary>" in backlog.text
            assert ">استوری جدید</a>" in backlog.text
        finally:
            plan.owner.client.patch("/users/me", json={"locale": "en"})
