"""Analytics on a big project, PostgreSQL: each read of ``analytics_service`` against 100 ms.

One run creates a PostgreSQL database and fills it: a project with one phase, 20 two-week
sprints (18 completed, one active, one planned), 2,000 stories (100 per sprint) and 50,000
activity events: each story's creation and 24 changes spread over its sprint's days (status
steps with some reopened, re-estimates, a few moves to the next sprint), written with bulk
inserts in the shapes the services record. The events are dated in the past, so the
analytics snapshot (``story_days``) is replayed from them once (timed: what the first start
after the snapshot's migration does for such a project). Then it times, in-process on the server's side
of the API (the service call inside a read-only unit of work, what a request spends beyond
HTTP), 20 runs each after 3 warm-ups:

- the burndown of a completed sprint and of the active one,
- the velocity of the last 10 sprints,
- the cumulative flow of the phase,
- the phase's forecast (10,000 trials);

and then the same five reads as API requests to a ``plandeck`` server (uvicorn, two workers,
bearer token, one request at a time), timed by the client on loopback, JSON included.

    python bench/bench_analytics.py     # results in bench/results/analytics-*.json
"""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table
from sqlalchemy import insert, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_api import _plandeck_env, create_database, drop_database, serving

from plandeck.analytics import snapshot
from plandeck.analytics.service import analytics_service
from plandeck.auth.schemas import UserCreate
from plandeck.auth.tokens import create_access_token
from plandeck.auth.users import user_service
from plandeck.config import Settings, to_async_url
from plandeck.db import create_engine, create_sessionmaker, unit_of_work
from plandeck.models import (
    ActivityAction,
    ActivityEvent,
    EntityType,
    Priority,
    SprintStatus,
    Story,
    StoryStatus,
    User,
)
from plandeck.plans.phases import phase_service
from plandeck.plans.projects import project_service
from plandeck.plans.schemas import PhaseCreate, ProjectCreate, SprintCreate
from plandeck.plans.sprints import sprint_service

RESULTS = Path(__file__).resolve().parent / "results"
SPRINTS = 20
PER_SPRINT = 100
CHANGES = 24
FIRST_DAY = date(2026, 1, 5)
TARGET_MS = 100.0
REBUILD: dict[str, float] = {}
console = Console()
_FLOW = (
    StoryStatus.DRAFT,
    StoryStatus.APPROVED,
    StoryStatus.IN_PROGRESS,
    StoryStatus.REVIEW,
    StoryStatus.DONE,
)


async def seed(url: str) -> tuple[int, str, int]:
    """The user's id, the project key and the number of events written."""
    engine = create_engine(to_async_url(url))
    sessionmaker = create_sessionmaker(engine)
    rng = random.Random(2026)
    try:
        async with unit_of_work(sessionmaker) as session:
            user = await user_service.create(
                session, UserCreate(email="analytics@example.com", name="Bench", password="x" * 12)
            )
            project = await project_service.create(
                session, user, ProjectCreate(key="BIG", name="Big project")
            )
            phase = await phase_service.create(
                session, user, project, PhaseCreate(number=1, title="Everything")
            )
            sprints = []
            for number in range(1, SPRINTS + 1):
                starts = FIRST_DAY + timedelta(days=14 * (number - 1))
                status = (
                    SprintStatus.COMPLETED
                    if number <= SPRINTS - 2
                    else SprintStatus.ACTIVE
                    if number == SPRINTS - 1
                    else SprintStatus.PLANNED
                )
                sprints.append(
                    await sprint_service.create(
                        session,
                        user,
                        project,
                        SprintCreate(
                            number=number,
                            name=f"Sprint {number}",
                            phase_id=phase.id,
                            status=status,
                            starts_on=starts,
                            ends_on=starts + timedelta(days=13),
                            weeks=f"{2 * number - 1}-{2 * number}",
                        ),
                    )
                )
            user_id, project_id, phase_id = user.id, project.id, phase.id
            sprint_ids = [sprint.id for sprint in sprints]

        async with unit_of_work(sessionmaker) as session:
            now = datetime.now(UTC)
            rows = [
                {
                    "project_id": project_id,
                    "phase_id": phase_id,
                    "sprint_id": sprint_ids[index // PER_SPRINT],
                    "key": f"{index // PER_SPRINT + 1}.{index % PER_SPRINT + 1}",
                    "title": f"Story {index + 1}",
                    "description": "",
                    "notes": "",
                    "acceptance_criteria": [],
                    "points": rng.choice((1, 2, 3, 5, 8)),
                    "priority": Priority.MEDIUM,
                    "status": StoryStatus.DRAFT,
                    "rank": f"a{index % PER_SPRINT:04d}",
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                }
                for index in range(SPRINTS * PER_SPRINT)
            ]
            await session.execute(insert(Story), rows)
            stories = (
                await session.execute(
                    select(Story.id, Story.sprint_id, Story.points)
                    .where(Story.project_id == project_id)
                    .order_by(Story.id)
                )
            ).all()
            events = []
            for story_id, sprint_id, points in stories:
                number = sprint_ids.index(sprint_id) + 1
                start = datetime.combine(
                    FIRST_DAY + timedelta(days=14 * (number - 1)), datetime.min.time(), UTC
                )
                state = {
                    "status": StoryStatus.DRAFT.value,
                    "points": points,
                    "sprint_id": sprint_id,
                    "phase_id": phase_id,
                }
                events.append(
                    _event(
                        project_id,
                        user_id,
                        story_id,
                        ActivityAction.CREATED,
                        None,
                        dict(state),
                        start + timedelta(hours=1),
                    )
                )
                step = 0
                for change in range(CHANGES):
                    when = start + timedelta(hours=2 + change * 13 + rng.randrange(6))
                    roll = rng.random()
                    if roll < 0.7:
                        # The next step of the flow; now and then a story is reopened.
                        reopen = state["status"] == "done" and rng.random() < 0.3
                        step = 2 if reopen else min(step + 1, len(_FLOW) - 1)
                        field, value = "status", _FLOW[step].value
                    elif roll < 0.95:
                        field, value = "points", rng.choice((1, 2, 3, 5, 8, 13))
                    else:
                        following = sprint_ids[min(number, SPRINTS - 1)]
                        field, value = "sprint_id", following
                    if state[field] == value:
                        field, value = "points", int(state["points"] or 0) + 1
                    events.append(
                        _event(
                            project_id,
                            user_id,
                            story_id,
                            ActivityAction.UPDATED,
                            {field: state[field]},
                            {field: value},
                            when,
                        )
                    )
                    state[field] = value
            for offset in range(0, len(events), 5000):
                await session.execute(insert(ActivityEvent), events[offset : offset + 5000])
        # Events inserted by hand with past times: the snapshot is replayed from them, as
        # the first start after the snapshot's migration does for an existing project.
        started = time.perf_counter()
        async with unit_of_work(sessionmaker) as session:
            spans = await snapshot.rebuild(session, project_id)
        REBUILD.update(rows=spans, seconds=round(time.perf_counter() - started, 2))
        async with unit_of_work(sessionmaker) as session:
            # What autovacuum does a little after bulk writes: the planner's statistics.
            await session.execute(text("ANALYZE"))
        return user_id, "BIG", len(events)
    finally:
        await engine.dispose()


def _event(
    project_id: int,
    user_id: int,
    story_id: int,
    action: ActivityAction,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    when: datetime,
) -> dict[str, Any]:
    return {
        "project_id": project_id,
        "actor_id": user_id,
        "entity_type": EntityType.STORY,
        "entity_id": story_id,
        "action": action,
        "before": before,
        "after": after,
        "created_at": when,
    }


async def measure(url: str, user_id: int, key: str) -> dict[str, dict[str, float]]:
    engine = create_engine(to_async_url(url))
    sessionmaker = create_sessionmaker(engine)
    # "Today" inside the active sprint, so its burndown has past and future days.
    now = datetime.combine(
        FIRST_DAY + timedelta(days=14 * (SPRINTS - 2) + 6), datetime.min.time(), UTC
    ) + timedelta(hours=12)
    calls: dict[str, Callable[[Any, User], Awaitable[Any]]] = {
        "burndown, completed sprint 10": lambda s, u: analytics_service.sprint_burndown(
            s, u, key, 10, now=now
        ),
        f"burndown, active sprint {SPRINTS - 1}": lambda s, u: analytics_service.sprint_burndown(
            s, u, key, SPRINTS - 1, now=now
        ),
        "velocity, last 10 sprints": lambda s, u: analytics_service.velocity(s, u, key, last=10),
        "cumulative flow, the phase": lambda s, u: analytics_service.cumulative_flow(
            s, u, key, 1, now=now
        ),
        "forecast, the phase (10,000 trials)": lambda s, u: analytics_service.forecast(
            s, u, key, 1, seed=1, now=now
        ),
    }
    found: dict[str, dict[str, float]] = {}
    try:
        for label, call in calls.items():
            times = []
            for attempt in range(23):
                started = time.perf_counter()
                async with unit_of_work(sessionmaker, read_only=True) as session:
                    user = await session.get(User, user_id)
                    assert user is not None
                    await call(session, user)
                if attempt >= 3:
                    times.append(1000 * (time.perf_counter() - started))
            times.sort()
            found[label] = {
                "median_ms": round(statistics.median(times), 1),
                "p95_ms": round(times[int(0.95 * len(times)) - 1], 1),
            }
    finally:
        await engine.dispose()
    return found


HTTP_PATHS = {
    "burndown, completed sprint 10": "/sprints/10/burndown",
    f"burndown, active sprint {SPRINTS - 1}": f"/sprints/{SPRINTS - 1}/burndown",
    "velocity, last 10 sprints": "/velocity?last=10",
    "cumulative flow, the phase": "/phases/1/cumulative-flow",
    "forecast, the phase (10,000 trials)": "/phases/1/forecast?seed=1",
}


def measure_http(url: str, name: str, user_id: int, key: str) -> dict[str, dict[str, float]]:
    """The same reads through the API (one request at a time, bearer token), timed by the
    client on loopback: the whole request, JSON included. "Today" is the real date here
    (after the data's last day), so the active sprint's burndown has all its days."""
    settings = Settings(secret_key=SecretStr(secrets.token_urlsafe(48)))
    with (
        tempfile.TemporaryDirectory(prefix="bench-analytics-") as workdir,
        serving(
            "plandeck",
            "two workers",
            ["--factory", "plandeck.app:create_app"],
            env=_plandeck_env(url, settings, Path(workdir), rate_limit=False, extra={}),
            path="",
            headers={},
            database=name,
            workers=2,  # as bench_api.serving expects worker processes
            workdir=Path(workdir),
        ) as server,
    ):
        token = asyncio.run(_token(url, settings, user_id))
        found: dict[str, dict[str, float]] = {}
        with httpx.Client(
            base_url=f"{server.base_url}/api/v1/projects/{key}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        ) as client:
            for label, path in HTTP_PATHS.items():
                times = []
                for attempt in range(23):
                    started = time.perf_counter()
                    response = client.get(path)
                    elapsed = 1000 * (time.perf_counter() - started)
                    response.raise_for_status()
                    if attempt >= 3:
                        times.append(elapsed)
                times.sort()
                found[label] = {
                    "median_ms": round(statistics.median(times), 1),
                    "p95_ms": round(times[int(0.95 * len(times)) - 1], 1),
                }
    return found


async def _token(url: str, settings: Settings, user_id: int) -> str:
    engine = create_engine(to_async_url(url))
    try:
        async with unit_of_work(create_sessionmaker(engine), read_only=True) as session:
            user = await session.get(User, user_id)
            assert user is not None
            return create_access_token(settings, user)
    finally:
        await engine.dispose()


def main() -> int:
    name = f"plandeck_analytics_{uuid.uuid4().hex[:10]}"
    url = asyncio.run(create_database(name))
    try:
        started = time.monotonic()
        user_id, key, events = asyncio.run(seed(url))
        console.print(
            f"seeded {SPRINTS} sprints, {SPRINTS * PER_SPRINT} stories, {events:,} events "
            f"in {time.monotonic() - started:.1f} s; snapshot rebuilt from them: "
            f"{REBUILD['rows']:,} rows in {REBUILD['seconds']} s"
        )
        found = asyncio.run(measure(url, user_id, key))
        over_http = measure_http(url, name, user_id, key)
    finally:
        asyncio.run(drop_database(name))
    table = Table(title=f"Analytics on PostgreSQL, {events:,} events (median and p95 of 20)")
    for column in ("read", "service", "p95", "API request", "p95", f"target {TARGET_MS:.0f} ms"):
        table.add_column(column)
    for label, row in found.items():
        http = over_http[label]
        worst = max(row["p95_ms"], http["p95_ms"])
        table.add_row(
            label,
            f"{row['median_ms']} ms",
            f"{row['p95_ms']} ms",
            f"{http['median_ms']} ms",
            f"{http['p95_ms']} ms",
            "met" if worst < TARGET_MS else "MISSED",
        )
    console.print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"analytics-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(
        json.dumps(
            {"events": events, "snapshot": REBUILD, "reads": found, "api": over_http}, indent=2
        )
    )
    console.print(f"results written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
