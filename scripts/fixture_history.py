"""Six weeks of work on the phase 3 sample plan, then the CLI's burndown and forecast for it.

The fixture (``../shared/fixtures/phase3-plan.md``) is imported with ``plandeck import`` into
a fresh SQLite database; its sprints 9, 10 and 11 (weeks 1-2, 3-4 and 5-6) get two-week
dates ending a week ago, and the stories move day by day through the services: started,
re-estimated, done, carried over to the next sprint when unfinished. The events are dated
on their days the way the analytics tests date them (``tests.history.EventClock``), since
the services stamp the real time. A sprint 12 the plan never had (so not one of the phase's:
the plan still ends with sprint 11) takes what was left, and two stories found on the way
join the phase. Then ``plandeck report`` prints the burndowns of sprints 10 and 11 and the
phase's velocity and forecast.

    .venv/bin/python scripts/fixture_history.py   # from the repository's root
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.history import EventClock  # noqa: E402

from plandeck.config import to_async_url  # noqa: E402
from plandeck.db import create_engine, create_sessionmaker, unit_of_work  # noqa: E402
from plandeck.models import Project, SprintStatus, StoryStatus, User  # noqa: E402
from plandeck.plans.schemas import (  # noqa: E402
    SprintCreate,
    SprintUpdate,
    StoryCreate,
    StoryMove,
    StoryUpdate,
)
from plandeck.plans.sprints import sprint_service  # noqa: E402
from plandeck.plans.stories import story_service  # noqa: E402

FIXTURE = ROOT.parent / "shared" / "fixtures" / "phase3-plan.md"
EMAIL = "lead@example.com"
PLANDECK = ROOT / ".venv" / "bin" / "plandeck"


def cli(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [str(PLANDECK), *args], env=env, capture_output=True, text=True, check=False
    )
    if result.returncode:
        raise SystemExit(f"plandeck {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


async def work(url: str, today: date) -> None:
    engine = create_engine(to_async_url(url))
    try:
        async with unit_of_work(create_sessionmaker(engine)) as session:
            project = await session.scalar(select(Project).where(Project.key == "P3"))
            lead = await session.scalar(select(User).where(User.email == EMAIL))
            assert project is not None
            assert lead is not None
            clock = EventClock(session)
            await clock.stamp(today - timedelta(days=50))  # the import, before sprint 9

            async def on(day: date, *changes: tuple[str, StoryMove | StoryUpdate]) -> None:
                for key, change in changes:
                    if isinstance(change, StoryMove):
                        await story_service.move(session, lead, project, key, change)
                    else:
                        story = await story_service.get_by_key(session, lead, project, key)
                        await story_service.update(session, lead, project, story.id, change)
                await clock.stamp(day)

            started = StoryMove(status=StoryStatus.IN_PROGRESS)
            done = StoryMove(status=StoryStatus.DONE)
            first = {9: today - timedelta(days=48)}
            for number in (10, 11, 12):
                first[number] = first[number - 1] + timedelta(days=14)
            for number in (9, 10, 11):
                sprint = await sprint_service.get_by_number(session, lead, project, number)
                await sprint_service.update(
                    session,
                    lead,
                    project,
                    sprint.id,
                    SprintUpdate(
                        status=SprintStatus.COMPLETED,
                        starts_on=first[number],
                        ends_on=first[number] + timedelta(days=13),
                    ),
                )
            phase_id = sprint.phase_id
            await sprint_service.create(
                session,
                lead,
                project,
                SprintCreate(
                    number=12,
                    name="Sprint 12: What was left",
                    status=SprintStatus.ACTIVE,
                    starts_on=first[12],
                    ends_on=first[12] + timedelta(days=13),
                    weeks="7-8",
                ),
            )
            await clock.stamp(first[9] - timedelta(days=1))

            def day(number: int, n: int) -> date:
                return first[number] + timedelta(days=n - 1)

            # Sprint 9: 21 points committed, 9.3 carried over.
            await on(day(9, 1), ("9.1", started), ("9.2", started))
            await on(day(9, 6), ("9.1", done), ("9.3", started))
            await on(day(9, 12), ("9.2", done))
            # Sprint 10: 9.3 comes along; 10.2 grows from 8 to 13 points; 10.3 carried over.
            await on(day(10, 1), ("9.3", StoryMove(sprint=10)), ("10.1", started))
            await on(day(10, 4), ("10.2", StoryUpdate(points=13)), ("10.2", started))
            await on(day(10, 5), ("10.1", done))
            await on(day(10, 9), ("9.3", done))
            await on(day(10, 13), ("10.2", done))
            # Sprint 11: 10.3 comes along; 11.2 is not finished.
            await on(day(11, 1), ("10.3", StoryMove(sprint=11)), ("11.1", started))
            await on(day(11, 8), ("11.1", done), ("11.2", started))
            await on(day(11, 12), ("10.3", done))
            # Sprint 12, past the plan: 11.2 and two stories found on the way.
            await on(day(12, 1), ("11.2", StoryMove(sprint=12)))
            for title, points in (("Fix the release pipeline", 8), ("Alert routing", 13)):
                await story_service.create(
                    session,
                    lead,
                    project,
                    StoryCreate(title=title, points=points, sprint_id=None, phase_id=phase_id),
                )
            await clock.stamp(day(12, 2))
            await on(day(12, 4), ("11.2", done))
    finally:
        await engine.dispose()


def main() -> int:
    today = datetime.now(UTC).date()
    with tempfile.TemporaryDirectory() as workdir:
        url = f"sqlite:///{workdir}/plandeck.db"
        env = {"PLANDECK_DATABASE_URL": url, "PLANDECK_DATA_DIR": workdir, "PATH": "/usr/bin"}
        cli(env, "migrate")
        cli(env, "user", "create", "--email", EMAIL, "--name", "Lead", "--password", "x" * 12)
        sys.stdout.write(cli(env, "import", str(FIXTURE), "--project", "P3", "--user", EMAIL))
        asyncio.run(work(url, today))
        for args in (("--sprint", "10"), ("--sprint", "11"), ()):
            shown = " ".join(("$ plandeck report --project P3", *args))
            sys.stdout.write(
                f"\n{shown}\n" + cli(env, "report", "--project", "P3", "--user", EMAIL, *args)
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
