from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.errors import Conflict, Forbidden, InvalidInput, NotFound, StaleVersion
from plandeck.models import (
    ActivityAction,
    ActivityEvent,
    EntityType,
    MoSCoW,
    Priority,
    Role,
    Story,
    StoryStatus,
    User,
)
from plandeck.plans.schemas import StoryCreate, StoryUpdate
from plandeck.plans.stories import story_service
from tests.factories.accounts import make_user
from tests.factories.plans import add_member, make_phase, make_project, make_sprint, make_story


class TestCreateStory:
    async def test_creates_with_fields_and_activity(
        self, session: AsyncSession, owner: User
    ) -> None:
        project = await make_project(session, owner)
        phase = await make_phase(session, owner, project, number=3)
        sprint = await make_sprint(session, owner, project, number=9, phase_id=phase.id)
        story = await story_service.create(
            session,
            owner,
            project,
            StoryCreate(
                key="9.1",
                title="Database Connection & Migration",
                points=8,
                priority=Priority.HIGH,
                moscow=MoSCoW.MUST,
                sprint_id=sprint.id,
            ),
        )
        assert (story.key, story.points, story.priority, story.status, story.version) == (
            "9.1",
            8,
            Priority.HIGH,
            StoryStatus.DRAFT,
            1,
        )
        assert story.phase_id == phase.id, "a story in a sprint joins the sprint's phase"
        assert story.created_at.tzinfo is not None
        events = (
            await session.scalars(
                select(ActivityEvent).where(
                    ActivityEvent.entity_type == EntityType.STORY,
                    ActivityEvent.entity_id == story.id,
                )
            )
        ).all()
        assert [(e.action, e.actor_id, e.after and e.after["key"]) for e in events] == [
            (ActivityAction.CREATED, owner.id, "9.1")
        ]

    async def test_generates_keys_per_sprint_and_backlog(
        self, session: AsyncSession, owner: User
    ) -> None:
        project = await make_project(session, owner, key="PD")
        sprint = await make_sprint(session, owner, project, number=4)
        keys = [
            (await make_story(session, owner, project, sprint_id=sprint.id)).key,
            (await make_story(session, owner, project, sprint_id=sprint.id)).key,
            (await make_story(session, owner, project)).key,
            (await make_story(session, owner, project)).key,
        ]
        assert keys == ["4.1", "4.2", "PD-1", "PD-2"]

    async def test_ranks_append_in_order(self, session: AsyncSession, owner: User) -> None:
        project = await make_project(session, owner)
        stories = [await make_story(session, owner, project, title=f"s{i}") for i in range(5)]
        listed = await story_service.list_for_sprint(session, owner, project, None)
        assert [s.title for s in listed] == [s.title for s in stories]

    async def test_duplicate_key_is_a_conflict(self, session: AsyncSession, owner: User) -> None:
        project = await make_project(session, owner)
        await make_story(session, owner, project, key="1.1")
        with pytest.raises(Conflict, match=r"already has a story 1\.1"):
            await make_story(session, owner, project, key="1.1")

    async def test_unknown_sprint_is_invalid_input(
        self, session: AsyncSession, owner: User
    ) -> None:
        project = await make_project(session, owner)
        with pytest.raises(InvalidInput, match="sprint_id: no sprint 999999"):
            await make_story(session, owner, project, sprint_id=999_999)

    async def test_sprint_of_another_project_is_invalid_input(
        self, session: AsyncSession, owner: User
    ) -> None:
        project = await make_project(session, owner)
        other = await make_project(session, owner)
        foreign_sprint = await make_sprint(session, owner, other)
        with pytest.raises(InvalidInput):
            await make_story(session, owner, project, sprint_id=foreign_sprint.id)

    async def test_assignee_must_be_a_member(self, session: AsyncSession, owner: User) -> None:
        project = await make_project(session, owner)
        stranger = await make_user(session)
        with pytest.raises(InvalidInput, match="not a member"):
            await make_story(session, owner, project, assignee_id=stranger.id)

    async def test_viewer_cannot_create(self, session: AsyncSession, owner: User) -> None:
        project = await make_project(session, owner)
        viewer = await make_user(session)
        await add_member(session, project, viewer, Role.VIEWER)
        with pytest.raises(Forbidden, match="you are a viewer"):
            await make_story(session, viewer, project)

    async def test_non_member_gets_not_found(self, session: AsyncSession, owner: User) -> None:
        project = await make_project(session, owner)
        stranger = await make_user(session)
        with pytest.raises(NotFound):
            await make_story(session, stranger, project)

    async def test_negative_points_refused_by_schema(self) -> None:
        with pytest.raises(ValueError, match="greater than or equal to 0"):
            StoryCreate(title="x", points=-1)


class TestGeneratedKeys:
    async def test_a_long_project_key_still_gives_keys_that_fit(
        self, session: AsyncSession, owner: User
    ) -> None:
        project = await make_project(session, owner, key="A" * 32)
        first = await story_service.create(session, owner, project, StoryCreate(title="One"))
        second = await story_service.create(session, owner, project, StoryCreate(title="Two"))
        assert first.key == "A" * 20 + "-1"
        assert second.key == "A" * 20 + "-2"

    def test_a_story_key_cannot_hold_a_slash(self) -> None:
        with pytest.raises(ValueError, match="pattern"):
            StoryCreate(key="9/1", title="x")


class TestGetStoryByKey:
    async def test_finds_a_live_story_by_key(self, session: AsyncSession, owner: User) -> None:
        project = await make_project(session, owner)
        story = await make_story(session, owner, project, key="9.1")
        assert (await story_service.get_by_key(session, owner, project, "9.1")).id == story.id

    async def test_trashed_or_unknown_key_is_not_found(
        self, session: AsyncSession, owner: User
    ) -> None:
        project = await make_project(session, owner)
        story = await make_story(session, owner, project, key="9.1")
        await story_service.delete(session, owner, project, story.id)
        for key in ("9.1", "9.2"):
            with pytest.raises(NotFound, match=f"story {key} not found"):
                await story_service.get_by_key(session, owner, project, key)


class TestUpdateStory:
    async def test_update_bumps_version_and_records_diff(
        self, session: AsyncSession, owner: User
    ) -> None:
        project = await make_project(session, owner)
        story = await make_story(session, owner, project, points=3)
        updated = await story_service.update(
            session,
            owner,
            project,
            story.id,
            StoryUpdate(points=5, status=StoryStatus.IN_PROGRESS, version=1),
        )
        assert (updated.points, updated.status, updated.version) == (5, StoryStatus.IN_PROGRESS, 2)
        event = await session.scalar(
            select(ActivityEvent).where(
                ActivityEvent.entity_id == story.id, ActivityEvent.action == ActivityAction.UPDATED
            )
        )
        assert event is not None
        assert event.before == {"points": 3, "status": "draft"}
        assert event.after == {"points": 5, "status": "in_progress"}

    async def test_stale_version_changes_nothing(self, session: AsyncSession, owner: User) -> None:
        project = await make_project(session, owner)
        story = await make_story(session, owner, project, title="before")
        await story_service.update(
            session, owner, project, story.id, StoryUpdate(title="first", version=1)
        )
        with pytest.raises(StaleVersion, match="is at version 2, not 1"):
            await story_service.update(
                session, owner, project, story.id, StoryUpdate(title="second", version=1)
            )
        await session.refresh(story)
        assert (story.title, story.version) == ("first", 2)

    async def test_update_without_changes_writes_nothing(
        self, session: AsyncSession, owner: User
    ) -> None:
        project = await make_project(session, owner)
        story = await make_story(session, owner, project, title="same")
        await story_service.update(session, owner, project, story.id, StoryUpdate(title="same"))
        assert story.version == 1

    async def test_moving_to_a_sprint_appends_at_its_end(
        self, session: AsyncSession, owner: User
    ) -> None:
        project = await make_project(session, owner)
        sprint = await make_sprint(session, owner, project)
        first = await make_story(session, owner, project, sprint_id=sprint.id)
        moved = await make_story(session, owner, project)
        await story_service.update(
            session, owner, project, moved.id, StoryUpdate(sprint_id=sprint.id)
        )
        listed = await story_service.list_for_sprint(session, owner, project, sprint.id)
        assert [s.id for s in listed] == [first.id, moved.id]

    async def test_null_title_refused(self) -> None:
        with pytest.raises(ValueError, match="title cannot be null"):
            StoryUpdate(title=None)

    async def test_member_may_edit_viewer_may_not(self, session: AsyncSession, owner: User) -> None:
        project = await make_project(session, owner)
        story = await make_story(session, owner, project)
        member, viewer = await make_user(session), await make_user(session)
        await add_member(session, project, member, Role.MEMBER)
        await add_member(session, project, viewer, Role.VIEWER)
        await story_service.update(
            session, member, project, story.id, StoryUpdate(title="by member")
        )
        with pytest.raises(Forbidden):
            await story_service.update(
                session, viewer, project, story.id, StoryUpdate(title="by viewer")
            )
        assert story.title == "by member"


class TestStoryTrash:
    async def test_delete_restore_purge(self, session: AsyncSession, owner: User) -> None:
        project = await make_project(session, owner)
        story = await make_story(session, owner, project, key="7.1")
        await story_service.delete(session, owner, project, story.id)
        assert story.deleted_at is not None
        with pytest.raises(NotFound):
            await story_service.get(session, owner, project, story.id)
        assert [
            s.id for s in await story_service.list_in(session, owner, project, in_trash=True)
        ] == [story.id]
        with pytest.raises(Conflict, match="perhaps in the trash"):
            await make_story(session, owner, project, key="7.1")

        await story_service.restore(session, owner, project, story.id)
        assert (await story_service.get(session, owner, project, story.id)).key == "7.1"

        await story_service.delete(session, owner, project, story.id)
        await story_service.purge(session, owner, project, story.id)
        assert await session.get(Story, story.id) is None
        actions = (
            await session.scalars(
                select(ActivityEvent.action)
                .where(
                    ActivityEvent.entity_type == EntityType.STORY,
                    ActivityEvent.entity_id == story.id,
                )
                .order_by(ActivityEvent.id)
            )
        ).all()
        assert actions == [
            ActivityAction.CREATED,
            ActivityAction.DELETED,
            ActivityAction.RESTORED,
            ActivityAction.DELETED,
            ActivityAction.PURGED,
        ]

    async def test_member_cannot_purge(self, session: AsyncSession, owner: User) -> None:
        project = await make_project(session, owner)
        member = await make_user(session)
        await add_member(session, project, member, Role.MEMBER)
        story = await make_story(session, member, project)
        await story_service.delete(session, member, project, story.id)
        with pytest.raises(Forbidden):
            await story_service.purge(session, member, project, story.id)

    async def test_restore_of_live_story_is_not_found(
        self, session: AsyncSession, owner: User
    ) -> None:
        project = await make_project(session, owner)
        story = await make_story(session, owner, project)
        with pytest.raises(NotFound, match="trash"):
            await story_service.restore(session, owner, project, story.id)
