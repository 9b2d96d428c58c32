from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.db import create_sessionmaker, unit_of_work
from plandeck.errors import Forbidden
from plandeck.models import (
    ActivityAction,
    ActivityEvent,
    EntityType,
    MoSCoW,
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
from plandeck.plans.schemas import StoryUpdate, TaskUpdate
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
