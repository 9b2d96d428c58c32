"""The project overview and the phase view, over HTTP against a real server."""

from __future__ import annotations

import pytest

from tests.api.live import Caller, LiveServer

pytestmark = pytest.mark.slow


def _plan(caller: Caller, key: str) -> None:
    api = caller.client
    phase = api.post(
        f"/projects/{key}/phases", json={"number": 3, "title": "Backend", "goals": ["Real API"]}
    ).json()
    sprints = [
        api.post(
            f"/projects/{key}/sprints",
            json={"number": n, "name": f"S{n}", "phase_id": phase["id"], "goal": f"Goal {n}"}
            | ({"weeks": "1-2"} if n == 9 else {}),
        ).json()
        for n in (9, 10)
    ]
    stories = [
        ("9.1", sprints[0], 5, "done", "must"),
        ("9.2", sprints[0], 3, "draft", "should"),
        ("10.1", sprints[1], 8, "in_progress", None),
    ]
    for story_key, sprint, points, status, moscow in stories:
        created = api.post(
            f"/projects/{key}/stories",
            json={
                "key": story_key,
                "title": f"Story {story_key}",
                "sprint_id": sprint["id"],
                "points": points,
                "status": status,
                "moscow": moscow,
            },
        )
        assert created.status_code == 201, created.text


def test_overview_shows_phases_with_goals_progress_and_status_counts(
    live: LiveServer, alice: Caller
) -> None:
    key = live.project(alice, name="Roll-up plan")["key"]
    _plan(alice, key)
    page = live.browser_for(alice).get(f"/projects/{key}")
    assert page.status_code == 200
    text = page.text
    assert "Phase 3" in text
    assert "Real API" in text
    assert "5 of 16 points done (31%)" in text
    for count in ("Done: 1", "Draft: 1", "In progress: 1"):
        assert count in text
    assert f'href="/projects/{key}/sprints/9"' in text
    assert f'href="/projects/{key}/phases/3"' in text


def test_phase_view_lists_sprints_moscow_and_timeline(live: LiveServer, alice: Caller) -> None:
    key = live.project(alice)["key"]
    _plan(alice, key)
    browser = live.browser_for(alice)
    page = browser.get(f"/projects/{key}/phases/3")
    assert page.status_code == 200
    text = page.text
    assert text.index("Sprint 9") < text.index("Sprint 10")
    assert "Goal 9" in text
    assert text.index("Must have") < text.index("Should have")
    assert 'Weeks <bdi dir="ltr">1-2</bdi>' in text  # read left to right in Persian too
    missing = browser.get(f"/projects/{key}/phases/4", headers={"Accept": "text/html"})
    assert missing.status_code == 404
    assert "phase 4 not found" in missing.text


def test_a_stranger_gets_not_found_for_the_phase(live: LiveServer, alice: Caller) -> None:
    key = live.project(alice)["key"]
    _plan(alice, key)
    stranger = live.browser_for(live.signup("stranger"))
    page = stranger.get(f"/projects/{key}/phases/3", headers={"Accept": "text/html"})
    assert page.status_code == 404
    assert "Backend" not in page.text


def test_persian_page_is_right_to_left_with_persian_labels(live: LiveServer, alice: Caller) -> None:
    key = live.project(alice)["key"]
    _plan(alice, key)
    assert alice.client.patch("/users/me", json={"locale": "fa"}).status_code == 200
    page = live.browser_for(alice).get(f"/projects/{key}")
    assert '<html lang="fa" dir="rtl">' in page.text
    assert "فاز 3" in page.text
