from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.db import create_sessionmaker, unit_of_work
from plandeck.errors import Conflict, Forbidden
from plandeck.kit.audit import snapshot
from plandeck.models import (
    ActivityAction,
    ActivityEvent,
    EntityType,
    MoSCoW,
    Phase,
    Priority,
    Project,
    Role,
    Sprint,
    Story,
    StoryStatus,
    Task,
    User,
)
from plandeck.planfile.document import PlanSyntaxError
from plandeck.planfile.export import render_json, render_markdown
from plandeck.planfile.importer import document_from_project, import_document
from plandeck.planfile.sprint_plan import parse_sprint_plan
from plandeck.plans.phases import phase_service
from plandeck.plans.schemas import StoryCreate, StoryUpdate, TaskUpdate
from plandeck.plans.sprints import sprint_service
from plandeck.plans.stories import story_service
from plandeck.plans.tasks import task_service
from tests.databases import TestDatabase
from tests.factories.accounts import make_user
from tests.factories.plans import make_member, make_project

SAMPLES = Path(__file__).parent / "samples"
PLAN = """# Phase 1: Launch - Planning

**Status:** Planning

### Sprint 1: Start
#### Story 1.1: First (3 pts)
**Priority:** High
**Status:** Draft

**Tasks:**
- [ ] one
- [x] two

#### Story 1.2: Second (5 pts)
**Status:** Approved

## Prioritisation
### Must Have
1. Story 1.1: First

## Timeline
### Week 1-2: Sprint 1
- First
"""


@pytest.fixture
async def project(session: AsyncSession, owner: User) -> Project:
    return await make_project(session, owner, key="IMP")


async def _count(session: AsyncSession, model: type[Story] | type[Sprint] | type[Task]) -> int:
    return (
        await session.scalar(
            select(func.count()).select_from(model).where(model.deleted_at.is_(None))
        )
        or 0
    )


class TestImport:
    async def test_creates_phase_sprints_stories_and_tasks(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        report = await import_document(session, owner, project, parse_sprint_plan(PLAN, "plan.md"))
        assert (
            report.count("phase", "created"),
            report.count("sprint", "created"),
            report.count("story", "created"),
        ) == (1, 1, 2)
        story = await story_service.get_by_key(session, owner, project, "1.1")
        assert (story.points, story.moscow, story.status) == (3, MoSCoW.MUST, StoryStatus.DRAFT)
        tasks = (
            await session.scalars(
                select(Task).where(Task.story_id == story.id).order_by(Task.position)
            )
        ).all()
        assert [(t.text, t.done) for t in tasks] == [("one", False), ("two", True)]
        sprint = await session.scalar(select(Sprint).where(Sprint.project_id == project.id))
        assert sprint is not None
        assert (sprint.number, sprint.weeks) == (1, "1-2")
        event = await session.scalar(
            select(ActivityEvent).where(ActivityEvent.action == ActivityAction.IMPORTED)
        )
        assert event is not None
        assert event.after is not None
        assert (event.after["file"], event.after["created"], event.after["warnings"]) == (
            "plan.md",
            4,
            0,
        )
        assert "created story 1.1" in event.after["changes"]
        assert (event.entity_type, event.actor_id) == (EntityType.PROJECT, owner.id)

    async def test_reimport_of_the_same_document_changes_nothing(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        await import_document(session, owner, project, parse_sprint_plan(PLAN, "plan.md"))
        again = await import_document(session, owner, project, parse_sprint_plan(PLAN, "plan.md"))
        assert set(again.counts()) == {"unchanged"}
        assert await _count(session, Story) == 2
        assert await _count(session, Task) == 2

    async def test_reimport_of_an_edited_document_updates_by_key(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        await import_document(session, owner, project, parse_sprint_plan(PLAN, "plan.md"))
        edited = PLAN.replace("First (3 pts)", "First, renamed (8 pts)").replace(
            "- [ ] one", "- [x] one"
        )
        report = await import_document(
            session, owner, project, parse_sprint_plan(edited, "plan.md")
        )
        change = next(c for c in report.changes if c.key == "1.1")
        assert change.action == "updated"
        assert change.fields["title"] == ("First", "First, renamed")
        assert change.fields["points"] == (3, 8)
        story = await story_service.get_by_key(session, owner, project, "1.1")
        assert (story.title, story.points) == ("First, renamed", 8)
        tasks = (
            await session.scalars(
                select(Task).where(Task.story_id == story.id).order_by(Task.position)
            )
        ).all()
        assert [t.done for t in tasks] == [True, True]
        assert await _count(session, Story) == 2

    async def test_missing_stories_are_reported_and_kept_unless_pruned(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        await import_document(session, owner, project, parse_sprint_plan(PLAN, "plan.md"))
        shorter = PLAN.split("#### Story 1.2")[0] + "## Timeline\n### Week 1-2: Sprint 1\n"
        kept = await import_document(session, owner, project, parse_sprint_plan(shorter, "plan.md"))
        assert kept.missing == ["1.2"]
        assert await _count(session, Story) == 2
        pruned = await import_document(
            session, owner, project, parse_sprint_plan(shorter, "plan.md"), prune=True
        )
        assert pruned.count("story", "removed") == 1
        assert await _count(session, Story) == 1
        trashed = await story_service.list_in(session, owner, project, in_trash=True)
        assert [s.key for s in trashed] == ["1.2"], "pruned stories go to the trash, restorable"

    async def test_import_never_moves_a_status_back(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        await import_document(session, owner, project, parse_sprint_plan(PLAN, "plan.md"))
        story = await story_service.get_by_key(session, owner, project, "1.2")
        await story_service.update(
            session, owner, project, story.id, StoryUpdate(status=StoryStatus.DONE)
        )
        edited = PLAN.replace("**Status:** Approved", "**Status:** Review")
        report = await import_document(
            session, owner, project, parse_sprint_plan(edited, "plan.md")
        )
        assert story.status is StoryStatus.DONE
        assert any("stays done" in w.message for w in report.warnings)

    async def test_tracker_changes_survive_an_unchanged_document(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        await import_document(session, owner, project, parse_sprint_plan(PLAN, "plan.md"))
        story = await story_service.get_by_key(session, owner, project, "1.1")
        await story_service.update(session, owner, project, story.id, StoryUpdate(points=13))
        first_task = await session.scalar(
            select(Task).where(Task.story_id == story.id).order_by(Task.position)
        )
        assert first_task is not None
        await task_service.update(session, owner, project, first_task.id, TaskUpdate(done=True))
        version = story.version

        report = await import_document(session, owner, project, parse_sprint_plan(PLAN, "plan.md"))

        assert story.points == 13
        assert first_task.done is True
        assert story.version == version, "nothing to write, so no new version"
        assert not [w for w in report.warnings if "conflict" in w.message]
        assert set(report.counts()) == {"unchanged"}

    async def test_both_changed_the_same_field_document_wins_and_it_is_reported(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        await import_document(session, owner, project, parse_sprint_plan(PLAN, "plan.md"))
        story = await story_service.get_by_key(session, owner, project, "1.1")
        await story_service.update(
            session, owner, project, story.id, StoryUpdate(title="Renamed in the tracker")
        )
        edited = PLAN.replace("Story 1.1: First", "Story 1.1: Renamed in the document")
        report = await import_document(
            session, owner, project, parse_sprint_plan(edited, "plan.md")
        )
        assert story.title == "Renamed in the document"
        (conflict,) = [w for w in report.warnings if "conflict" in w.message]
        assert conflict.message.startswith("conflict: story 1.1 title was changed in the tracker")
        assert conflict.line == 6

    async def test_document_change_applies_where_the_tracker_left_the_field(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        await import_document(session, owner, project, parse_sprint_plan(PLAN, "plan.md"))
        story = await story_service.get_by_key(session, owner, project, "1.1")
        await story_service.update(session, owner, project, story.id, StoryUpdate(points=13))
        edited = PLAN.replace("Story 1.1: First (3 pts)", "Story 1.1: Retitled (3 pts)")
        report = await import_document(
            session, owner, project, parse_sprint_plan(edited, "plan.md")
        )
        assert (story.title, story.points) == ("Retitled", 13)
        assert not [w for w in report.warnings if "conflict" in w.message]

    async def test_value_the_tracker_cannot_hold_fails_with_file_and_line(
        self, database: TestDatabase, tmp_path: Path
    ) -> None:
        db = await database.copy(tmp_path)
        sessionmaker = create_sessionmaker(db.engine)
        async with unit_of_work(sessionmaker) as session:
            owner = await make_user(session)
            project = await make_project(session, owner, key="HALF")
            owner_id, project_id = owner.id, project.id
        too_long = PLAN.replace("Story 1.2: Second", "Story 1.2: " + "x" * 600)

        async def run() -> None:
            async with unit_of_work(sessionmaker) as session:
                owner = await session.get_one(User, owner_id)
                project = await session.get_one(Project, project_id)
                await import_document(
                    session, owner, project, parse_sprint_plan(too_long, "plan.md")
                )

        with pytest.raises(
            PlanSyntaxError,
            match=r"^plan\.md:14: story 1\.2: title: String should have at most 500",
        ):
            await run()
        async with unit_of_work(sessionmaker, read_only=True) as session:
            assert await _count(session, Story) == 0, "story 1.1 was written before 1.2 failed"
            assert await _count(session, Sprint) == 0
        await db.engine.dispose()

    async def test_member_may_not_import(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        member = await make_member(session, project, Role.MEMBER)
        with pytest.raises(Forbidden):
            await import_document(session, member, project, parse_sprint_plan(PLAN, "plan.md"))
        assert await _count(session, Story) == 0


def _plan(stories: int, sprints: int = 2) -> str:
    """``stories`` stories over ``sprints`` sprints, each with two tasks, the first with a subtask."""
    lines = ["# Phase 1: Launch - Planning", ""]
    per_sprint = -(-stories // sprints)
    for number in range(stories):
        sprint, place = divmod(number, per_sprint)
        if place == 0:
            lines += [f"### Sprint {sprint + 1}: Sprint {sprint + 1}", ""]
        lines += [
            f"#### Story {sprint + 1}.{place + 1}: Story {number + 1} ({number % 5 + 1} pts)",
            "**Tasks:**",
            "- [ ] first",
            "  - [x] first, detail",
            "- [x] second",
            "",
        ]
    return "\n".join(lines)


@contextmanager
def _statements(session: AsyncSession) -> Iterator[list[str]]:
    """The SQL statements the session sends meanwhile."""
    sent: list[str] = []

    def before(*args: Any) -> None:
        sent.append(args[2])

    engine = session.bind.sync_engine  # type: ignore[union-attr]
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", before)


async def _events(session: AsyncSession, project: Project) -> list[ActivityEvent]:
    return list(
        await session.scalars(
            select(ActivityEvent)
            .where(
                ActivityEvent.project_id == project.id,
                ActivityEvent.entity_type != EntityType.PROJECT,
            )
            .order_by(ActivityEvent.id)
        )
    )


async def _stories_by_rank(session: AsyncSession, sprint_number: int) -> list[Story]:
    return list(
        await session.scalars(
            select(Story)
            .join(Sprint, Sprint.id == Story.sprint_id)
            .where(Sprint.number == sprint_number, Story.deleted_at.is_(None))
            .order_by(Story.rank)
        )
    )


class TestBulkImport:
    async def test_statements_do_not_grow_with_the_stories(
        self, session: AsyncSession, owner: User
    ) -> None:
        few = await make_project(session, owner)
        many = await make_project(session, owner)
        with _statements(session) as for_four:
            await import_document(session, owner, few, parse_sprint_plan(_plan(4), "plan.md"))
        with _statements(session) as for_sixty:
            await import_document(session, owner, many, parse_sprint_plan(_plan(60), "plan.md"))
        assert await _count(session, Task) == 64 * 3
        # Role check, three loads, phases, sprints, stories, two levels of tasks, the trail,
        # and the analytics snapshot (the stories' open rows, then the new ones).
        assert len(for_four) == len(for_sixty) == 12

    async def test_reimport_of_an_unchanged_document_reads_no_tasks(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        await import_document(session, owner, project, parse_sprint_plan(_plan(30), "plan.md"))
        with _statements(session) as sent:
            report = await import_document(
                session, owner, project, parse_sprint_plan(_plan(30), "plan.md")
            )
        assert set(report.counts()) == {"unchanged"}
        assert not [s for s in sent if "FROM tasks" in s]
        assert len(sent) == 5, "role check, three loads and the IMPORTED event"

    async def test_every_created_row_has_the_event_its_service_writes(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        plan = PLAN.replace("- [ ] one\n", "- [ ] one\n  - [ ] one, detail\n")
        await import_document(session, owner, project, parse_sprint_plan(plan, "plan.md"))
        events = await _events(session, project)
        assert [(e.entity_type, e.action) for e in events] == [
            (EntityType.PHASE, ActivityAction.CREATED),
            (EntityType.SPRINT, ActivityAction.CREATED),
            (EntityType.STORY, ActivityAction.CREATED),  # 1.1, then its tasks depth first
            (EntityType.TASK, ActivityAction.CREATED),
            (EntityType.TASK, ActivityAction.CREATED),
            (EntityType.TASK, ActivityAction.CREATED),
            (EntityType.STORY, ActivityAction.CREATED),  # 1.2
        ]
        services: dict[EntityType, tuple[type[Any], tuple[str, ...]]] = {
            EntityType.PHASE: (Phase, phase_service.fields),
            EntityType.SPRINT: (Sprint, sprint_service.fields),
            EntityType.STORY: (Story, story_service.fields),
            EntityType.TASK: (Task, task_service.fields),
        }
        for created in events:
            model, fields = services[created.entity_type]
            row = await session.get_one(model, created.entity_id)
            assert created.after == snapshot(row, fields)
            assert (created.actor_id, created.before) == (owner.id, None)
        texts = [e.after["text"] for e in events if e.entity_type is EntityType.TASK and e.after]
        assert texts == ["one", "one, detail", "two"]

    async def test_subtasks_hang_under_their_parents(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        plan = PLAN.replace(
            "- [ ] one\n", "- [ ] one\n  - [ ] one.a\n    - [x] one.a.i\n  - [ ] one.b\n"
        )
        await import_document(session, owner, project, parse_sprint_plan(plan, "plan.md"))
        tasks = {t.text: t for t in await session.scalars(select(Task))}
        assert tasks["one"].parent_id is None
        assert (tasks["one.a"].parent_id, tasks["one.a"].position) == (tasks["one"].id, 0)
        assert (tasks["one.b"].parent_id, tasks["one.b"].position) == (tasks["one"].id, 1)
        assert (tasks["one.a.i"].parent_id, tasks["one.a.i"].done) == (tasks["one.a"].id, True)
        assert (tasks["two"].parent_id, tasks["two"].position) == (None, 1)

    async def test_ranks_follow_the_document_and_new_stories_join_the_end(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        await import_document(session, owner, project, parse_sprint_plan(_plan(8), "plan.md"))
        assert [s.key for s in await _stories_by_rank(session, 1)] == ["1.1", "1.2", "1.3", "1.4"]
        assert [s.key for s in await _stories_by_rank(session, 2)] == ["2.1", "2.2", "2.3", "2.4"]
        sprint = await session.scalar(select(Sprint).where(Sprint.number == 1))
        assert sprint is not None
        trashed = await story_service.create(
            session, owner, project, StoryCreate(key="T-1", title="Trashed", sprint_id=sprint.id)
        )
        await story_service.delete(session, owner, project, trashed.id)
        more = _plan(8).replace("### Sprint 2", "#### Story 1.5: Late\n\n### Sprint 2")
        await import_document(session, owner, project, parse_sprint_plan(more, "plan.md"))
        late = await story_service.get_by_key(session, owner, project, "1.5")
        assert late.rank > trashed.rank, "after the trash too, as the service places a story"
        assert [s.key for s in await _stories_by_rank(session, 1)][-1] == "1.5"

    async def test_baseline_is_written_with_the_new_story(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        await import_document(session, owner, project, parse_sprint_plan(PLAN, "plan.md"))
        story = await story_service.get_by_key(session, owner, project, "1.1")
        assert story.import_baseline == {
            "title": "First",
            "points": 3,
            "description": "",
            "notes": "",
            "acceptance_criteria": [],
            "moscow": "must",
            "phase_id": story.phase_id,
            "sprint_id": story.sprint_id,
            "priority": "high",
            "status": "draft",
            "tasks": [["one", False, []], ["two", True, []]],
        }
        assert story.version == 1

    async def test_reimport_writes_only_what_changed(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        await import_document(session, owner, project, parse_sprint_plan(_plan(10), "plan.md"))
        stories = {s.key: s for s in await session.scalars(select(Story))}
        versions = {key: story.version for key, story in stories.items()}
        before = len(await _events(session, project))
        edited = (
            _plan(10)
            .replace("Story 1.2: Story 2", "Story 1.2: Renamed")
            .replace(
                "Story 2.3: Story 8 (3 pts)\n**Tasks:**\n- [ ] first",
                "Story 2.3: Story 8 (3 pts)\n**Tasks:**\n- [x] first",
            )
            .replace(
                "Story 2.4: Story 9 (4 pts)\n**Tasks:**\n- [ ] first\n  - [x] first, detail\n- [x] second",
                "Story 2.4: Story 9 (4 pts)\n**Tasks:**\n- [ ] first\n  - [x] first, detail\n- [x] second\n  - [ ] added",
            )
        )
        report = await import_document(
            session, owner, project, parse_sprint_plan(edited, "plan.md")
        )
        assert report.counts() == {"unchanged": 10, "updated": 3}
        changes = [(e.entity_type, e.action) for e in (await _events(session, project))[before:]]
        assert changes == [
            (EntityType.STORY, ActivityAction.UPDATED),
            (EntityType.TASK, ActivityAction.UPDATED),
            (EntityType.TASK, ActivityAction.CREATED),
        ]
        assert {k: s.version for k, s in stories.items()} == versions | {"1.2": versions["1.2"] + 1}
        nine = stories["2.4"].import_baseline
        assert nine is not None
        assert nine["tasks"][1] == ["second", True, [["added", False, []]]]

    async def test_story_moved_to_another_sprint_joins_its_end(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        await import_document(session, owner, project, parse_sprint_plan(_plan(6), "plan.md"))
        story = await story_service.get_by_key(session, owner, project, "1.1")
        version = story.version
        entry = "#### Story 1.1: Story 1 (1 pts)\n**Tasks:**\n- [ ] first\n  - [x] first, detail\n- [x] second\n"
        moved = _plan(6).replace(entry, "") + "\n" + entry  # now the last story of sprint 2
        report = await import_document(session, owner, project, parse_sprint_plan(moved, "plan.md"))
        assert report.count("story", "updated") == 1
        assert [s.key for s in await _stories_by_rank(session, 2)] == ["2.1", "2.2", "2.3", "1.1"]
        assert story.version == version + 1

    async def test_key_of_a_trashed_story_is_a_conflict(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        await import_document(session, owner, project, parse_sprint_plan(PLAN, "plan.md"))
        story = await story_service.get_by_key(session, owner, project, "1.2")
        await story_service.delete(session, owner, project, story.id)
        with pytest.raises(Conflict, match=r"already has a story 1\.2 \(perhaps in the trash\)"):
            await import_document(session, owner, project, parse_sprint_plan(PLAN, "plan.md"))

    async def test_task_the_tracker_cannot_hold_names_its_story_and_line(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        with pytest.raises(PlanSyntaxError, match=r"^plan\.md:6: story 1\.1: text: String should"):
            await import_document(
                session,
                owner,
                project,
                parse_sprint_plan(PLAN.replace("- [ ] one", "- [ ]  "), "plan.md"),
            )

    async def test_progress_is_told_after_every_story(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        told: list[tuple[int, int]] = []
        await import_document(
            session,
            owner,
            project,
            parse_sprint_plan(_plan(5), "plan.md"),
            progress=lambda done, total: told.append((done, total)),
        )
        assert told == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]

    async def test_garbage_collection_is_back_on_after_an_import_even_a_failed_one(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        await import_document(session, owner, project, parse_sprint_plan(PLAN, "plan.md"))
        assert gc.isenabled()
        too_long = PLAN.replace("Story 1.2: Second", "Story 1.2: " + "x" * 600)
        with pytest.raises(PlanSyntaxError):
            await import_document(session, owner, project, parse_sprint_plan(too_long, "plan.md"))
        assert gc.isenabled()
        gc.disable()
        try:
            await import_document(session, owner, project, parse_sprint_plan(PLAN, "plan.md"))
            assert not gc.isenabled(), "left off when it was off"
        finally:
            gc.enable()


class TestExportFromProject:
    async def test_round_trip_through_the_database(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        source = parse_sprint_plan((SAMPLES / "variations.md").read_text(), "variations.md")
        await import_document(session, owner, project, source)
        exported = await document_from_project(session, owner, project)
        again = parse_sprint_plan(render_markdown(exported), "again.md")

        def story_fields(doc):  # type: ignore[no-untyped-def]
            return [
                (
                    s.key,
                    s.title,
                    s.points,
                    s.priority or Priority.MEDIUM,  # the tracker's default for an unstated priority
                    s.status,
                    s.moscow,
                    s.sprint,
                    s.description,
                    [(t.text, t.done, [(u.text, u.done) for u in t.subtasks]) for t in s.tasks],
                )
                for s in doc.stories
            ]

        assert story_fields(again) == story_fields(source)
        assert [(s.number, s.name, s.weeks) for s in again.sprints] == [
            (s.number, s.name, s.weeks) for s in source.sprints
        ]
        assert (again.phases[0].number, again.phases[0].title, again.phases[0].goals) == (
            4,
            "Mobile App",
            ["Offline mode", "Push notifications"],
        )

    async def test_json_export_groups_by_phase_and_sprint(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        await import_document(session, owner, project, parse_sprint_plan(PLAN, "plan.md"))
        data = render_json(
            await document_from_project(session, owner, project), {"key": project.key}
        )
        assert data["project"] == {"key": "IMP"}
        (phase,) = data["phases"]
        assert (phase["number"], phase["title"], phase["status"]) == (1, "Launch", "planning")
        (sprint,) = phase["sprints"]
        assert (sprint["number"], sprint["weeks"]) == (1, "1-2")
        assert [s["key"] for s in sprint["stories"]] == ["1.1", "1.2"]
        assert sprint["stories"][0]["tasks"] == [
            {"text": "one", "done": False, "subtasks": []},
            {"text": "two", "done": True, "subtasks": []},
        ]
        assert data["backlog"] == []
