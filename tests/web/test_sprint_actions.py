"""Starting and completing a sprint with the sprint board's forms, over HTTP (real server):
who sees the forms, their defaults, what the actions do, and how a refusal reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.api.live import Caller, LiveServer, csrf_of
from tests.web.board_html import parse_board

pytestmark = pytest.mark.slow

HTML = {"Accept": "text/html"}


def _today() -> date:
    return datetime.now(UTC).date()  # the projects' time zone is UTC


@dataclass
class Plan:
    live: LiveServer
    key: str
    owner: Caller
    stories: dict[str, str] = field(default_factory=dict)  # title -> key

    def board_path(self, number: int) -> str:
        return f"/projects/{self.key}/sprints/{number}"

    def sprint(self, number: int, **fields: Any) -> dict[str, Any]:
        created = self.owner.client.post(
            f"/projects/{self.key}/sprints",
            json={"number": number, "name": f"Sprint {number}", **fields},
        )
        assert created.status_code == 201, created.text
        body: dict[str, Any] = created.json()
        return body

    def read_sprint(self, number: int) -> dict[str, Any]:
        response = self.owner.client.get(f"/projects/{self.key}/sprints/{number}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def story(self, title: str, **fields: Any) -> str:
        created = self.owner.client.post(
            f"/projects/{self.key}/stories", json={"title": title, **fields}
        )
        assert created.status_code == 201, created.text
        self.stories[title] = created.json()["key"]
        return self.stories[title]

    def sprint_of(self, title: str) -> int | None:
        response = self.owner.client.get(f"/projects/{self.key}/stories/{self.stories[title]}")
        assert response.status_code == 200, response.text
        sprint_id: int | None = response.json()["sprint_id"]
        return sprint_id


def _plan(live: LiveServer, owner: Caller) -> Plan:
    return Plan(live, live.project(owner)["key"], owner)


def _active_plan(live: LiveServer, owner: Caller) -> tuple[Plan, dict[str, dict[str, Any]]]:
    """Sprint 1 active since three days ago, with Alpha (3 points, draft), Beta (5, in
    progress) and Gamma (2, done); sprint 0 and sprints 2 and 3 planned, sprint 4 completed."""
    plan = _plan(live, owner)
    today = _today()
    sprints = {
        "active": plan.sprint(
            1,
            status="active",
            starts_on=(today - timedelta(days=3)).isoformat(),
            ends_on=(today + timedelta(days=7)).isoformat(),
        ),
        "earlier": plan.sprint(0),
        "next": plan.sprint(2),
        "later": plan.sprint(3),
        "completed": plan.sprint(4, status="completed"),
    }
    in_sprint = {"sprint_id": sprints["active"]["id"]}
    plan.story("Alpha", points=3, **in_sprint)
    plan.story("Beta", points=5, status="in_progress", **in_sprint)
    plan.story("Gamma", points=2, status="done", **in_sprint)
    return plan, sprints


def _post(
    client: httpx.Client, plan: Plan, number: int, action: str, **fields: str
) -> httpx.Response:
    page = client.get(plan.board_path(number))
    data = {"csrf_token": csrf_of(page), **fields}
    return client.post(f"{plan.board_path(number)}/{action}", data=data, headers=HTML)


class TestStartSprint:
    def test_an_admin_sees_the_start_form_with_todays_date_and_the_planned_end(
        self, live: LiveServer, alice: Caller
    ) -> None:
        plan = _plan(live, alice)
        sprint = plan.sprint(1, starts_on="2026-01-05", ends_on="2026-01-16")
        page = parse_board(live.browser_for(alice).get(plan.board_path(1)))
        assert page.text("sprint-status") == "Planned"
        form = page.form("/sprints/1/start")
        assert form is not None
        today = _today()
        assert form.fields["starts_on"] == today.isoformat()
        assert form.fields["ends_on"] == (today + timedelta(days=11)).isoformat()
        assert form.fields["version"] == str(sprint["version"])
        assert page.attributes["starts_on"]["type"] == page.attributes["ends_on"]["type"] == "date"
        assert page.form("/complete") is None

    def test_starting_makes_the_sprint_active_with_the_dates_given(
        self, live: LiveServer, alice: Caller
    ) -> None:
        plan = _plan(live, alice)
        plan.sprint(1)
        client = live.browser_for(alice)
        started = _post(client, plan, 1, "start", starts_on="2026-02-02", ends_on="2026-02-13")
        assert started.status_code == 303, started.text
        assert started.headers["location"] == plan.board_path(1) + "?started=1"
        sprint = plan.read_sprint(1)
        assert (sprint["status"], sprint["starts_on"], sprint["ends_on"]) == (
            "active",
            "2026-02-02",
            "2026-02-13",
        )
        page = parse_board(client.get(started.headers["location"]))
        assert page.text("sprint-notice") == (
            "Sprint 1 started: it runs from Feb 2, 2026 to Feb 13, 2026."
        )
        assert page.attributes["sprint-notice"]["role"] == "status"
        assert page.text("sprint-status") == "Active"
        assert page.form("/start") is None
        assert page.form("/complete") is not None
        # The notice is for the redirect only: the board read again says nothing more.
        assert "sprint-notice" not in parse_board(client.get(plan.board_path(1))).texts

    @pytest.mark.parametrize(
        "dates",
        [
            {},
            {"starts_on": "2026-01-05", "ends_on": "2026-01-14"},
            {"ends_on": "2099-12-31"},
            {"ends_on": "2020-01-01"},
        ],
        ids=["no-dates", "planned-dates", "end-only", "end-passed"],
    )
    def test_the_prefilled_dates_are_the_ones_the_service_would_choose(
        self, live: LiveServer, alice: Caller, dates: dict[str, str]
    ) -> None:
        plan = _plan(live, alice)
        plan.sprint(1, **dates)
        client = live.browser_for(alice)
        form = parse_board(client.get(plan.board_path(1))).form("/start")
        assert form is not None
        # Left empty, the dates are the service's defaults.
        started = _post(client, plan, 1, "start", starts_on="", ends_on="")
        assert started.status_code == 303, started.text
        sprint = plan.read_sprint(1)
        assert (sprint["starts_on"], sprint["ends_on"]) == (
            form.fields["starts_on"],
            form.fields["ends_on"],
        )

    def test_starting_while_another_sprint_is_active_is_refused_and_changes_nothing(
        self, live: LiveServer, alice: Caller
    ) -> None:
        plan = _plan(live, alice)
        plan.sprint(1, status="active", starts_on="2026-01-05", ends_on="2026-01-16")
        planned = plan.sprint(2)
        client = live.browser_for(alice)
        page = parse_board(client.get(plan.board_path(2)))
        # No form to start it, but why.
        assert page.form("/start") is None
        assert page.text("start-blocked") == (
            "Sprint 1 is active: complete it before starting this one."
        )
        refused = _post(client, plan, 2, "start", starts_on="2026-02-02", ends_on="2026-02-13")
        assert refused.status_code == 409
        assert parse_board(refused).text("sprint-action-error") == (
            "Sprint 2 was not started. Sprint 1 is active: complete it before starting another "
            "sprint. Nothing was changed."
        )
        assert plan.read_sprint(2) == planned

    @pytest.mark.parametrize(
        ("starts_on", "ends_on", "message"),
        [
            ("2026-03-10", "2026-03-01", "The start date must be on or before the end date."),
            ("", "2020-01-01", "The start date must be on or before the end date."),
            ("2026-02-30", "2026-03-01", "Enter each date as a day, month and year."),
        ],
        ids=["out-of-order", "end-before-today", "no-such-day"],
    )
    def test_bad_dates_are_refused_on_the_page_with_what_was_typed(
        self, live: LiveServer, alice: Caller, starts_on: str, ends_on: str, message: str
    ) -> None:
        plan = _plan(live, alice)
        planned = plan.sprint(1)
        refused = _post(
            live.browser_for(alice), plan, 1, "start", starts_on=starts_on, ends_on=ends_on
        )
        assert refused.status_code == 422
        page = parse_board(refused)
        assert page.text("sprint-action-error") == (
            f"Sprint 1 was not started. {message} Nothing was changed."
        )
        assert page.attributes["sprint-action-error"]["role"] == "alert"
        assert "open" in page.attributes["start-sprint"]
        form = page.form("/start")
        assert form is not None
        assert (form.fields["starts_on"], form.fields["ends_on"]) == (starts_on, ends_on)
        assert page.attributes["starts_on"]["aria-invalid"] == "true"
        assert plan.read_sprint(1) == planned

    def test_a_form_older_than_the_sprint_is_refused(self, live: LiveServer, alice: Caller) -> None:
        plan = _plan(live, alice)
        plan.sprint(1)
        client = live.browser_for(alice)
        page = client.get(plan.board_path(1))
        form = parse_board(page).form("/start")
        assert form is not None
        renamed = alice.client.patch(f"/projects/{plan.key}/sprints/1", json={"name": "Renamed"})
        assert renamed.status_code == 200, renamed.text
        refused = client.post(
            f"{plan.board_path(1)}/start", data={**form.fields, "csrf_token": csrf_of(page)}
        )
        assert refused.status_code == 409
        assert "Someone else changed this sprint" in parse_board(refused).text(
            "sprint-action-error"
        )
        assert plan.read_sprint(1)["status"] == "planned"


class TestCompleteSprint:
    def test_the_form_offers_the_backlog_and_the_planned_sprints_the_next_one_chosen(
        self, live: LiveServer, alice: Caller
    ) -> None:
        plan, _ = _active_plan(live, alice)
        page = parse_board(live.browser_for(alice).get(plan.board_path(1)))
        assert page.form("/start") is None
        form = page.form("/sprints/1/complete")
        assert form is not None
        # Not the sprint itself, nor the completed sprint 4.
        assert [value for value, _ in form.options["carry_over_to"]] == ["backlog", "0", "2", "3"]
        assert form.chosen("carry_over_to") == "2"
        assert page.text("complete-summary") == (
            "1 story (2 points) done, 2 stories (8 points) not done."
        )

    def test_without_a_later_planned_sprint_the_backlog_is_chosen(
        self, live: LiveServer, alice: Caller
    ) -> None:
        plan = _plan(live, alice)
        active = plan.sprint(3, status="active")
        plan.sprint(1)
        plan.story("Alpha", points=1, sprint_id=active["id"])
        form = parse_board(live.browser_for(alice).get(plan.board_path(3))).form("/complete")
        assert form is not None
        assert form.options["carry_over_to"] == [("backlog", True), ("1", False)]

    def test_with_every_story_done_there_is_nothing_to_choose(
        self, live: LiveServer, alice: Caller
    ) -> None:
        plan = _plan(live, alice)
        active = plan.sprint(1, status="active")
        plan.story("Alpha", points=1, status="done", sprint_id=active["id"])
        client = live.browser_for(alice)
        page = parse_board(client.get(plan.board_path(1)))
        form = page.form("/complete")
        assert form is not None
        assert form.options == {}
        assert page.text("complete-summary") == "Every story of the sprint is done."
        completed = _post(client, plan, 1, "complete")
        assert completed.status_code == 303, completed.text
        notice = parse_board(client.get(completed.headers["location"])).text("sprint-notice")
        assert (
            notice == "Sprint 1 completed: 1 story (1 point) done; nothing was left to carry over."
        )

    def test_completing_moves_the_unfinished_stories_to_the_sprint_chosen(
        self, live: LiveServer, alice: Caller
    ) -> None:
        plan, sprints = _active_plan(live, alice)
        plan.story("Later one", sprint_id=sprints["later"]["id"])
        client = live.browser_for(alice)
        completed = _post(client, plan, 1, "complete", carry_over_to="3")
        assert completed.status_code == 303, completed.text
        assert completed.headers["location"] == plan.board_path(1) + "?completed=1"
        page = parse_board(client.get(completed.headers["location"]))
        assert page.text("sprint-notice") == (
            "Sprint 1 completed: 1 story (2 points) done, 2 stories (8 points) moved to sprint 3."
        )
        assert page.attributes["sprint-notice"]["role"] == "status"
        assert page.text("sprint-status") == "Completed"
        assert page.cards() == [plan.stories["Gamma"]]
        # What it held when it ended, the stories carried over included.
        assert (page.text("committed-points"), page.text("done-points")) == ("10", "2")
        assert page.form("/start") is None
        assert page.form("/complete") is None
        assert page.text("burndown-carried-over") == (
            "8 points were carried over when the sprint was completed."
        )
        # The unfinished stories lead sprint 3's order, in their own.
        later = parse_board(client.get(plan.board_path(3)))
        assert later.lists["draft"] == [plan.stories["Alpha"], plan.stories["Later one"]]
        assert later.lists["in_progress"] == [plan.stories["Beta"]]
        sprint = plan.read_sprint(1)
        assert (sprint["status"], sprint["ends_on"]) == ("completed", _today().isoformat())
        # Read again later, the board still says what the completion did, as a plain line.
        again = parse_board(client.get(plan.board_path(1)))
        assert "sprint-notice" not in again.texts
        assert again.text("completion-summary") == page.text("sprint-notice")

    def test_completing_to_the_backlog_puts_the_stories_at_its_top(
        self, live: LiveServer, alice: Caller
    ) -> None:
        plan, _ = _active_plan(live, alice)
        plan.story("Waiting")
        client = live.browser_for(alice)
        completed = _post(client, plan, 1, "complete", carry_over_to="backlog")
        assert completed.status_code == 303, completed.text
        notice = parse_board(client.get(completed.headers["location"])).text("sprint-notice")
        assert notice == (
            "Sprint 1 completed: 1 story (2 points) done, 2 stories (8 points) moved to the "
            "backlog."
        )
        backlog = parse_board(client.get(f"/projects/{plan.key}/backlog"))
        assert backlog.lists["backlog"] == [
            plan.stories[title] for title in ("Alpha", "Beta", "Waiting")
        ]
        assert plan.sprint_of("Gamma") is not None

    def test_the_form_sent_as_it_comes_carries_over_to_the_next_planned_sprint(
        self, live: LiveServer, alice: Caller
    ) -> None:
        plan, sprints = _active_plan(live, alice)
        client = live.browser_for(alice)
        form = parse_board(client.get(plan.board_path(1))).form("/complete")
        assert form is not None
        sent = {**form.fields, "carry_over_to": form.chosen("carry_over_to")}
        completed = client.post(form.action, data=sent, headers=HTML)
        assert completed.status_code == 303, completed.text
        assert plan.sprint_of("Alpha") == plan.sprint_of("Beta") == sprints["next"]["id"]
        assert plan.sprint_of("Gamma") == sprints["active"]["id"]

    @pytest.mark.parametrize(
        ("target", "status_code"),
        [("4", 409), ("99", 422), ("1", 422), ("soon", 422)],
        ids=["completed-sprint", "no-such-sprint", "itself", "not-a-number"],
    )
    def test_a_target_that_cannot_take_the_stories_is_refused(
        self, live: LiveServer, alice: Caller, target: str, status_code: int
    ) -> None:
        plan, sprints = _active_plan(live, alice)
        active = plan.read_sprint(1)
        refused = _post(live.browser_for(alice), plan, 1, "complete", carry_over_to=target)
        assert refused.status_code == status_code
        page = parse_board(refused)
        assert page.text("sprint-action-error") == (
            "Sprint 1 was not completed. Choose the backlog or a planned sprint for the "
            "unfinished stories. Nothing was changed."
        )
        form = page.form("/complete")
        assert form is not None
        assert "open" in page.attributes["complete-sprint"]
        assert plan.read_sprint(1) == active
        assert plan.sprint_of("Alpha") == sprints["active"]["id"]

    def test_only_the_active_sprint_completes(self, live: LiveServer, alice: Caller) -> None:
        plan, _ = _active_plan(live, alice)
        planned = plan.read_sprint(2)
        refused = _post(live.browser_for(alice), plan, 2, "complete")
        assert refused.status_code == 409
        assert parse_board(refused).text("sprint-action-error") == (
            "Sprint 2 was not completed. Its status is now Planned: only the active sprint can "
            "be completed. Nothing was changed."
        )
        assert plan.read_sprint(2) == planned


class TestWhoMay:
    @pytest.mark.parametrize("role", ["viewer", "member"])
    def test_viewers_and_members_see_no_forms_and_are_refused(
        self, live: LiveServer, alice: Caller, role: str
    ) -> None:
        plan, sprints = _active_plan(live, alice)
        other = live.browser_for(live.member(alice, plan.key, role))
        for number in (1, 2):
            page = parse_board(other.get(plan.board_path(number)))
            assert page.form("/start") is None
            assert page.form("/complete") is None
            assert "start-blocked" not in page.texts
        for number, action in ((1, "complete"), (2, "start")):
            before = plan.read_sprint(number)
            refused = _post(other, plan, number, action)
            assert refused.status_code == 403
            assert "only a project admin or above" in refused.text
            assert plan.read_sprint(number) == before
        assert plan.sprint_of("Alpha") == sprints["active"]["id"]

    def test_an_admin_who_is_not_the_owner_may(self, live: LiveServer, alice: Caller) -> None:
        plan, _ = _active_plan(live, alice)
        admin = live.browser_for(live.member(alice, plan.key, "admin"))
        assert parse_board(admin.get(plan.board_path(1))).form("/complete") is not None
        completed = _post(admin, plan, 1, "complete", carry_over_to="backlog")
        assert completed.status_code == 303, completed.text
        assert plan.sprint_of("Alpha") is None

    @pytest.mark.parametrize("action", ["start", "complete"])
    def test_a_form_without_the_csrf_token_is_refused(
        self, live: LiveServer, alice: Caller, action: str
    ) -> None:
        plan, _ = _active_plan(live, alice)
        number = 2 if action == "start" else 1
        before = plan.read_sprint(number)
        client = live.browser_for(alice)
        for data in ({}, {"csrf_token": "forged"}):
            refused = client.post(f"{plan.board_path(number)}/{action}", data=data, headers=HTML)
            assert refused.status_code == 403
            assert "this form has expired" in refused.text
        assert plan.read_sprint(number) == before


def _edit(client: httpx.Client, plan: Plan, number: int, **fields: str) -> httpx.Response:
    """The board's edit form as the page fills it, with ``fields`` typed over it."""
    form = parse_board(client.get(plan.board_path(number))).form(f"/sprints/{number}/edit")
    assert form is not None, "no edit form"
    data = {**form.fields, "goal": "", **fields}
    return client.post(f"{plan.board_path(number)}/edit", data=data, headers=HTML)


class TestEditSprint:
    def test_an_admin_renames_it_and_moves_its_dates(self, live: LiveServer, alice: Caller) -> None:
        plan, sprints = _active_plan(live, alice)
        client = live.browser_for(alice)
        form = parse_board(client.get(plan.board_path(1))).form("/sprints/1/edit")
        assert form is not None
        assert (form.fields["name"], form.fields["version"]) == (
            "Sprint 1",
            str(sprints["active"]["version"]),
        )
        assert form.fields["starts_on"] == sprints["active"]["starts_on"]
        edited = _edit(
            client,
            plan,
            1,
            name="Polish",
            goal="Ship the board",
            starts_on="2026-03-02",
            ends_on="2026-03-13",
        )
        assert edited.status_code == 303, edited.text
        assert edited.headers["location"] == plan.board_path(1) + "?edited=1"
        sprint = plan.read_sprint(1)
        assert (sprint["name"], sprint["goal"], sprint["starts_on"], sprint["ends_on"]) == (
            "Polish",
            "Ship the board",
            "2026-03-02",
            "2026-03-13",
        )
        assert sprint["status"] == "active"
        page = parse_board(client.get(edited.headers["location"]))
        assert page.text("sprint-notice") == "Sprint 1 saved."
        assert page.text("sprint-title") == "Sprint 1: Polish"

    @pytest.mark.parametrize(
        ("fields", "status_code", "message"),
        [
            (
                {"starts_on": "2026-03-10", "ends_on": "2026-03-01"},
                422,
                "The start date must be on or before the end date.",
            ),
            ({"name": "  "}, 422, "Enter a name of at most 300 characters."),
            ({"ends_on": "2026-02-30"}, 422, "Enter each date as a day, month and year."),
        ],
        ids=["dates-out-of-order", "no-name", "no-such-day"],
    )
    def test_refused_values_come_back_as_typed(
        self,
        live: LiveServer,
        alice: Caller,
        fields: dict[str, str],
        status_code: int,
        message: str,
    ) -> None:
        plan = _plan(live, alice)
        before = plan.sprint(1, starts_on="2026-01-05", ends_on="2026-01-16")
        client = live.browser_for(alice)
        typed = {"name": "Typed name", **fields}
        refused = _edit(client, plan, 1, **typed)
        assert refused.status_code == status_code
        page = parse_board(refused)
        assert page.text("sprint-action-error") == (
            f"Sprint 1 was not changed. {message} Nothing was changed."
        )
        assert page.attributes["edit-sprint"].get("open") == ""
        assert "open" not in page.attributes["start-sprint"]
        form = page.form("/sprints/1/edit")
        assert form is not None
        assert {name: form.fields[name] for name in typed} == typed
        # The start form keeps its own defaults.
        start = page.form("/sprints/1/start")
        assert start is not None
        assert start.fields["ends_on"] != typed.get("ends_on")
        assert plan.read_sprint(1) == before

    def test_a_sprint_changed_since_the_page_is_not_overwritten(
        self, live: LiveServer, alice: Caller
    ) -> None:
        plan = _plan(live, alice)
        plan.sprint(1)
        client = live.browser_for(alice)
        form = parse_board(client.get(plan.board_path(1))).form("/sprints/1/edit")
        assert form is not None
        changed = alice.client.patch(f"/projects/{plan.key}/sprints/1", json={"name": "Theirs"})
        assert changed.status_code == 200, changed.text
        refused = client.post(
            f"{plan.board_path(1)}/edit", data={**form.fields, "name": "Mine"}, headers=HTML
        )
        assert refused.status_code == 409
        page = parse_board(refused)
        assert page.text("sprint-action-error") == (
            "Sprint 1 was not changed. Someone else changed this sprint since you opened the "
            "page: check it and try again. Nothing was changed."
        )
        edit = page.form("/sprints/1/edit")
        assert edit is not None
        assert edit.fields["name"] == "Mine"
        assert plan.read_sprint(1)["name"] == "Theirs"

    def test_a_member_has_no_form_and_is_refused(self, live: LiveServer, alice: Caller) -> None:
        plan = _plan(live, alice)
        before = plan.sprint(1)
        member = live.member(alice, plan.key, "member", name="mo")
        client = live.browser_for(member)
        page = client.get(plan.board_path(1))
        assert parse_board(page).form("/edit") is None
        refused = client.post(
            f"{plan.board_path(1)}/edit",
            data={"csrf_token": csrf_of(page), "name": "Mine", "version": str(before["version"])},
            headers=HTML,
        )
        assert refused.status_code == 403
        assert plan.read_sprint(1) == before


class TestPersian:
    def test_the_forms_and_the_notice_are_in_persian(self, live: LiveServer, alice: Caller) -> None:
        plan, _ = _active_plan(live, alice)
        assert alice.client.patch("/users/me", json={"locale": "fa"}).status_code == 200
        try:
            client = live.browser_for(alice)
            planned = client.get(plan.board_path(2))
            assert '<html lang="fa" dir="rtl">' in planned.text
            assert parse_board(planned).text("start-blocked") == (
                "اسپرینت 1 فعال است: پیش از شروع این اسپرینت آن را تکمیل کنید."
            )
            active = client.get(plan.board_path(1))
            assert "<summary>تکمیل اسپرینت</summary>" in active.text
            assert '<label for="carry_over_to">انتقال استوری‌های ناتمام به</label>' in active.text
            completed = _post(client, plan, 1, "complete", carry_over_to="backlog")
            assert completed.status_code == 303, completed.text
            page = parse_board(client.get(completed.headers["location"]))
            assert page.text("sprint-notice") == (
                "اسپرینت 1 تکمیل شد: 1 استوری (2 امتیاز) انجام شد و 2 استوری (8 امتیاز) "
                "به بک‌لاگ منتقل شد."
            )
            assert page.text("burndown-carried-over") == (
                "8 امتیاز هنگام تکمیل اسپرینت به بعد منتقل شد."
            )
        finally:
            alice.client.patch("/users/me", json={"locale": "en"})
