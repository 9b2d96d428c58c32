from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.analytics.metrics import PointsGauges
from plandeck.db import create_sessionmaker, unit_of_work
from plandeck.models import Project, Story, StoryStatus, User
from plandeck.plans.projects import project_service
from plandeck.plans.schemas import StoryMove
from plandeck.plans.stories import story_service
from tests.databases import TestDatabase
from tests.factories.accounts import make_user
from tests.factories.plans import make_project, make_story
from tests.statements import count_statements


def _value(registry: CollectorRegistry, name: str, project: Project, status: str) -> float | None:
    return registry.get_sample_value(name, {"project": project.key, "status": status})


def _by_status(registry: CollectorRegistry, name: str, project: Project) -> dict[str, float | None]:
    return {status.value: _value(registry, name, project, status.value) for status in StoryStatus}


async def _move(
    session: AsyncSession, owner: User, project: Project, story: Story, status: StoryStatus
) -> None:
    await story_service.move(session, owner, project, story.key, StoryMove(status=status))


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def gauges(registry: CollectorRegistry) -> PointsGauges:
    return PointsGauges(registry)


class TestRefresh:
    async def test_a_project_without_stories_shows_every_status_at_zero(
        self, session: AsyncSession, owner: User, registry: CollectorRegistry, gauges: PointsGauges
    ) -> None:
        project = await make_project(session, owner)
        await gauges.refresh(session)
        zeros = {status.value: 0.0 for status in StoryStatus}
        assert _by_status(registry, "plandeck_story_points", project) == zeros
        assert _by_status(registry, "plandeck_stories", project) == zeros

    async def test_points_and_counts_by_status_with_unestimated_stories_at_zero(
        self, session: AsyncSession, owner: User, registry: CollectorRegistry, gauges: PointsGauges
    ) -> None:
        project = await make_project(session, owner)
        await make_story(session, owner, project, points=3)
        await make_story(session, owner, project, points=5)
        await make_story(session, owner, project, points=None)
        await make_story(session, owner, project, points=8, status=StoryStatus.IN_PROGRESS)
        await make_story(session, owner, project, points=None, status=StoryStatus.REVIEW)
        await gauges.refresh(session)
        assert _by_status(registry, "plandeck_story_points", project) == {
            "draft": 8.0,
            "approved": 0.0,
            "in_progress": 8.0,
            "review": 0.0,
            "done": 0.0,
            "blocked": 0.0,
        }
        assert _by_status(registry, "plandeck_stories", project) == {
            "draft": 3.0,
            "approved": 0.0,
            "in_progress": 1.0,
            "review": 1.0,
            "done": 0.0,
            "blocked": 0.0,
        }

    async def test_projects_are_counted_apart(
        self, session: AsyncSession, owner: User, registry: CollectorRegistry, gauges: PointsGauges
    ) -> None:
        first = await make_project(session, owner)
        second = await make_project(session, owner)
        await make_story(session, owner, first, points=2)
        await make_story(session, owner, second, points=13)
        await make_story(session, owner, second, points=1)
        await gauges.refresh(session)
        assert _value(registry, "plandeck_story_points", first, "draft") == 2.0
        assert _value(registry, "plandeck_story_points", second, "draft") == 14.0
        assert _value(registry, "plandeck_stories", first, "draft") == 1.0
        assert _value(registry, "plandeck_stories", second, "draft") == 2.0

    async def test_a_story_moved_to_done_moves_its_points(
        self, session: AsyncSession, owner: User, registry: CollectorRegistry, gauges: PointsGauges
    ) -> None:
        project = await make_project(session, owner)
        story = await make_story(session, owner, project, points=5, status=StoryStatus.IN_PROGRESS)
        await make_story(session, owner, project, points=3, status=StoryStatus.IN_PROGRESS)
        await gauges.refresh(session)
        assert _value(registry, "plandeck_story_points", project, "in_progress") == 8.0
        await _move(session, owner, project, story, StoryStatus.DONE)
        await gauges.refresh(session)
        assert _value(registry, "plandeck_story_points", project, "in_progress") == 3.0
        assert _value(registry, "plandeck_story_points", project, "done") == 5.0
        assert _value(registry, "plandeck_stories", project, "in_progress") == 1.0
        assert _value(registry, "plandeck_stories", project, "done") == 1.0

    async def test_trashed_stories_are_left_out(
        self, session: AsyncSession, owner: User, registry: CollectorRegistry, gauges: PointsGauges
    ) -> None:
        project = await make_project(session, owner)
        story = await make_story(session, owner, project, points=5)
        await make_story(session, owner, project, points=3)
        await gauges.refresh(session)
        assert _value(registry, "plandeck_story_points", project, "draft") == 8.0
        await story_service.delete(session, owner, project, story.id)
        await gauges.refresh(session)
        assert _value(registry, "plandeck_story_points", project, "draft") == 3.0
        assert _value(registry, "plandeck_stories", project, "draft") == 1.0

    async def test_a_project_whose_stories_are_all_trashed_stays_at_zero(
        self, session: AsyncSession, owner: User, registry: CollectorRegistry, gauges: PointsGauges
    ) -> None:
        project = await make_project(session, owner)
        story = await make_story(session, owner, project, points=5, status=StoryStatus.DONE)
        await story_service.delete(session, owner, project, story.id)
        await gauges.refresh(session)
        assert _value(registry, "plandeck_story_points", project, "done") == 0.0
        assert _value(registry, "plandeck_stories", project, "draft") == 0.0

    async def test_a_deleted_projects_label_sets_are_removed(
        self, session: AsyncSession, owner: User, registry: CollectorRegistry, gauges: PointsGauges
    ) -> None:
        kept = await make_project(session, owner)
        gone = await make_project(session, owner)
        await make_story(session, owner, kept, points=2)
        await make_story(session, owner, gone, points=5)
        await gauges.refresh(session)
        await project_service.delete(session, owner, gone)
        await gauges.refresh(session)
        assert set(_by_status(registry, "plandeck_story_points", gone).values()) == {None}
        assert set(_by_status(registry, "plandeck_stories", gone).values()) == {None}
        assert _value(registry, "plandeck_story_points", kept, "draft") == 2.0
        exposition = generate_latest(registry).decode()
        assert f'project="{gone.key}"' not in exposition

    async def test_the_exposition_names_every_series(
        self, session: AsyncSession, owner: User, registry: CollectorRegistry, gauges: PointsGauges
    ) -> None:
        project = await make_project(session, owner)
        await make_story(session, owner, project, points=3)
        await make_story(session, owner, project, points=5, status=StoryStatus.DONE)
        await gauges.refresh(session)
        lines = generate_latest(registry).decode().splitlines()
        key = project.key
        assert "# TYPE plandeck_story_points gauge" in lines
        assert "# TYPE plandeck_stories gauge" in lines
        assert f'plandeck_story_points{{project="{key}",status="draft"}} 3.0' in lines
        assert f'plandeck_story_points{{project="{key}",status="done"}} 5.0' in lines
        assert f'plandeck_story_points{{project="{key}",status="blocked"}} 0.0' in lines
        assert f'plandeck_stories{{project="{key}",status="done"}} 1.0' in lines
        assert f'plandeck_stories{{project="{key}",status="in_progress"}} 0.0' in lines
        series = [line for line in lines if line.startswith("plandeck_")]
        assert len(series) == 2 * len(StoryStatus)

    @pytest.mark.parametrize("projects", [1, 6])
    async def test_one_statement_whatever_the_number_of_projects(
        self,
        session: AsyncSession,
        owner: User,
        registry: CollectorRegistry,
        gauges: PointsGauges,
        projects: int,
    ) -> None:
        made = [await make_project(session, owner) for _ in range(projects)]
        for project in made:
            await make_story(session, owner, project, points=1)
            await make_story(session, owner, project, points=2, status=StoryStatus.REVIEW)
        await session.flush()
        with count_statements(session) as statements:
            await gauges.refresh(session)
        assert len(statements) == 1
        for project in made:
            assert _value(registry, "plandeck_story_points", project, "review") == 2.0


# A worker of a multiprocess server: refreshes the default registry's gauges on each line
# read, with prometheus-client in multiprocess mode (PROMETHEUS_MULTIPROC_DIR set).
_WORKER = """
import asyncio, sys
from plandeck.analytics.metrics import points_gauges
from plandeck.config import to_async_url
from plandeck.db import create_engine, create_sessionmaker, unit_of_work

async def main() -> None:
    engine = create_engine(to_async_url(sys.argv[1]))
    sessionmaker = create_sessionmaker(engine)
    for _ in sys.stdin:
        async with unit_of_work(sessionmaker, read_only=True) as session:
            await points_gauges.refresh(session)
        print("refreshed", flush=True)
    await engine.dispose()

asyncio.run(main())
"""


class _Worker:
    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process

    def refresh(self) -> None:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write("refresh\n")
        self.process.stdin.flush()
        assert self.process.stdout.readline() == "refreshed\n"


@contextmanager
def _worker(database_url: str, multiproc_dir: Path) -> Iterator[_Worker]:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(multiproc_dir)}
    with subprocess.Popen(
        [sys.executable, "-c", _WORKER, database_url],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            yield _Worker(process)
        finally:
            assert process.stdin is not None
            process.stdin.close()
            assert process.wait(timeout=30) == 0


@pytest.mark.slow
class TestMultiprocess:
    async def test_the_last_refresh_wins_across_workers(
        self, fresh_database: TestDatabase, tmp_path: Path
    ) -> None:
        sessionmaker = create_sessionmaker(fresh_database.engine)
        async with unit_of_work(sessionmaker) as session:
            owner = await make_user(session)
            kept = await make_project(session, owner)
            gone = await make_project(session, owner)
            story = await make_story(session, owner, kept, points=5, status=StoryStatus.IN_PROGRESS)
            await make_story(session, owner, gone, points=3)
        multiproc_dir = tmp_path / "metrics"
        multiproc_dir.mkdir()
        with (
            _worker(fresh_database.url, multiproc_dir) as first,
            _worker(fresh_database.url, multiproc_dir) as second,
        ):
            first.refresh()
            second.refresh()
            async with unit_of_work(sessionmaker) as session:
                await _move(session, owner, kept, story, StoryStatus.DONE)
                await project_service.delete(session, owner, gone)
            # Only the first worker sees the change; the second still holds the old values.
            first.refresh()
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=str(multiproc_dir))
            assert _value(registry, "plandeck_story_points", kept, "in_progress") == 0.0
            assert _value(registry, "plandeck_story_points", kept, "done") == 5.0
            assert _value(registry, "plandeck_stories", kept, "done") == 1.0
            # Label sets cannot be removed in multiprocess mode: the gone project reads 0.
            assert set(_by_status(registry, "plandeck_story_points", gone).values()) == {0.0}
            assert set(_by_status(registry, "plandeck_stories", gone).values()) == {0.0}
            exposition = generate_latest(registry).decode()
            assert 'pid="' not in exposition
