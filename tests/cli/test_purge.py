"""plandeck purge, run as an operator runs it (from cron, say) against SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from plandeck.db import create_sessionmaker, unit_of_work
from plandeck.models import ActivityAction, ActivityEvent, EntityType, Story
from plandeck.plans.stories import story_service
from tests.databases import TestDatabase
from tests.factories.accounts import make_user
from tests.factories.plans import make_project, make_story
from tests.processes import env_for, run_cli

pytestmark = pytest.mark.slow


@dataclass
class Stories:
    old: int  # in the trash for 40 days
    recent: int  # in the trash since just now
    live: int


@pytest.fixture
async def stories(fresh_database: TestDatabase) -> Stories:
    async with unit_of_work(create_sessionmaker(fresh_database.engine)) as session:
        owner = await make_user(session)
        project = await make_project(session, owner)
        old, recent, live = [await make_story(session, owner, project) for _ in range(3)]
        for story in (old, recent):
            await story_service.delete(session, owner, project, story.id)
        assert old.deleted_at is not None
        old.deleted_at -= timedelta(days=40)
        return Stories(old.id, recent.id, live.id)


async def _story_ids(database: TestDatabase) -> set[int]:
    async with unit_of_work(create_sessionmaker(database.engine), read_only=True) as session:
        return set(await session.scalars(select(Story.id)))


async def _purge_events(database: TestDatabase) -> list[tuple[int, int | None]]:
    async with unit_of_work(create_sessionmaker(database.engine), read_only=True) as session:
        events = await session.scalars(
            select(ActivityEvent).where(ActivityEvent.action == ActivityAction.PURGED)
        )
        return [(e.entity_id, e.actor_id) for e in events if e.entity_type is EntityType.STORY]


def _purge(database: TestDatabase, workdir: Path, *args: str, **env: str) -> tuple[int, str, str]:
    result = run_cli("purge", *args, env=env_for(database.url, workdir, **env), cwd=workdir)
    return result.returncode, result.stdout.strip(), result.stderr.strip()


class TestPurge:
    async def test_default_retention_purges_what_is_older(
        self, fresh_database: TestDatabase, stories: Stories, tmp_path: Path
    ) -> None:
        code, out, err = _purge(fresh_database, tmp_path)
        assert code == 0, err
        assert out.startswith("purged 1 story in the trash for more than 30 days from ")
        assert await _story_ids(fresh_database) == {stories.recent, stories.live}
        assert await _purge_events(fresh_database) == [(stories.old, None)]

    async def test_older_than_zero_empties_the_trash(
        self, fresh_database: TestDatabase, stories: Stories, tmp_path: Path
    ) -> None:
        code, out, err = _purge(fresh_database, tmp_path, "--older-than", "0")
        assert code == 0, err
        assert out.startswith("purged 2 stories in the trash for more than 0 days")
        assert await _story_ids(fresh_database) == {stories.live}

    async def test_retention_setting_is_the_default(
        self, fresh_database: TestDatabase, stories: Stories, tmp_path: Path
    ) -> None:
        code, out, err = _purge(fresh_database, tmp_path, PLANDECK_TRASH_RETENTION_DAYS="50")
        assert code == 0, err
        assert out == "nothing in the trash for more than 50 days"
        assert await _story_ids(fresh_database) == {stories.old, stories.recent, stories.live}

    async def test_dry_run_removes_nothing(
        self, fresh_database: TestDatabase, stories: Stories, tmp_path: Path
    ) -> None:
        code, out, err = _purge(fresh_database, tmp_path, "--older-than", "7", "--dry-run")
        assert code == 0, err
        assert (
            out == "would purge 1 story in the trash for more than 7 days; dry run: nothing removed"
        )
        assert await _story_ids(fresh_database) == {stories.old, stories.recent, stories.live}
        assert await _purge_events(fresh_database) == []

    async def test_negative_age_is_a_usage_error(
        self, fresh_database: TestDatabase, tmp_path: Path
    ) -> None:
        code, _out, err = _purge(fresh_database, tmp_path, "--older-than", "-1")
        assert code == 2
        assert "--older-than" in err
