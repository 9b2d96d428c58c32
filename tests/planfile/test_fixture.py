"""The team's real plan (``shared/fixtures/phase3-plan.md``) yields exactly what its expected file says."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.models import Project, Story, Task, User
from plandeck.planfile.document import PlanDocument
from plandeck.planfile.importer import import_document
from plandeck.planfile.reader import read_path
from tests.conftest import SHARED
from tests.factories.plans import make_project

FIXTURE = SHARED / "fixtures" / "phase3-plan.md"
EXPECTED: dict[str, Any] = json.loads(
    (SHARED / "fixtures" / "phase3-plan.expected.json").read_text()
)


@pytest.fixture(scope="module")
def doc() -> PlanDocument:
    return read_path(FIXTURE)


class TestFixtureDocument:
    def test_phase(self, doc: PlanDocument) -> None:
        (phase,) = doc.phases
        expected = EXPECTED["phase"]
        assert (phase.number, phase.title, phase.status.value if phase.status else None) == (
            expected["number"],
            expected["title"],
            expected["status"].lower(),
        )
        assert phase.meta["Previous Phase"] == expected["previous_phase"]
        assert phase.goals == expected["goals"]

    def test_repaired_headings(self, doc: PlanDocument) -> None:
        level_two = [h for h in doc.headings if h in EXPECTED["repaired_headings"]]
        assert level_two == EXPECTED["repaired_headings"]
        assert "\u200c" in EXPECTED["repaired_headings"][3]

    def test_sprints(self, doc: PlanDocument) -> None:
        assert [
            {"number": s.number, "name": s.name, "weeks": s.weeks} for s in doc.sprints
        ] == EXPECTED["sprints"]

    def test_stories(self, doc: PlanDocument) -> None:
        actual = [
            {
                "key": s.key,
                "title": s.title,
                "points": s.points,
                "priority": s.priority.value.capitalize() if s.priority else None,
                "status": s.status.value.capitalize() if s.status else None,
                "sprint": s.sprint,
                "moscow": s.moscow.value.capitalize() if s.moscow else None,
                "tasks": len(s.tasks),
                "tasks_done": sum(t.done for t in s.tasks),
            }
            for s in doc.stories
        ]
        assert actual == EXPECTED["stories"]

    def test_totals(self, doc: PlanDocument) -> None:
        totals = EXPECTED["totals"]
        assert len(doc.sprints) == totals["sprints"]
        assert len(doc.stories) == totals["stories"]
        assert sum(s.points or 0 for s in doc.stories) == totals["points"]
        assert sum(len(s.tasks) for s in doc.stories) == totals["tasks"]

    def test_encoding_repairs_are_reported_with_lines(self, doc: PlanDocument) -> None:
        repairs = [w for w in doc.warnings if w.message.startswith("repaired damaged text")]
        assert repairs
        assert all(w.line and w.file == "phase3-plan.md" for w in repairs)
        assert doc.errors == []


class TestFixtureImport:
    async def test_import_yields_the_expected_totals(
        self, session: AsyncSession, owner: User, doc: PlanDocument
    ) -> None:
        project: Project = await make_project(session, owner, key="FIX")
        await import_document(session, owner, project, doc)
        stories = (await session.scalars(select(Story).where(Story.project_id == project.id))).all()
        assert len(stories) == EXPECTED["totals"]["stories"]
        assert sum(s.points or 0 for s in stories) == EXPECTED["totals"]["points"]
        tasks = (
            await session.scalars(select(Task).join(Story).where(Story.project_id == project.id))
        ).all()
        assert len(tasks) == EXPECTED["totals"]["tasks"]
        assert sum(t.done for t in tasks) == EXPECTED["totals"]["tasks_done"]
