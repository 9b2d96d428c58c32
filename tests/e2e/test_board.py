"""The sprint board and the backlog in Chromium: dragging cards, the keyboard's way to do
the same, a viewer who may not, and the Persian layout."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from tests.api.live import Caller, LiveServer
from tests.e2e.axe import severe_violations
from tests.e2e.conftest import log_in
from tests.e2e.pages_board import BacklogPage, SprintBoardPage

pytestmark = pytest.mark.slow


@dataclass
class Plan:
    key: str
    stories: dict[str, str] = field(default_factory=dict)  # title -> key


def _plan(server: LiveServer, owner: Caller) -> Plan:
    """Sprint 1 (active) with Alpha (3 points), Beta (5) and Gamma (2, done); the backlog
    holds Delta (8) and Epsilon (1)."""
    key = server.project(owner)["key"]
    sprint = owner.client.post(
        f"/projects/{key}/sprints",
        json={"number": 1, "name": "Board sprint", "goal": "Ship it", "status": "active"},
    )
    assert sprint.status_code == 201, sprint.text
    plan = Plan(key)
    for title, fields in (
        ("Alpha", {"points": 3, "priority": "high", "assignee_id": owner.user["id"]}),
        ("Beta", {"points": 5}),
        ("Gamma", {"points": 2, "status": "done"}),
        ("Delta", {"points": 8, "sprint_id": None}),
        ("Epsilon", {"points": 1, "sprint_id": None}),
    ):
        fields.setdefault("sprint_id", sprint.json()["id"])
        created = owner.client.post(f"/projects/{key}/stories", json={"title": title, **fields})
        assert created.status_code == 201, created.text
        plan.stories[title] = created.json()["key"]
    task = owner.client.post(
        f"/projects/{key}/stories/{plan.stories['Alpha']}/tasks", json={"text": "Do it"}
    )
    assert task.status_code == 201, task.text
    return plan


def _story(owner: Caller, plan: Plan, title: str) -> dict[str, Any]:
    response = owner.client.get(f"/projects/{plan.key}/stories/{plan.stories[title]}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def page_problems(user_page: Page) -> list[str]:
    """Console errors (a Content-Security-Policy refusal among them) and uncaught errors."""
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    user_page.on("console", on_console)
    user_page.on("pageerror", lambda error: problems.append(str(error)))
    return problems


def test_drag_a_story_to_done_changes_the_done_points(
    server: LiveServer,
    user: Caller,
    user_page: Page,
    page_problems: list[str],
    screenshots_dir: Path,
) -> None:
    plan = _plan(server, user)
    alpha, beta, gamma = (plan.stories[title] for title in ("Alpha", "Beta", "Gamma"))
    board = SprintBoardPage(user_page, server.base_url).open(plan.key, 1)
    assert (board.committed_points(), board.done_points()) == ("10", "2")
    assert board.keys("draft") == [alpha, beta]
    user_page.screenshot(path=screenshots_dir / "board-en.png", full_page=True)

    board.drag(alpha, to="done")
    assert board.keys("done") == [gamma, alpha]
    assert board.done_points() == "5"
    user_page.reload()
    assert board.keys("draft") == [beta]
    assert board.keys("done") == [gamma, alpha]
    assert board.done_points() == "5"
    assert _story(user, plan, "Alpha")["status"] == "done"
    assert board.message().is_hidden()
    assert page_problems == []


def test_reordering_within_a_column_persists(
    server: LiveServer, user: Caller, user_page: Page, page_problems: list[str]
) -> None:
    plan = _plan(server, user)
    alpha, beta = plan.stories["Alpha"], plan.stories["Beta"]
    board = SprintBoardPage(user_page, server.base_url).open(plan.key, 1)
    board.drag(beta, to="draft", before=alpha)
    assert board.keys("draft") == [beta, alpha]
    user_page.reload()
    assert board.keys("draft") == [beta, alpha]
    # The cards' own controls follow the new order: Beta, now first, cannot go up.
    expect(board.up_button(beta)).to_be_disabled()
    expect(board.up_button(alpha)).to_be_enabled()
    assert page_problems == []


def test_the_keyboard_moves_a_story_without_dragging(
    server: LiveServer, user: Caller, user_page: Page
) -> None:
    plan = _plan(server, user)
    alpha, beta = plan.stories["Alpha"], plan.stories["Beta"]
    board = SprintBoardPage(user_page, server.base_url).open(plan.key, 1)
    # Status: choose it in the card's list and press Enter on the button after it.
    select = board.status_select(beta)
    expect(select).to_have_accessible_name(f"Status of {beta}")
    select.focus()
    user_page.keyboard.press("ArrowDown")  # Draft -> Approved
    user_page.keyboard.press("ArrowDown")  # -> In progress
    user_page.keyboard.press("Tab")
    with user_page.expect_navigation():
        user_page.keyboard.press("Enter")
    assert board.keys("in_progress") == [beta]
    assert board.keys("draft") == [alpha]
    assert user_page.url.endswith(f"#story-{beta}")
    # Back to Draft, where it keeps its place after Alpha; then "up" on it.
    board.status_select(beta).focus()
    user_page.keyboard.press("ArrowUp")
    user_page.keyboard.press("ArrowUp")
    user_page.keyboard.press("Tab")
    with user_page.expect_navigation():
        user_page.keyboard.press("Enter")
    assert board.keys("draft") == [alpha, beta]
    up = board.up_button(beta)
    expect(up).to_have_accessible_name(f"Move {beta} up")
    up.focus()
    with user_page.expect_navigation():
        user_page.keyboard.press("Enter")
    assert board.keys("draft") == [beta, alpha]
    assert _story(user, plan, "Beta")["status"] == "draft"


def test_a_viewer_cannot_move(
    server: LiveServer, user: Caller, browser: Browser, screenshots_dir: Path
) -> None:
    plan = _plan(server, user)
    alpha = plan.stories["Alpha"]
    viewer = server.member(user, plan.key, "viewer")
    context = browser.new_context()
    try:
        board = SprintBoardPage(log_in(context, server, viewer), server.base_url).open(plan.key, 1)
        expect(board.read_only_notice()).to_contain_text("your role in this project is viewer")
        assert board.move_forms().count() == 0
        board.drag_only(alpha, to="done")
        board.page.reload()
        assert board.keys("done") == [plan.stories["Gamma"]]
    finally:
        context.close()

    # A member made a viewer while the board is open: the drag is refused with a message
    # and the card goes back where it was.
    member = server.member(user, plan.key, "member")
    context = browser.new_context()
    try:
        board = SprintBoardPage(log_in(context, server, member), server.base_url).open(plan.key, 1)
        lowered = user.client.patch(
            f"/projects/{plan.key}/members/{member.user['id']}", json={"role": "viewer"}
        )
        assert lowered.status_code == 200, lowered.text
        board.drag(alpha, to="done")
        expect(board.message()).to_be_visible()
        expect(board.message()).to_contain_text("only a project member or above may edit stories")
        assert board.keys("draft") == [alpha, plan.stories["Beta"]]
        expect(board.read_only_notice()).to_be_visible()
        board.page.screenshot(path=screenshots_dir / "board-refused-en.png")
    finally:
        context.close()
    assert _story(user, plan, "Alpha")["status"] == "draft"


def test_a_backlog_story_dragged_into_a_sprint(
    server: LiveServer,
    user: Caller,
    user_page: Page,
    page_problems: list[str],
    screenshots_dir: Path,
) -> None:
    plan = _plan(server, user)
    delta, epsilon = plan.stories["Delta"], plan.stories["Epsilon"]
    backlog = BacklogPage(user_page, server.base_url).open(plan.key)
    assert backlog.keys("backlog") == [delta, epsilon]
    assert backlog.average_velocity() == "no velocity yet"
    expect(backlog.planning(1)).to_contain_text("10 points committed")

    backlog.drag(delta, to="1")
    assert backlog.keys("backlog") == [epsilon]
    assert backlog.keys("1")[-1] == delta
    expect(backlog.planning(1)).to_contain_text("18 points committed")
    user_page.reload()
    assert backlog.keys("backlog") == [epsilon]
    assert _story(user, plan, "Delta")["sprint_id"] is not None
    user_page.screenshot(path=screenshots_dir / "backlog-en.png", full_page=True)

    # And the sprint's own board shows it.
    board = SprintBoardPage(user_page, server.base_url).open(plan.key, 1)
    assert delta in board.keys("draft")
    assert board.committed_points() == "18"
    assert page_problems == []


def test_the_board_mirrors_in_persian(
    server: LiveServer, user: Caller, user_page: Page, screenshots_dir: Path
) -> None:
    plan = _plan(server, user)
    assert user.client.patch("/users/me", json={"locale": "fa"}).status_code == 200
    board = SprintBoardPage(user_page, server.base_url).open(plan.key, 1)
    assert user_page.locator("html").get_attribute("dir") == "rtl"
    first = board.column("draft").bounding_box()
    last = board.column("blocked").bounding_box()
    assert first is not None
    assert last is not None
    # The first column (Draft) is on the right, the last on the left.
    assert first["x"] > last["x"]
    alpha = board.card(plan.stories["Alpha"])
    key_box = alpha.locator(".card-key").bounding_box()
    points_box = alpha.locator(".card-points").bounding_box()
    assert key_box is not None
    assert points_box is not None
    assert key_box["x"] > points_box["x"]
    user_page.screenshot(path=screenshots_dir / "board-fa.png", full_page=True)


@pytest.mark.parametrize("locale", ["en", "fa"])
def test_board_and_backlog_have_no_serious_accessibility_violations(
    server: LiveServer, user: Caller, browser: Browser, locale: str
) -> None:
    plan = _plan(server, user)
    assert user.client.patch("/users/me", json={"locale": locale}).status_code == 200
    # axe is injected as an inline script, which the CSP rightly refuses.
    context = browser.new_context(bypass_csp=True)
    try:
        page = log_in(context, server, user)
        found: dict[str, list[dict[str, Any]]] = {}
        for path in (f"/projects/{plan.key}/sprints/1", f"/projects/{plan.key}/backlog"):
            page.goto(server.base_url + path)
            found[path] = severe_violations(page)
    finally:
        context.close()
    assert {path: v for path, v in found.items() if v} == {}
