"""Trashing a story from its page and the project's trash page, over HTTP (real server):
where the story's board says it went, a stale or refused trashing, the trash's list, who may
restore what, and how a refused restore reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.api.live import Caller, LiveServer, csrf_of
from tests.web.board_html import BoardPage, parse_board

pytestmark = pytest.mark.slow

HTML = {"Accept": "text/html"}


@dataclass
class Plan:
    """A project with sprint 1 (planned) holding story Alpha, and story Beta in the backlog."""

    live: LiveServer
    key: str
    owner: Caller
    sprint: dict[str, Any]
    alpha: dict[str, Any]
    beta: dict[str, Any]

    @property
    def trash_path(self) -> str:
        return f"/projects/{self.key}/trash"

    def story_path(self, story: dict[str, Any]) -> str:
        return f"/projects/{self.key}/stories/{story['key']}"

    def api_story(self, story: dict[str, Any]) -> httpx.Response:
        return self.owner.client.get(f"/projects/{self.key}/stories/{story['key']}")

    def trash(self) -> list[dict[str, Any]]:
        response = self.owner.client.get(f"/projects/{self.key}/trash")
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()
        return items


@pytest.fixture
def plan(live: LiveServer, alice: Caller) -> Plan:
    key = live.project(alice)["key"]

    def add(path: str, **fields: Any) -> dict[str, Any]:
        created = alice.client.post(f"/projects/{key}{path}", json=fields)
        assert created.status_code == 201, created.text
        body: dict[str, Any] = created.json()
        return body

    sprint = add("/sprints", number=1, name="First")
    alpha = add("/stories", title="Alpha", sprint_id=sprint["id"])
    beta = add("/stories", title="Beta")
    return Plan(live, key, alice, sprint, alpha, beta)


def _trash_story(client: httpx.Client, plan: Plan, story: dict[str, Any]) -> httpx.Response:
    page = parse_board(client.get(plan.story_path(story)))
    form = page.form("/delete")
    assert form is not None, "no trash form"
    return client.post(plan.story_path(story) + "/delete", data=form.fields, headers=HTML)


def _restore(client: httpx.Client, plan: Plan, kind: str, item_id: int) -> httpx.Response:
    csrf = csrf_of(client.get(plan.trash_path))
    return client.post(
        f"{plan.trash_path}/{kind}/{item_id}/restore", data={"csrf_token": csrf}, headers=HTML
    )


def _rows(page: BoardPage) -> list[str]:
    return [name for name in page.texts if name.startswith("trash-") and name[6:7].isalpha()]


class TestTrashStory:
    def test_a_story_in_a_sprint_goes_to_the_trash_and_its_board_says_so(self, plan: Plan) -> None:
        client = plan.live.browser_for(plan.owner)
        form = parse_board(client.get(plan.story_path(plan.alpha))).form("/delete")
        assert form is not None
        assert form.fields["version"] == str(plan.alpha["version"])
        trashed = _trash_story(client, plan, plan.alpha)
        assert trashed.status_code == 303, trashed.text
        assert trashed.headers["location"] == (
            f"/projects/{plan.key}/sprints/1?trashed={plan.alpha['id']}"
        )
        assert plan.api_story(plan.alpha).status_code == 404
        board = client.get(trashed.headers["location"])
        page = parse_board(board)
        assert page.text("trash-notice") == (
            f"{plan.alpha['key']} Alpha was moved to the trash. Open the trash"
        )
        assert f'href="{plan.trash_path}"' in board.text
        assert plan.alpha["key"] not in page.cards()
        # The notice is for the redirect only; a story not in the trash is not named.
        assert (
            "trash-notice" not in parse_board(client.get(f"/projects/{plan.key}/sprints/1")).texts
        )
        hand_made = client.get(f"/projects/{plan.key}/sprints/1?trashed={plan.beta['id']}")
        assert "trash-notice" not in parse_board(hand_made).texts

    def test_a_backlog_story_goes_back_to_the_backlog(self, plan: Plan) -> None:
        client = plan.live.browser_for(plan.owner)
        trashed = _trash_story(client, plan, plan.beta)
        assert trashed.status_code == 303, trashed.text
        location = trashed.headers["location"]
        assert location == f"/projects/{plan.key}/backlog?trashed={plan.beta['id']}"
        assert (
            parse_board(client.get(location))
            .text("trash-notice")
            .startswith(f"{plan.beta['key']} Beta was moved")
        )

    def test_a_story_changed_since_the_page_stays_where_it_is(self, plan: Plan) -> None:
        client = plan.live.browser_for(plan.owner)
        form = parse_board(client.get(plan.story_path(plan.alpha))).form("/delete")
        assert form is not None
        changed = plan.owner.client.patch(
            f"/projects/{plan.key}/stories/{plan.alpha['key']}", json={"title": "Alpha 2"}
        )
        assert changed.status_code == 200, changed.text
        refused = client.post(plan.story_path(plan.alpha) + "/delete", data=form.fields)
        assert refused.status_code == 409
        page = parse_board(refused)
        assert page.text("delete-error").startswith("Someone else changed this story")
        assert page.attributes["delete-error"]["role"] == "alert"
        assert plan.api_story(plan.alpha).json()["title"] == "Alpha 2"
        assert plan.trash() == []

    def test_a_viewer_has_no_button_and_is_refused(self, plan: Plan) -> None:
        viewer = plan.live.member(plan.owner, plan.key, "viewer", name="vera")
        client = plan.live.browser_for(viewer)
        page = client.get(plan.story_path(plan.alpha))
        assert parse_board(page).form("/delete") is None
        refused = client.post(
            plan.story_path(plan.alpha) + "/delete",
            data={"csrf_token": csrf_of(page), "version": str(plan.alpha["version"])},
            headers=HTML,
        )
        assert refused.status_code == 403
        assert plan.api_story(plan.alpha).status_code == 200

    def test_without_the_csrf_token_nothing_is_trashed(self, plan: Plan) -> None:
        client = plan.live.browser_for(plan.owner)
        refused = client.post(
            plan.story_path(plan.alpha) + "/delete",
            data={"csrf_token": "forged", "version": str(plan.alpha["version"])},
            headers=HTML,
        )
        assert refused.status_code == 403
        assert plan.api_story(plan.alpha).status_code == 200


class TestTrashPage:
    def test_lists_newest_first_and_restores_a_story(self, plan: Plan) -> None:
        client = plan.live.browser_for(plan.owner)
        empty = client.get(plan.trash_path)
        assert empty.status_code == 200
        assert "trash-empty" in parse_board(empty).texts
        assert f'href="{plan.trash_path}"' in client.get(f"/projects/{plan.key}").text
        for story in (plan.alpha, plan.beta):
            assert _trash_story(client, plan, story).status_code == 303
        page = parse_board(client.get(plan.trash_path))
        beta_row, alpha_row = (f"trash-story-{plan.beta['id']}", f"trash-story-{plan.alpha['id']}")
        assert _rows(page) == [beta_row, alpha_row]
        assert page.text(beta_row).startswith(f"story {plan.beta['key']} Beta alice")
        assert page.form(f"/story/{plan.alpha['id']}/restore") is not None
        restored = _restore(client, plan, "story", plan.alpha["id"])
        assert restored.status_code == 303, restored.text
        assert restored.headers["location"] == plan.trash_path + "?restored=story"
        after = parse_board(client.get(restored.headers["location"]))
        assert after.text("restore-notice") == "The story is back where it was."
        assert _rows(after) == [beta_row]
        story = plan.api_story(plan.alpha)
        assert (story.status_code, story.json()["sprint_id"]) == (200, plan.sprint["id"])

    def test_a_viewer_reads_it_without_buttons(self, plan: Plan) -> None:
        plan.owner.client.delete(f"/projects/{plan.key}/stories/{plan.beta['key']}")
        viewer = plan.live.member(plan.owner, plan.key, "viewer", name="vera")
        client = plan.live.browser_for(viewer)
        page = client.get(plan.trash_path)
        assert page.status_code == 200
        assert _rows(parse_board(page)) == [f"trash-story-{plan.beta['id']}"]
        assert "/restore" not in page.text
        refused = client.post(
            f"{plan.trash_path}/story/{plan.beta['id']}/restore",
            data={"csrf_token": csrf_of(client.get(f"/projects/{plan.key}/backlog"))},
        )
        assert refused.status_code == 403
        assert "Your role in this project does not allow you to restore it." in refused.text
        assert plan.api_story(plan.beta).status_code == 404

    def test_a_member_may_not_restore_a_sprint_and_is_told_beside_it(self, plan: Plan) -> None:
        deleted = plan.owner.client.delete(f"/projects/{plan.key}/sprints/1")
        assert deleted.status_code == 204, deleted.text
        member = plan.live.member(plan.owner, plan.key, "member", name="mo")
        client = plan.live.browser_for(member)
        page = parse_board(client.get(plan.trash_path))
        assert page.form(f"/sprint/{plan.sprint['id']}/restore") is None
        refused = _restore(client, plan, "sprint", plan.sprint["id"])
        assert refused.status_code == 403
        text = parse_board(refused).text(f"trash-sprint-{plan.sprint['id']}")
        assert text.endswith(
            "Not restored. Your role in this project does not allow you to restore it. "
            "Nothing was changed."
        )
        assert [item["kind"] for item in plan.trash()] == ["sprint"]

    def test_what_left_the_trash_since_the_page_is_refused_and_nothing_changes(
        self, plan: Plan
    ) -> None:
        client = plan.live.browser_for(plan.owner)
        assert _trash_story(client, plan, plan.beta).status_code == 303
        csrf = csrf_of(client.get(plan.trash_path))
        # Someone else restores it first, then the stale page's button is pressed.
        assert (
            plan.owner.client.post(
                f"/projects/{plan.key}/trash/story/{plan.beta['id']}/restore"
            ).status_code
            == 204
        )
        refused = client.post(
            f"{plan.trash_path}/story/{plan.beta['id']}/restore", data={"csrf_token": csrf}
        )
        assert refused.status_code == 404
        assert (
            parse_board(refused)
            .text("restore-error")
            .startswith("Not restored. It is no longer in the trash")
        )
        assert plan.api_story(plan.beta).status_code == 200

    def test_a_non_member_gets_not_found(self, plan: Plan) -> None:
        plan.owner.client.delete(f"/projects/{plan.key}/stories/{plan.beta['key']}")
        stranger = plan.live.signup("stranger")
        client = plan.live.browser_for(stranger, **HTML)
        assert client.get(plan.trash_path).status_code == 404
        csrf = csrf_of(client.get("/"))
        refused = client.post(
            f"{plan.trash_path}/story/{plan.beta['id']}/restore", data={"csrf_token": csrf}
        )
        assert refused.status_code == 404
        assert plan.api_story(plan.beta).status_code == 404

    def test_without_the_csrf_token_nothing_is_restored(self, plan: Plan) -> None:
        plan.owner.client.delete(f"/projects/{plan.key}/stories/{plan.beta['key']}")
        client = plan.live.browser_for(plan.owner)
        refused = client.post(
            f"{plan.trash_path}/story/{plan.beta['id']}/restore", data={"csrf_token": "forged"}
        )
        assert refused.status_code == 403
        assert plan.api_story(plan.beta).status_code == 404

    def test_a_persian_user_reads_it_right_to_left(self, plan: Plan) -> None:
        plan.owner.client.delete(f"/projects/{plan.key}/stories/{plan.beta['key']}")
        assert plan.owner.client.patch("/users/me", json={"locale": "fa"}).status_code == 200
        page = plan.live.browser_for(plan.owner).get(plan.trash_path)
        assert '<html lang="fa" dir="rtl">' in page.text
        assert "سطل زباله" in page.text
        assert ">بازگرداندن</button>" in page.text
        assert "<td>استوری</td>" in page.text
