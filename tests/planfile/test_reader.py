from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.models import User
from plandeck.planfile.document import PlanSyntaxError
from plandeck.planfile.importer import import_document
from plandeck.planfile.reader import read_path
from plandeck.plans.stories import story_service
from tests.factories.plans import make_project

SAMPLES = Path(__file__).parent / "samples"


class TestReadPath:
    def test_bom_and_crlf(self, tmp_path: Path) -> None:
        plan = tmp_path / "plan.md"
        text = "# Phase 1: Start\r\n### Sprint 1: One\r\n#### Story 1.1: First (2 pts)\r\n**Tasks:**\r\n- [x] done\r\n"
        plan.write_bytes(b"\xef\xbb\xbf" + text.encode())
        doc = read_path(plan)
        assert doc.phases[0].title == "Start"
        assert [(s.key, s.points, [(t.text, t.done) for t in s.tasks]) for s in doc.stories] == [
            ("1.1", 2, [("done", True)])
        ]

    def test_folder_of_sprint_plans_is_one_document(self, tmp_path: Path) -> None:
        (tmp_path / "a.md").write_text("# Phase 1: A\n### Sprint 1: One\n#### Story 1.1: First\n")
        (tmp_path / "b.md").write_text("# Phase 2: B\n### Sprint 2: Two\n#### Story 2.1: Second\n")
        doc = read_path(tmp_path)
        assert [p.number for p in doc.phases] == [1, 2]
        assert [s.key for s in doc.stories] == ["1.1", "2.1"]

    def test_folder_without_plans_is_refused(self, tmp_path: Path) -> None:
        (tmp_path / "image.png").write_bytes(b"\x89PNG")
        with pytest.raises(PlanSyntaxError, match="expected plan documents"):
            read_path(tmp_path)

    def test_bmad_folder_is_read_as_one_project(self) -> None:
        doc = read_path(SAMPLES / "bmad" / "project")
        assert doc.phases
        assert doc.stories
        assert all(s.phase is not None for s in doc.stories)


class TestImportBmadFolder:
    async def test_bmad_folder_imports(self, session: AsyncSession, owner: User) -> None:
        doc = read_path(SAMPLES / "bmad" / "project")
        project = await make_project(session, owner, key="BMAD")
        report = await import_document(session, owner, project, doc)
        assert report.count("story", "created") == len(doc.stories)
        for story_doc in doc.stories:
            story = await story_service.get_by_key(session, owner, project, story_doc.key)
            assert story.title == story_doc.title
            if story_doc.status is not None:
                assert story.status is story_doc.status
            assert story.acceptance_criteria == [
                {"text": c.text, "done": c.done} for c in story_doc.acceptance_criteria
            ]
        assert any(s.acceptance_criteria for s in doc.stories), "the sample has criteria to keep"
