"""The ``story_days`` snapshot, kept by every change in the change's own transaction."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.analytics import snapshot
from plandeck.db import create_sessionmaker, unit_of_work
from plandeck.models import (
    ActivityEvent,
    EntityType,
    Project,
    StoryDay,
    StoryStatus,
    User,
)
from plandeck.models.base import utcnow
from plandeck.planfile.importer import import_document
from plandeck.planfile.sprint_plan import parse_sprint_plan
from plandeck.plans.projects import project_service
from plandeck.plans.schemas import ProjectUpdate, StoryMove, StoryUpdate, TrashKind
from plandeck.plans.stories import story_service
from plandeck.plans.trash import trash_service
from tests.conftest import TestDatabase
from tests.factories.accounts import make_user
from tests.factories.plans import make_project, make_sprint, make_story
from tests.statements import count_statements

PLAN = """# Phase 1: Launch - Planning

## Sprint 1: Foundations (Weeks 1-2)

**Sprint Goal**: Lay the ground.

### Story 1.1: Login (5 pts)
**Priority**: High
**Status**: In Progress

### Story 1.2: Logout (3 pts)
**Priority**: Low
**Status**: Done
"""


async def _rows(session: AsyncSession, project_id: int) -> list[tuple[Any, ...]]:
    await session.flush()
    table = StoryDay.__table__
    rows = await session.execute(
        select(
            table.c.story_id,
            table.c.day,
            table.c.until,
            table.c.status,
            table.c.points,
            table.c.sprint_id,
            table.c.phase_id,
            table.c.live,
        )
        .where(table.c.project_id == project_id)
        .order_by(table.c.story_id, table.c.day)
    )
    return [tuple(row) for row in rows]


async def _back_one_day(session: AsyncSession, project_id: int) -> None:
    """Make the project's snapshot rows a day older, as if they had been written yesterday."""
    table = StoryDay.__table__
    names = ("story_id", "day", "until", "status", "points", "sprint_id", "phase_id", "live")
    rows = [dict(zip(names, row, strict=True)) for row in await _rows(session, project_id)]
    await session.execute(delete(table).where(table.c.project_id == project_id))
    for row in rows:
        row["day"] -= timedelta(days=1)
        row["until"] = row["until"] and row["until"] - timedelta(days=1)
        await session.execute(table.insert().values(project_id=project_id, **row))


class TestKeptWithEachChange:
    async def test_equals_a_replay_of_the_whole_trail(
        self, session: AsyncSession, owner: User
    ) -> None:
        project = await make_project(session, owner)
        first = await make_sprint(session, owner, project)
        second = await make_sprint(session, owner, project)
        a = await make_story(session, owner, project, sprint_id=first.id, points=5)
        b = await make_story(session, owner, project, sprint_id=first.id, points=3)
        c = await make_story(session, owner, project, points=2)
        await story_service.update(session, owner, project, a.id, StoryUpdate(points=8))
        await story_service.move(
            session, owner, project, a.key, StoryMove(sprint=second.number, status=StoryStatus.DONE)
        )
        await story_service.delete(session, owner, project, b.id)
        await story_service.restore(session, owner, project, b.id)
        # The importer writes its events in bulk, past the flush listener.
        await import_document(session, owner, project, parse_sprint_plan(PLAN, "plan.md"))
        await story_service.delete(session, owner, project, c.id)
        await trash_service.purge(session, owner, project, TrashKind.STORY, c.id)

        kept = await _rows(session, project.id)
        await snapshot.rebuild(session, project.id)
        assert kept == await _rows(session, project.id)
        today = utcnow().date()
        by_story = {row[0]: row for row in kept}
        assert len(kept) == len(by_story) == 5  # one row a story: everything happened today
        assert by_story[a.id][1:] == (today, None, StoryStatus.DONE, 8, second.id, None, True)
        assert by_story[b.id][-1] is True
        assert by_story[c.id][-1] is False  # purged: in no scope
        imported = sorted(row[3:5] for story_id, row in by_story.items() if story_id > c.id)
        assert imported == [(StoryStatus.DONE, 3), (StoryStatus.IN_PROGRESS, 5)]

    async def test_a_change_on_a_new_day_closes_the_open_row(
        self, session: AsyncSession, owner: User
    ) -> None:
        project = await make_project(session, owner)
        story = await make_story(session, owner, project, points=5)
        await _back_one_day(session, project.id)
        await story_service.update(session, owner, project, story.id, StoryUpdate(points=2))
        await story_service.update(session, owner, project, story.id, StoryUpdate(points=1))
        today = utcnow().date()
        yesterday = today - timedelta(days=1)
        assert [row[1:3] + row[4:5] for row in await _rows(session, project.id)] == [
            (yesterday, today, 5),
            (today, None, 1),  # the day's last state, one row
        ]

    async def test_statements_do_not_grow_with_the_events(
        self, session: AsyncSession, owner: User
    ) -> None:
        project = await make_project(session, owner)
        stories = [await make_story(session, owner, project) for _ in range(6)]
        await session.flush()
        counts = []
        for group in (stories[:1], stories[1:]):
            for story in group:
                await story_service.update(session, owner, project, story.id, StoryUpdate(points=8))
            with count_statements(session) as statements:
                await session.flush()
            counts.append(len([s for s in statements if "story_days" in s]))
        assert counts[0] == counts[1] <= 3

    async def test_rows_go_with_their_project(self, session: AsyncSession, owner: User) -> None:
        project = await make_project(session, owner)
        await make_story(session, owner, project)
        assert await _rows(session, project.id)
        await project_service.delete(session, owner, project)
        await session.flush()
        assert await _rows(session, project.id) == []

    async def test_a_new_time_zone_moves_the_days(self, session: AsyncSession, owner: User) -> None:
        project = await make_project(session, owner)
        await make_story(session, owner, project)
        await session.flush()
        late = datetime.combine(date(2026, 3, 2), time(22, 30), tzinfo=UTC)
        await session.execute(
            update(ActivityEvent)
            .where(ActivityEvent.project_id == project.id)
            .values(created_at=late)
            .execution_options(synchronize_session=False)
        )
        await snapshot.rebuild(session, project.id)
        assert [row[1] for row in await _rows(session, project.id)] == [date(2026, 3, 2)]
        # 22:30 UTC is 02:00 the next morning in Tehran (UTC+3:30).
        await project_service.update(session, owner, project, ProjectUpdate(timezone="Asia/Tehran"))
        assert [row[1] for row in await _rows(session, project.id)] == [date(2026, 3, 3)]


class TestTransactions:
    async def test_a_failed_change_leaves_no_row(self, fresh_database: TestDatabase) -> None:
        sessionmaker = create_sessionmaker(fresh_database.engine)
        async with unit_of_work(sessionmaker) as session:
            owner = await make_user(session)
            project = await make_project(session, owner)
            project_id, owner_id = project.id, owner.id

        async def fail_after_a_change() -> None:
            async with unit_of_work(sessionmaker) as session:
                user = await session.get(User, owner_id)
                project = await session.get(Project, project_id)
                assert user is not None
                assert project is not None
                await make_story(session, user, project)
                await session.flush()
                assert await _rows(session, project_id)  # written, inside the transaction
                raise RuntimeError("the request fails after the change")

        with pytest.raises(RuntimeError, match="fails after the change"):
            await fail_after_a_change()
        async with unit_of_work(sessionmaker) as session:
            assert await _rows(session, project_id) == []

    async def test_fill_missing_rebuilds_projects_without_a_snapshot(
        self, fresh_database: TestDatabase
    ) -> None:
        sessionmaker = create_sessionmaker(fresh_database.engine)
        async with unit_of_work(sessionmaker) as session:
            owner = await make_user(session)
            project = await make_project(session, owner)
            await make_project(session, owner)  # no stories: nothing to fill
            await make_story(session, owner, project, points=5)
            project_id = project.id
            kept = await _rows(session, project_id)
            # As a database upgraded from before the snapshot has it: events, no rows.
            await session.execute(delete(StoryDay))
        assert await snapshot.fill_missing(fresh_database.engine) == 1
        assert await snapshot.fill_missing(fresh_database.engine) == 0
        async with unit_of_work(sessionmaker) as session:
            assert await _rows(session, project_id) == kept
            story_events = await session.scalar(
                select(func.count()).where(ActivityEvent.entity_type == EntityType.STORY)
            )
            assert story_events == 1
