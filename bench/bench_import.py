"""Plan import benchmark: parse, import, re-import and export a generated ~1 MB sprint plan.

The plan is generated (seeded, so every run reads the same bytes) in the seed format of
``shared/fixtures/phase3-plan.md``: one phase, a hundred sprints, 2,000 stories and about
10,000 tasks, with the fixture's Windows-1254 mojibake in the section headings and the
MoSCoW list, so decoding repairs what it repairs in the real plan. Measured:

- parse: ``decode_document`` + ``parse_sprint_plan`` on the bytes (target: under 1 s);
- import: ``import_document`` + commit, one unit of work, into a fresh migrated database
  (target: under 3 s), on SQLite and PostgreSQL;
- re-import: the same document again (nothing changes);
- export: ``document_from_project`` + ``render_markdown``;
- bulk-insert floor: the same rows written in a few batched statements with nothing read,
  matched or checked, to tell the cost of the rows from the importer's own work.

Each is repeated (``--repeat``) while its time budget lasts (``--budget``): a run that takes
minutes is still made once and reported as it is. Every SQL statement of an import is
counted with a ``before_cursor_execute`` listener; ``--explain`` attributes the statements
of a smaller import to the service code that issued them, ``--profile`` profiles one.

    python bench/bench_import.py [--stories N] [--repeat K] [--databases sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import random
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import greenlet
import sqlalchemy
from fractional_indexing import generate_n_keys_between
from rich.console import Console
from rich.table import Table
from sqlalchemy import event, func, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

import plandeck
from plandeck import migrate
from plandeck.auth.schemas import UserCreate
from plandeck.auth.users import user_service
from plandeck.config import to_async_url
from plandeck.db import create_engine, create_sessionmaker, unit_of_work
from plandeck.kit.audit import to_json
from plandeck.models import (
    ActivityAction,
    ActivityEvent,
    EntityType,
    Phase,
    Project,
    Sprint,
    Story,
    Task,
    User,
)
from plandeck.planfile.document import Checkbox, PlanDocument, StoryDoc
from plandeck.planfile.encoding import decode_document
from plandeck.planfile.export import render_markdown
from plandeck.planfile.importer import ImportReport, document_from_project, import_document
from plandeck.planfile.sprint_plan import parse_sprint_plan
from plandeck.plans.projects import project_service
from plandeck.plans.schemas import ProjectCreate

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
SOURCE_DIR = Path(plandeck.__file__).resolve().parent
POSTGRES_ADMIN_URL = os.environ.get(
    "PLANDECK_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
TARGETS = {"parse": 1.0, "import": 3.0}  # seconds, for the full 2,000-story plan
STORIES_PER_SPRINT = 20
FILE_NAME = "bench-plan.md"

# Wide enough for the table when the output goes to a file or a pipe.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 132)


# The plan


# Bytes Windows-1254 leaves undefined: a UTF-8 -> Windows-1254 -> UTF-8 round trip loses them.
_UNDEFINED_1254 = frozenset(b"\x81\x8d\x8e\x8f\x90\x9d\x9e")
_VERBS = (
    "Implement",
    "Refactor",
    "Harden",
    "Migrate",
    "Document",
    "Optimise",
    "Automate",
    "Review",
    "Integrate",
    "Instrument",
    "Redesign",
    "Validate",
)
_THINGS = (
    "payment gateway",
    "user onboarding",
    "search index",
    "notification service",
    "audit trail",
    "report builder",
    "file uploads",
    "session handling",
    "rate limiting",
    "billing exports",
    "admin dashboard",
    "mobile API",
    "email templates",
    "feature flags",
    "data retention",
    "access control",
    "caching layer",
    "webhook delivery",
    "backup restore",
    "localisation",
)
_ACTIONS = (
    "Write the design note",
    "Add database migration",
    "Implement service layer",
    "Add API endpoint",
    "Write unit tests",
    "Write integration tests",
    "Update documentation",
    "Review with the team",
    "Measure performance",
    "Add monitoring alerts",
    "Fix edge cases",
    "Deploy to staging",
)
_DETAILS = (
    "Cover the error paths and the empty states",
    "Keep the public API stable for existing clients",
    "Measure latency before and after the change",
    "Coordinate the release with the mobile team",
    "Follow the security checklist for new endpoints",
    "Agree the rollout plan with operations",
    "Migrate existing data without downtime",
    "Log every decision in the architecture notes",
    "Add feature flags for a gradual rollout",
    "Update the runbook and the on-call guide",
)
# Proper UTF-8 Persian (not damaged): "review and document", "integration test", "final approval".
_PERSIAN = ("بررسی و مستندسازی", "تست یکپارچگی", "تأیید نهایی")
_PRIORITIES = (("Critical", 1), ("High", 4), ("Medium", 4), ("Low", 2))
_STATUSES = (
    ("Draft", 10),
    ("Approved", 4),
    ("InProgress", 3),
    ("Review", 1),
    ("Done", 2),
    ("Blocked", 1),
)
_MOSCOW_BY_PRIORITY = {"Critical": "must", "High": "must", "Medium": "should", "Low": "could"}
_MOSCOW_HEADINGS = {
    "must": "### High Priority (Must Have):",
    "should": "### Medium Priority (Should Have):",
    "could": "### Low Priority (Could Have):",
    "wont": "### Deferred (Won't Have):",
}


def mojibake(text: str) -> str:
    """``text`` damaged as the seed plan is: its UTF-8 read as Windows-1254, undefined bytes lost."""
    return bytes(b for b in text.encode("utf-8") if b not in _UNDEFINED_1254).decode("cp1254")


def _weighted(rng: random.Random, choices: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def generate_plan(stories: int, seed: int = 2025) -> str:
    """A sprint plan of ``stories`` stories, the same text for the same arguments."""
    rng = random.Random(seed)
    sprints = max(1, -(-stories // STORIES_PER_SPRINT))
    first_sprint = 12
    check = mojibake("✅")
    lines = [
        "# Phase 4: Scale & Hardening - Planning",
        "",
        "**Date:** 2025-06-XX  ",
        "**Status:** Planning  ",
        f"**Previous Phase:** Phase 3 Complete {check} (All 3 Sprints Done)",
        "",
        "---",
        "",
        f"## {mojibake('📊 وضعیت فعلی')}",
        "",
        f"### {check} Phase 3 Complete:",
        "- **Total Sprints:** 3",
        "- **Total Stories:** 8",
        f"- **All Stories:** Done {check}",
        "",
        "---",
        "",
        f"## {mojibake('🎯 Phase 4 Goals')}",
        "",
        "### Primary Goals:",
        "1. **Scale to ten thousand teams** - Every page under 200 ms",
        "2. **Harden security** - Pass the external audit",
        "3. **Automate operations** - No manual deployment steps",
        "",
        "---",
        "",
        f"## {mojibake('📋 Phase 4 Stories (پیشنهادی)')}",
        "",
    ]
    listed: dict[str, list[str]] = {moscow: [] for moscow in _MOSCOW_HEADINGS}
    timeline: list[str] = []
    made = 0
    for index in range(sprints):
        number = first_sprint + index
        area = _THINGS[index % len(_THINGS)]
        lines += [f"### Sprint {number}: {area.title()} {index // len(_THINGS) + 1}", ""]
        titles = []
        for story_number in range(1, STORIES_PER_SPRINT + 1):
            if made == stories:
                break
            made += 1
            key = f"{number}.{story_number}"
            title = f"{rng.choice(_VERBS)} {rng.choice(_THINGS)}"
            if rng.random() < 0.3:
                title += f" & {rng.choice(_THINGS)}"
            titles.append(title)
            priority = _weighted(rng, _PRIORITIES)
            moscow = _MOSCOW_BY_PRIORITY[priority]
            if moscow == "could" and rng.random() < 0.25:
                moscow = "wont"
            listed[moscow].append(f"{check} Story {key}: {title}")
            lines += [
                f"#### Story {key}: {title} ({rng.choice((1, 2, 3, 5, 8, 13))} pts)",
                f"**Priority:** {priority}  ",
                f"**Status:** {_weighted(rng, _STATUSES)}",
                "",
                "**Description:**",
                *(f"- {line}" for line in rng.sample(_DETAILS, 3)),
                f"- {rng.choice(_PERSIAN) if rng.random() < 0.1 else rng.choice(_DETAILS)}",
                "",
                "**Tasks:**",
            ]
            for action in rng.sample(_ACTIONS, rng.randint(3, 7)):
                lines.append(f"- [{'x' if rng.random() < 0.3 else ' '}] {action}")
                if rng.random() < 0.05:
                    lines.append(f"  - [ ] {rng.choice(_DETAILS)}")
            lines += ["", "---", ""]
        timeline += [
            f"### Week {2 * index + 1}-{2 * index + 2}: Sprint {number}",
            *(f"- {title}" for title in titles[:3]),
            "",
        ]
    lines += [f"## {mojibake('🎯 اولویت‌بندی')}", ""]
    for moscow, heading in _MOSCOW_HEADINGS.items():
        if listed[moscow]:
            lines += [heading, *(f"{n}. {item}" for n, item in enumerate(listed[moscow], 1)), ""]
    lines += ["---", "", f"## {mojibake('📅 Timeline پیشنهادی')}", "", *timeline, "---", ""]
    lines += [
        f"## {mojibake('🚀 Next Immediate Steps')}",
        "",
        "### Step 1: Capacity planning",
        f"**Action:** Start Story {first_sprint}.1",
        "- Agree the load model",
        "- Book the load-test environment",
        "",
        "---",
        "",
        f"**Phase 4 Planning Complete** {check}",
        "",
    ]
    return "\n".join(lines)


def _count_boxes(boxes: list[Checkbox]) -> int:
    return sum(1 + _count_boxes(box.subtasks) for box in boxes)


def task_count(doc: PlanDocument) -> int:
    return sum(_count_boxes(story.tasks) for story in doc.stories)


# Measuring


@dataclass(frozen=True)
class Timing:
    """Wall-clock seconds, and the CPU seconds of this process (all its threads) meanwhile.

    The CPU time leaves out what the database server does, but also the waiting when
    other processes share the cores: compare both when the machine is busy.
    """

    wall: float
    cpu: float


class Stopwatch:
    def __init__(self) -> None:
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def stop(self) -> Timing:
        return Timing(time.perf_counter() - self._wall, time.process_time() - self._cpu)


@dataclass
class Measurement:
    name: str
    runs: list[Timing] = field(default_factory=list)
    load: list[float] = field(default_factory=list)  # 1-minute load average after each run
    extra: dict[str, Any] = field(default_factory=dict)

    def add(self, timing: Timing) -> None:
        self.runs.append(timing)
        self.load.append(round(os.getloadavg()[0], 2))

    @property
    def median(self) -> float:
        return statistics.median(run.wall for run in self.runs)

    @property
    def best(self) -> float:
        return min(run.wall for run in self.runs)

    def enough(self, repeat: int, budget: float) -> bool:
        """Whether to stop: ``repeat`` runs made or the budget spent (never before one run)."""
        return bool(self.runs) and (
            len(self.runs) >= repeat or sum(run.wall for run in self.runs) >= budget
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "runs_s": [round(run.wall, 4) for run in self.runs],
            "median_s": round(self.median, 4),
            "min_s": round(self.best, 4),
            "cpu_runs_s": [round(run.cpu, 4) for run in self.runs],
            "cpu_median_s": round(statistics.median(run.cpu for run in self.runs), 4),
            "load_after_runs": self.load,
            **self.extra,
        }


class StatementCounter:
    """Counts the statements an engine sends and the time spent inside the driver's execute."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.count = 0
        self.driver_seconds = 0.0
        self.texts: Counter[str] = Counter()
        self._started = 0.0
        event.listen(engine.sync_engine, "before_cursor_execute", self._before)
        event.listen(engine.sync_engine, "after_cursor_execute", self._after)

    def reset(self) -> None:
        self.count, self.driver_seconds = 0, 0.0
        self.texts.clear()

    def _before(self, *args: Any) -> None:
        self.count += 1
        self.texts[args[2]] += 1
        self._started = time.perf_counter()

    def _after(self, *_args: Any) -> None:
        self.driver_seconds += time.perf_counter() - self._started

    def kinds(self) -> Counter[str]:
        kinds: Counter[str] = Counter()
        for text, count in self.texts.items():
            kinds[statement_kind(text)] += count
        return kinds


_TABLE_AFTER = {
    "INSERT": r"\bINTO\s+(\w+)",
    "UPDATE": r"^UPDATE\s+(\w+)",
    "DELETE": r"\bFROM\s+(\w+)",
}


def statement_kind(text: str) -> str:
    """``SELECT stories``, ``INSERT activity_events``: the verb and the first table."""
    verb = text.split(None, 1)[0].upper() if text.strip() else "?"
    match = re.search(_TABLE_AFTER.get(verb, r"\bFROM\s+(\w+)"), text, re.I)
    return f"{verb} {match.group(1) if match else ''}".strip()


# Databases


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _postgres_admin(sql: str) -> Any:
    conn = await asyncpg.connect(_asyncpg_dsn(POSTGRES_ADMIN_URL), timeout=10)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def postgres_unreachable() -> str | None:
    try:
        await _postgres_admin("SELECT 1")
    except (OSError, asyncpg.PostgresError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@asynccontextmanager
async def fresh_database(kind: str, workdir: Path) -> AsyncIterator[AsyncEngine]:
    """A new, migrated database, dropped (PostgreSQL) or deleted (SQLite) afterwards."""
    name = f"plandeck_bench_{uuid.uuid4().hex[:12]}"
    if kind == "sqlite":
        url = f"sqlite:///{workdir / (name + '.sqlite3')}"
    elif kind == "postgresql":
        await _postgres_admin(f'CREATE DATABASE "{name}"')
        url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(False)
    else:
        raise ValueError(f"unknown database {kind!r}: use sqlite or postgresql")
    engine: AsyncEngine | None = None
    try:
        engine = create_engine(to_async_url(url))
        await migrate.upgrade(engine)
        yield engine
    finally:
        if engine is not None:
            await engine.dispose()
        if kind == "postgresql":
            await _postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            for suffix in ("", "-wal", "-shm", "-journal"):
                (workdir / f"{name}.sqlite3{suffix}").unlink(missing_ok=True)


async def prepare(sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    """An importing user and an empty project; their ids."""
    async with unit_of_work(sessionmaker) as session:
        actor = await user_service.create(
            session,
            UserCreate(email="bench@example.com", name="Bench", password="bench import passphrase"),
        )
        project = await project_service.create(
            session, actor, ProjectCreate(key="BENCH", name="Scale & Hardening")
        )
        return actor.id, project.id


async def timed_import(
    sessionmaker: async_sessionmaker[AsyncSession],
    ids: tuple[int, int],
    doc: PlanDocument,
    counter: StatementCounter | None = None,
    slices: list[float] | None = None,
    split: dict[str, float] | None = None,
) -> tuple[Timing, ImportReport]:
    """``import_document`` and the commit, timed (and counted); the actor and project are
    loaded first, untimed. ``slices`` receives the milliseconds per story of each tenth of
    the stories (as reported by the importer's progress), which shows whether a story costs
    more as the project fills up. ``split`` receives the seconds until the last story was
    reported (``plan_s``: the project read and every change worked out) and after it
    (``write_s``: the batched writes and the commit)."""
    marks: list[tuple[int, float]] = []
    step = max(1, len(doc.stories) // 10)

    def progress(done: int, total: int) -> None:
        if done % step == 0 or done == total:
            marks.append((done, time.perf_counter()))

    async with unit_of_work(sessionmaker) as session:
        actor = await session.get(User, ids[0])
        project = await session.get(Project, ids[1])
        assert actor is not None
        assert project is not None
        if counter is not None:
            counter.reset()
        stopwatch = Stopwatch()
        marks.append((0, time.perf_counter()))
        report = await import_document(session, actor, project, doc, progress=progress)
    timing = stopwatch.stop()
    if split is not None and len(marks) > 1:
        split["plan_s"] = round(marks[-1][1] - marks[0][1], 4)
        split["write_s"] = round(timing.wall - split["plan_s"], 4)
    if slices is not None and len(marks) > 2:
        # From the first story's start: the phase and sprints come before it.
        slices[:] = [
            round((end - start) * 1000 / (done - before), 2)
            for (before, start), (done, end) in itertools.pairwise(marks[1:])
        ]
        first = marks[1][0]
        slices.insert(0, round((marks[1][1] - marks[0][1]) * 1000 / first, 2))
    return timing, report


async def timed_export(
    sessionmaker: async_sessionmaker[AsyncSession], ids: tuple[int, int]
) -> tuple[Timing, str]:
    async with unit_of_work(sessionmaker, read_only=True) as session:
        actor = await session.get(User, ids[0])
        project = await session.get(Project, ids[1])
        assert actor is not None
        assert project is not None
        stopwatch = Stopwatch()
        exported = await document_from_project(session, actor, project)
        text = render_markdown(exported)
        timing = stopwatch.stop()
    return timing, text


async def timed_bulk_floor(
    sessionmaker: async_sessionmaker[AsyncSession], ids: tuple[int, int], doc: PlanDocument
) -> Timing:
    """The same rows and activity events written in batches (``INSERT ... RETURNING`` of many
    rows), with no service layer: the floor the importer's own batched writes approach.

    Not an importer: nothing is matched, checked or merged. It writes what a first import
    writes (phase, sprints, stories with rank and baseline, tasks level by level, one
    CREATED event per row and the IMPORTED event) so the cost of the rows themselves can be
    told apart from the cost of the statements around them.
    """
    actor_id, project_id = ids
    async with unit_of_work(sessionmaker) as session:
        stopwatch = Stopwatch()
        events: list[dict[str, Any]] = []

        def created(entity_type: EntityType, entity_id: int, after: dict[str, Any]) -> None:
            events.append(
                {
                    "actor_id": actor_id,
                    "project_id": project_id,
                    "entity_type": entity_type,
                    "entity_id": entity_id,
                    "action": ActivityAction.CREATED,
                    "after": after,
                }
            )

        phases = [
            Phase(
                project_id=project_id,
                number=phase.number,
                title=phase.title,
                goals=phase.goals,
                description=phase.description,
                notes=phase.notes,
                meta=phase.meta,
                **({"status": phase.status} if phase.status else {}),
            )
            for phase in doc.phases
        ]
        session.add_all(phases)
        await session.flush()
        phase_ids = {phase.number: phase.id for phase in phases}
        sprints = [
            Sprint(
                project_id=project_id,
                number=sprint.number,
                name=sprint.name,
                goal=sprint.goal,
                weeks=sprint.weeks,
                phase_id=phase_ids.get(sprint.phase) if sprint.phase is not None else None,
            )
            for sprint in doc.sprints
        ]
        session.add_all(sprints)
        await session.flush()
        sprint_ids = {sprint.number: sprint.id for sprint in sprints}
        for row in (*phases, *sprints):
            entity = EntityType.PHASE if isinstance(row, Phase) else EntityType.SPRINT
            created(entity, row.id, {"number": row.number})

        per_sprint: dict[int | None, list[StoryDoc]] = {}
        for story in doc.stories:
            per_sprint.setdefault(story.sprint, []).append(story)
        ranks: dict[str, str] = {}
        for group in per_sprint.values():
            for story, rank in zip(
                group, generate_n_keys_between(None, None, len(group)), strict=True
            ):
                ranks[story.key] = rank
        story_rows = []
        for story in doc.stories:
            row = {
                "project_id": project_id,
                "reporter_id": actor_id,
                "key": story.key,
                "title": story.title,
                "points": story.points,
                "description": story.description,
                "notes": story.notes,
                "acceptance_criteria": [
                    {"text": c.text, "done": c.done} for c in story.acceptance_criteria
                ],
                "moscow": story.moscow,
                "phase_id": phase_ids.get(story.phase) if story.phase is not None else None,
                "sprint_id": sprint_ids.get(story.sprint) if story.sprint is not None else None,
                "rank": ranks[story.key],
                **({"priority": story.priority} if story.priority else {}),
                **({"status": story.status} if story.status else {}),
            }
            row["import_baseline"] = {name: to_json(value) for name, value in row.items()}
            story_rows.append(row)
        # Matched back by natural key rather than with sort_by_parameter_order: SQLite has no
        # implicit insert sentinel, and SQLAlchemy would then insert one row per statement.
        inserted = await session.execute(insert(Story).returning(Story.key, Story.id), story_rows)
        by_key = {row.key: row.id for row in inserted}
        story_ids = [by_key[row["key"]] for row in story_rows]
        for story_id, row in zip(story_ids, story_rows, strict=True):
            created(EntityType.STORY, story_id, {k: to_json(v) for k, v in row.items()})

        # Tasks level by level, so subtasks know their parent's id.
        level: list[tuple[int, int | None, int, Checkbox]] = [
            (story_id, None, position, box)
            for story_id, story in zip(story_ids, doc.stories, strict=True)
            for position, box in enumerate(story.tasks)
        ]
        while level:
            task_rows = [
                {
                    "story_id": story_id,
                    "parent_id": parent_id,
                    "text": box.text,
                    "done": box.done,
                    "position": position,
                }
                for story_id, parent_id, position, box in level
            ]
            returned = await session.execute(
                insert(Task).returning(Task.story_id, Task.parent_id, Task.position, Task.id),
                task_rows,
            )
            by_place = {(row.story_id, row.parent_id, row.position): row.id for row in returned}
            task_ids = [
                by_place[(row["story_id"], row["parent_id"], row["position"])] for row in task_rows
            ]
            for task_id, row in zip(task_ids, task_rows, strict=True):
                created(EntityType.TASK, task_id, row)
            level = [
                (story_id, task_id, position, child)
                for task_id, (story_id, _, _, box) in zip(task_ids, level, strict=True)
                for position, child in enumerate(box.subtasks)
            ]
        events.append(
            {
                "actor_id": actor_id,
                "project_id": project_id,
                "entity_type": EntityType.PROJECT,
                "entity_id": project_id,
                "action": ActivityAction.IMPORTED,
                "after": {"file": doc.file, "created": len(events)},
            }
        )
        await session.execute(insert(ActivityEvent), events)
    return stopwatch.stop()


async def stored_counts(sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    async with unit_of_work(sessionmaker, read_only=True) as session:
        stories = await session.scalar(select(func.count()).select_from(Story))
        tasks = await session.scalar(select(func.count()).select_from(Task))
    return stories or 0, tasks or 0


# The runs


def measure_parse(data: bytes, repeat: int, budget: float) -> tuple[PlanDocument, Measurement]:
    measurement = Measurement("parse")
    decode_runs: list[float] = []
    doc = PlanDocument(file=FILE_NAME)
    while not measurement.enough(repeat, budget):
        stopwatch = Stopwatch()
        decoded = decode_document(data)
        decode_runs.append(stopwatch.stop().wall)
        doc = parse_sprint_plan(decoded.text, FILE_NAME)
        measurement.add(stopwatch.stop())
    measurement.extra = {
        "decode_repair_median_s": round(statistics.median(decode_runs), 4),
        "parse_only_median_s": round(measurement.median - statistics.median(decode_runs), 4),
        "repairs": len(decoded.repairs),
    }
    return doc, measurement


async def measure_database(
    kind: str, doc: PlanDocument, workdir: Path, repeat: int, budget: float
) -> dict[str, Any]:
    stories, tasks = len(doc.stories), task_count(doc)
    imports = Measurement("import")
    reimports = Measurement("re-import")
    exports = Measurement("export")
    result: dict[str, Any] = {}
    while not imports.enough(repeat, budget):
        async with fresh_database(kind, workdir) as engine:
            sessionmaker = create_sessionmaker(engine)
            ids = await prepare(sessionmaker)
            counter = StatementCounter(engine)
            slices: list[float] = []
            split: dict[str, float] = {}
            timing, report = await timed_import(sessionmaker, ids, doc, counter, slices, split)
            imports.add(timing)
            imports.extra.setdefault("ms_per_story_by_tenth", []).append(slices)
            imports.extra.setdefault("plan_and_write_s", []).append(split)
            console.print(
                f"  {kind}: import {len(imports.runs)}: {timing.wall:.2f} s "
                f"({timing.cpu:.2f} s CPU, load {imports.load[-1]})"
            )
            if len(imports.runs) > 1:
                continue
            # Read before stored_counts, whose queries the counter would count too.
            result["import_statements"] = counter.count
            result["import_statements_per_story"] = round(counter.count / stories, 3)
            result["import_driver_s"] = round(counter.driver_seconds, 3)
            result["import_statement_kinds"] = dict(counter.kinds().most_common())
            result["import_changes"] = dict(report.counts())
            # The first database also serves the re-import and the export.
            stored = await stored_counts(sessionmaker)
            if stored != (stories, tasks):
                raise RuntimeError(f"{kind}: stored {stored}, expected {(stories, tasks)}")
            while not reimports.enough(repeat, budget):
                timing, report = await timed_import(sessionmaker, ids, doc, counter)
                reimports.add(timing)
                if set(report.counts()) != {"unchanged"}:
                    raise RuntimeError(f"{kind}: re-import changed {report.counts()}")
            result["reimport_statements"] = counter.count
            result["reimport_statements_per_story"] = round(counter.count / stories, 3)
            result["reimport_driver_s"] = round(counter.driver_seconds, 3)
            while not exports.enough(repeat, budget):
                timing, text = await timed_export(sessionmaker, ids)
                exports.add(timing)
            back = parse_sprint_plan(text, FILE_NAME)
            result["export_bytes"] = len(text.encode("utf-8"))
            result["export_round_trip"] = (len(back.stories), task_count(back)) == (stories, tasks)
            result["export_same_as_rendered_document"] = text == render_markdown(doc)
    floors = Measurement("bulk-insert floor")
    while not floors.enough(repeat, budget):
        async with fresh_database(kind, workdir) as engine:
            sessionmaker = create_sessionmaker(engine)
            ids = await prepare(sessionmaker)
            counter = StatementCounter(engine)
            floors.add(await timed_bulk_floor(sessionmaker, ids, doc))
            floors.extra = {
                "statements": counter.count,
                "statements_per_story": round(counter.count / stories, 3),
            }
            if await stored_counts(sessionmaker) != (stories, tasks):
                raise RuntimeError(f"{kind}: the bulk floor did not store every row")
    if stories >= 2000:
        imports.extra["target_s"] = TARGETS["import"]
    result |= {m.name: m.as_json() for m in (imports, reimports, exports, floors)}
    return result


# Attributing statements and profiling


def _origin() -> str:
    """The service code that issued the statement being executed: ``caller > helper``.

    The listener runs in SQLAlchemy's greenlet; the awaiting coroutines are on the parent's stack.
    """
    current = greenlet.getcurrent()
    frame = current.parent.gr_frame if current.parent is not None else None
    below: list[str] = []  # plandeck frames under the importer's, innermost first
    while frame is not None:
        name, path = frame.f_code.co_qualname, frame.f_code.co_filename
        if name.startswith("PlanImporter."):
            if not below:
                return f"{name} (its own query)"
            return f"{name} -> {below[-1]}" + (f" > {below[0]}" if len(below) > 1 else "")
        if path.startswith(str(SOURCE_DIR)) and not path.endswith(("db.py", "integrity.py")):
            below.append(name)
        frame = frame.f_back
    return "outside the importer"


_PURPOSES = (
    # (what the origin or the statement contains, the purpose it serves)
    ("membership_of", "role check (require_role)"),
    ("PlanImporter._all", "the project read up front (phases, sprints, stories)"),
    ("PlanImporter._task_trees", "tasks of the stories whose checklist changed"),
    ("outside the importer", "the benchmark loading the user and project"),
    ("INSERT activity_events", "activity events, one batch"),
    ("INSERT", "rows inserted in batches"),
    ("UPDATE", "changed rows updated"),
)


def purpose(origin: str, kind: str) -> str:
    """What a statement is for, in the words of the benchmark report."""
    text = f"{origin} {kind}"
    return next((name for marker, name in _PURPOSES if marker in text), "other")


async def explain(kind: str, doc: PlanDocument, workdir: Path) -> dict[str, Any]:
    """Statements per story of an import and a re-import of ``doc``, by origin and purpose.

    Each statement is also given the time since the previous one ended, up to its own end
    (the Python that built it, then the driver): an approximation that adds up to the whole.
    """
    counts: Counter[tuple[str, str]] = Counter()
    seconds: Counter[tuple[str, str]] = Counter()
    state: dict[str, Any] = {"key": None, "last": 0.0, "overhead": 0.0}

    def before(*args: Any) -> None:
        started = time.perf_counter()
        state["key"] = (_origin(), statement_kind(args[2]))
        counts[state["key"]] += 1
        state["overhead"] = time.perf_counter() - started  # the stack walk, not the import's

    def after(*_args: Any) -> None:
        now = time.perf_counter()
        seconds[state["key"]] += now - state["last"] - state["overhead"]
        state["last"] = now

    found: dict[str, Any] = {}
    stories = len(doc.stories)
    async with fresh_database(kind, workdir) as engine:
        sessionmaker = create_sessionmaker(engine)
        ids = await prepare(sessionmaker)
        event.listen(engine.sync_engine, "before_cursor_execute", before)
        event.listen(engine.sync_engine, "after_cursor_execute", after)
        for label in ("import", "reimport"):
            counts.clear()
            seconds.clear()
            state["last"] = time.perf_counter()
            await timed_import(sessionmaker, ids, doc)
            by_purpose: dict[str, list[float]] = {}
            for (origin, kind_), n in counts.items():
                entry = by_purpose.setdefault(purpose(origin, kind_), [0, 0.0])
                entry[0] += n
                entry[1] += seconds[(origin, kind_)]
            total = sum(seconds.values())
            found[label] = {
                "by_origin": [
                    {
                        "origin": origin,
                        "statement": kind_,
                        "per_story": round(n / stories, 3),
                        "seconds": round(seconds[(origin, kind_)], 3),
                    }
                    for (origin, kind_), n in counts.most_common()
                ],
                "by_purpose": [
                    {
                        "purpose": name,
                        "per_story": round(n / stories, 3),
                        "seconds": round(spent, 3),
                        "share": round(spent / total, 3) if total else 0.0,
                    }
                    for name, (n, spent) in sorted(by_purpose.items(), key=lambda i: -i[1][1])
                ],
            }
    return found


async def profile(kind: str, doc: PlanDocument, workdir: Path, stamp: str) -> Path:
    """Profile one import with pyinstrument (if installed) or cProfile; the report's path."""
    async with fresh_database(kind, workdir) as engine:
        sessionmaker = create_sessionmaker(engine)
        ids = await prepare(sessionmaker)
        try:
            from pyinstrument import Profiler
        except ImportError:
            import cProfile
            import io
            import pstats

            profiler = cProfile.Profile()
            profiler.enable()
            await timed_import(sessionmaker, ids, doc)
            profiler.disable()
            stream = io.StringIO()
            pstats.Stats(profiler, stream=stream).sort_stats("cumulative").print_stats(60)
            path = RESULTS_DIR / f"profile-{kind}-{stamp}.txt"
            path.write_text(stream.getvalue())
            return path
        pyinstrument = Profiler(async_mode="enabled", interval=0.0005)
        pyinstrument.start()
        await timed_import(sessionmaker, ids, doc)
        pyinstrument.stop()
        packages: Counter[str] = Counter()
        if (root := pyinstrument.last_session.root_frame(trim_stem=False)) is not None:
            _self_time_by_package(root, "?", packages)
        total = sum(packages.values()) or 1.0
        summary = "\n".join(
            f"{spent:8.2f} s {spent / total:6.1%}  {name}"
            for name, spent in packages.most_common(10)
        )
        path = RESULTS_DIR / f"profile-{kind}-{stamp}.txt"
        path.write_text(
            f"Self time by package (the profiler's own overhead is in every line):\n{summary}\n\n"
            + pyinstrument.output_text(unicode=True, show_all=False)
        )
        return path


def _package(path: str) -> str:
    if f"{os.sep}plandeck{os.sep}" in path:
        return "plandeck"
    if "site-packages" in path:
        return path.split("site-packages", 1)[1].strip(os.sep).split(os.sep, 1)[0]
    if "asyncio" in path:
        return "asyncio (standard library)"
    if path.startswith(str(BENCH_DIR)):
        return "the benchmark"
    if path in ("<built-in>", ""):
        return "built-in (C code: greenlet switches, sockets, sqlite3, json...)"
    return "standard library, other"


def _self_time_by_package(frame: Any, parent: str, totals: Counter[str]) -> None:
    """Add up the time pyinstrument saw in each package's own code (not in what it called)."""
    if frame.is_synthetic:  # "[self]" time belongs to the caller; "[await]" is waiting
        name = parent if frame.function == "[self]" else frame.function
    else:
        name = _package(frame.file_path or "")
    totals[name] += frame.time - sum(child.time for child in frame.children)
    for child in frame.children:
        _self_time_by_package(child, name, totals)


# Reporting


def _seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _verdict(value: float, target: float | None) -> str:
    if target is None:
        return ""
    if value <= target:
        return f"[green]meets {target:g} s[/]"
    return f"[red]{value / target:.1f}x over {target:g} s (+{value - target:.1f} s)[/]"


def report_table(results: dict[str, Any], full_size: bool) -> Table:
    table = Table(title=f"plan import benchmark: {results['document']['summary']}")
    columns = (
        "measurement",
        "database",
        "runs",
        "median",
        "min",
        "CPU",
        "statements (per story)",
        "",
    )
    for column in columns:
        table.add_column(
            column, justify="left" if column in ("measurement", "database") else "right"
        )
    parse = results["parse"]
    len_stories = results["document"]["stories"]
    table.add_row(
        "decode+repair+parse",
        "-",
        str(len(parse["runs_s"])),
        _seconds(parse["median_s"]),
        _seconds(parse["min_s"]),
        _seconds(parse["cpu_median_s"]),
        "",
        _verdict(parse["median_s"], TARGETS["parse"] if full_size else None),
    )
    for kind, found in results["databases"].items():
        if "skipped" in found:
            table.add_row("import", kind, "0", "-", "-", "-", "", f"skipped: {found['skipped']}")
            continue
        for name, statements in (
            ("import", found["import_statements"]),
            ("re-import", found["reimport_statements"]),
            ("export", None),
            ("bulk-insert floor", found["bulk-insert floor"]["statements"]),
        ):
            row = found[name]
            table.add_row(
                name,
                kind,
                str(len(row["runs_s"])),
                _seconds(row["median_s"]),
                _seconds(row["min_s"]),
                _seconds(row["cpu_median_s"]),
                "" if statements is None else f"{statements:,} ({statements / len_stories:.3g})",
                _verdict(
                    row["median_s"], TARGETS["import"] if name == "import" and full_size else None
                ),
            )
    return table


def machine() -> dict[str, Any]:
    model = ""
    with suppress(OSError, StopIteration):
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    return {
        "platform": platform.platform(),
        "cpu": model or platform.processor(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "sqlalchemy": sqlalchemy.__version__,
        "sqlite": sqlite3.sqlite_version,
        "asyncpg": asyncpg.__version__,
        "plandeck_commit": _git_commit(),
        "load_average_at_start": [round(load, 2) for load in os.getloadavg()],
    }


def _git_commit() -> str | None:
    """The commit measured, marked ``+changes`` when the source differs from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=BENCH_DIR.parent,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            cwd=BENCH_DIR.parent,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+changes" if dirty else "")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    text = generate_plan(args.stories, args.seed)
    data = text.encode("utf-8")
    console.print(f"generated {len(data) / 1e6:.2f} MB ({len(text.splitlines())} lines)")
    doc, parse = measure_parse(data, args.repeat, args.budget)
    if doc.errors:
        raise RuntimeError(f"the generated plan has errors: {doc.errors[:3]}")
    summary = (
        f"{len(data) / 1e6:.2f} MB, {len(doc.sprints)} sprints, {len(doc.stories)} stories, "
        f"{task_count(doc)} tasks"
    )
    results: dict[str, Any] = {
        "when": stamp,
        "command": args.command,
        "machine": machine(),
        "document": {
            "summary": summary,
            "bytes": len(data),
            "seed": args.seed,
            "phases": len(doc.phases),
            "sprints": len(doc.sprints),
            "stories": len(doc.stories),
            "tasks": task_count(doc),
            "warnings": len(doc.warnings),
        },
        "parse": parse.as_json() | ({"target_s": TARGETS["parse"]} if args.stories >= 2000 else {}),
        "databases": {},
    }
    console.print(f"{summary}; parse median {_seconds(parse.median)}")
    with tempfile.TemporaryDirectory(prefix="plandeck-bench-") as tmp:
        workdir = Path(tmp)
        for kind in args.databases:
            if kind == "postgresql" and (why := await postgres_unreachable()):
                console.print(f"[yellow]PostgreSQL skipped:[/] {why}")
                results["databases"][kind] = {"skipped": why}
                continue
            if kind == "postgresql":
                results["machine"]["postgresql"] = await _postgres_admin("SHOW server_version")
            console.print(f"{kind}: importing {len(doc.stories)} stories")
            results["databases"][kind] = await measure_database(
                kind, doc, workdir, args.repeat, args.budget
            )
        if args.explain:
            small = parse_sprint_plan(
                decode_document(generate_plan(args.explain, args.seed).encode()).text, FILE_NAME
            )
            results["explain"] = {"stories": args.explain}
            for kind in args.databases:
                if "skipped" not in results["databases"].get(kind, {}):
                    results["explain"][kind] = await explain(kind, small, workdir)
        if args.profile:
            small = parse_sprint_plan(
                decode_document(generate_plan(args.profile, args.seed).encode()).text, FILE_NAME
            )
            RESULTS_DIR.mkdir(exist_ok=True)
            results["profiles"] = {}
            for kind in args.databases:
                if "skipped" not in results["databases"].get(kind, {}):
                    path = await profile(kind, small, workdir, stamp)
                    results["profiles"][kind] = str(path.relative_to(BENCH_DIR.parent))
    return results


def _print_explain(found: dict[str, Any]) -> None:
    for kind, runs in found.items():
        if kind == "stories":
            continue
        for label, parts in runs.items():
            title = f"{kind} {label} of {found['stories']} stories"
            table = Table(title=f"{title}: statements by origin")
            table.add_column("issued by (importer method -> function > helper)")
            table.add_column("statement")
            table.add_column("per story", justify="right")
            table.add_column("time", justify="right")
            rows = parts["by_origin"]
            for row in rows:
                if row["per_story"] >= 0.1 or len(rows) <= 40:
                    table.add_row(
                        row["origin"],
                        row["statement"],
                        f"{row['per_story']:g}",
                        _seconds(row["seconds"]),
                    )
            console.print(table)
            table = Table(title=f"{title}: statements by purpose")
            for column in ("purpose", "per story", "time", "share"):
                table.add_column(column, justify="left" if column == "purpose" else "right")
            for row in parts["by_purpose"]:
                table.add_row(
                    row["purpose"],
                    f"{row['per_story']:g}",
                    _seconds(row["seconds"]),
                    f"{row['share']:.0%}",
                )
            console.print(table)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--stories", type=int, default=2000, help="stories in the plan (2000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement (3)")
    parser.add_argument(
        "--budget",
        type=float,
        default=60.0,
        help="seconds after which a measurement is not repeated; one run is always made (60)",
    )
    parser.add_argument(
        "--databases",
        default="sqlite,postgresql",
        help="comma-separated: sqlite, postgresql (sqlite,postgresql)",
    )
    parser.add_argument("--seed", type=int, default=2025, help="random seed of the plan (2025)")
    parser.add_argument(
        "--explain",
        type=int,
        default=0,
        metavar="N",
        help="also attribute the statements of an N-story import to the code that issues them",
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="also profile an N-story import (pyinstrument if installed, else cProfile)",
    )
    parser.add_argument("--output", type=Path, help="result file (bench/results/import-*.json)")
    args = parser.parse_args(argv)
    args.databases = [kind.strip() for kind in args.databases.split(",") if kind.strip()]
    unknown = set(args.databases) - {"sqlite", "postgresql"}
    if unknown:
        parser.error(f"unknown databases: {', '.join(sorted(unknown))}")
    if args.stories < 1 or args.repeat < 1:
        parser.error("--stories and --repeat must be at least 1")
    args.command = " ".join(["python bench/bench_import.py", *(argv or [])])
    return args


async def _interruptible(args: argparse.Namespace) -> dict[str, Any]:
    """``run``, cancelled on SIGINT or SIGTERM, so that its databases are still removed."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, task.cancel)
    return await run(args)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        results = asyncio.run(_interruptible(args))
    except asyncio.CancelledError:
        console.print("interrupted; the benchmark's databases were removed")
        raise SystemExit(130) from None
    console.print(report_table(results, full_size=args.stories >= 2000))
    if "explain" in results:
        _print_explain(results["explain"])
    for kind, path in results.get("profiles", {}).items():
        console.print(f"{kind} profile: {path}")
    output = args.output or RESULTS_DIR / f"import-{results['when']}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    console.print(f"results written to {output}")


if __name__ == "__main__":
    main(sys.argv[1:])
