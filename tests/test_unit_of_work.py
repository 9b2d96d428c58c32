"""Transactions commit whole or not at all, and concurrent updates never lose a write."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from plandeck import db as db_module
from plandeck.db import create_engine, create_sessionmaker, unit_of_work
from plandeck.errors import Conflict
from plandeck.models import ActivityAction, ActivityEvent, Project, Story, User
from plandeck.plans.schemas import StoryUpdate
from plandeck.plans.stories import story_service
from tests.databases import TestDatabase
from tests.factories.accounts import make_user
from tests.factories.plans import make_project, make_story


async def _seed(db: TestDatabase) -> tuple[int, int, int]:
    async with unit_of_work(create_sessionmaker(db.engine)) as session:
        owner = await make_user(session)
        project = await make_project(session, owner, key="UOW")
        story = await make_story(session, owner, project, key="1.1", title="original")
        return owner.id, project.id, story.id


async def _count(db: TestDatabase, model: type[Project] | type[Story] | type[ActivityEvent]) -> int:
    async with unit_of_work(create_sessionmaker(db.engine), read_only=True) as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


class TestUnitOfWork:
    async def test_commits_everything_at_the_end(self, fresh_database: TestDatabase) -> None:
        await _seed(fresh_database)
        assert await _count(fresh_database, Story) == 1
        assert await _count(fresh_database, ActivityEvent) == 2  # project and story created

    async def test_error_halfway_leaves_nothing(self, fresh_database: TestDatabase) -> None:
        sessionmaker = create_sessionmaker(fresh_database.engine)
        events_before = await _count(fresh_database, ActivityEvent)

        async def work() -> None:
            async with unit_of_work(sessionmaker) as session:
                owner = await make_user(session)
                project = await make_project(session, owner, key="HALF")
                await make_story(session, owner, project, key="1.1")
                await make_story(session, owner, project, key="1.1")  # duplicate: fails here

        with pytest.raises(Conflict):
            await work()
        assert await _count(fresh_database, Project) == 0
        assert await _count(fresh_database, Story) == 0
        assert await _count(fresh_database, ActivityEvent) == events_before

    async def test_exception_in_caller_rolls_back(self, fresh_database: TestDatabase) -> None:
        sessionmaker = create_sessionmaker(fresh_database.engine)

        async def work() -> None:
            async with unit_of_work(sessionmaker) as session:
                owner = await make_user(session)
                await make_project(session, owner, key="BOOM")
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            await work()
        assert await _count(fresh_database, Project) == 0


class TestConcurrentUpdates:
    async def test_two_clients_with_the_same_version_one_wins(
        self, fresh_database: TestDatabase
    ) -> None:
        """Both clients read version 1 earlier (say, two browser tabs); both save at once."""
        owner_id, project_id, story_id = await _seed(fresh_database)
        sessionmaker = create_sessionmaker(fresh_database.engine)

        async def save(title: str) -> str:
            async with unit_of_work(sessionmaker) as session:
                owner = await session.get_one(User, owner_id)
                project = await session.get_one(Project, project_id)
                await story_service.update(
                    session, owner, project, story_id, StoryUpdate(title=title, version=1)
                )
            return title

        results = await asyncio.gather(save("A"), save("B"), return_exceptions=True)
        await _assert_one_winner(sessionmaker, story_id, results)

    async def test_race_inside_transactions_one_wins(self, fresh_database: TestDatabase) -> None:
        """Both transactions have read version 1 before either writes (PostgreSQL READ COMMITTED)."""
        if fresh_database.kind == "sqlite":
            pytest.skip("SQLite serialises writing transactions, so they cannot interleave")
        owner_id, project_id, story_id = await _seed(fresh_database)
        sessionmaker = create_sessionmaker(fresh_database.engine)
        both_read = asyncio.Barrier(2)

        async def save(title: str) -> str:
            async with unit_of_work(sessionmaker) as session:
                owner = await session.get_one(User, owner_id)
                project = await session.get_one(Project, project_id)
                story = await story_service.get(session, owner, project, story_id)
                assert story.version == 1
                await asyncio.wait_for(both_read.wait(), timeout=10)
                await story_service.update(
                    session, owner, project, story_id, StoryUpdate(title=title, version=1)
                )
            return title

        results = await asyncio.gather(save("A"), save("B"), return_exceptions=True)
        await _assert_one_winner(sessionmaker, story_id, results)


async def _assert_one_winner(
    sessionmaker: async_sessionmaker[AsyncSession], story_id: int, results: list[object]
) -> None:
    winners = [r for r in results if isinstance(r, str)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1, results
    assert len(losers) == 1, results
    assert isinstance(losers[0], Conflict), results
    async with unit_of_work(sessionmaker, read_only=True) as session:
        story = await session.get_one(Story, story_id)
        assert (story.title, story.version) == (winners[0], 2)
        updates = await session.scalar(
            select(func.count())
            .select_from(ActivityEvent)
            .where(
                ActivityEvent.entity_id == story_id,
                ActivityEvent.action == ActivityAction.UPDATED,
            )
        )
        assert updates == 1, "the loser's activity event must not be written either"


class TestPooledConnections:
    """A connection the server closed while it sat in the pool is replaced, not handed out."""

    async def _backend_pid(self, sessionmaker: async_sessionmaker[AsyncSession]) -> int:
        async with unit_of_work(sessionmaker, read_only=True) as session:
            return int(await session.scalar(select(func.pg_backend_pid())) or 0)

    async def _terminate(self, database: TestDatabase, pid: int) -> None:
        admin = create_engine(database.url.replace("postgresql://", "postgresql+asyncpg://"))
        try:
            async with admin.connect() as connection:
                assert await connection.scalar(select(func.pg_terminate_backend(pid)))
        finally:
            await admin.dispose()

    def _engine(self, database: TestDatabase) -> AsyncEngine:
        if database.kind != "postgresql":
            pytest.skip("SQLite has no server to close connections")
        url = database.url.replace("postgresql://", "postgresql+asyncpg://")
        return create_engine(url, pool_size=1, max_overflow=0)

    async def test_a_connection_killed_while_pooled_is_replaced(
        self, database: TestDatabase
    ) -> None:
        engine = self._engine(database)
        sessionmaker = create_sessionmaker(engine)
        try:
            first = await self._backend_pid(sessionmaker)
            assert await self._backend_pid(sessionmaker) == first  # pooled, reused
            await self._terminate(database, first)
            await asyncio.sleep(0.2)  # asyncpg sees the socket close while pooled
            second = await self._backend_pid(sessionmaker)
            assert second not in (0, first)
        finally:
            await engine.dispose()

    async def test_an_idle_connection_is_pinged_and_kept_when_it_answers(
        self, database: TestDatabase, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        engine = self._engine(database)
        sessionmaker = create_sessionmaker(engine)
        try:
            first = await self._backend_pid(sessionmaker)
            monkeypatch.setattr(db_module, "_PING_AFTER_IDLE", -1.0)  # every checkout pings
            assert await self._backend_pid(sessionmaker) == first
        finally:
            await engine.dispose()


class TestJsonColumns:
    def test_integers_beyond_64_bits_still_read_back(self) -> None:
        # orjson refuses them; the standard library reads them.
        assert db_module._json_loads('{"n": 18446744073709551616, "s": "ok"}') == {
            "n": 18446744073709551616,
            "s": "ok",
        }
        assert db_module._json_loads('[1, "two"]') == [1, "two"]
