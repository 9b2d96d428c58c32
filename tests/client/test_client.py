"""``PlandeckClient`` against a real ``plandeck serve`` process on SQLite and PostgreSQL."""

from __future__ import annotations

import math
import re
import socket
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from plandeck.client import (
    Conflict,
    ConnectionFailed,
    Forbidden,
    NotAuthenticated,
    NotFound,
    PayloadTooLarge,
    PlandeckApiError,
    PlandeckClient,
    RateLimited,
    ServerError,
    StaleVersion,
    ValidationFailed,
    api_url,
)
from plandeck.client.errors import parse_retry_after
from plandeck.client.models import Project, Tokens
from plandeck.config import DEFAULT_SECRET_KEY
from tests.api.live import PASSWORD, Caller, LiveServer
from tests.conftest import SHARED
from tests.processes import env_for, free_port, plandeck_server
from tests.ratelimits import within_one_window

pytestmark = pytest.mark.slow
FIXTURE = SHARED / "fixtures" / "phase3-plan.md"


def _expired_access_token(user_id: int) -> str:
    """An access token the dev server would accept, but an hour past its expiry."""
    past = datetime.now(UTC) - timedelta(hours=1)
    claims = {
        "iss": "plandeck",
        "sub": str(user_id),
        "iat": past,
        "exp": past + timedelta(minutes=15),
        "typ": "access",
    }
    return jwt.encode(claims, DEFAULT_SECRET_KEY, algorithm="HS256")


def _key() -> str:
    return f"C{uuid.uuid4().hex[:6].upper()}"


@pytest.fixture
def client(live: LiveServer, alice: Caller) -> Iterator[PlandeckClient]:
    """Alice, logged in through the client (so it holds a refresh token too)."""
    with PlandeckClient(live.base_url) as logged_in:
        logged_in.login(alice.email, PASSWORD)
        yield logged_in


@pytest.fixture
def project(client: PlandeckClient) -> Project:
    return client.create_project(_key(), "Client project")


@pytest.fixture
def other(live: LiveServer) -> Iterator[PlandeckClient]:
    """Another user, not a member of alice's projects."""
    bob = live.signup("bob")
    with PlandeckClient(live.base_url, token=bob.tokens["access_token"]) as client:
        yield client


def _member(live: LiveServer, owner: PlandeckClient, key: str, role: str) -> PlandeckClient:
    caller = live.signup(role)
    owner.add_member(key, email=caller.email, role=role)
    return PlandeckClient(live.base_url, token=caller.tokens["access_token"])


class TestConstruction:
    def test_server_address_with_or_without_the_api_prefix(self) -> None:
        assert api_url("http://h:8000") == "http://h:8000/api/v1"
        assert api_url("http://h:8000/") == "http://h:8000/api/v1"
        assert api_url("http://h:8000/api/v1/") == "http://h:8000/api/v1"
        assert api_url("https://h/plandeck") == "https://h/plandeck/api/v1"


class TestLogin:
    def test_register_then_login_keeps_both_tokens(self, live: LiveServer) -> None:
        email = f"reg-{uuid.uuid4().hex[:8]}@example.com"
        with PlandeckClient(live.base_url) as client:
            user = client.register(email, PASSWORD, name="Reg")
            assert user.email == email
            result = client.login(email, PASSWORD)
            assert result.user.id == user.id
            assert client.access_token == result.access_token
            assert client.refresh_token == result.refresh_token
            assert client.me().email == email

    def test_wrong_password_is_not_authenticated(self, live: LiveServer, alice: Caller) -> None:
        with PlandeckClient(live.base_url) as client, pytest.raises(NotAuthenticated) as caught:
            client.login(alice.email, "not the password")
        assert caught.value.status == 401
        assert caught.value.title == "Not authenticated"
        assert caught.value.type.endswith("not-authenticated")
        assert str(caught.value) == "401 Not authenticated: wrong email or password"

    def test_no_credential_is_not_authenticated(self, live: LiveServer) -> None:
        with PlandeckClient(live.base_url) as client, pytest.raises(NotAuthenticated):
            client.me()

    def test_expired_access_token_is_refreshed_and_the_request_retried(
        self, live: LiveServer, alice: Caller
    ) -> None:
        saved: list[Tokens] = []
        with PlandeckClient(live.base_url, on_tokens=saved.append) as client:
            client.login(alice.email, PASSWORD)
            first_refresh = client.refresh_token
            expired = _expired_access_token(alice.user["id"])
            client.access_token = expired

            assert client.me().id == alice.user["id"]

            assert client.access_token not in (None, expired)
            assert client.refresh_token not in (None, first_refresh)
            assert [t.refresh_token for t in saved][-1] == client.refresh_token
            assert len(saved) == 2  # the login, then one refresh

    def test_refresh_is_tried_once(self, live: LiveServer, alice: Caller) -> None:
        with (
            PlandeckClient(
                live.base_url,
                token=_expired_access_token(alice.user["id"]),
                refresh_token="not-a-refresh-token",
            ) as client,
            pytest.raises(NotAuthenticated) as caught,
        ):
            client.me()
        assert "refresh token" in caught.value.detail

    def test_an_invalid_token_is_not_refreshed(self, live: LiveServer, alice: Caller) -> None:
        with PlandeckClient(live.base_url) as client:
            client.login(alice.email, PASSWORD)
            refresh = client.refresh_token
            client.access_token = "not.a.jwt"
            with pytest.raises(NotAuthenticated):
                client.me()
            assert client.refresh_token == refresh

    def test_refresh_rotates_the_pair(self, client: PlandeckClient) -> None:
        before = client.refresh_token
        tokens = client.refresh()
        assert tokens.refresh_token != before
        assert client.refresh_token == tokens.refresh_token
        assert client.me()

    def test_logout_ends_the_login(self, live: LiveServer, client: PlandeckClient) -> None:
        refresh = client.refresh_token
        # Also proves the login's session cookie was not kept: with it, the server would
        # refuse the logout (an unsafe request) without a CSRF token.
        client.logout()
        assert client.access_token is None
        with (
            PlandeckClient(live.base_url, refresh_token=refresh) as again,
            pytest.raises(NotAuthenticated),
        ):
            again.refresh()


class TestAccount:
    def test_update_me(self, client: PlandeckClient) -> None:
        assert client.update_me(name="Alice Renamed").name == "Alice Renamed"
        assert client.me().name == "Alice Renamed"

    def test_change_password(self, live: LiveServer, client: PlandeckClient) -> None:
        email = client.me().email
        client.change_password(PASSWORD, "a new long enough password")
        with PlandeckClient(live.base_url) as again:
            assert again.login(email, "a new long enough password").user.email == email

    def test_wrong_current_password_is_refused(self, client: PlandeckClient) -> None:
        with pytest.raises(PlandeckApiError) as caught:
            client.change_password("wrong", "a new long enough password")
        assert caught.value.status in (401, 403, 422)


class TestApiTokens:
    def test_create_list_use_revoke(self, live: LiveServer, client: PlandeckClient) -> None:
        created = client.create_token("ci", scopes=["read", "write"])
        assert created.token.startswith("pdk_")
        assert [t.name for t in client.list_tokens()] == ["ci"]
        with PlandeckClient(live.base_url, token=created.token) as by_token:
            assert by_token.me().id == client.me().id
            client.revoke_token(created.id)
            with pytest.raises(NotAuthenticated):
                by_token.me()

    def test_read_token_cannot_write(self, live: LiveServer, client: PlandeckClient) -> None:
        created = client.create_token("reader")
        with PlandeckClient(live.base_url, token=created.token) as reader:
            assert reader.list_projects() is not None
            with pytest.raises(Forbidden) as caught:
                reader.create_project(_key(), "Nope")
        assert "read-only" in caught.value.detail

    def test_unknown_token_is_not_found(self, client: PlandeckClient) -> None:
        with pytest.raises(NotFound):
            client.revoke_token(2_000_000_000)


class TestProjects:
    def test_create_get_list_update_delete(self, client: PlandeckClient) -> None:
        key = _key()
        created = client.create_project(key, "First", description="about it")
        assert (created.key, created.name, created.version) == (key, "First", 1)
        assert client.get_project(key).description == "about it"
        assert key in [p.key for p in client.list_projects()]
        updated = client.update_project(key, name="Second", version=1)
        assert (updated.name, updated.version) == ("Second", 2)
        client.delete_project(key, version=2)
        with pytest.raises(NotFound):
            client.get_project(key)

    def test_stale_version_is_refused_with_the_current_one(
        self, client: PlandeckClient, project: Project
    ) -> None:
        client.update_project(project.key, name="Changed")
        with pytest.raises(StaleVersion) as caught:
            client.update_project(project.key, name="Mine", version=project.version)
        assert caught.value.status == 409
        assert caught.value.current_version == project.version + 1
        assert isinstance(caught.value, Conflict)
        assert client.get_project(project.key).name == "Changed"

    def test_duplicate_key_is_a_conflict_not_a_stale_version(
        self, client: PlandeckClient, project: Project
    ) -> None:
        with pytest.raises(Conflict) as caught:
            client.create_project(project.key, "Again")
        assert not isinstance(caught.value, StaleVersion)

    def test_invalid_input_lists_the_fields(self, client: PlandeckClient) -> None:
        with pytest.raises(ValidationFailed) as caught:
            client.create_project("1-not-a-key", "Bad")
        assert caught.value.status == 422
        assert any(error["loc"][-1] == "key" for error in caught.value.errors)

    def test_non_member_gets_not_found(self, other: PlandeckClient, project: Project) -> None:
        with pytest.raises(NotFound) as caught:
            other.get_project(project.key)
        assert caught.value.status == 404


class TestMembers:
    def test_add_list_change_remove(
        self, live: LiveServer, client: PlandeckClient, project: Project
    ) -> None:
        bob = live.signup("bob")
        added = client.add_member(project.key, email=bob.email, role="viewer")
        assert (added.user.email, added.role.value) == (bob.email, "viewer")
        assert {m.user.email for m in client.list_members(project.key)} >= {bob.email}
        changed = client.change_member_role(project.key, added.user_id, "member")
        assert changed.role.value == "member"
        client.remove_member(project.key, added.user_id)
        assert bob.email not in {m.user.email for m in client.list_members(project.key)}

    def test_viewer_cannot_change_the_project(
        self, live: LiveServer, client: PlandeckClient, project: Project
    ) -> None:
        with _member(live, client, project.key, "viewer") as viewer:
            assert viewer.get_project(project.key).key == project.key
            with pytest.raises(Forbidden) as caught:
                viewer.update_project(project.key, name="Mine now")
        assert caught.value.status == 403


class TestPhasesAndSprints:
    def test_phase_life_cycle(self, client: PlandeckClient, project: Project) -> None:
        phase = client.create_phase(project.key, 3, "Phase three", goals=["ship"])
        assert (phase.number, phase.goals) == (3, ["ship"])
        assert client.get_phase(project.key, 3).title == "Phase three"
        assert [p.number for p in client.list_phases(project.key)] == [3]
        updated = client.update_phase(project.key, 3, status="active", version=phase.version)
        assert updated.status.value == "active"
        with pytest.raises(StaleVersion):
            client.update_phase(project.key, 3, title="x", version=phase.version)
        client.delete_phase(project.key, 3)
        with pytest.raises(NotFound):
            client.get_phase(project.key, 3)

    def test_sprint_life_cycle(self, client: PlandeckClient, project: Project) -> None:
        phase = client.create_phase(project.key, 1, "One")
        sprint = client.create_sprint(project.key, 9, "Board", phase_id=phase.id, weeks="1-2")
        assert (sprint.number, sprint.phase_id, sprint.weeks) == (9, phase.id, "1-2")
        assert client.get_sprint(project.key, 9).name == "Board"
        updated = client.update_sprint(project.key, 9, goal="a board", version=sprint.version)
        assert updated.goal == "a board"
        assert [s.number for s in client.list_sprints(project.key)] == [9]
        client.delete_sprint(project.key, 9, version=updated.version)
        assert client.list_sprints(project.key) == []

    def test_duplicate_number_is_a_conflict(self, client: PlandeckClient, project: Project) -> None:
        client.create_sprint(project.key, 1, "One")
        with pytest.raises(Conflict):
            client.create_sprint(project.key, 1, "Again")


@pytest.fixture
def planned(client: PlandeckClient, project: Project) -> Project:
    """Sprints 1 and 2 and a backlog: 1.1-1.3 in sprint 1, 2.1 in sprint 2, two in the backlog."""
    first = client.create_sprint(project.key, 1, "One")
    second = client.create_sprint(project.key, 2, "Two")
    for title, points in (("Login", 3), ("Board", 5), ("Search", 8)):
        client.create_story(project.key, title, sprint_id=first.id, points=points)
    client.create_story(project.key, "Export", sprint_id=second.id, status="in_progress")
    client.create_story(project.key, "Dark mode", priority="low")
    client.create_story(project.key, "Mobile", priority="high")
    return project


class TestStories:
    def test_create_get_update_delete(self, client: PlandeckClient, project: Project) -> None:
        created = client.create_story(project.key, "Sign in", key="S-1", points=3)
        assert (created.key, created.points, created.version) == ("S-1", 3, 1)
        assert client.get_story(project.key, "S-1").title == "Sign in"
        updated = client.update_story(
            project.key, "S-1", title="Sign in with email", priority="high", version=1
        )
        assert (updated.title, updated.priority.value, updated.version) == (
            "Sign in with email",
            "high",
            2,
        )
        client.delete_story(project.key, "S-1", version=2)
        with pytest.raises(NotFound):
            client.get_story(project.key, "S-1")

    def test_update_from_a_schema_sends_only_its_fields(
        self, client: PlandeckClient, project: Project
    ) -> None:
        from plandeck.plans.schemas import StoryUpdate

        created = client.create_story(project.key, "Keep", description="kept", points=2)
        updated = client.update_story(project.key, created.key, StoryUpdate(points=None))
        assert (updated.points, updated.description) == (None, "kept")

    def test_duplicate_key_names_the_field(self, client: PlandeckClient, project: Project) -> None:
        client.create_story(project.key, "One", key="K-1")
        with pytest.raises(Conflict) as caught:
            client.create_story(project.key, "Two", {"key": "K-1", "points": 1})
        assert caught.value.field == "key"

    def test_stale_version_names_the_current_one(
        self, client: PlandeckClient, project: Project
    ) -> None:
        story = client.create_story(project.key, "Contended")
        client.update_story(project.key, story.key, points=5)
        with pytest.raises(StaleVersion) as caught:
            client.update_story(project.key, story.key, points=8, version=story.version)
        assert caught.value.current_version == 2
        assert "version 2, not 1" in caught.value.detail
        assert client.get_story(project.key, story.key).points == 5

    def test_invalid_field_is_validation_failed(
        self, client: PlandeckClient, project: Project
    ) -> None:
        with pytest.raises(ValidationFailed) as caught:
            client.create_story(project.key, "Bad", points=-1)
        assert [e["loc"][-1] for e in caught.value.errors] == ["points"]
        assert str(caught.value).endswith(
            "(body.points: Input should be greater than or equal to 0)"
        )

    def test_viewer_cannot_create(
        self, live: LiveServer, client: PlandeckClient, project: Project
    ) -> None:
        with _member(live, client, project.key, "viewer") as viewer, pytest.raises(Forbidden):
            viewer.create_story(project.key, "Mine")

    def test_unknown_story_is_not_found(self, client: PlandeckClient, project: Project) -> None:
        with pytest.raises(NotFound) as caught:
            client.get_story(project.key, "99.9")
        assert "99.9" in caught.value.detail

    def test_keys_with_path_characters(self, client: PlandeckClient, project: Project) -> None:
        for key in ("x?y", "p#1", "50%", "a.b", "ünï"):
            client.create_story(project.key, f"Key {key}", key=key)
            assert client.get_story(project.key, key).key == key

    def test_iterator_follows_every_page(self, client: PlandeckClient, planned: Project) -> None:
        first = client.list_stories_page(planned.key, limit=4)
        assert len(first.items) == 4
        assert first.next_cursor is not None
        keys = [s.key for s in client.iter_stories(planned.key, limit=2)]
        assert len(keys) == len(set(keys)) == 6
        # Plan order: sprint 1 by rank, sprint 2, then the backlog.
        assert keys[:4] == ["1.1", "1.2", "1.3", "2.1"]
        assert keys == [s.key for s in client.list_stories(planned.key)]

    def test_filters(self, client: PlandeckClient, planned: Project) -> None:
        def keys(**query: Any) -> list[str]:
            return [s.key for s in client.iter_stories(planned.key, limit=1, **query)]

        assert keys(sprint=1) == ["1.1", "1.2", "1.3"]
        assert len(keys(sprint="backlog")) == 2
        assert keys(status="in_progress") == ["2.1"]
        assert keys(status=["in_progress", "draft"], sprint=2) == ["2.1"]
        assert len(keys(priority=["low", "high"])) == 2
        assert keys(q="searc") == ["1.3"]
        assert keys(sort="-points")[:3] == ["1.3", "1.2", "1.1"]
        assert keys(assignee="me") == []
        me = client.me()
        client.update_story(planned.key, "1.2", assignee_id=me.id)
        assert keys(assignee="me") == keys(assignee=me.id) == ["1.2"]
        assert "1.2" not in keys(assignee="none")

    def test_move_to_another_sprint_status_and_place(
        self, client: PlandeckClient, planned: Project
    ) -> None:
        story = client.get_story(planned.key, "1.3")
        moved = client.move_story(
            planned.key, "1.3", sprint=2, status="review", before="2.1", version=story.version
        )
        assert moved.status.value == "review"
        assert moved.sprint_id == client.get_sprint(planned.key, 2).id
        assert [s.key for s in client.board(planned.key, 2)] == ["1.3", "2.1"]
        to_backlog = client.move_story(planned.key, "1.3", sprint=None)
        assert to_backlog.sprint_id is None
        assert [s.key for s in client.backlog(planned.key)][-1] == "1.3"
        with pytest.raises(StaleVersion):
            client.move_story(planned.key, "1.3", status="done", version=story.version)

    def test_board_counts_tasks(self, client: PlandeckClient, planned: Project) -> None:
        client.create_task(planned.key, "1.1", "one", done=True)
        client.create_task(planned.key, "1.1", "two")
        board = {s.key: s for s in client.board(planned.key, 1)}
        assert (board["1.1"].tasks_done, board["1.1"].tasks_total) == (1, 2)
        with pytest.raises(NotFound):
            client.board(planned.key, 42)


@pytest.fixture
def running(client: PlandeckClient, planned: Project) -> Project:
    """``planned`` with sprint 1 active (1.1 done, 1.2 in progress, 1.3 a draft) and a
    sprint 3 after sprint 2."""
    client.update_story(planned.key, "1.1", status="done")
    client.update_story(planned.key, "1.2", status="in_progress")
    client.create_sprint(planned.key, 3, "Three")
    client.start_sprint(planned.key, 1, starts_on=date(2030, 3, 4), ends_on=date(2030, 3, 15))
    return planned


class TestSprintLifecycle:
    def test_start_with_dates(self, client: PlandeckClient, planned: Project) -> None:
        sprint = client.get_sprint(planned.key, 2)
        started = client.start_sprint(
            planned.key,
            2,
            starts_on=date(2030, 3, 4),
            ends_on=date(2030, 3, 15),
            version=sprint.version,
        )
        assert (started.status.value, started.starts_on, started.ends_on) == (
            "active",
            date(2030, 3, 4),
            date(2030, 3, 15),
        )
        assert started.version == sprint.version + 1
        assert client.get_sprint(planned.key, 2) == started

    def test_start_without_dates_runs_two_weeks_from_today(
        self, client: PlandeckClient, planned: Project
    ) -> None:
        started = client.start_sprint(planned.key, 1)
        assert started.starts_on is not None
        assert started.ends_on is not None
        # Today in the project's time zone (UTC): the test may straddle midnight.
        today = datetime.now(UTC).date()
        assert started.starts_on in (today - timedelta(days=1), today)
        assert started.ends_on - started.starts_on == timedelta(days=13)

    def test_start_while_another_is_active_is_a_conflict(
        self, client: PlandeckClient, running: Project
    ) -> None:
        with pytest.raises(Conflict) as caught:
            client.start_sprint(running.key, 2)
        assert not isinstance(caught.value, StaleVersion)
        assert caught.value.status == 409
        assert str(caught.value) == (
            "409 Conflict: sprint 1 is active; complete it before starting sprint 2"
        )
        assert client.get_sprint(running.key, 2).status.value == "planned"

    def test_start_after_its_end_is_validation_failed(
        self, client: PlandeckClient, planned: Project
    ) -> None:
        with pytest.raises(ValidationFailed) as caught:
            client.start_sprint(
                planned.key, 1, starts_on=date(2030, 3, 15), ends_on=date(2030, 3, 4)
            )
        assert caught.value.status == 422
        assert "starts_on must not be after ends_on" in str(caught.value)

    def test_member_cannot_start(
        self, live: LiveServer, client: PlandeckClient, planned: Project
    ) -> None:
        with _member(live, client, planned.key, "member") as member, pytest.raises(Forbidden):
            member.start_sprint(planned.key, 1)
        assert client.get_sprint(planned.key, 1).status.value == "planned"

    def test_complete_carries_over_to_the_next_planned_sprint(
        self, client: PlandeckClient, running: Project
    ) -> None:
        active = client.get_sprint(running.key, 1)
        completion = client.complete_sprint(running.key, 1, version=active.version)
        assert completion.completed == ["1.1"]
        assert completion.completed_points == 3
        assert completion.carried_over == ["1.2", "1.3"]
        assert completion.carried_over_points == 13
        assert completion.carried_over_to == 2
        assert completion.sprint.status.value == "completed"
        assert completion.sprint.version == active.version + 1
        assert client.get_sprint(running.key, 1) == completion.sprint
        # At the top of sprint 2, in their own order; the done story stays.
        assert [s.key for s in client.board(running.key, 2)] == ["1.2", "1.3", "2.1"]
        assert [s.key for s in client.board(running.key, 1)] == ["1.1"]

    def test_complete_to_the_backlog(self, client: PlandeckClient, running: Project) -> None:
        completion = client.complete_sprint(running.key, 1, carry_over_to="backlog")
        assert completion.carried_over == ["1.2", "1.3"]
        assert completion.carried_over_to is None
        assert [s.key for s in client.backlog(running.key)][:2] == ["1.2", "1.3"]
        assert [s.key for s in client.board(running.key, 2)] == ["2.1"]

    def test_complete_to_a_named_sprint(self, client: PlandeckClient, running: Project) -> None:
        completion = client.complete_sprint(running.key, 1, carry_over_to=3)
        assert completion.carried_over_to == 3
        assert [s.key for s in client.board(running.key, 3)] == ["1.2", "1.3"]

    def test_stale_version_is_refused(self, client: PlandeckClient, running: Project) -> None:
        read = client.get_sprint(running.key, 1)
        client.update_sprint(running.key, 1, goal="changed meanwhile")
        with pytest.raises(StaleVersion) as caught:
            client.complete_sprint(running.key, 1, version=read.version)
        assert caught.value.current_version == read.version + 1
        assert client.get_sprint(running.key, 1).status.value == "active"
        assert [s.key for s in client.board(running.key, 1)] == ["1.1", "1.2", "1.3"]

    def test_only_the_active_sprint_completes(
        self, client: PlandeckClient, running: Project
    ) -> None:
        with pytest.raises(Conflict) as caught:
            client.complete_sprint(running.key, 2)
        assert "only the active sprint completes" in caught.value.detail

    def test_unknown_target_is_validation_failed_on_its_field(
        self, client: PlandeckClient, running: Project
    ) -> None:
        with pytest.raises(ValidationFailed) as caught:
            client.complete_sprint(running.key, 1, carry_over_to=42)
        assert caught.value.field == "carry_over_to"
        assert client.get_sprint(running.key, 1).status.value == "active"

    def test_completed_target_is_a_conflict(self, client: PlandeckClient, running: Project) -> None:
        client.complete_sprint(running.key, 1)
        client.start_sprint(running.key, 2)
        with pytest.raises(Conflict) as caught:
            client.complete_sprint(running.key, 2, carry_over_to=1)
        assert "sprint 1 is completed" in caught.value.detail


class TestTasks:
    def test_create_list_update_toggle_delete(
        self, client: PlandeckClient, planned: Project
    ) -> None:
        first = client.create_task(planned.key, "1.1", "Write it")
        sub = client.create_task(planned.key, "1.1", "Test it", parent_id=first.id)
        assert sub.parent_id == first.id
        assert [t.text for t in client.list_tasks(planned.key, "1.1")] == ["Write it", "Test it"]
        assert client.update_task(planned.key, first.id, text="Write it well").text == (
            "Write it well"
        )
        assert client.toggle_task(planned.key, first.id).done is True
        assert client.toggle_task(planned.key, first.id).done is False
        client.delete_task(planned.key, sub.id)
        assert [t.id for t in client.list_tasks(planned.key, "1.1")] == [first.id]

    def test_tasks_of_another_project_are_not_found(
        self, client: PlandeckClient, planned: Project
    ) -> None:
        task = client.create_task(planned.key, "1.1", "Mine")
        elsewhere = client.create_project(_key(), "Elsewhere")
        with pytest.raises(NotFound):
            client.toggle_task(elsewhere.key, task.id)


class TestComments:
    def test_add_list_edit_delete(self, client: PlandeckClient, planned: Project) -> None:
        comment = client.create_comment(planned.key, "1.1", "Looks good")
        assert comment.author_id == client.me().id
        assert [c.body for c in client.list_comments(planned.key, "1.1")] == ["Looks good"]
        assert client.update_comment(planned.key, comment.id, "Looks great").body == "Looks great"
        client.delete_comment(planned.key, comment.id)
        assert client.list_comments(planned.key, "1.1") == []

    def test_only_the_author_edits(
        self, live: LiveServer, client: PlandeckClient, planned: Project
    ) -> None:
        comment = client.create_comment(planned.key, "1.1", "Mine")
        with _member(live, client, planned.key, "member") as member, pytest.raises(Forbidden):
            member.update_comment(planned.key, comment.id, "Yours now")


class TestActivity:
    def test_iterates_over_every_page(self, client: PlandeckClient, project: Project) -> None:
        for number in range(1, 6):
            client.create_phase(project.key, number, f"Phase {number}")
        first = client.list_activity_page(project.key, limit=2)
        assert len(first.items) == 2
        assert first.next_before is not None
        events = list(client.iter_activity(project.key, limit=2))
        # The project's creation and five phases, newest first, none twice.
        assert len(events) == len({e.id for e in events}) >= 6
        assert [e.id for e in events] == sorted((e.id for e in events), reverse=True)
        phases = list(client.iter_activity(project.key, entity_type="phase", limit=2))
        assert {e.entity_type.value for e in phases} == {"phase"}
        assert len(phases) == 5


class TestTrash:
    def test_list_restore_purge(self, client: PlandeckClient, project: Project) -> None:
        client.create_phase(project.key, 1, "One")
        client.create_phase(project.key, 2, "Two")
        client.delete_phase(project.key, 1)
        client.delete_phase(project.key, 2)
        trash = {item.label: item for item in client.list_trash(project.key)}
        assert len(trash) == 2
        first, second = sorted(trash.values(), key=lambda item: item.label)
        assert first.kind.value == "phase"
        client.restore_item(project.key, first.kind, first.id)
        assert [p.number for p in client.list_phases(project.key)] == [1]
        client.purge_item(project.key, "phase", second.id)
        assert client.list_trash(project.key) == []
        with pytest.raises(NotFound):
            client.restore_item(project.key, "phase", second.id)


class TestPlanDocuments:
    def test_dry_run_then_import_then_export(
        self, client: PlandeckClient, project: Project
    ) -> None:
        dry = client.import_plan(project.key, FIXTURE, dry_run=True)
        assert dry.dry_run
        assert dry.count("story", "created") == 8
        assert client.list_phases(project.key) == []

        done = client.import_plan(project.key, FIXTURE)
        assert not done.dry_run
        assert done.count("sprint", "created") == 3
        assert [s.number for s in client.list_sprints(project.key)] == [9, 10, 11]

        again = client.import_plan(project.key, FIXTURE.read_bytes(), filename=FIXTURE.name)
        assert again.count("story", "created") == 0

        markdown = client.export_markdown(project.key)
        assert "Story 9.1" in markdown or "9.1" in markdown
        data = client.export_json(project.key)
        assert data["project"]["key"] == project.key
        (phase,) = data["phases"]
        assert [s["number"] for s in phase["sprints"]] == [9, 10, 11]
        assert client.export_json(project.key, phase=phase["number"])["phases"]

    def test_folder_and_named_files(
        self, client: PlandeckClient, project: Project, tmp_path: Path
    ) -> None:
        folder = tmp_path / "plans"
        (folder / "phase3").mkdir(parents=True)
        (folder / "phase3" / "plan.md").write_bytes(FIXTURE.read_bytes())
        (folder / "notes.txt").write_text("not a plan document")
        result = client.import_plan(project.key, folder, dry_run=True)
        assert result.count("story", "created") == 8
        named = client.import_plan(project.key, {"phase3/plan.md": FIXTURE.read_bytes()})
        assert named.count("sprint", "created") == 3

    def test_invalid_document_names_file_and_line(
        self, client: PlandeckClient, project: Project
    ) -> None:
        plan = "# Phase 1: X\n### Sprint 1: A\n#### Story 1.1: One\n#### Story 1.1: Two\n"
        with pytest.raises(ValidationFailed) as caught:
            client.import_plan(project.key, plan, filename="bad.md")
        assert "bad.md" in caught.value.detail
        assert client.list_phases(project.key) == []

    def test_oversized_document_is_payload_too_large(
        self, client: PlandeckClient, project: Project
    ) -> None:
        with pytest.raises(PayloadTooLarge) as caught:
            client.import_plan(project.key, b"x" * (11 * 1024 * 1024), filename="big.md")
        assert caught.value.status == 413


class TestTransportErrors:
    def test_nothing_listening_is_connection_failed_naming_the_url(self) -> None:
        url = f"http://127.0.0.1:{free_port()}"
        with PlandeckClient(url, timeout=5) as client, pytest.raises(ConnectionFailed) as caught:
            client.me()
        assert caught.value.url == f"{url}/api/v1"
        assert f"cannot reach the plandeck server at {url}/api/v1" in str(caught.value)


class _DroppingServer:
    """A loopback HTTP server that reads each request whole and, for the first ``drops``
    connections, closes the connection without an answer (what a client sees when it sends a
    request on a keep-alive connection the server or a reloading proxy has just closed); it
    answers the others with 200 and ``{}``."""

    def __init__(self, drops: int) -> None:
        self.drops = drops
        self.requests: list[str] = []
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            with connection:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += connection.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length: *(\d+)", head)
                while length and len(body) < int(length.group(1)):
                    body += connection.recv(65536)
                self.requests.append(head.decode("latin-1").splitlines()[0])
                if self.drops:
                    self.drops -= 1
                    continue
                connection.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 2\r\nConnection: close\r\n\r\n{}"
                )

    def close(self) -> None:
        self._socket.close()
        self._thread.join(5)


@pytest.fixture
def dropping() -> Iterator[_DroppingServer]:
    server = _DroppingServer(drops=1)
    yield server
    server.close()


class TestConnectionLost:
    @pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
    def test_an_idempotent_request_is_sent_once_more(
        self, dropping: _DroppingServer, method: str
    ) -> None:
        with PlandeckClient(dropping.url, timeout=5) as client:
            assert client.request(method, "/projects/P").json() == {}
        assert dropping.requests == [f"{method} /api/v1/projects/P HTTP/1.1"] * 2

    def test_a_change_with_a_version_is_sent_once_more(self, dropping: _DroppingServer) -> None:
        with PlandeckClient(dropping.url, timeout=5) as client:
            response = client.request(
                "PATCH", "/projects/P/stories/P-1", json={"points": 3}, headers={"If-Match": '"v1"'}
            )
        assert response.status_code == 200
        assert len(dropping.requests) == 2

    def test_a_change_without_a_version_is_not_repeated(self, dropping: _DroppingServer) -> None:
        with PlandeckClient(dropping.url, timeout=5) as client, pytest.raises(ConnectionFailed):
            client.request("POST", "/projects/P/stories", json={"title": "Once"})
        assert dropping.requests == ["POST /api/v1/projects/P/stories HTTP/1.1"]

    def test_only_once(self) -> None:
        server = _DroppingServer(drops=2)
        try:
            with PlandeckClient(server.url, timeout=5) as client, pytest.raises(ConnectionFailed):
                client.request("GET", "/projects")
        finally:
            server.close()
        assert len(server.requests) == 2


@pytest.fixture(scope="module")
def limited_server(live: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second server on the live database, with rate limits on and a tight sign-in limit."""
    data_dir = tmp_path_factory.mktemp("limited")
    env = env_for(live.database_url, data_dir, PLANDECK_RATE_LIMIT_LOGIN="2 per minute")
    with plandeck_server(env=env, cwd=data_dir) as base_url:
        yield base_url


class TestRateLimit:
    def test_too_many_logins_is_rate_limited_with_retry_after(
        self, limited_server: str, alice: Caller
    ) -> None:
        refused: list[RateLimited] = []
        within_one_window(20)
        with PlandeckClient(limited_server) as client:
            for _ in range(5):
                try:
                    client.login(alice.email, PASSWORD)
                except RateLimited as exc:
                    refused.append(exc)
        assert len(refused) == 3  # two logins a minute
        caught = refused[0]
        assert caught.status == 429
        assert caught.retry_after is not None
        assert 0 < caught.retry_after <= 60
        assert str(caught).endswith(f"(retry after {math.ceil(caught.retry_after)} s)")


class TestRetryAfter:
    @pytest.mark.parametrize("value", [None, "", "  ", "soon", "nan"])
    def test_unusable_values_say_nothing(self, value: str | None) -> None:
        assert parse_retry_after(value) is None

    def test_seconds(self) -> None:
        assert parse_retry_after(" 30 ") == 30

    def test_a_date_without_zone_is_utc_and_a_past_date_is_zero(self) -> None:
        now = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
        assert parse_retry_after("Tue, 01 Jan 2030 12:01:00 -0000", now=now) == 60
        assert parse_retry_after("Tue, 01 Jan 2030 11:00:00 GMT", now=now) == 0


def _answering(status: int, content: bytes, **headers: str) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=content, headers=headers)

    return httpx.MockTransport(handler)


class TestErrorsFromOtherServers:
    """What a proxy in front of plandeck may answer; no plandeck server produces these."""

    def test_a_proxy_error_page_is_a_server_error(self) -> None:
        transport = _answering(502, b"<html><body>Bad gateway</body></html>\n")
        with (
            PlandeckClient("http://p", transport=transport) as client,
            pytest.raises(ServerError) as caught,
        ):
            client.me()
        assert caught.value.status == 502
        assert caught.value.title == "Bad Gateway"
        assert "Bad gateway" in caught.value.detail

    def test_retry_after_as_a_date(self) -> None:
        when = datetime.now(UTC) + timedelta(seconds=120)
        transport = _answering(
            429, b"{}", **{"Retry-After": when.strftime("%a, %d %b %Y %H:%M:%S GMT")}
        )
        with (
            PlandeckClient("http://p", transport=transport) as client,
            pytest.raises(RateLimited) as caught,
        ):
            client.me()
        assert caught.value.retry_after is not None
        assert 100 < caught.value.retry_after <= 120

    def test_unknown_status_is_the_base_error(self) -> None:
        body = b'{"type": "about:blank", "title": "I am a teapot", "status": 418, "detail": "no"}'
        with (
            PlandeckClient("http://p", transport=_answering(418, body)) as client,
            pytest.raises(PlandeckApiError) as caught,
        ):
            client.me()
        assert type(caught.value) is PlandeckApiError
        assert str(caught.value) == "418 I am a teapot: no"


def _fields(model: Any) -> dict[str, str]:
    """Field names and types, with a nested model named by its class name only."""
    return {
        name: re.sub(r"plandeck\.[\w.]+\.(\w+)", r"\1", str(info.annotation))
        for name, info in model.model_fields.items()
    }


def test_mirrored_models_match_the_api() -> None:
    """client.models mirrors a few API schemas to keep FastAPI out of the client."""
    from plandeck.api import activity, auth, plans, users
    from plandeck.client import models

    pairs = [
        (models.Tokens, auth.Tokens),
        (models.LoginResult, auth.LoginResult),
        (models.ApiTokenCreated, users.ApiTokenCreated),
        (models.ActivityPage, activity.ActivityPage),
        (models.ImportResult, plans.ImportResult),
        (models.ImportChange, plans.ImportChange),
        (models.ImportNotice, plans.ImportNotice),
        (models.ChangeCounts, plans.ChangeCounts),
    ]
    for mirror, original in pairs:
        assert _fields(mirror) == _fields(original), original.__name__
