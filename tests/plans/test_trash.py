from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.auth.users import user_service
from plandeck.errors import Forbidden, NotFound
from plandeck.models import (
    ActivityAction,
    ActivityEvent,
    Comment,
    EntityType,
    Phase,
    Project,
    Role,
    Sprint,
    Story,
    Task,
    User,
)
from plandeck.models.base import utcnow
from plandeck.plans.comments import comment_service
from plandeck.plans.phases import phase_service
from plandeck.plans.schemas import TrashItem, TrashKind, UserSummary
from plandeck.plans.sprints import sprint_service
from plandeck.plans.stories import story_service
from plandeck.plans.tasks import task_service
from plandeck.plans.trash import trash_service
from tests.factories.accounts import make_user
from tests.factories.comments import make_comment
from tests.factories.plans import (
    make_member,
    make_phase,
    make_project,
    make_sprint,
    make_story,
    make_task,
)

OLD = timedelta(days=40)
RETENTION = timedelta(days=30)


@pytest.fixture
async def project(session: AsyncSession, owner: User) -> Project:
    return await make_project(session, owner)


def _listed(items: list[TrashItem]) -> list[tuple[str, str]]:
    return [(item.kind.value, item.label) for item in items]


async def _age(session: AsyncSession, *objects: Phase | Sprint | Story | Task | Comment) -> None:
    """Pretend these went to the trash long ago."""
    for obj in objects:
        assert obj.deleted_at is not None
        obj.deleted_at = obj.deleted_at - OLD
    await session.flush()


async def _count(session: AsyncSession, model: type[object], **where: object) -> int:
    statement = select(func.count()).select_from(model).filter_by(**where)
    return await session.scalar(statement) or 0


class TestListTrash:
    async def test_every_kind_newest_first_with_who_deleted_it(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        member = await make_member(session, project, Role.MEMBER)
        phase = await make_phase(session, owner, project, number=3, title="Beta")
        sprint = await make_sprint(session, owner, project, number=9, name="Board")
        story = await make_story(session, owner, project, key="9.1", title="Login")
        task = await make_task(session, owner, project, story, text="Write  the\nform")
        comment = await make_comment(session, member, project, story, body="x" * 100)
        await comment_service.delete(session, member, project, comment.id)
        await task_service.delete(session, member, project, task.id)
        await sprint_service.delete(session, owner, project, sprint.id)
        await phase_service.delete(session, owner, project, phase.id)

        items = await trash_service.list_trash(session, owner, project)

        assert _listed(items) == [
            ("phase", "Phase 3: Beta"),
            ("sprint", "Sprint 9: Board"),
            ("task", "Task of 9.1: Write the form"),
            ("comment", f"Comment on 9.1: {'x' * 79}…"),
        ]
        assert [item.id for item in items] == [phase.id, sprint.id, task.id, comment.id]
        assert [item.deleted_by for item in items] == [
            UserSummary.model_validate(owner),
            UserSummary.model_validate(owner),
            UserSummary.model_validate(member),
            UserSummary.model_validate(member),
        ]
        assert items[0].deleted_at == phase.deleted_at

    async def test_what_went_with_a_phase_names_who_trashed_the_phase(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        admin = await make_member(session, project, Role.ADMIN)
        phase = await make_phase(session, owner, project)
        sprint = await make_sprint(session, owner, project, phase_id=phase.id)
        story = await make_story(session, owner, project, sprint_id=sprint.id)
        # An earlier delete and restore of the story by somebody else is not the answer.
        await story_service.delete(session, owner, project, story.id)
        await story_service.restore(session, owner, project, story.id)
        await phase_service.delete(session, admin, project, phase.id)

        items = await trash_service.list_trash(session, owner, project)

        assert {(item.kind, item.id) for item in items} == {
            (TrashKind.PHASE, phase.id),
            (TrashKind.SPRINT, sprint.id),
            (TrashKind.STORY, story.id),
        }
        assert [item.deleted_by for item in items] == [UserSummary.model_validate(admin)] * 3

    async def test_items_of_a_trashed_story_go_and_come_with_it(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        story = await make_story(session, owner, project, key="S-1", title="One")
        task = await make_task(session, owner, project, story)
        await task_service.delete(session, owner, project, task.id)
        await story_service.delete(session, owner, project, story.id)

        assert _listed(await trash_service.list_trash(session, owner, project)) == [
            ("story", "S-1 One")
        ]

        await trash_service.restore(session, owner, project, TrashKind.STORY, story.id)
        assert _listed(await trash_service.list_trash(session, owner, project)) == [
            ("task", "Task of S-1: A task")
        ]

    async def test_deleter_whose_account_is_gone_is_unknown(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        leaver = await make_member(session, project, Role.MEMBER)
        story = await make_story(session, owner, project)
        await story_service.delete(session, leaver, project, story.id)
        await user_service.delete(session, leaver, leaver)
        # The database cleared the events' actor; the copies this session holds must reload.
        for obj in list(session.identity_map.values()):
            if isinstance(obj, ActivityEvent):
                session.expire(obj)

        (item,) = await trash_service.list_trash(session, owner, project)
        assert (item.id, item.deleted_by) == (story.id, None)

    async def test_other_projects_stay_apart(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        other = await make_project(session, owner)
        story = await make_story(session, owner, other)
        await story_service.delete(session, owner, other, story.id)
        assert await trash_service.list_trash(session, owner, project) == []

    async def test_viewer_may_list_and_non_member_may_not(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        viewer = await make_member(session, project, Role.VIEWER)
        assert await trash_service.list_trash(session, viewer, project) == []
        with pytest.raises(NotFound):
            await trash_service.list_trash(session, await make_user(session), project)


class TestRestoreAndPurge:
    async def test_restore_takes_the_role_that_may_delete(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        member = await make_member(session, project, Role.MEMBER)
        sprint = await make_sprint(session, owner, project)
        story = await make_story(session, owner, project)
        await sprint_service.delete(session, owner, project, sprint.id)
        await story_service.delete(session, owner, project, story.id)

        with pytest.raises(Forbidden):
            await trash_service.restore(session, member, project, TrashKind.SPRINT, sprint.id)
        await trash_service.restore(session, member, project, TrashKind.STORY, story.id)
        assert story.deleted_at is None

    async def test_a_comment_comes_back_by_its_author_or_an_admin(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        author = await make_member(session, project, Role.MEMBER)
        other = await make_member(session, project, Role.MEMBER)
        story = await make_story(session, owner, project)
        comment = await make_comment(session, author, project, story)
        await comment_service.delete(session, author, project, comment.id)

        with pytest.raises(Forbidden):
            await trash_service.restore(session, other, project, TrashKind.COMMENT, comment.id)
        await trash_service.restore(session, author, project, TrashKind.COMMENT, comment.id)
        assert comment.deleted_at is None

    async def test_purge_is_for_admins_and_recorded(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        member = await make_member(session, project, Role.MEMBER)
        story = await make_story(session, owner, project)
        task = await make_task(session, owner, project, story)
        await task_service.delete(session, owner, project, task.id)

        with pytest.raises(Forbidden):
            await trash_service.purge(session, member, project, TrashKind.TASK, task.id)
        await trash_service.purge(session, owner, project, TrashKind.TASK, task.id)

        assert await _count(session, Task, id=task.id) == 0
        assert await trash_service.list_trash(session, owner, project) == []
        with pytest.raises(NotFound):
            await trash_service.restore(session, owner, project, TrashKind.TASK, task.id)


class TestPurgeOlderThan:
    async def test_only_what_is_older_than_the_age_goes(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        old_sprint = await make_sprint(session, owner, project)
        new_sprint = await make_sprint(session, owner, project)
        live_story = await make_story(session, owner, project)
        old_comment = await make_comment(session, owner, project, live_story)
        for sprint in (old_sprint, new_sprint):
            await sprint_service.delete(session, owner, project, sprint.id)
        await comment_service.delete(session, owner, project, old_comment.id)
        await _age(session, old_sprint, old_comment)

        purged = await trash_service.purge_older_than(session, RETENTION)

        assert purged == {
            TrashKind.COMMENT: 1,
            TrashKind.TASK: 0,
            TrashKind.STORY: 0,
            TrashKind.SPRINT: 1,
            TrashKind.PHASE: 0,
        }
        assert await _count(session, Sprint, id=old_sprint.id) == 0
        assert await _count(session, Comment, id=old_comment.id) == 0
        assert await _count(session, Sprint, id=new_sprint.id) == 1
        assert await _count(session, Story, id=live_story.id) == 1

    async def test_each_purge_is_recorded_by_the_system(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        phase = await make_phase(session, owner, project, number=4, title="Old")
        await phase_service.delete(session, owner, project, phase.id)
        await _age(session, phase)

        await trash_service.purge_older_than(session, RETENTION)

        event = await session.scalar(
            select(ActivityEvent).where(
                ActivityEvent.entity_type == EntityType.PHASE,
                ActivityEvent.entity_id == phase.id,
                ActivityEvent.action == ActivityAction.PURGED,
            )
        )
        assert event is not None
        assert (event.actor_id, event.project_id) == (None, project.id)
        assert event.before is not None
        assert (event.before["number"], event.before["title"]) == (4, "Old")

    async def test_a_phase_goes_with_everything_that_went_with_it(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        phase = await make_phase(session, owner, project)
        sprint = await make_sprint(session, owner, project, phase_id=phase.id)
        story = await make_story(session, owner, project, sprint_id=sprint.id)
        parent = await make_task(session, owner, project, story)
        child = await make_task(session, owner, project, story, parent_id=parent.id)
        comment = await make_comment(session, owner, project, story)
        await task_service.delete(session, owner, project, child.id)
        await task_service.delete(session, owner, project, parent.id)
        await phase_service.delete(session, owner, project, phase.id)
        await _age(session, phase, sprint, story, parent, child)

        purged = await trash_service.purge_older_than(session, RETENTION)

        assert purged == {
            TrashKind.COMMENT: 0,
            TrashKind.TASK: 2,
            TrashKind.STORY: 1,
            TrashKind.SPRINT: 1,
            TrashKind.PHASE: 1,
        }
        for model, entity_id in (
            (Phase, phase.id),
            (Sprint, sprint.id),
            (Story, story.id),
            (Task, parent.id),
            (Comment, comment.id),
        ):
            assert await _count(session, model, id=entity_id) == 0

    async def test_zero_days_empties_every_trash(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        other = await make_project(session, owner)
        mine = await make_story(session, owner, project)
        theirs = await make_story(session, owner, other)
        await story_service.delete(session, owner, project, mine.id)
        await story_service.delete(session, owner, other, theirs.id)

        purged = await trash_service.purge_older_than(session, timedelta(0))

        assert purged[TrashKind.STORY] == 2
        assert await trash_service.list_trash(session, owner, project) == []
        assert await trash_service.list_trash(session, owner, other) == []

    async def test_nothing_old_purges_nothing(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        story = await make_story(session, owner, project)
        await story_service.delete(session, owner, project, story.id)
        before = utcnow()
        purged = await trash_service.purge_older_than(session, RETENTION)
        assert set(purged.values()) == {0}
        assert story.deleted_at is not None
        assert story.deleted_at < before
        assert await _count(session, Story, id=story.id) == 1
