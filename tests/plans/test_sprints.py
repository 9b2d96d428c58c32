from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.db import create_sessionmaker, unit_of_work
from plandeck.errors import Conflict, Forbidden, InvalidInput, NotFound, StaleVersion
from plandeck.models import (
    ActivityAction,
    ActivityEvent,
    EntityType,
    Project,
    Role,
    Sprint,
    SprintStatus,
    Story,
    StoryStatus,
    User,
)
from plandeck.plans.phases import phase_service
from plandeck.plans.schemas import (
    SprintComplete,
    SprintCreate,
    SprintStart,
    SprintUpdate,
    StoryMove,
    StoryUpdate,
)
from plandeck.plans.sprints import sprint_service
from plandeck.plans.stories import story_service
from tests.databases import TestDatabase
from tests.factories.accounts import make_user
from tests.factories.activity import count_events
from tests.factories.plans import (
    make_member,
    make_phase,
    make_project,
    make_sprint,
    make_story,
)


@pytest.fixture
async def project(session: AsyncSession, owner: User) -> Project:
    return await make_project(session, owner, key="SP")


async def _moves(session: AsyncSession, story_ids: list[int]) -> list[tuple[int, object, object]]:
    rows = (
        await session.execute(
            select(ActivityEvent.entity_id, ActivityEvent.before, ActivityEvent.after)
            .where(
                ActivityEvent.entity_type == EntityType.STORY,
                ActivityEvent.action == ActivityAction.MOVED,
                ActivityEvent.entity_id.in_(story_ids),
            )
            .order_by(ActivityEvent.id)
        )
    ).all()
    return [(r.entity_id, r.before, r.after) for r in rows]


async def _ids_in(
    session: AsyncSession, owner: User, project: Project, sprint_id: int | None
) -> list[int]:
    return [s.id for s in await story_service.list_for_sprint(session, owner, project, sprint_id)]


class TestCreateSprint:
    async def test_admin_creates_with_fields_and_activity(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        phase = await make_phase(session, owner, project)
        admin = await make_member(session, project, Role.ADMIN)
        sprint = await sprint_service.create(
            session,
            admin,
            project,
            SprintCreate(
                number=4,
                name="Auth",
                phase_id=phase.id,
                weeks="7-8",
                starts_on=date(2026, 3, 2),
                ends_on=date(2026, 3, 13),
            ),
        )
        assert (sprint.number, sprint.phase_id, sprint.status, sprint.weeks, sprint.version) == (
            4,
            phase.id,
            SprintStatus.PLANNED,
            "7-8",
            1,
        )
        [event] = (
            await session.scalars(
                select(ActivityEvent).where(ActivityEvent.entity_type == EntityType.SPRINT)
            )
        ).all()
        assert (event.action, event.actor_id, event.entity_id) == (
            ActivityAction.CREATED,
            admin.id,
            sprint.id,
        )
        assert event.after is not None
        assert (event.after["starts_on"], event.after["ends_on"]) == ("2026-03-02", "2026-03-13")

    async def test_member_cannot_create(self, session: AsyncSession, project: Project) -> None:
        member = await make_member(session, project, Role.MEMBER)
        with pytest.raises(Forbidden, match="you are a member"):
            await make_sprint(session, member, project)

    async def test_non_member_gets_not_found(self, session: AsyncSession, project: Project) -> None:
        with pytest.raises(NotFound):
            await make_sprint(session, await make_user(session), project)

    async def test_duplicate_number_is_a_conflict(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        await make_sprint(session, owner, project, number=2)
        events = await count_events(session)
        with pytest.raises(Conflict, match="SP already has a sprint 2"):
            await make_sprint(session, owner, project, number=2)
        assert await count_events(session) == events

    async def test_number_of_a_trashed_sprint_is_a_conflict(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        trashed = await make_sprint(session, owner, project, number=2)
        await sprint_service.delete(session, owner, project, trashed.id)
        with pytest.raises(Conflict, match="perhaps in the trash"):
            await make_sprint(session, owner, project, number=2)

    async def test_unknown_phase_is_invalid_input(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        with pytest.raises(InvalidInput, match="phase_id: no phase 999999 in project SP"):
            await make_sprint(session, owner, project, phase_id=999_999)

    async def test_trashed_phase_is_invalid_input(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        phase = await make_phase(session, owner, project)
        await phase_service.delete(session, owner, project, phase.id)
        with pytest.raises(InvalidInput, match="phase_id"):
            await make_sprint(session, owner, project, phase_id=phase.id)

    async def test_phase_of_another_project_is_invalid_input(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        foreign = await make_phase(session, owner, await make_project(session, owner))
        with pytest.raises(InvalidInput, match="phase_id"):
            await make_sprint(session, owner, project, phase_id=foreign.id)

    async def test_end_before_start_refused_by_schema(self) -> None:
        with pytest.raises(ValueError, match="starts_on must not be after ends_on"):
            SprintCreate(number=1, name="x", starts_on=date(2026, 3, 13), ends_on=date(2026, 3, 2))

    async def test_single_day_sprint_is_fine(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        day = date(2026, 3, 2)
        sprint = await make_sprint(session, owner, project, starts_on=day, ends_on=day)
        assert (sprint.starts_on, sprint.ends_on) == (day, day)


class TestReadSprints:
    async def test_lists_live_sprints_by_number_and_the_trash_apart(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        second = await make_sprint(session, owner, project, number=2)
        first = await make_sprint(session, owner, project, number=1)
        trashed = await make_sprint(session, owner, project, number=3)
        await sprint_service.delete(session, owner, project, trashed.id)
        viewer = await make_member(session, project, Role.VIEWER)
        assert [s.id for s in await sprint_service.list_in(session, viewer, project)] == [
            first.id,
            second.id,
        ]
        assert [
            s.id for s in await sprint_service.list_in(session, viewer, project, in_trash=True)
        ] == [trashed.id]
        assert (await sprint_service.get(session, viewer, project, first.id)).number == 1

    async def test_sprint_of_another_project_is_not_found(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        foreign = await make_sprint(session, owner, await make_project(session, owner))
        with pytest.raises(NotFound, match=f"sprint {foreign.id} not found in project SP"):
            await sprint_service.get(session, owner, project, foreign.id)


class TestUpdateSprint:
    async def test_update_bumps_version_and_records_diff(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        sprint = await make_sprint(session, owner, project, name="Old")
        updated = await sprint_service.update(
            session,
            owner,
            project,
            sprint.id,
            SprintUpdate(
                name="New", status=SprintStatus.ACTIVE, ends_on=date(2026, 4, 1), version=1
            ),
        )
        assert (updated.name, updated.status, updated.ends_on, updated.version) == (
            "New",
            SprintStatus.ACTIVE,
            date(2026, 4, 1),
            2,
        )
        event = await session.scalar(
            select(ActivityEvent).where(
                ActivityEvent.entity_type == EntityType.SPRINT,
                ActivityEvent.action == ActivityAction.UPDATED,
            )
        )
        assert event is not None
        assert (event.before, event.after) == (
            {"name": "Old", "status": "planned", "ends_on": None},
            {"name": "New", "status": "active", "ends_on": "2026-04-01"},
        )

    async def test_member_cannot_update(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        sprint = await make_sprint(session, owner, project, name="Kept")
        member = await make_member(session, project, Role.MEMBER)
        with pytest.raises(Forbidden):
            await sprint_service.update(session, member, project, sprint.id, SprintUpdate(name="x"))
        assert sprint.name == "Kept"

    async def test_stale_version_changes_nothing(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        sprint = await make_sprint(session, owner, project, name="before")
        await sprint_service.update(session, owner, project, sprint.id, SprintUpdate(name="first"))
        events = await count_events(session)
        with pytest.raises(StaleVersion, match=r"sprint \d+ is at version 2, not 1"):
            await sprint_service.update(
                session, owner, project, sprint.id, SprintUpdate(name="second", version=1)
            )
        await session.refresh(sprint)
        assert (sprint.name, sprint.version) == ("first", 2)
        assert await count_events(session) == events

    async def test_end_before_the_existing_start_is_invalid_input(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        sprint = await make_sprint(session, owner, project, starts_on=date(2026, 3, 2))
        with pytest.raises(InvalidInput, match="starts_on must not be after ends_on"):
            await sprint_service.update(
                session, owner, project, sprint.id, SprintUpdate(ends_on=date(2026, 3, 1))
            )
        await session.refresh(sprint)
        assert (sprint.ends_on, sprint.version) == (None, 1)

    async def test_start_after_the_existing_end_is_invalid_input(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        sprint = await make_sprint(session, owner, project, ends_on=date(2026, 3, 13))
        with pytest.raises(InvalidInput, match="starts_on"):
            await sprint_service.update(
                session, owner, project, sprint.id, SprintUpdate(starts_on=date(2026, 3, 14))
            )

    async def test_moving_both_dates_together_is_checked_as_a_pair(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        sprint = await make_sprint(
            session, owner, project, starts_on=date(2026, 3, 2), ends_on=date(2026, 3, 13)
        )
        await sprint_service.update(
            session,
            owner,
            project,
            sprint.id,
            SprintUpdate(starts_on=date(2026, 5, 4), ends_on=date(2026, 5, 15)),
        )
        assert (sprint.starts_on, sprint.ends_on) == (date(2026, 5, 4), date(2026, 5, 15))

    async def test_null_name_is_invalid_input(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        sprint = await make_sprint(session, owner, project, name="Kept")
        with pytest.raises(InvalidInput, match="name cannot be null"):
            await sprint_service.update(session, owner, project, sprint.id, SprintUpdate(name=None))
        assert sprint.name == "Kept"

    async def test_renumbering_onto_a_taken_number_is_a_conflict(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        trashed = await make_sprint(session, owner, project, number=1)
        await sprint_service.delete(session, owner, project, trashed.id)
        sprint = await make_sprint(session, owner, project, number=2)
        with pytest.raises(Conflict, match="already has a sprint 1"):
            await sprint_service.update(session, owner, project, sprint.id, SprintUpdate(number=1))
        await session.refresh(sprint)
        assert sprint.number == 2

    async def test_detach_from_phase_and_attach_to_another(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        first, second = (
            await make_phase(session, owner, project),
            await make_phase(session, owner, project),
        )
        sprint = await make_sprint(session, owner, project, phase_id=first.id)
        await sprint_service.update(session, owner, project, sprint.id, SprintUpdate(phase_id=None))
        assert sprint.phase_id is None
        await sprint_service.update(
            session, owner, project, sprint.id, SprintUpdate(phase_id=second.id)
        )
        assert sprint.phase_id == second.id
        with pytest.raises(InvalidInput, match="phase_id"):
            await sprint_service.update(
                session, owner, project, sprint.id, SprintUpdate(phase_id=999_999)
            )


class TestSprintTrash:
    async def test_delete_moves_its_stories_to_the_end_of_the_backlog(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        sprint = await make_sprint(session, owner, project)
        first = await make_story(session, owner, project, sprint_id=sprint.id)
        second = await make_story(session, owner, project, sprint_id=sprint.id)
        backlog = [await make_story(session, owner, project) for _ in range(3)]

        await sprint_service.delete(session, owner, project, sprint.id)

        listed = await story_service.list_for_sprint(session, owner, project, None)
        assert [s.id for s in listed] == [*(b.id for b in backlog), first.id, second.id]
        assert len({s.rank for s in listed}) == 5, "every story has a rank of its own"
        assert (first.sprint_id, second.sprint_id) == (None, None)
        assert await _moves(session, [first.id, second.id, *(b.id for b in backlog)]) == [
            (first.id, {"sprint_id": sprint.id}, {"sprint_id": None}),
            (second.id, {"sprint_id": sprint.id}, {"sprint_id": None}),
        ]
        deleted = await session.scalar(
            select(ActivityEvent).where(
                ActivityEvent.entity_type == EntityType.SPRINT,
                ActivityEvent.action == ActivityAction.DELETED,
            )
        )
        assert deleted is not None
        assert deleted.after is not None
        assert deleted.after["moved_to_backlog"] == [first.id, second.id]

    async def test_delete_keeps_trashed_stories_in_the_trash(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        sprint = await make_sprint(session, owner, project)
        trashed = await make_story(session, owner, project, sprint_id=sprint.id)
        await story_service.delete(session, owner, project, trashed.id)
        await sprint_service.delete(session, owner, project, sprint.id)
        assert await _moves(session, [trashed.id]) == []
        assert await _ids_in(session, owner, project, None) == []

    async def test_restore_takes_back_the_stories_still_in_the_backlog(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        sprint = await make_sprint(session, owner, project)
        other_sprint = await make_sprint(session, owner, project)
        stays = await make_story(session, owner, project, sprint_id=sprint.id)
        moved_on = await make_story(session, owner, project, sprint_id=sprint.id)
        trashed = await make_story(session, owner, project, sprint_id=sprint.id)
        stays_too = await make_story(session, owner, project, sprint_id=sprint.id)
        always_backlog = await make_story(session, owner, project)
        await sprint_service.delete(session, owner, project, sprint.id)
        await story_service.update(
            session, owner, project, moved_on.id, StoryUpdate(sprint_id=other_sprint.id)
        )
        await story_service.delete(session, owner, project, trashed.id)

        restored = await sprint_service.restore(session, owner, project, sprint.id)

        assert restored.deleted_at is None
        assert await _ids_in(session, owner, project, sprint.id) == [stays.id, stays_too.id]
        assert await _ids_in(session, owner, project, other_sprint.id) == [moved_on.id]
        assert await _ids_in(session, owner, project, None) == [always_backlog.id]
        trashed_sprint_id = await session.scalar(
            select(Story.sprint_id).where(Story.id == trashed.id)
        )
        assert trashed_sprint_id is None, "a story trashed since stays where it was"
        assert [
            m for m in await _moves(session, [stays.id]) if m[2] == {"sprint_id": sprint.id}
        ] == [(stays.id, {"sprint_id": None}, {"sprint_id": sprint.id})]

    async def test_restore_appends_after_stories_added_meanwhile(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        sprint = await make_sprint(session, owner, project)
        story = await make_story(session, owner, project, sprint_id=sprint.id)
        await sprint_service.delete(session, owner, project, sprint.id)
        await sprint_service.restore(session, owner, project, sprint.id)
        added = await make_story(session, owner, project, sprint_id=sprint.id)
        await sprint_service.delete(session, owner, project, sprint.id)
        await sprint_service.restore(session, owner, project, sprint.id)
        assert await _ids_in(session, owner, project, sprint.id) == [story.id, added.id]

    async def test_restore_ignores_the_moves_of_an_earlier_delete(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        phase, other_phase = (
            await make_phase(session, owner, project),
            await make_phase(session, owner, project),
        )
        sprint = await make_sprint(session, owner, project, phase_id=phase.id)
        story = await make_story(
            session, owner, project, sprint_id=sprint.id, phase_id=other_phase.id
        )
        await sprint_service.delete(session, owner, project, sprint.id)
        await sprint_service.restore(session, owner, project, sprint.id)
        await story_service.update(session, owner, project, story.id, StoryUpdate(sprint_id=None))
        # Trashed with its phase this time: that moved no story to the backlog.
        await phase_service.delete(session, owner, project, phase.id)

        await sprint_service.restore(session, owner, project, sprint.id)

        assert await _ids_in(session, owner, project, None) == [story.id], (
            "moved out by hand, stays"
        )
        assert await _ids_in(session, owner, project, sprint.id) == []

    async def test_empty_sprint_round_trip_moves_nothing(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        sprint = await make_sprint(session, owner, project)
        backlog = await make_story(session, owner, project)
        await sprint_service.delete(session, owner, project, sprint.id)
        await sprint_service.restore(session, owner, project, sprint.id)
        assert await _ids_in(session, owner, project, None) == [backlog.id]
        assert await _moves(session, [backlog.id]) == []

    async def test_member_cannot_delete(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        sprint = await make_sprint(session, owner, project)
        story = await make_story(session, owner, project, sprint_id=sprint.id)
        member = await make_member(session, project, Role.MEMBER)
        with pytest.raises(Forbidden):
            await sprint_service.delete(session, member, project, sprint.id)
        assert story.sprint_id == sprint.id
        assert sprint.deleted_at is None

    async def test_delete_with_stale_version_moves_nothing(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        sprint = await make_sprint(session, owner, project)
        story = await make_story(session, owner, project, sprint_id=sprint.id)
        await sprint_service.update(session, owner, project, sprint.id, SprintUpdate(name="v2"))
        with pytest.raises(StaleVersion):
            await sprint_service.delete(session, owner, project, sprint.id, expected_version=1)
        assert await _ids_in(session, owner, project, sprint.id) == [story.id]
        assert await _moves(session, [story.id]) == []

    async def test_purge_removes_a_trashed_sprint(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        sprint = await make_sprint(session, owner, project, number=6)
        story = await make_story(session, owner, project, sprint_id=sprint.id)
        await sprint_service.delete(session, owner, project, sprint.id)
        await sprint_service.purge(session, owner, project, sprint.id)
        assert await session.scalar(select(Sprint.id).where(Sprint.id == sprint.id)) is None
        assert await _ids_in(session, owner, project, None) == [story.id]
        actions = (
            await session.scalars(
                select(ActivityEvent.action)
                .where(
                    ActivityEvent.entity_type == EntityType.SPRINT,
                    ActivityEvent.entity_id == sprint.id,
                )
                .order_by(ActivityEvent.id)
            )
        ).all()
        assert actions == [ActivityAction.CREATED, ActivityAction.DELETED, ActivityAction.PURGED]
        assert (await make_sprint(session, owner, project, number=6)).number == 6

    async def test_member_cannot_restore(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        sprint = await make_sprint(session, owner, project)
        await sprint_service.delete(session, owner, project, sprint.id)
        member = await make_member(session, project, Role.MEMBER)
        with pytest.raises(Forbidden):
            await sprint_service.restore(session, member, project, sprint.id)
        with pytest.raises(Forbidden):
            await sprint_service.purge(session, member, project, sprint.id)


NOON = datetime(2026, 3, 2, 12, tzinfo=UTC)


async def _sprint_events(session: AsyncSession, sprint: Sprint) -> list[dict[str, object]]:
    rows = await session.scalars(
        select(ActivityEvent.after)
        .where(
            ActivityEvent.entity_type == EntityType.SPRINT,
            ActivityEvent.entity_id == sprint.id,
            ActivityEvent.action == ActivityAction.UPDATED,
        )
        .order_by(ActivityEvent.id)
    )
    return [dict(after or {}) for after in rows]


class TestStartSprint:
    async def test_defaults_to_today_and_the_planned_length(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        sprint = await make_sprint(
            session, owner, project, starts_on=date(2026, 4, 6), ends_on=date(2026, 4, 17)
        )
        started = await sprint_service.start(
            session, owner, project, sprint.id, SprintStart(), now=NOON
        )
        assert started.status is SprintStatus.ACTIVE
        assert (started.starts_on, started.ends_on) == (date(2026, 3, 2), date(2026, 3, 13))
        assert started.version == 2
        assert (await _sprint_events(session, sprint))[-1] == {
            "status": "active",
            "starts_on": "2026-03-02",
            "ends_on": "2026-03-13",
        }

    async def test_today_is_the_projects_day(self, session: AsyncSession, owner: User) -> None:
        project = await make_project(session, owner, timezone="Asia/Tehran")
        sprint = await make_sprint(session, owner, project)
        late = datetime(2026, 3, 1, 22, tzinfo=UTC)  # already 2 March in Tehran
        started = await sprint_service.start(
            session, owner, project, sprint.id, SprintStart(), now=late
        )
        assert (started.starts_on, started.ends_on) == (date(2026, 3, 2), date(2026, 3, 15))

    async def test_given_dates_win(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        sprint = await make_sprint(session, owner, project)
        given = SprintStart(starts_on=date(2026, 3, 4), ends_on=date(2026, 3, 6))
        started = await sprint_service.start(session, owner, project, sprint.id, given, now=NOON)
        assert (started.starts_on, started.ends_on) == (date(2026, 3, 4), date(2026, 3, 6))

    async def test_an_end_before_today_needs_a_start(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        sprint = await make_sprint(session, owner, project)
        with pytest.raises(InvalidInput, match="starts_on must not be after ends_on"):
            await sprint_service.start(
                session, owner, project, sprint.id, SprintStart(ends_on=date(2026, 3, 1)), now=NOON
            )
        assert sprint.status is SprintStatus.PLANNED

    async def test_one_sprint_is_active_at_a_time(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        active = await make_sprint(session, owner, project, status=SprintStatus.ACTIVE)
        sprint = await make_sprint(session, owner, project)
        with pytest.raises(Conflict, match=f"sprint {active.number} is active"):
            await sprint_service.start(session, owner, project, sprint.id, SprintStart(), now=NOON)
        assert (sprint.status, sprint.version) == (SprintStatus.PLANNED, 1)

    @pytest.mark.parametrize(
        "status", [SprintStatus.ACTIVE, SprintStatus.COMPLETED, SprintStatus.CANCELLED]
    )
    async def test_only_a_planned_sprint_starts(
        self, session: AsyncSession, owner: User, project: Project, status: SprintStatus
    ) -> None:
        sprint = await make_sprint(session, owner, project, status=status)
        with pytest.raises(Conflict, match=f"is {status.value}; only a planned sprint starts"):
            await sprint_service.start(session, owner, project, sprint.id, SprintStart(), now=NOON)

    async def test_member_cannot_start_and_stale_version_is_refused(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        sprint = await make_sprint(session, owner, project)
        member = await make_member(session, project, Role.MEMBER)
        with pytest.raises(Forbidden):
            await sprint_service.start(session, member, project, sprint.id, SprintStart())
        with pytest.raises(StaleVersion):
            await sprint_service.start(session, owner, project, sprint.id, SprintStart(version=7))
        assert sprint.status is SprintStatus.PLANNED


class TestCompleteSprint:
    async def _active_with_stories(
        self, session: AsyncSession, owner: User, project: Project
    ) -> tuple[Sprint, list[Story]]:
        sprint = await make_sprint(
            session,
            owner,
            project,
            status=SprintStatus.ACTIVE,
            starts_on=date(2026, 2, 23),
            ends_on=date(2026, 3, 6),
        )
        stories = [
            await make_story(session, owner, project, sprint_id=sprint.id, points=points)
            for points in (5, 3, 2, None)
        ]
        for story, status in zip(
            stories, (StoryStatus.DONE, StoryStatus.IN_PROGRESS, StoryStatus.DONE), strict=False
        ):
            await story_service.move(session, owner, project, story.key, StoryMove(status=status))
        return sprint, stories

    async def test_done_stay_and_the_rest_go_to_the_next_planned_sprint_top(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        sprint, (a, b, c, d) = await self._active_with_stories(session, owner, project)
        await make_sprint(session, owner, project, number=sprint.number - 1)  # not after it
        later = await make_sprint(session, owner, project, number=sprint.number + 5)
        following = await make_sprint(session, owner, project, number=sprint.number + 2)
        waiting = await make_story(session, owner, project, sprint_id=following.id)

        completion = await sprint_service.complete(
            session, owner, project, sprint.id, SprintComplete(), now=NOON
        )

        assert completion.sprint is sprint
        assert (sprint.status, sprint.starts_on, sprint.ends_on) == (
            SprintStatus.COMPLETED,
            date(2026, 2, 23),
            date(2026, 3, 2),  # ended today, four days early
        )
        assert (completion.completed, completion.completed_points) == ([a.key, c.key], 7)
        assert (completion.carried_over, completion.carried_over_points) == ([b.key, d.key], 3)
        assert completion.carried_over_to == following.number
        assert await _ids_in(session, owner, project, sprint.id) == [a.id, c.id]
        assert await _ids_in(session, owner, project, following.id) == [b.id, d.id, waiting.id]
        assert await _ids_in(session, owner, project, later.id) == []
        assert (await _moves(session, [b.id, d.id]))[-2:] == [
            (b.id, {"sprint_id": sprint.id}, {"sprint_id": following.id}),
            (d.id, {"sprint_id": sprint.id}, {"sprint_id": following.id}),
        ]
        assert (await _sprint_events(session, sprint))[-1] == {
            "status": "completed",
            "ends_on": "2026-03-02",
            "carried_over": {"to": following.id, "stories": {str(b.id): 3, str(d.id): 0}},
        }

    async def test_to_the_backlog_when_no_sprint_is_planned_after_it(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        sprint, (_a, b, _c, d) = await self._active_with_stories(session, owner, project)
        backlog = await make_story(session, owner, project)
        completion = await sprint_service.complete(
            session, owner, project, sprint.id, SprintComplete(), now=NOON
        )
        assert completion.carried_over_to is None
        assert await _ids_in(session, owner, project, None) == [b.id, d.id, backlog.id]

    async def test_to_a_chosen_sprint_or_the_backlog(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        sprint, (_a, b, _c, d) = await self._active_with_stories(session, owner, project)
        await make_sprint(session, owner, project, number=sprint.number + 1)
        chosen = await make_sprint(session, owner, project, number=sprint.number + 2)
        completion = await sprint_service.complete(
            session, owner, project, sprint.id, SprintComplete(carry_over_to=chosen.number)
        )
        assert completion.carried_over_to == chosen.number
        assert await _ids_in(session, owner, project, chosen.id) == [b.id, d.id]

        other, stories = await self._active_with_stories(session, owner, project)
        await make_sprint(session, owner, project, number=other.number + 1)
        done = await sprint_service.complete(
            session, owner, project, other.id, SprintComplete(carry_over_to="backlog")
        )
        assert done.carried_over_to is None
        assert await _ids_in(session, owner, project, None) == [stories[1].id, stories[3].id]

    async def test_a_finished_sprint_carries_nothing(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        sprint = await make_sprint(session, owner, project, status=SprintStatus.ACTIVE)
        completion = await sprint_service.complete(
            session, owner, project, sprint.id, SprintComplete(), now=NOON
        )
        assert (completion.carried_over, completion.carried_over_points) == ([], 0)
        # Started without dates: it ran today only.
        assert (sprint.starts_on, sprint.ends_on) == (date(2026, 3, 2), date(2026, 3, 2))

    @pytest.mark.parametrize(
        "status", [SprintStatus.PLANNED, SprintStatus.COMPLETED, SprintStatus.CANCELLED]
    )
    async def test_only_the_active_sprint_completes(
        self, session: AsyncSession, owner: User, project: Project, status: SprintStatus
    ) -> None:
        sprint = await make_sprint(session, owner, project, status=status)
        with pytest.raises(Conflict, match="only the active sprint completes"):
            await sprint_service.complete(session, owner, project, sprint.id, SprintComplete())

    @pytest.mark.parametrize(
        ("target", "error", "message"),
        [
            ("self", InvalidInput, "is the one being completed"),
            ("missing", InvalidInput, "carry_over_to: no sprint"),
            ("trashed", InvalidInput, "carry_over_to: no sprint"),
            ("completed", Conflict, "is completed; carry the stories over"),
        ],
    )
    async def test_bad_targets_change_nothing(
        self,
        session: AsyncSession,
        owner: User,
        project: Project,
        target: str,
        error: type[Exception],
        message: str,
    ) -> None:
        sprint, stories = await self._active_with_stories(session, owner, project)
        numbers = {"self": sprint.number, "missing": 999_999}
        if target in ("trashed", "completed"):
            other = await make_sprint(
                session,
                owner,
                project,
                status=SprintStatus(target) if target == "completed" else SprintStatus.PLANNED,
            )
            if target == "trashed":
                await sprint_service.delete(session, owner, project, other.id)
            numbers[target] = other.number
        before = await count_events(session)
        with pytest.raises(error, match=message):
            await sprint_service.complete(
                session, owner, project, sprint.id, SprintComplete(carry_over_to=numbers[target])
            )
        assert await count_events(session) == before
        assert sprint.status is SprintStatus.ACTIVE
        assert await _ids_in(session, owner, project, sprint.id) == [s.id for s in stories]

    async def test_member_cannot_complete(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        sprint = await make_sprint(session, owner, project, status=SprintStatus.ACTIVE)
        member = await make_member(session, project, Role.MEMBER)
        with pytest.raises(Forbidden):
            await sprint_service.complete(session, member, project, sprint.id, SprintComplete())


class TestConcurrentStarts:
    async def test_the_second_of_two_starts_waits_and_is_refused(
        self, fresh_database: TestDatabase
    ) -> None:
        """One sprint is active at a time even when two admins start two sprints at once: the
        second start waits for the first to commit (the project's row is held on PostgreSQL;
        SQLite takes its write lock up front), then finds the first sprint active."""
        sessionmaker = create_sessionmaker(fresh_database.engine)
        async with unit_of_work(sessionmaker) as session:
            owner = await make_user(session)
            project = await make_project(session, owner, key="CS")
            first = await make_sprint(session, owner, project, number=1)
            second = await make_sprint(session, owner, project, number=2)
        first_started = asyncio.Event()
        release_first = asyncio.Event()

        async def start(sprint_id: int, *, hold: bool) -> SprintStatus:
            async with unit_of_work(sessionmaker) as session:
                actor = await session.get(User, owner.id)
                in_project = await session.get(Project, project.id)
                assert actor is not None
                assert in_project is not None
                started = await sprint_service.start(
                    session, actor, in_project, sprint_id, SprintStart()
                )
                if hold:
                    first_started.set()
                    await release_first.wait()
                return started.status

        winner = asyncio.create_task(start(first.id, hold=True))
        await first_started.wait()
        loser = asyncio.create_task(start(second.id, hold=False))
        await asyncio.sleep(0.3)
        assert not loser.done(), "the second start must wait for the first to commit"
        release_first.set()
        assert await asyncio.wait_for(winner, timeout=30) is SprintStatus.ACTIVE
        with pytest.raises(Conflict, match="sprint 1 is active"):
            await asyncio.wait_for(loser, timeout=30)
