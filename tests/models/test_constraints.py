from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.auth.users import user_service
from plandeck.errors import Conflict, InvalidInput, NotFound
from plandeck.kit.integrity import flush
from plandeck.models import (
    ActivityAction,
    ActivityEvent,
    Base,
    Comment,
    EntityType,
    Membership,
    Phase,
    Project,
    Role,
    Story,
    Task,
    User,
)
from tests.factories.accounts import make_user
from tests.factories.comments import make_comment
from tests.factories.plans import (
    add_member,
    make_phase,
    make_project,
    make_sprint,
    make_story,
    make_task,
)


@pytest.fixture
async def project(session: AsyncSession, owner: User) -> Project:
    return await make_project(session, owner, key="CK")


async def _count(session: AsyncSession, model: type[Base], *where: ColumnElement[bool]) -> int:
    return await session.scalar(select(func.count()).select_from(model).where(*where)) or 0


async def _save(session: AsyncSession, obj: Base, **changes: object) -> None:
    """Add or change ``obj`` and flush inside a savepoint, so a refusal leaves the session usable.

    The change is made inside the savepoint because ``begin_nested()`` first flushes what is pending.
    """
    async with session.begin_nested():
        for name, value in changes.items():
            setattr(obj, name, value)
        session.add(obj)
        await flush(session)


class TestUniqueConstraints:
    async def test_duplicate_user_email_is_a_conflict(self, session: AsyncSession) -> None:
        await make_user(session, email="twin@example.com")
        with pytest.raises(Conflict, match="a user with this email already exists") as caught:
            await _save(session, User(email="twin@example.com", name="Twin", password_hash="x"))
        assert caught.value.extra["constraint"] == "uq_users_email"
        assert await _count(session, User, User.email == "twin@example.com") == 1

    async def test_duplicate_project_key_is_a_conflict(
        self, session: AsyncSession, project: Project
    ) -> None:
        with pytest.raises(Conflict, match="a project with this key already exists") as caught:
            await _save(session, Project(key="CK", name="Copy"))
        assert caught.value.extra["constraint"] == "uq_projects_key"
        assert await _count(session, Project) == 1

    async def test_duplicate_phase_number_is_a_conflict(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        await make_phase(session, owner, project, number=4)
        with pytest.raises(Conflict, match="already has a phase with this number") as caught:
            await _save(session, Phase(project_id=project.id, number=4, title="Copy"))
        assert caught.value.extra["constraint"] == "uq_phases_project_id_number"
        assert await _count(session, Phase) == 1

    async def test_duplicate_story_key_is_a_conflict(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        await make_story(session, owner, project, key="1.1")
        with pytest.raises(Conflict, match="already has a story with this key") as caught:
            await _save(session, Story(project_id=project.id, key="1.1", title="Copy", rank="a0"))
        assert caught.value.extra["constraint"] == "uq_stories_project_id_key"

    async def test_second_membership_is_a_conflict(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        with pytest.raises(Conflict, match="already a member of the project"):
            await _save(
                session, Membership(project_id=project.id, user_id=owner.id, role=Role.VIEWER)
            )
        roles = (
            await session.scalars(
                select(Membership.role).where(Membership.project_id == project.id)
            )
        ).all()
        assert roles == [Role.OWNER]


class TestCheckConstraints:
    async def test_negative_points_set_on_the_model_are_invalid_input(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        story = await make_story(session, owner, project, points=3)
        with pytest.raises(
            InvalidInput, match="a value breaks the rule ck_stories_points_nonnegative"
        ) as caught:
            await _save(session, story, points=-1)
        assert caught.value.extra["constraint"] == "ck_stories_points_nonnegative"
        await session.refresh(story)
        assert (story.points, story.version) == (3, 1)

    async def test_empty_task_text_is_invalid_input(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        story = await make_story(session, owner, project)
        with pytest.raises(InvalidInput, match="ck_tasks_text_not_empty"):
            await _save(session, Task(story_id=story.id, text=""))
        assert await _count(session, Task) == 0

    async def test_sprint_ending_before_it_starts_is_invalid_input(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        sprint = await make_sprint(session, owner, project, starts_on=date(2026, 3, 2))
        with pytest.raises(InvalidInput, match="ck_sprints_dates_ordered"):
            await _save(session, sprint, ends_on=date(2026, 3, 1))
        await session.refresh(sprint)
        assert sprint.ends_on is None

    async def test_uppercase_email_is_invalid_input(self, session: AsyncSession) -> None:
        with pytest.raises(InvalidInput, match="ck_users_email_lowercase"):
            await _save(session, User(email="Loud@Example.com", name="Loud", password_hash="x"))

    async def test_missing_required_value_is_invalid_input(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        with pytest.raises(InvalidInput, match="a required value is missing"):
            await _save(session, Story(project_id=project.id, key="X-1", title=None, rank="a0"))


class TestOutOfRange:
    async def test_number_beyond_postgresql_integer_is_invalid_input(
        self, session: AsyncSession, project: Project
    ) -> None:
        phase = Phase(project_id=project.id, number=2**31, title="far")
        if session.get_bind().dialect.name == "sqlite":
            await _save(session, phase)  # SQLite integers are 64-bit
            assert phase.id is not None
        else:
            with pytest.raises(InvalidInput, match="out of range"):
                await _save(session, phase)


class TestForeignKeys:
    async def test_sprint_pointing_nowhere_is_not_found(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        story = await make_story(session, owner, project)
        with pytest.raises(NotFound, match="a referenced record does not exist"):
            await _save(session, story, sprint_id=999_999)
        await session.refresh(story)
        assert story.sprint_id is None

    async def test_task_of_a_missing_story_is_not_found(self, session: AsyncSession) -> None:
        with pytest.raises(NotFound):
            await _save(session, Task(story_id=999_999, text="orphan"))

    async def test_session_stays_usable_after_refused_changes(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        story = await make_story(session, owner, project)
        with pytest.raises(InvalidInput):
            await _save(session, story, points=-5)
        with pytest.raises(NotFound):
            await _save(session, story, sprint_id=999_999)
        await session.refresh(story)
        story.title = "still works"
        await flush(session)
        row = (
            await session.execute(
                select(Story.title, Story.points, Story.sprint_id).where(Story.id == story.id)
            )
        ).one()
        assert tuple(row) == ("still works", 3, None)


class TestTimestamps:
    async def test_timestamps_come_back_aware_utc(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        story = await make_story(session, owner, project)
        session.expire(story)
        await session.refresh(story)
        assert story.created_at.tzinfo is UTC
        assert story.updated_at.tzinfo is UTC
        assert abs(datetime.now(UTC) - story.created_at) < timedelta(minutes=5)
        created_at = await session.scalar(
            select(Project.created_at).where(Project.id == project.id)
        )
        assert created_at is not None
        assert created_at.tzinfo is UTC

    async def test_other_zones_are_stored_as_the_same_instant_in_utc(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        story = await make_story(session, owner, project)
        berlin_noon = datetime(2026, 7, 1, 12, 0, tzinfo=ZoneInfo("Europe/Berlin"))
        story.deleted_at = berlin_noon
        await flush(session)
        session.expire(story)
        await session.refresh(story)
        assert story.deleted_at == berlin_noon
        assert story.deleted_at is not None
        assert (story.deleted_at.tzinfo, story.deleted_at.hour) == (UTC, 10)
        found = await session.scalar(
            select(Story.id).where(Story.deleted_at == datetime(2026, 7, 1, 10, 0, tzinfo=UTC))
        )
        assert found == story.id, "comparisons in SQL see the same instant"

    async def test_naive_datetime_is_refused(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        story = await make_story(session, owner, project)
        with pytest.raises(StatementError, match="naive datetime") as caught:
            await _save(session, story, deleted_at=datetime(2026, 1, 1, 12, 0))  # noqa: DTZ001 - the value under test
        assert isinstance(caught.value.orig, ValueError)
        assert await _count(session, Story, Story.deleted_at.is_not(None)) == 0

    async def test_naive_datetime_in_a_query_is_refused(self, session: AsyncSession) -> None:
        with pytest.raises(StatementError, match="naive datetime"):
            await session.scalar(
                select(Story.id).where(Story.created_at > datetime(2026, 1, 1))  # noqa: DTZ001
            )


class TestDeleteUser:
    async def test_assigned_stories_stay_unassigned_and_memberships_go(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        leaver = await make_user(session)
        await add_member(session, project, leaver, Role.MEMBER)
        other_project = await make_project(session, owner)
        await add_member(session, other_project, leaver, Role.ADMIN)
        assigned = await make_story(session, owner, project, assignee_id=leaver.id)
        reported = await make_story(session, leaver, project)
        comment = await make_comment(session, leaver, project, reported)
        task = await make_task(session, leaver, project, reported)

        await user_service.delete(session, leaver, leaver)

        assert await session.scalar(select(User.id).where(User.id == leaver.id)) is None
        assert await _count(session, Membership, Membership.user_id == leaver.id) == 0
        rows = (
            await session.execute(
                select(Story.id, Story.assignee_id, Story.reporter_id)
                .where(Story.id.in_([assigned.id, reported.id]))
                .order_by(Story.id)
            )
        ).all()
        assert [tuple(r) for r in rows] == [
            (assigned.id, None, owner.id),
            (reported.id, None, None),
        ]
        assert (
            await session.scalar(select(Comment.author_id).where(Comment.id == comment.id)) is None
        )
        assert await session.scalar(select(Task.id).where(Task.id == task.id)) == task.id
        assert await _count(session, Membership, Membership.project_id == project.id) == 1
        deleted = await session.scalar(
            select(ActivityEvent).where(
                ActivityEvent.entity_type == EntityType.USER,
                ActivityEvent.entity_id == leaver.id,
                ActivityEvent.action == ActivityAction.DELETED,
            )
        )
        assert deleted is not None
        assert deleted.before is not None
        assert deleted.before["email"] == leaver.email

    async def test_only_owner_of_a_project_cannot_be_deleted(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        assigned = await make_story(session, owner, project, assignee_id=owner.id)
        with pytest.raises(Conflict, match=f"{owner.email} is the only owner of CK"):
            await user_service.delete(session, owner, owner)
        assert await session.scalar(select(User.id).where(User.id == owner.id)) == owner.id
        assert await _count(session, Membership, Membership.user_id == owner.id) == 1
        assignee = await session.scalar(select(Story.assignee_id).where(Story.id == assigned.id))
        assert assignee == owner.id

    async def test_one_of_two_owners_may_be_deleted(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        co_owner = await make_user(session)
        await add_member(session, project, co_owner, Role.OWNER)
        await user_service.delete(session, owner, owner)
        remaining = (
            await session.execute(
                select(Membership.user_id, Membership.role).where(
                    Membership.project_id == project.id
                )
            )
        ).all()
        assert [tuple(r) for r in remaining] == [(co_owner.id, Role.OWNER)]
