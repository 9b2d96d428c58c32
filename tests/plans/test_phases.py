from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.errors import Conflict, Forbidden, NotFound, StaleVersion
from plandeck.models import (
    ActivityAction,
    ActivityEvent,
    EntityType,
    Phase,
    PhaseStatus,
    Project,
    Role,
    Sprint,
    Story,
    User,
)
from plandeck.plans.phases import phase_service
from plandeck.plans.schemas import PhaseCreate, PhaseUpdate, SprintUpdate, StoryUpdate
from plandeck.plans.sprints import sprint_service
from plandeck.plans.stories import story_service
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
    return await make_project(session, owner, key="PH")


async def _actions(session: AsyncSession, phase_id: int) -> list[ActivityAction]:
    return list(
        (
            await session.scalars(
                select(ActivityEvent.action)
                .where(
                    ActivityEvent.entity_type == EntityType.PHASE,
                    ActivityEvent.entity_id == phase_id,
                )
                .order_by(ActivityEvent.id)
            )
        ).all()
    )


async def _trashed_ids(
    session: AsyncSession, model: type[Sprint] | type[Story], project: Project
) -> set[int]:
    """Ids in the trash according to the database, not to objects held by the session."""
    return set(
        (
            await session.scalars(
                select(model.id).where(
                    model.project_id == project.id, model.deleted_at.is_not(None)
                )
            )
        ).all()
    )


class TestCreatePhase:
    def test_number_beyond_the_database_integer_is_refused(self) -> None:
        with pytest.raises(ValueError, match="less than or equal to 2147483647"):
            PhaseCreate(number=2**31, title="too far")

    async def test_admin_creates_with_fields_and_activity(
        self, session: AsyncSession, project: Project
    ) -> None:
        admin = await make_member(session, project, Role.ADMIN)
        phase = await phase_service.create(
            session,
            admin,
            project,
            PhaseCreate(number=3, title="Foundation", goals=["ship"], meta={"weeks": "1-4"}),
        )
        assert (phase.number, phase.title, phase.status, phase.goals, phase.version) == (
            3,
            "Foundation",
            PhaseStatus.PLANNING,
            ["ship"],
            1,
        )
        [event] = (
            await session.scalars(
                select(ActivityEvent).where(ActivityEvent.entity_type == EntityType.PHASE)
            )
        ).all()
        assert (event.action, event.actor_id, event.project_id, event.entity_id) == (
            ActivityAction.CREATED,
            admin.id,
            project.id,
            phase.id,
        )
        assert event.after is not None
        assert (event.after["number"], event.after["status"], event.after["meta"]) == (
            3,
            "planning",
            {"weeks": "1-4"},
        )

    async def test_member_cannot_create(self, session: AsyncSession, project: Project) -> None:
        member = await make_member(session, project, Role.MEMBER)
        with pytest.raises(Forbidden, match="only a project admin or above"):
            await make_phase(session, member, project)
        assert await phase_service.list_in(session, member, project) == []

    async def test_non_member_gets_not_found(self, session: AsyncSession, project: Project) -> None:
        with pytest.raises(NotFound):
            await make_phase(session, await make_user(session), project)

    async def test_duplicate_number_is_a_conflict(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        await make_phase(session, owner, project, number=1)
        events = await count_events(session)
        with pytest.raises(Conflict, match="PH already has a phase 1"):
            await make_phase(session, owner, project, number=1)
        assert await count_events(session) == events

    async def test_number_of_a_trashed_phase_is_a_conflict(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        trashed = await make_phase(session, owner, project, number=1)
        await phase_service.delete(session, owner, project, trashed.id)
        with pytest.raises(Conflict, match="perhaps in the trash"):
            await make_phase(session, owner, project, number=1)

    async def test_same_number_in_another_project_is_fine(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        other = await make_project(session, owner)
        await make_phase(session, owner, project, number=1)
        assert (await make_phase(session, owner, other, number=1)).number == 1


class TestReadPhases:
    async def test_lists_live_phases_by_number_and_the_trash_apart(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        third = await make_phase(session, owner, project, number=3)
        first = await make_phase(session, owner, project, number=1)
        trashed = await make_phase(session, owner, project, number=2)
        await phase_service.delete(session, owner, project, trashed.id)
        viewer = await make_member(session, project, Role.VIEWER)
        assert [p.id for p in await phase_service.list_in(session, viewer, project)] == [
            first.id,
            third.id,
        ]
        assert [
            p.id for p in await phase_service.list_in(session, viewer, project, in_trash=True)
        ] == [trashed.id]

    async def test_viewer_may_get(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        phase = await make_phase(session, owner, project)
        viewer = await make_member(session, project, Role.VIEWER)
        assert (await phase_service.get(session, viewer, project, phase.id)).id == phase.id

    async def test_phase_of_another_project_is_not_found(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        other = await make_project(session, owner)
        foreign = await make_phase(session, owner, other)
        with pytest.raises(NotFound, match=f"phase {foreign.id} not found in project PH"):
            await phase_service.get(session, owner, project, foreign.id)

    async def test_trashed_phase_is_not_found(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        phase = await make_phase(session, owner, project)
        await phase_service.delete(session, owner, project, phase.id)
        with pytest.raises(NotFound):
            await phase_service.get(session, owner, project, phase.id)

    async def test_non_member_cannot_list(self, session: AsyncSession, project: Project) -> None:
        with pytest.raises(NotFound):
            await phase_service.list_in(session, await make_user(session), project)


class TestUpdatePhase:
    async def test_update_bumps_version_and_records_diff(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        phase = await make_phase(session, owner, project, number=1, title="Old")
        updated = await phase_service.update(
            session,
            owner,
            project,
            phase.id,
            PhaseUpdate(title="New", status=PhaseStatus.ACTIVE, number=1, version=1),
        )
        assert (updated.title, updated.status, updated.version) == ("New", PhaseStatus.ACTIVE, 2)
        event = await session.scalar(
            select(ActivityEvent).where(
                ActivityEvent.entity_id == phase.id,
                ActivityEvent.entity_type == EntityType.PHASE,
                ActivityEvent.action == ActivityAction.UPDATED,
            )
        )
        assert event is not None
        assert (event.before, event.after) == (
            {"title": "Old", "status": "planning"},
            {"title": "New", "status": "active"},
        )

    async def test_member_cannot_update(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        phase = await make_phase(session, owner, project, title="Kept")
        member = await make_member(session, project, Role.MEMBER)
        with pytest.raises(Forbidden):
            await phase_service.update(session, member, project, phase.id, PhaseUpdate(title="x"))
        assert phase.title == "Kept"

    async def test_stale_version_changes_nothing(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        phase = await make_phase(session, owner, project, title="before")
        await phase_service.update(session, owner, project, phase.id, PhaseUpdate(title="first"))
        events = await count_events(session)
        with pytest.raises(StaleVersion, match="is at version 2, not 1"):
            await phase_service.update(
                session, owner, project, phase.id, PhaseUpdate(title="second", version=1)
            )
        await session.refresh(phase)
        assert (phase.title, phase.version) == ("first", 2)
        assert await count_events(session) == events

    async def test_renumbering_onto_a_taken_number_is_a_conflict(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        await make_phase(session, owner, project, number=1)
        trashed = await make_phase(session, owner, project, number=2)
        await phase_service.delete(session, owner, project, trashed.id)
        phase = await make_phase(session, owner, project, number=3)
        for taken in (1, 2):
            with pytest.raises(Conflict, match=f"already has a phase {taken}"):
                await phase_service.update(
                    session, owner, project, phase.id, PhaseUpdate(number=taken)
                )
        await session.refresh(phase)
        assert (phase.number, phase.version) == (3, 1)

    async def test_renumbering_to_a_free_number(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        phase = await make_phase(session, owner, project, number=3)
        await phase_service.update(session, owner, project, phase.id, PhaseUpdate(number=7))
        assert [p.number for p in await phase_service.list_in(session, owner, project)] == [7]

    async def test_null_fields_are_left_alone(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        phase = await make_phase(session, owner, project, title="Kept", goals=["g"])
        await phase_service.update(
            session, owner, project, phase.id, PhaseUpdate(title=None, goals=None)
        )
        assert (phase.title, phase.goals, phase.version) == ("Kept", ["g"], 1)

    async def test_trashed_phase_cannot_be_updated(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        phase = await make_phase(session, owner, project)
        await phase_service.delete(session, owner, project, phase.id)
        with pytest.raises(NotFound):
            await phase_service.update(session, owner, project, phase.id, PhaseUpdate(title="x"))


class TestPhaseTrash:
    async def test_delete_trashes_its_sprints_and_stories(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        phase = await make_phase(session, owner, project)
        sprint = await make_sprint(session, owner, project, phase_id=phase.id)
        in_sprint = await make_story(session, owner, project, sprint_id=sprint.id)
        loose = await make_story(session, owner, project, phase_id=phase.id)
        elsewhere = await make_story(session, owner, project)
        other_sprint = await make_sprint(session, owner, project)

        deleted = await phase_service.delete(session, owner, project, phase.id)

        assert deleted.deleted_at is not None
        assert await _trashed_ids(session, Sprint, project) == {sprint.id}
        assert await _trashed_ids(session, Story, project) == {in_sprint.id, loose.id}
        # The objects the session already holds agree with the database.
        assert (sprint.deleted_at, in_sprint.deleted_at, loose.deleted_at) == (
            deleted.deleted_at,
            deleted.deleted_at,
            deleted.deleted_at,
        )
        assert (elsewhere.deleted_at, other_sprint.deleted_at) == (None, None)
        assert [s.id for s in await story_service.list_in(session, owner, project)] == [
            elsewhere.id
        ]
        assert [s.id for s in await sprint_service.list_in(session, owner, project)] == [
            other_sprint.id
        ]
        assert await _actions(session, phase.id) == [ActivityAction.CREATED, ActivityAction.DELETED]

    async def test_stories_that_go_and_come_back_with_the_phase_record_it(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        # The analytics history reads a story's scope from its own events only.
        phase = await make_phase(session, owner, project)
        sprint = await make_sprint(session, owner, project, phase_id=phase.id)
        story = await make_story(session, owner, project, sprint_id=sprint.id)
        await phase_service.delete(session, owner, project, phase.id)
        await phase_service.restore(session, owner, project, phase.id)
        events = (
            await session.execute(
                select(ActivityEvent.action, ActivityEvent.before, ActivityEvent.after)
                .where(
                    ActivityEvent.entity_type == EntityType.STORY,
                    ActivityEvent.entity_id == story.id,
                )
                .order_by(ActivityEvent.id)
            )
        ).all()
        assert [event.action for event in events] == [
            ActivityAction.CREATED,
            ActivityAction.DELETED,
            ActivityAction.RESTORED,
        ]
        assert events[1].after["with_phase"] == phase.id
        assert events[2].before["with_phase"] == phase.id

    async def test_delete_takes_stories_of_its_sprints_that_have_no_phase(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        sprint = await make_sprint(session, owner, project)
        story = await make_story(session, owner, project, sprint_id=sprint.id)
        assert story.phase_id is None
        phase = await make_phase(session, owner, project)
        await sprint_service.update(
            session, owner, project, sprint.id, SprintUpdate(phase_id=phase.id)
        )

        await phase_service.delete(session, owner, project, phase.id)
        assert await _trashed_ids(session, Story, project) == {story.id}

        await phase_service.restore(session, owner, project, phase.id)
        assert await _trashed_ids(session, Story, project) == set()
        listed = await story_service.list_for_sprint(session, owner, project, sprint.id)
        assert [s.id for s in listed] == [story.id]

    async def test_restore_brings_back_exactly_what_went_with_it(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        phase = await make_phase(session, owner, project)
        sprint = await make_sprint(session, owner, project, phase_id=phase.id)
        kept = await make_story(session, owner, project, sprint_id=sprint.id)
        trashed_before = await make_story(session, owner, project, phase_id=phase.id)
        await story_service.delete(session, owner, project, trashed_before.id)
        await phase_service.delete(session, owner, project, phase.id)

        restored = await phase_service.restore(session, owner, project, phase.id)

        assert restored.deleted_at is None
        assert await _trashed_ids(session, Sprint, project) == set()
        assert await _trashed_ids(session, Story, project) == {trashed_before.id}
        assert (sprint.deleted_at, kept.deleted_at) == (None, None)
        assert trashed_before.deleted_at is not None
        assert [
            s.id for s in await story_service.list_for_sprint(session, owner, project, sprint.id)
        ] == [kept.id]
        assert await _actions(session, phase.id) == [
            ActivityAction.CREATED,
            ActivityAction.DELETED,
            ActivityAction.RESTORED,
        ]

    async def test_restored_children_stay_editable(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        phase = await make_phase(session, owner, project)
        sprint = await make_sprint(session, owner, project, phase_id=phase.id)
        story = await make_story(session, owner, project, sprint_id=sprint.id)
        await phase_service.delete(session, owner, project, phase.id)
        await phase_service.restore(session, owner, project, phase.id)
        current = (await story_service.get(session, owner, project, story.id)).version

        await story_service.update(
            session, owner, project, story.id, StoryUpdate(title="after restore", version=current)
        )

        title, version = (
            await session.execute(select(Story.title, Story.version).where(Story.id == story.id))
        ).one()
        assert (title, version) == ("after restore", current + 1)

    async def test_delete_with_stale_version_trashes_nothing(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        phase = await make_phase(session, owner, project)
        sprint = await make_sprint(session, owner, project, phase_id=phase.id)
        await phase_service.update(session, owner, project, phase.id, PhaseUpdate(title="v2"))
        with pytest.raises(StaleVersion):
            await phase_service.delete(session, owner, project, phase.id, expected_version=1)
        assert await _trashed_ids(session, Sprint, project) == set()
        assert (await phase_service.get(session, owner, project, phase.id)).id == phase.id
        assert sprint.deleted_at is None

    async def test_member_cannot_delete_or_restore(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        phase = await make_phase(session, owner, project)
        member = await make_member(session, project, Role.MEMBER)
        with pytest.raises(Forbidden):
            await phase_service.delete(session, member, project, phase.id)
        await phase_service.delete(session, owner, project, phase.id)
        with pytest.raises(Forbidden):
            await phase_service.restore(session, member, project, phase.id)
        assert [
            p.id for p in await phase_service.list_in(session, owner, project, in_trash=True)
        ] == [phase.id]

    async def test_restore_of_a_live_phase_is_not_found(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        phase = await make_phase(session, owner, project)
        with pytest.raises(NotFound, match="not found in the trash of project PH"):
            await phase_service.restore(session, owner, project, phase.id)

    async def test_purge_removes_the_phase_and_unlinks_its_sprints(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        phase = await make_phase(session, owner, project, number=5)
        sprint = await make_sprint(session, owner, project, phase_id=phase.id)
        await phase_service.delete(session, owner, project, phase.id)

        await phase_service.purge(session, owner, project, phase.id)

        assert await session.scalar(select(Phase.id).where(Phase.id == phase.id)) is None
        phase_id, deleted_at = (
            await session.execute(
                select(Sprint.phase_id, Sprint.deleted_at).where(Sprint.id == sprint.id)
            )
        ).one()
        assert phase_id is None, "the sprint stays in the project, unattached"
        assert deleted_at is not None, "and in the trash it went to with the phase"
        assert await _actions(session, phase.id) == [
            ActivityAction.CREATED,
            ActivityAction.DELETED,
            ActivityAction.PURGED,
        ]
        assert (await make_phase(session, owner, project, number=5)).number == 5

    async def test_purge_of_a_live_phase_is_not_found(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        phase = await make_phase(session, owner, project)
        with pytest.raises(NotFound):
            await phase_service.purge(session, owner, project, phase.id)
        assert (await phase_service.get(session, owner, project, phase.id)).id == phase.id
