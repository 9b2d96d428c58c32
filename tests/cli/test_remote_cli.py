"""The CLI's remote mode, run as a user runs it, against a real ``plandeck serve`` process."""

from __future__ import annotations

import json
import stat
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import jwt
import pytest

from plandeck.cli.remote import completion_summary
from plandeck.client import PlandeckClient
from plandeck.client.models import Sprint, SprintCompletion
from plandeck.config import DEFAULT_SECRET_KEY
from plandeck.models import SprintStatus
from tests.api.live import PASSWORD, Caller, LiveServer
from tests.conftest import SHARED
from tests.processes import env_for, free_port, run_cli

pytestmark = pytest.mark.slow
FIXTURE = SHARED / "fixtures" / "phase3-plan.md"
_counter = iter(range(1, 1_000_000))


@pytest.fixture
def user(live: LiveServer) -> Caller:
    return live.signup("cli")


@pytest.fixture
def owner(live: LiveServer, user: Caller) -> Iterator[PlandeckClient]:
    """The user's own client, to arrange data and to check what the CLI did."""
    with PlandeckClient(live.base_url, token=user.tokens["access_token"]) as client:
        yield client


@pytest.fixture
def project(owner: PlandeckClient) -> str:
    """Sprint 1 (1.1 with two tasks, 1.2), sprint 2 (empty) and a backlog story."""
    key = f"R{next(_counter)}{owner.me().id}"
    owner.create_project(key, "Remote")
    one = owner.create_sprint(key, 1, "One")
    owner.create_sprint(key, 2, "Two")
    owner.create_story(key, "Sign in", sprint_id=one.id, points=3)
    owner.create_story(key, "Board view", sprint_id=one.id, points=5, status="in_progress")
    owner.create_story(key, "Dark mode", key="B-1", priority="low")
    first = owner.create_task(key, "1.1", "Write the form")
    owner.create_task(key, "1.1", "Check the errors", parent_id=first.id)
    return key


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """No PLANDECK_* variable of the developer's shell; the login kept under tmp_path."""
    return env_for(None, tmp_path, PLANDECK_CONFIG_DIR=str(tmp_path / "config"))


def _expired_access_token(user_id: int) -> str:
    """An access token signed with the dev server's key, an hour past its expiry."""
    past = datetime.now(UTC) - timedelta(hours=1)
    claims = {
        "iss": "plandeck",
        "sub": str(user_id),
        "iat": past,
        "exp": past + timedelta(minutes=15),
        "typ": "access",
    }
    return jwt.encode(claims, DEFAULT_SECRET_KEY, algorithm="HS256")


def _credentials(env: dict[str, str]) -> Path:
    return Path(env["PLANDECK_CONFIG_DIR"]) / "credentials.json"


def _cli(env: dict[str, str], *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env={**env, **extra}, cwd=Path(env["PLANDECK_DATA_DIR"]))


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.fixture
def logged_in(live: LiveServer, user: Caller, env: dict[str, str]) -> dict[str, str]:
    _ok(
        _cli(
            env,
            "login",
            "--server",
            live.base_url,
            "--email",
            user.email,
            PLANDECK_PASSWORD=PASSWORD,
        )
    )
    return env


class TestLogin:
    def test_login_stores_the_tokens_for_the_owner_only(
        self, live: LiveServer, user: Caller, logged_in: dict[str, str]
    ) -> None:
        path = _credentials(logged_in)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        stored = json.loads(path.read_text())
        assert stored["server"] == live.base_url
        assert set(stored) == {"server", "access_token", "refresh_token"}
        with PlandeckClient(live.base_url, token=stored["access_token"]) as client:
            assert client.me().email == user.email

    def test_email_is_asked_for(self, live: LiveServer, user: Caller, env: dict[str, str]) -> None:
        result = run_cli(
            "login",
            "--server",
            live.base_url,
            env={**env, "PLANDECK_PASSWORD": PASSWORD},
            cwd=Path(env["PLANDECK_DATA_DIR"]),
            input_text=user.email + "\n",
        )
        assert f"logged in to {live.base_url} as cli <{user.email}>" in _ok(result)

    def test_wrong_password_is_one_line_and_stores_nothing(
        self, live: LiveServer, user: Caller, env: dict[str, str]
    ) -> None:
        result = _cli(
            env,
            "login",
            "--server",
            live.base_url,
            "--email",
            user.email,
            PLANDECK_PASSWORD="wrong password",
        )
        assert _one_error_line(result) == "error: 401 Not authenticated: wrong email or password"
        assert not _credentials(env).exists()

    def test_logout_ends_the_login_on_the_server(
        self, live: LiveServer, logged_in: dict[str, str]
    ) -> None:
        refresh = json.loads(_credentials(logged_in).read_text())["refresh_token"]
        assert f"logged out of {live.base_url}" in _ok(_cli(logged_in, "logout"))
        assert not _credentials(logged_in).exists()
        answer = httpx.post(f"{live.api}/auth/refresh", json={"refresh_token": refresh})
        assert answer.status_code == 401
        assert "not logged in" in _ok(_cli(logged_in, "logout"))

    def test_an_expired_login_is_refreshed_and_saved(
        self, live: LiveServer, user: Caller, project: str, logged_in: dict[str, str]
    ) -> None:
        path = _credentials(logged_in)
        stored = json.loads(path.read_text())
        stored["access_token"] = _expired_access_token(user.user["id"])
        path.write_text(json.dumps(stored))

        assert "Sign in" in _ok(_cli(logged_in, "stories", "list", "--project", project))

        saved = json.loads(path.read_text())
        assert saved["access_token"] != stored["access_token"]
        assert saved["refresh_token"] != stored["refresh_token"]
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        # The saved (rotated) refresh token is the one that works next.
        assert "Sign in" in _ok(_cli(logged_in, "stories", "list", "--project", project))

    def test_an_ended_login_says_to_log_in_again(
        self, live: LiveServer, user: Caller, project: str, logged_in: dict[str, str]
    ) -> None:
        path = _credentials(logged_in)
        stored = json.loads(path.read_text())
        ended = httpx.post(
            f"{live.api}/auth/logout", json={"refresh_token": stored["refresh_token"]}
        )
        assert ended.status_code == 204
        stored["access_token"] = _expired_access_token(user.user["id"])
        path.write_text(json.dumps(stored))

        result = _cli(logged_in, "stories", "list", "--project", project)
        line = _one_error_line(result)
        assert line.startswith("error: 401 Not authenticated: the refresh token is not valid")
        assert line.endswith(f"; log in again: plandeck login --server {live.base_url}")

    def test_remote_mode_needs_a_server(self, env: dict[str, str]) -> None:
        line = _one_error_line(_cli(env, "stories", "list", "--project", "P3"))
        assert line.startswith("error: remote mode needs a server: pass --server URL")

    def test_the_login_is_not_sent_to_another_server(
        self, logged_in: dict[str, str], project: str
    ) -> None:
        elsewhere = f"http://127.0.0.1:{free_port()}"
        result = _cli(logged_in, "stories", "list", "--project", project, "--server", elsewhere)
        assert _one_error_line(result).startswith(f"error: not logged in to {elsewhere}")


class TestStories:
    def test_list_is_a_table(self, logged_in: dict[str, str], project: str) -> None:
        output = _ok(_cli(logged_in, "stories", "list", "--project", project))
        for text in ("1.1", "Sign in", "1.2", "in_progress", "B-1", "backlog"):
            assert text in output
        assert "3 stories, 8 points" in output

    def test_list_filters_as_json(
        self, logged_in: dict[str, str], project: str, owner: PlandeckClient
    ) -> None:
        def keys(*args: str) -> list[str]:
            output = _ok(_cli(logged_in, "stories", "list", "--project", project, "--json", *args))
            return [story["key"] for story in json.loads(output)]

        assert keys() == ["1.1", "1.2", "B-1"]
        assert keys("--sprint", "1") == ["1.1", "1.2"]
        assert keys("--sprint", "backlog") == ["B-1"]
        assert keys("--status", "in_progress", "--status", "review") == ["1.2"]
        assert keys("--assignee", "me") == []
        owner.update_story(project, "1.1", assignee_id=owner.me().id)
        assert keys("--assignee", "me") == ["1.1"]
        assert keys("--assignee", owner.me().email) == ["1.1"]

    def test_show(self, logged_in: dict[str, str], project: str) -> None:
        output = _ok(_cli(logged_in, "stories", "show", project, "1.1"))
        assert "1.1: Sign in" in output
        assert "[ ] Write the form" in output
        assert "  [ ] Check the errors" in output

    def test_show_as_json(self, logged_in: dict[str, str], project: str) -> None:
        story = json.loads(_ok(_cli(logged_in, "stories", "show", project, "1.1", "--json")))
        assert (story["key"], story["points"]) == ("1.1", 3)
        assert [t["text"] for t in story["tasks"]] == ["Write the form", "Check the errors"]

    def test_update_clears_fields(
        self, logged_in: dict[str, str], project: str, owner: PlandeckClient
    ) -> None:
        owner.update_story(project, "1.1", assignee_id=owner.me().id)
        result = _cli(
            logged_in,
            "stories",
            "update",
            project,
            "1.1",
            "--points",
            "none",
            "--assignee",
            "none",
            "--sprint",
            "backlog",
        )
        assert "updated story 1.1" in _ok(result)
        story = owner.get_story(project, "1.1")
        assert (story.points, story.assignee_id, story.sprint_id) == (None, None, None)

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            ((), "error: nothing to change: give --title, --points, --status, ..."),
            (("--points", "lots"), "error: --points takes a number or 'none', not 'lots'"),
            (
                ("--sprint", "soon"),
                "error: --sprint takes a sprint number or 'backlog', not 'soon'",
            ),
            (
                ("--assignee", "nobody@example.com"),
                "error: --assignee: nobody@example.com is not a member of",
            ),
        ],
    )
    def test_unusable_options_are_one_line(
        self, logged_in: dict[str, str], project: str, args: tuple[str, ...], message: str
    ) -> None:
        result = _cli(logged_in, "stories", "update", project, "1.1", *args)
        assert _one_error_line(result).startswith(message)

    def test_create_and_update(
        self, logged_in: dict[str, str], project: str, owner: PlandeckClient
    ) -> None:
        created = _cli(
            logged_in,
            "stories",
            "create",
            project,
            "--title",
            "Search",
            "--sprint",
            "2",
            "--points",
            "2",
            "--assignee",
            "me",
        )
        assert "created story 2.1: Search (draft, version 1)" in _ok(created)
        updated = _cli(
            logged_in,
            "stories",
            "update",
            project,
            "2.1",
            "--points",
            "8",
            "--status",
            "review",
            "--priority",
            "high",
            "--version",
            "1",
        )
        assert "updated story 2.1: Search (review, version 2)" in _ok(updated)
        story = owner.get_story(project, "2.1")
        assert (story.points, story.priority.value) == (8, "high")
        assert story.assignee_id == owner.me().id

    def test_stale_version_is_one_line(
        self, logged_in: dict[str, str], project: str, owner: PlandeckClient
    ) -> None:
        story = owner.update_story(project, "1.1", points=5)
        result = _cli(
            logged_in, "stories", "update", project, "1.1", "--points", "8", "--version", "1"
        )
        assert _one_error_line(result).startswith(
            f"error: 409 Stale version: story {story.id} is at version 2, not 1"
        )
        assert owner.get_story(project, "1.1").points == 5

    def test_invalid_value_is_one_line(self, logged_in: dict[str, str], project: str) -> None:
        result = _cli(logged_in, "stories", "update", project, "1.1", "--status", "finished")
        line = _one_error_line(result)
        assert line.startswith("error: 422 Invalid input: the request is not valid: body.status")
        assert "(body.status: Input should be 'draft', 'approved'" in line

    def test_move(self, logged_in: dict[str, str], project: str, owner: PlandeckClient) -> None:
        result = _cli(
            logged_in, "stories", "move", project, "1.2", "--sprint", "2", "--status", "review"
        )
        assert "moved story 1.2 to sprint 2, review (version 2)" in _ok(result)
        assert [s.key for s in owner.board(project, 2)] == ["1.2"]
        to_backlog = _cli(
            logged_in, "stories", "move", project, "1.2", "--sprint", "backlog", "--before", "B-1"
        )
        assert "moved story 1.2 to backlog" in _ok(to_backlog)
        assert [s.key for s in owner.backlog(project)] == ["1.2", "B-1"]

    def test_unknown_story_is_one_line(self, logged_in: dict[str, str], project: str) -> None:
        result = _cli(logged_in, "stories", "show", project, "9.9")
        assert _one_error_line(result) == (
            f"error: 404 Not found: story 9.9 not found in project {project}"
        )


class TestTasks:
    def test_list_and_toggle(
        self, logged_in: dict[str, str], project: str, owner: PlandeckClient
    ) -> None:
        first, sub = owner.list_tasks(project, "1.1")
        listed = _ok(_cli(logged_in, "tasks", "list", project, "1.1"))
        assert f"[ ] Write the form  #{first.id}" in listed
        assert f"    [ ] Check the errors  #{sub.id}" in listed
        assert "0/2 done" in listed

        toggled = _ok(_cli(logged_in, "tasks", "toggle", project, str(sub.id)))
        assert f"task {sub.id} done: Check the errors" in toggled
        assert [t.done for t in owner.list_tasks(project, "1.1")] == [False, True]
        again = _ok(_cli(logged_in, "tasks", "toggle", project, str(sub.id)))
        assert f"task {sub.id} not done" in again

        as_json = json.loads(_ok(_cli(logged_in, "tasks", "list", project, "1.1", "--json")))
        assert [t["parent_id"] for t in as_json] == [None, first.id]
        assert "story B-1 has no tasks" in _ok(_cli(logged_in, "tasks", "list", project, "B-1"))


@pytest.fixture
def running(owner: PlandeckClient, project: str) -> str:
    """``project`` with sprint 1 active: 1.1 (3 points) done, 1.2 (5 points) in progress."""
    owner.update_story(project, "1.1", status="done")
    owner.start_sprint(project, 1, starts_on=date(2030, 3, 4), ends_on=date(2030, 3, 15))
    return project


class TestSprints:
    def test_help_lists_the_commands(self, env: dict[str, str]) -> None:
        assert "sprints" in _ok(_cli(env, "--help"))
        output = _ok(_cli(env, "sprints", "--help"))
        for command in ("list", "start", "complete"):
            assert f" {command} " in output

    def test_list_is_a_table(
        self, logged_in: dict[str, str], project: str, owner: PlandeckClient
    ) -> None:
        owner.update_sprint(project, 2, weeks="3-4")
        owner.start_sprint(project, 1, starts_on=date(2030, 3, 4), ends_on=date(2030, 3, 15))
        output = _ok(_cli(logged_in, "sprints", "list", project))
        for header in ("number", "name", "status", "dates", "weeks"):
            assert header in output
        one, two = (line for line in output.splitlines() if " One " in line or " Two " in line)
        assert "active" in one
        assert "2030-03-04 to 2030-03-15" in one
        assert "planned" in two
        assert "3-4" in two

    def test_list_as_json(self, logged_in: dict[str, str], project: str) -> None:
        output = json.loads(_ok(_cli(logged_in, "sprints", "list", project, "--json")))
        assert [(s["number"], s["name"], s["status"]) for s in output] == [
            (1, "One", "planned"),
            (2, "Two", "planned"),
        ]

    def test_start_with_dates(
        self, logged_in: dict[str, str], project: str, owner: PlandeckClient
    ) -> None:
        result = _cli(
            logged_in,
            "sprints",
            "start",
            project,
            "2",
            "--starts-on",
            "2030-03-04",
            "--ends-on",
            "2030-03-15",
            "--version",
            "1",
        )
        assert _ok(result).strip() == (
            "Sprint 2 started: Two, 2030-03-04 to 2030-03-15 (version 2)"
        )
        sprint = owner.get_sprint(project, 2)
        assert (sprint.status.value, sprint.starts_on, sprint.ends_on) == (
            "active",
            date(2030, 3, 4),
            date(2030, 3, 15),
        )

    def test_start_while_another_is_active_is_one_line(
        self, logged_in: dict[str, str], running: str, owner: PlandeckClient
    ) -> None:
        result = _cli(logged_in, "sprints", "start", running, "2")
        assert _one_error_line(result) == (
            "error: 409 Conflict: sprint 1 is active; complete it before starting sprint 2"
        )
        assert owner.get_sprint(running, 2).status.value == "planned"

    def test_complete_carries_over_to_the_next_sprint(
        self, logged_in: dict[str, str], running: str, owner: PlandeckClient
    ) -> None:
        result = _cli(logged_in, "sprints", "complete", running, "1")
        assert _ok(result).strip() == (
            "Sprint 1 completed: 1 story (3 points) done; "
            "1 story (5 points) carried over to sprint 2: 1.2"
        )
        assert owner.get_sprint(running, 1).status.value == "completed"
        assert [s.key for s in owner.board(running, 2)] == ["1.2"]

    def test_complete_to_the_backlog(
        self, logged_in: dict[str, str], running: str, owner: PlandeckClient
    ) -> None:
        result = _cli(logged_in, "sprints", "complete", running, "1", "--carry-over-to", "backlog")
        assert _ok(result).strip().endswith("1 story (5 points) carried over to the backlog: 1.2")
        assert [s.key for s in owner.backlog(running)] == ["1.2", "B-1"]

    def test_complete_as_json(self, logged_in: dict[str, str], running: str) -> None:
        result = _cli(logged_in, "sprints", "complete", running, "1", "--json")
        completion = json.loads(_ok(result))
        assert completion["sprint"]["status"] == "completed"
        assert (completion["completed"], completion["carried_over"]) == (["1.1"], ["1.2"])
        assert completion["carried_over_to"] == 2

    def test_stale_version_is_one_line(
        self, logged_in: dict[str, str], running: str, owner: PlandeckClient
    ) -> None:
        read = owner.get_sprint(running, 1)
        owner.update_sprint(running, 1, goal="changed meanwhile")
        result = _cli(
            logged_in, "sprints", "complete", running, "1", "--version", str(read.version)
        )
        assert _one_error_line(result).startswith(
            f"error: 409 Stale version: sprint {read.id} is at version {read.version + 1}, "
            f"not {read.version}"
        )
        assert owner.get_sprint(running, 1).status.value == "active"

    def test_unknown_target_is_one_line(self, logged_in: dict[str, str], running: str) -> None:
        result = _cli(logged_in, "sprints", "complete", running, "1", "--carry-over-to", "42")
        assert _one_error_line(result).startswith(
            f"error: 422 Invalid input: carry_over_to: no sprint 42 in project {running}"
        )

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (
                ("start", "--starts-on", "next monday"),
                "error: --starts-on takes a date as YYYY-MM-DD, not 'next monday'",
            ),
            (
                ("start", "--starts-on", "20300304"),
                "error: --starts-on takes a date as YYYY-MM-DD, not '20300304'",
            ),
            (
                ("start", "--ends-on", "2030-02-30"),
                "error: --ends-on takes a date as YYYY-MM-DD, not '2030-02-30'",
            ),
            (
                ("complete", "--carry-over-to", "soon"),
                "error: --carry-over-to takes a sprint number or 'backlog', not 'soon'",
            ),
            (
                ("complete", "--carry-over-to", "-1"),
                "error: --carry-over-to takes a sprint number or 'backlog', not '-1'",
            ),
        ],
    )
    def test_unusable_options_are_one_line(
        self,
        logged_in: dict[str, str],
        project: str,
        owner: PlandeckClient,
        args: tuple[str, ...],
        message: str,
    ) -> None:
        command, *options = args
        result = _cli(logged_in, "sprints", command, project, "1", *options)
        assert _one_error_line(result) == message
        assert owner.get_sprint(project, 1).status.value == "planned"


def _completion(
    done: list[str], done_points: int, moved: list[str], moved_points: int
) -> SprintCompletion:
    when = datetime(2030, 3, 15, tzinfo=UTC)
    sprint = Sprint(
        id=7,
        project_id=1,
        phase_id=None,
        number=3,
        name="Three",
        goal="",
        status=SprintStatus.COMPLETED,
        weeks=None,
        starts_on=date(2030, 3, 4),
        ends_on=date(2030, 3, 15),
        version=3,
        created_at=when,
        updated_at=when,
        deleted_at=None,
    )
    return SprintCompletion(
        sprint=sprint,
        completed=done,
        completed_points=done_points,
        carried_over=moved,
        carried_over_points=moved_points,
        carried_over_to=None,
    )


class TestCompletionSummary:
    def test_plurals_and_several_keys(self) -> None:
        completion = _completion(["PX-1", "PX-2"], 1, ["PX-7", "PX-8"], 0)
        assert completion_summary(completion) == (
            "Sprint 3 completed: 2 stories (1 point) done; "
            "2 stories (0 points) carried over to the backlog: PX-7, PX-8"
        )

    def test_nothing_carried_over(self) -> None:
        assert completion_summary(_completion([], 0, [], 0)) == (
            "Sprint 3 completed: 0 stories (0 points) done; nothing carried over"
        )


class TestApiToken:
    def test_personal_token_without_login(
        self, live: LiveServer, env: dict[str, str], project: str, owner: PlandeckClient
    ) -> None:
        token = owner.create_token("cli", scopes=["read"]).token
        with_token = {**env, "PLANDECK_TOKEN": token, "PLANDECK_SERVER": live.base_url}
        output = _ok(_cli(with_token, "stories", "list", "--project", project, "--json"))
        assert len(json.loads(output)) == 3
        refused = _cli(with_token, "stories", "move", project, "1.1", "--status", "done")
        assert _one_error_line(refused).startswith(
            "error: 403 Forbidden: this API token is read-only"
        )

    def test_revoked_token_is_one_line(
        self, live: LiveServer, env: dict[str, str], project: str, owner: PlandeckClient
    ) -> None:
        created = owner.create_token("gone")
        owner.revoke_token(created.id)
        result = _cli(
            env,
            "stories",
            "list",
            "--project",
            project,
            "--server",
            live.base_url,
            PLANDECK_TOKEN=created.token,
        )
        assert _one_error_line(result).startswith("error: 401 Not authenticated")


class TestPlanDocuments:
    def test_import_and_export_through_the_api(
        self, live: LiveServer, logged_in: dict[str, str], owner: PlandeckClient, tmp_path: Path
    ) -> None:
        key = f"IMP{next(_counter)}"
        imported = _ok(
            _cli(logged_in, "import", str(FIXTURE), "--project", key, "--server", live.base_url)
        )
        assert f"created project {key}" in imported
        assert f"written to {live.base_url}" in imported
        assert [s.number for s in owner.list_sprints(key)] == [9, 10, 11]

        dry = _ok(
            _cli(
                logged_in,
                "import",
                str(FIXTURE),
                "--project",
                key,
                "--dry-run",
                PLANDECK_SERVER=live.base_url,
            )
        )
        assert "dry run: nothing written" in dry
        edited = FIXTURE.read_bytes().replace(b"(5 pts)", b"(13 pts)", 1)
        assert edited != FIXTURE.read_bytes()
        changed = tmp_path / "edited.md"
        changed.write_bytes(edited)
        dry = _ok(
            _cli(
                logged_in,
                "import",
                str(changed),
                "--project",
                key,
                "--dry-run",
                "--server",
                live.base_url,
            )
        )
        assert "updated story" in dry
        assert "points: 5 -> 13" in dry

        markdown = _ok(_cli(logged_in, "export", "--project", key, "--server", live.base_url))
        assert markdown == owner.export_markdown(key)
        as_json = _ok(
            _cli(
                logged_in, "export", "--project", key, "--format", "json", "--server", live.base_url
            )
        )
        (phase,) = json.loads(as_json)["phases"]
        assert [s["number"] for s in phase["sprints"]] == [9, 10, 11]

    def test_dry_run_needs_the_project(self, live: LiveServer, logged_in: dict[str, str]) -> None:
        result = _cli(
            logged_in,
            "import",
            str(FIXTURE),
            "--project",
            "NOPE",
            "--dry-run",
            "--server",
            live.base_url,
        )
        assert "a dry run needs an existing project" in _one_error_line(result)

    def test_invalid_document_is_one_line(
        self, live: LiveServer, logged_in: dict[str, str], project: str, tmp_path: Path
    ) -> None:
        plan = tmp_path / "bad.md"
        plan.write_text("# Phase 1: X\n### Sprint 1: A\n#### Story 1.1: One\n#### Story 1.1: Two\n")
        result = _cli(
            logged_in, "import", str(plan), "--project", project, "--server", live.base_url
        )
        line = _one_error_line(result)
        assert line.startswith("error: 422 Invalid plan document: bad.md:4")


class TestFailures:
    def test_unreachable_server_is_one_line(self, env: dict[str, str]) -> None:
        url = f"http://127.0.0.1:{free_port()}"
        result = _cli(
            env, "stories", "list", "--project", "P", "--server", url, PLANDECK_TOKEN="pdk_x"
        )
        assert _one_error_line(result).startswith(
            f"error: cannot reach the plandeck server at {url}/api/v1"
        )

    def test_debug_shows_the_traceback(self, env: dict[str, str]) -> None:
        url = f"http://127.0.0.1:{free_port()}"
        result = _cli(
            env,
            "--debug",
            "stories",
            "list",
            "--project",
            "P",
            "--server",
            url,
            PLANDECK_TOKEN="pdk_x",
        )
        assert result.returncode != 0
        assert "Traceback" in result.stderr
        assert "ConnectionFailed" in result.stderr
