"""The story page over HTTP (real server): editing with optimistic concurrency, tasks,
comments, history, validation next to the fields, and who may do what."""

from __future__ import annotations

import asyncio
import html
import re
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import asyncpg
import httpx
import pytest

from tests.api.live import Caller, LiveServer, csrf_of

pytestmark = pytest.mark.slow

HTML = {"Accept": "text/html"}
XSS = ("<img src=x onerror=alert(1)>", "<script>alert(1)</script>", "[x](javascript:alert(1))")


def _story(caller: Caller, key: str, /, **fields: Any) -> dict[str, Any]:
    created = caller.client.post(
        f"/projects/{key}/stories", json={"title": "Board drag and drop", **fields}
    )
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


def _api_story(caller: Caller, key: str, story_key: str) -> dict[str, Any]:
    body: dict[str, Any] = caller.client.get(f"/projects/{key}/stories/{story_key}").json()
    return body


def _form(story: dict[str, Any], csrf: str, **changes: str) -> dict[str, str]:
    """The edit form as the page would post it, with ``changes``."""
    fields = {
        "csrf_token": csrf,
        "version": str(story["version"]),
        "title": story["title"],
        "points": "" if story["points"] is None else str(story["points"]),
        "priority": story["priority"],
        "moscow": story["moscow"] or "",
        "status": story["status"],
        "assignee_id": "" if story["assignee_id"] is None else str(story["assignee_id"]),
        "description": story["description"],
    }
    return {**fields, **changes}


def _input_value(page: str, name: str) -> str:
    found = re.search(rf'<input id="{name}" name="{name}"[^>]*value="([^"]*)"', page)
    assert found, f"no input {name}"
    return html.unescape(found.group(1))


def _tasks(caller: Caller, key: str, story_key: str) -> list[dict[str, Any]]:
    body: list[dict[str, Any]] = caller.client.get(
        f"/projects/{key}/stories/{story_key}/tasks"
    ).json()
    return body


@contextmanager
def _row_held_by_another_save(database_url: str, story_id: int) -> Iterator[Callable[[], None]]:
    """Another transaction saves the story (a new title and version) and holds the row until
    the function yielded is called: it waits for a statement blocked on the row, then
    commits."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=30)

    holder = run(asyncpg.connect(database_url))
    watcher = run(asyncpg.connect(database_url))

    def commit_when_waited_on() -> None:
        deadline = time.monotonic() + 30
        while not run(
            watcher.fetchval(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        ):
            assert time.monotonic() < deadline, "the save never waited on the row"
            time.sleep(0.05)
        run(holder.execute("COMMIT"))

    try:
        run(holder.execute("BEGIN"))
        run(
            holder.execute(
                "UPDATE stories SET title = 'Their title', version = version + 1 WHERE id = $1",
                story_id,
            )
        )
        yield commit_when_waited_on
    finally:
        run(holder.close())
        run(watcher.close())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


class Setup:
    def __init__(self, live: LiveServer, alice: Caller) -> None:
        self.live = live
        self.alice = alice
        self.key = live.project(alice)["key"]
        self.story = _story(alice, self.key, points=3, description="Some **bold** words")
        self.url = f"/projects/{self.key}/stories/{self.story['key']}"
        self.browser = live.browser_for(alice, **HTML)

    def page(self) -> httpx.Response:
        page = self.browser.get(self.url)
        assert page.status_code == 200, page.text
        return page

    def post(self, path: str = "", **data: str) -> httpx.Response:
        return self.browser.post(self.url + path, data={"csrf_token": csrf_of(self.page()), **data})


@pytest.fixture
def setup(live: LiveServer, alice: Caller) -> Setup:
    return Setup(live, alice)


class TestShowStory:
    def test_shows_the_story_in_an_edit_form(self, setup: Setup) -> None:
        page = setup.page().text
        assert '<span dir="auto">Board drag and drop</span>' in page
        assert _input_value(page, "title") == "Board drag and drop"
        assert _input_value(page, "points") == "3"
        assert f'name="version" value="{setup.story["version"]}"' in page
        # The owner is a member, so the assignee select offers them.
        assert f'<option value="{setup.alice.user["id"]}">alice</option>' in page
        assert "<strong>bold</strong>" in page
        assert "/static/story." in page

    def test_a_non_member_and_a_missing_story_get_the_same_not_found(
        self, live: LiveServer, setup: Setup
    ) -> None:
        bob = live.signup("bob")
        hidden = live.browser_for(bob, **HTML).get(setup.url)
        missing = setup.browser.get(f"/projects/{setup.key}/stories/NOPE-1")
        assert hidden.status_code == missing.status_code == 404
        assert "Board drag and drop" not in hidden.text
        assert "Traceback" not in hidden.text + missing.text

    def test_anonymous_visitor_is_sent_to_log_in(self, live: LiveServer, setup: Setup) -> None:
        with httpx.Client(base_url=live.base_url) as anonymous:
            response = anonymous.get(setup.url)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")


class TestSaveStory:
    def test_save_changes_every_field_and_comes_back(self, live: LiveServer, setup: Setup) -> None:
        grace = live.member(setup.alice, setup.key, "member", name="grace")
        response = setup.browser.post(
            setup.url,
            data=_form(
                setup.story,
                csrf_of(setup.page()),
                title="Drag cards between columns",
                points="5",
                priority="high",
                moscow="must",
                status="in_progress",
                assignee_id=str(grace.user["id"]),
                description="Now *with* keyboard",
            ),
        )
        assert response.status_code == 303
        assert response.headers["location"] == setup.url + "?saved=1"
        story = _api_story(setup.alice, setup.key, setup.story["key"])
        assert story["title"] == "Drag cards between columns"
        assert (story["points"], story["priority"], story["moscow"]) == (5, "high", "must")
        assert (story["status"], story["assignee_id"]) == ("in_progress", grace.user["id"])
        assert story["description"] == "Now *with* keyboard"
        assert story["version"] == setup.story["version"] + 1
        page = setup.browser.get(response.headers["location"]).text
        assert "Saved." in page
        assert "<em>with</em>" in page

    def test_empty_points_and_moscow_clear_them(self, setup: Setup) -> None:
        response = setup.browser.post(
            setup.url, data=_form(setup.story, csrf_of(setup.page()), points="", moscow="")
        )
        assert response.status_code == 303
        story = _api_story(setup.alice, setup.key, setup.story["key"])
        assert (story["points"], story["moscow"]) == (None, None)

    def test_invalid_fields_are_marked_and_nothing_is_saved(self, setup: Setup) -> None:
        response = setup.browser.post(
            setup.url,
            data=_form(setup.story, csrf_of(setup.page()), title="   ", points="-1"),
        )
        assert response.status_code == 422
        page = response.text
        for name in ("title", "points"):
            assert re.search(
                rf'<input id="{name}"[^>]*aria-invalid="true" aria-describedby="{name}-error"',
                page,
            ), name
            assert f'id="{name}-error"' in page
        assert "Enter a title of at most 500 characters." in page
        assert "Points must be a whole number from 0 to 1000, or empty." in page
        # What the user typed stays in the form.
        assert _input_value(page, "points") == "-1"
        assert "Traceback" not in page
        assert _api_story(setup.alice, setup.key, setup.story["key"])["points"] == 3

    def test_points_that_are_not_a_number_are_refused(self, setup: Setup) -> None:
        response = setup.browser.post(
            setup.url, data=_form(setup.story, csrf_of(setup.page()), points="three")
        )
        assert response.status_code == 422
        assert 'aria-describedby="points-error"' in response.text
        assert 'aria-invalid="true" aria-describedby="title-error"' not in response.text

    def test_an_assignee_who_is_not_a_member_is_refused_next_to_the_field(
        self, live: LiveServer, setup: Setup
    ) -> None:
        stranger = live.signup("stranger")
        response = setup.browser.post(
            setup.url,
            data=_form(setup.story, csrf_of(setup.page()), assignee_id=str(stranger.user["id"])),
        )
        assert response.status_code == 422
        assert 'id="assignee_id-error"' in response.text
        assert "Choose a member of the project." in response.text
        assert _api_story(setup.alice, setup.key, setup.story["key"])["assignee_id"] is None

    def test_a_stale_save_shows_both_versions_and_overwrites_nothing(self, setup: Setup) -> None:
        csrf = csrf_of(setup.page())
        # Someone else saves first.
        changed = setup.alice.client.patch(
            f"/projects/{setup.key}/stories/{setup.story['key']}",
            json={"title": "Their title", "status": "review"},
        )
        assert changed.status_code == 200, changed.text
        response = setup.browser.post(
            setup.url, data=_form(setup.story, csrf, title="My title", points="8")
        )
        assert response.status_code == 409
        page = response.text
        assert "Someone else changed this story while you were editing" in page
        # The form keeps what the user typed, now against the current version.
        assert _input_value(page, "title") == "My title"
        assert _input_value(page, "points") == "8"
        assert f'name="version" value="{changed.json()["version"]}"' in page
        # Side by side: the user's values and the current ones.
        title_row = re.search(r'<tr data-field="title">(.*?)</tr>', page, re.S)
        assert title_row, page
        assert "My title" in title_row.group(1)
        assert "Their title" in title_row.group(1)
        assert re.search(r'<tr data-field="status">.*?Review.*?</tr>', page, re.S)
        story = _api_story(setup.alice, setup.key, setup.story["key"])
        assert (story["title"], story["points"]) == ("Their title", 3)
        # Saving the re-rendered form knowingly replaces the current values.
        again = setup.browser.post(
            setup.url,
            data=_form(story, csrf, title="My title", points="8"),
        )
        assert again.status_code == 303
        assert _api_story(setup.alice, setup.key, setup.story["key"])["title"] == "My title"

    def test_a_save_that_loses_the_race_at_the_write_overwrites_nothing(
        self, live: LiveServer, setup: Setup
    ) -> None:
        """Another save commits after this one checked the version but before its write: the
        write finds a newer row, nothing is written, and the page comes back as for a stale
        save (the transaction that failed is rolled back and the page read afresh)."""
        if live.kind != "postgresql":
            pytest.skip("a row held by another transaction needs PostgreSQL")
        csrf = csrf_of(setup.page())
        with (
            _row_held_by_another_save(live.database_url, setup.story["id"]) as commit_theirs,
            ThreadPoolExecutor(1) as pool,
        ):
            saving = pool.submit(
                setup.browser.post, setup.url, data=_form(setup.story, csrf, title="My title")
            )
            commit_theirs()  # once the save waits on the row
            response = saving.result(timeout=60)
        assert response.status_code == 409, response.text
        assert "Someone else changed this story while you were editing" in response.text
        assert _input_value(response.text, "title") == "My title"
        title_row = re.search(r'<tr data-field="title">(.*?)</tr>', response.text, re.S)
        assert title_row
        assert "Their title" in title_row.group(1)
        story = _api_story(setup.alice, setup.key, setup.story["key"])
        assert (story["title"], story["version"]) == ("Their title", setup.story["version"] + 1)

    def test_a_save_without_the_csrf_token_is_refused(self, setup: Setup) -> None:
        response = setup.browser.post(
            setup.url, data=_form(setup.story, "forged", title="Hijacked")
        )
        assert response.status_code == 403
        assert _api_story(setup.alice, setup.key, setup.story["key"])["title"] != "Hijacked"


class TestViewer:
    def test_a_viewer_reads_the_page_but_cannot_change_anything(
        self, live: LiveServer, setup: Setup
    ) -> None:
        task = setup.alice.client.post(
            f"/projects/{setup.key}/stories/{setup.story['key']}/tasks", json={"text": "Wire it"}
        ).json()
        viewer = live.member(setup.alice, setup.key, "viewer", name="vera")
        browser = live.browser_for(viewer, **HTML)
        page = browser.get(setup.url)
        assert page.status_code == 200
        assert "<fieldset disabled>" in page.text
        assert ">Save</button>" not in page.text
        assert 'action="' + setup.url + '/comments"' not in page.text
        assert re.search(
            r'id="task-check-\d+" role="checkbox" aria-checked="false" disabled', page.text
        )
        csrf = csrf_of(page)
        refused = [
            browser.post(setup.url, data=_form(setup.story, csrf, title="Viewer was here")),
            browser.post(setup.url + f"/tasks/{task['id']}/toggle", data={"csrf_token": csrf}),
            browser.post(setup.url + "/comments", data={"csrf_token": csrf, "body": "hi"}),
        ]
        assert [response.status_code for response in refused] == [403, 403, 403]
        assert all("Traceback" not in response.text for response in refused)
        assert _api_story(setup.alice, setup.key, setup.story["key"])["title"] != "Viewer was here"
        assert _tasks(setup.alice, setup.key, setup.story["key"])[0]["done"] is False


class TestTasks:
    def test_add_tasks_and_a_subtask(self, setup: Setup) -> None:
        first = setup.post("/tasks", text="Write the API")
        assert first.status_code == 303
        assert re.search(r"#task-\d+$", first.headers["location"])
        parent = _tasks(setup.alice, setup.key, setup.story["key"])[0]
        assert setup.post("/tasks", text="Tests", parent_id=str(parent["id"])).status_code == 303
        tasks = _tasks(setup.alice, setup.key, setup.story["key"])
        assert [(t["text"], t["parent_id"]) for t in tasks] == [
            ("Write the API", None),
            ("Tests", parent["id"]),
        ]
        page = setup.page().text
        assert 'class="task depth-1"' in page
        assert "0 of 2 done" in page

    def test_an_empty_task_is_refused_next_to_the_field(self, setup: Setup) -> None:
        response = setup.post("/tasks", text="  ")
        assert response.status_code == 422
        assert 'aria-invalid="true" aria-describedby="task_text-error"' in response.text
        assert "Enter the task's text." in response.text
        assert _tasks(setup.alice, setup.key, setup.story["key"]) == []

    def test_tick_with_htmx_answers_the_row_and_the_progress(self, setup: Setup) -> None:
        setup.post("/tasks", text="Ship it")
        task = _tasks(setup.alice, setup.key, setup.story["key"])[0]
        csrf = csrf_of(setup.page())
        response = setup.browser.post(
            setup.url + f"/tasks/{task['id']}/toggle",
            headers={"HX-Request": "true", "X-CSRF-Token": csrf},
        )
        assert response.status_code == 200
        assert response.text.lstrip().startswith(
            f'<div class="task-row is-done" id="task-row-{task["id"]}"'
        )
        assert 'aria-checked="true"' in response.text
        assert 'hx-swap-oob="true">1 of 1 done<' in response.text
        assert "<html" not in response.text
        assert _tasks(setup.alice, setup.key, setup.story["key"])[0]["done"] is True
        # Without htmx: the plain form, answered by a redirect back to the task.
        plain = setup.post(f"/tasks/{task['id']}/toggle")
        assert plain.status_code == 303
        assert plain.headers["location"].endswith(f"#task-{task['id']}")
        assert _tasks(setup.alice, setup.key, setup.story["key"])[0]["done"] is False

    def test_a_task_of_another_story_is_not_touched(self, setup: Setup) -> None:
        other = _story(setup.alice, setup.key, title="Other")
        task = setup.alice.client.post(
            f"/projects/{setup.key}/stories/{other['key']}/tasks", json={"text": "Theirs"}
        ).json()
        assert setup.post(f"/tasks/{task['id']}/toggle").status_code == 404
        assert setup.post(f"/tasks/{task['id']}/delete").status_code == 404
        remaining = _tasks(setup.alice, setup.key, other["key"])
        assert [(t["id"], t["done"]) for t in remaining] == [(task["id"], False)]

    def test_move_up_and_down_and_delete(self, setup: Setup) -> None:
        for text in ("one", "two", "three"):
            setup.post("/tasks", text=text)
        tasks = {t["text"]: t["id"] for t in _tasks(setup.alice, setup.key, setup.story["key"])}

        def order() -> list[str]:
            return [t["text"] for t in _tasks(setup.alice, setup.key, setup.story["key"])]

        assert setup.post(f"/tasks/{tasks['three']}/move", direction="up").status_code == 303
        assert order() == ["one", "three", "two"]
        setup.post(f"/tasks/{tasks['one']}/move", direction="down")
        assert order() == ["three", "one", "two"]
        # At the top already: nothing moves.
        setup.post(f"/tasks/{tasks['three']}/move", direction="up")
        assert order() == ["three", "one", "two"]
        page = setup.page().text
        assert page.index(">three<") < page.index(">one<") < page.index(">two<")
        assert setup.post(f"/tasks/{tasks['one']}/delete").status_code == 303
        assert order() == ["three", "two"]
        trash = setup.alice.client.get(f"/projects/{setup.key}/trash").json()
        assert any(item["kind"] == "task" and item["id"] == tasks["one"] for item in trash)


class TestComments:
    def test_add_a_comment(self, setup: Setup) -> None:
        response = setup.post("/comments", body="Looks *good*")
        assert response.status_code == 303
        assert re.search(r"#comment-\d+$", response.headers["location"])
        page = setup.page().text
        assert "Looks <em>good</em>" in page
        assert "<bdi>alice</bdi>" in page

    def test_an_empty_comment_is_refused_next_to_the_field(self, setup: Setup) -> None:
        response = setup.post("/comments", body=" ")
        assert response.status_code == 422
        assert 'aria-invalid="true" aria-describedby="comment_body-error"' in response.text
        comments = setup.alice.client.get(
            f"/projects/{setup.key}/stories/{setup.story['key']}/comments"
        ).json()
        assert comments == []


def _comments(setup: Setup) -> list[dict[str, Any]]:
    body: list[dict[str, Any]] = setup.alice.client.get(
        f"/projects/{setup.key}/stories/{setup.story['key']}/comments"
    ).json()
    return body


class TestEditComments:
    def test_the_author_rewrites_a_comment(self, setup: Setup) -> None:
        setup.post("/comments", body="Frist")
        (comment,) = _comments(setup)
        assert f'action="{setup.url}/comments/{comment["id"]}"' in setup.page().text
        response = setup.post(f"/comments/{comment['id']}", body="First, *fixed*")
        assert response.status_code == 303
        assert response.headers["location"].endswith(f"#comment-{comment['id']}")
        assert [c["body"] for c in _comments(setup)] == ["First, *fixed*"]
        page = setup.page().text
        assert "First, <em>fixed</em>" in page
        assert "Frist" not in page

    def test_an_emptied_comment_comes_back_open_with_the_error(self, setup: Setup) -> None:
        setup.post("/comments", body="Keep me")
        (comment,) = _comments(setup)
        response = setup.post(f"/comments/{comment['id']}", body="  ")
        assert response.status_code == 422
        field = f"comment-body-{comment['id']}"
        assert f'aria-invalid="true" aria-describedby="{field}-error"' in response.text
        assert '<details class="comment-edit" open>' in response.text
        assert [c["body"] for c in _comments(setup)] == ["Keep me"]

    def test_the_author_moves_a_comment_to_the_trash(self, setup: Setup) -> None:
        setup.post("/comments", body="Oops")
        (comment,) = _comments(setup)
        response = setup.post(f"/comments/{comment['id']}/delete")
        assert response.status_code == 303
        assert response.headers["location"].endswith("#comments")
        assert _comments(setup) == []
        trash = setup.alice.client.get(f"/projects/{setup.key}/trash").json()
        assert any(item["kind"] == "comment" and item["id"] == comment["id"] for item in trash)

    def test_other_members_may_not_change_it_and_an_admin_may_only_delete_it(
        self, live: LiveServer, setup: Setup
    ) -> None:
        setup.post("/comments", body="Alice's words")
        (comment,) = _comments(setup)
        url = f"{setup.url}/comments/{comment['id']}"
        grace = live.browser_for(
            live.member(setup.alice, setup.key, "member", name="grace"), **HTML
        )
        page = grace.get(setup.url)
        assert f'action="{url}' not in page.text
        csrf = csrf_of(page)
        refused = [
            grace.post(url, data={"csrf_token": csrf, "body": "Grace's words"}),
            grace.post(url + "/delete", data={"csrf_token": csrf}),
        ]
        assert [response.status_code for response in refused] == [403, 403]
        assert [c["body"] for c in _comments(setup)] == ["Alice's words"]

        ada = live.browser_for(live.member(setup.alice, setup.key, "admin", name="ada"), **HTML)
        page = ada.get(setup.url)
        assert f'action="{url}/delete"' in page.text
        assert f'action="{url}"' not in page.text  # nobody rewrites another's words
        assert ada.post(url + "/delete", data={"csrf_token": csrf_of(page)}).status_code == 303
        assert _comments(setup) == []

    def test_a_comment_of_another_story_is_not_found_through_this_one(self, setup: Setup) -> None:
        other = _story(setup.alice, setup.key, title="Other story")
        elsewhere = setup.alice.client.post(
            f"/projects/{setup.key}/stories/{other['key']}/comments", json={"body": "Elsewhere"}
        ).json()
        assert setup.post(f"/comments/{elsewhere['id']}", body="Moved?").status_code == 404
        assert setup.post(f"/comments/{elsewhere['id']}/delete").status_code == 404
        still = setup.alice.client.get(
            f"/projects/{setup.key}/stories/{other['key']}/comments"
        ).json()
        assert [c["body"] for c in still] == ["Elsewhere"]


class TestHistory:
    def test_history_tells_what_happened_newest_first(self, setup: Setup) -> None:
        setup.browser.post(
            setup.url, data=_form(setup.story, csrf_of(setup.page()), status="done", points="5")
        )
        setup.post("/tasks", text="Check")
        task = _tasks(setup.alice, setup.key, setup.story["key"])[0]
        setup.post(f"/tasks/{task['id']}/toggle")
        setup.post("/comments", body="Done!")
        page = setup.page().text
        history = re.search(r'<ol class="history">(.*?)</ol>', page, re.S)
        assert history
        items = [
            re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", item)).strip()
            for item in re.findall(r"<li[^>]*>(.*?)</li>", history.group(1), re.S)
        ]
        assert items[0].startswith("alice commented")
        assert items[1].startswith("alice ticked off “Check”")
        assert items[2].startswith("alice added the task “Check”")
        assert "alice changed status from Draft to Done" in items[3]
        assert "alice changed points from 3 to 5" in items[3]
        assert items[-1].startswith("alice created the story")


class TestUserTextIsText:
    def test_markup_in_title_description_and_comment_never_becomes_html(self, setup: Setup) -> None:
        title, _, comment = XSS
        response = setup.browser.post(
            setup.url,
            data=_form(
                setup.story,
                csrf_of(setup.page()),
                title=title,
                description="\n\n".join(XSS),
            ),
        )
        assert response.status_code == 303
        setup.post("/comments", body="\n\n".join(XSS))
        setup.post("/tasks", text=comment)
        page = setup.page().text
        assert "<img src=x" not in page
        assert "<script>alert" not in page
        assert "javascript:" not in re.sub(r"\[x\]\(javascript:alert\(1\)\)", "", page)
        assert 'href="javascript' not in page.lower()
        assert "&lt;img src=x onerror=alert(1)&gt;" in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        # The link with a javascript: URL is plain text, in the description and the comment.
        assert page.count("<p>[x](javascript:alert(1))</p>") == 2


class TestStoryKeys:
    def test_a_key_in_persian_digits_works_in_the_address(self, setup: Setup) -> None:
        story = _story(setup.alice, setup.key, title="Numbered", key="۹.۱")
        url = f"/projects/{setup.key}/stories/%DB%B9.%DB%B1"
        page = setup.browser.get(url)
        assert page.status_code == 200
        assert f'action="{url}"' in page.text
        response = setup.browser.post(url, data=_form(story, csrf_of(page), title="Renamed"))
        assert (response.status_code, response.headers["location"]) == (303, url + "?saved=1")
        assert _api_story(setup.alice, setup.key, "۹.۱")["title"] == "Renamed"


class TestPersian:
    def test_a_persian_user_gets_the_page_right_to_left_with_jalali_days(
        self, setup: Setup
    ) -> None:
        assert setup.alice.client.patch("/users/me", json={"locale": "fa"}).status_code == 200
        setup.alice.client.patch(
            f"/projects/{setup.key}/stories/{setup.story['key']}", json={"title": "کشیدن کارت‌ها"}
        )
        page = setup.page().text
        assert '<html lang="fa" dir="rtl">' in page
        assert '<span dir="auto">کشیدن کارت‌ها</span>' in page
        # Jalali years (14xx) in Persian digits, in the history.
        assert re.search(r'class="muted when">· ۱۴[۰-۹]{2}/', page)
