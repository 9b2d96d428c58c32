from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from plandeck import migrate
from plandeck.models import Base
from tests.databases import TestDatabase

EXPECTED_TABLES = {
    "users",
    "projects",
    "memberships",
    "phases",
    "sprints",
    "stories",
    "tasks",
    "comments",
    "activity_events",
    "api_tokens",
    "refresh_tokens",
    "web_sessions",
    "story_days",
}


@pytest.fixture
async def empty_database(database: TestDatabase, tmp_path: Path) -> AsyncIterator[TestDatabase]:
    db = await TestDatabase.create(database.kind, tmp_path, migrated=False)
    yield db
    await db.drop()


async def _tables(db: TestDatabase) -> set[str]:
    async with db.engine.connect() as conn:
        names = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    return set(names) - {"alembic_version"}


def _drift(sync_conn: Connection) -> list[Any]:
    context = MigrationContext.configure(
        sync_conn, opts={"compare_type": True, "compare_server_default": True}
    )
    return list(compare_metadata(context, Base.metadata))


class TestMigrations:
    async def test_upgrade_downgrade_upgrade(self, empty_database: TestDatabase) -> None:
        assert await _tables(empty_database) == set()

        await migrate.upgrade(empty_database.engine)
        assert await _tables(empty_database) == EXPECTED_TABLES
        assert await migrate.current_revision(empty_database.engine) == migrate.head_revision()

        await migrate.downgrade(empty_database.engine, "base")
        assert await _tables(empty_database) == set()
        assert await migrate.current_revision(empty_database.engine) is None

        await migrate.upgrade(empty_database.engine)
        assert await _tables(empty_database) == EXPECTED_TABLES

    async def test_acceptance_criteria_migration_keeps_existing_stories(
        self, empty_database: TestDatabase
    ) -> None:
        await migrate.upgrade(empty_database.engine, "a0959b143b7f")
        async with empty_database.engine.begin() as conn:
            now = datetime(2026, 1, 1, tzinfo=UTC)
            await conn.execute(
                text(
                    "INSERT INTO projects (id, key, name, description, timezone, created_at, updated_at, version) "
                    "VALUES (1, 'OLD', 'Old', '', 'UTC', :now, :now, 1)"
                ),
                {"now": now},
            )
            await conn.execute(
                text(
                    "INSERT INTO stories (id, project_id, key, title, description, notes, priority, status, "
                    "rank, created_at, updated_at, version) "
                    "VALUES (1, 1, '1.1', 'Kept', '', '', 'medium', 'draft', 'a0', :now, :now, 1)"
                ),
                {"now": now},
            )
        await migrate.upgrade(empty_database.engine)
        async with empty_database.engine.connect() as conn:
            rows = (
                await conn.execute(text("SELECT title, acceptance_criteria FROM stories"))
            ).all()
        assert [(title, json.loads(ac) if isinstance(ac, str) else ac) for title, ac in rows] == [
            ("Kept", [])
        ]

    async def test_models_and_migrations_do_not_drift(self, database: TestDatabase) -> None:
        async with database.engine.connect() as conn:
            differences = await conn.run_sync(_drift)
        assert differences == []

    async def test_upgrade_at_head_is_a_no_op(self, database: TestDatabase) -> None:
        await migrate.upgrade(database.engine)
        assert await migrate.current_revision(database.engine) == migrate.head_revision()

    def test_migration_files_follow_the_naming_rule(self) -> None:
        names = [p.name for p in (migrate.MIGRATIONS_DIR / "versions").glob("*.py")]
        assert names
        for name in names:
            stamp, _, slug = name.partition("_")
            assert len(stamp) == len("YYYY-MM-DD-HHMM"), name
            assert slug.endswith(".py"), name
            assert slug != ".py", name
