from __future__ import annotations

from pathlib import Path

import pytest

from plandeck.models import MoSCoW, PhaseStatus, Priority, StoryStatus
from plandeck.planfile.export import render_markdown
from plandeck.planfile.sprint_plan import parse_sprint_plan

SAMPLES = Path(__file__).parent / "samples"


def _lines(text: str) -> set[str]:
    return {
        " ".join(line.split())
        for line in text.splitlines()
        if line.strip() and line.strip() != "---"
    }


class TestVariations:
    @pytest.fixture
    def doc(self):  # type: ignore[no-untyped-def]
        return parse_sprint_plan((SAMPLES / "variations.md").read_text(), "variations.md")

    def test_phase_heading_one_level_higher_with_emoji_and_persian_digits(self, doc) -> None:  # type: ignore[no-untyped-def]
        phase = doc.phases[0]
        assert (phase.number, phase.title, phase.status) == (4, "Mobile App", PhaseStatus.ACTIVE)
        assert phase.meta["Owner"] == "Sara"
        assert phase.goals == ["Offline mode", "Push notifications"]

    def test_sprints_in_english_and_persian(self, doc) -> None:  # type: ignore[no-untyped-def]
        assert [(s.number, s.name, s.weeks) for s in doc.sprints] == [
            (12, "Foundations", "1-2"),
            (13, "همگام‌سازی", "3-4"),
        ]
        assert doc.sprints[0].goal == "Ship the skeleton app."

    def test_points_written_every_way(self, doc) -> None:  # type: ignore[no-untyped-def]
        assert {s.key: s.points for s in doc.stories} == {
            "12.1": 5,
            "12.2": 3,
            "12.3": 8,
            "13.1": 8,
        }

    def test_fields_in_bold_plain_and_persian(self, doc) -> None:  # type: ignore[no-untyped-def]
        stories = {s.key: s for s in doc.stories}
        assert (stories["12.1"].priority, stories["12.1"].status) == (
            Priority.CRITICAL,
            StoryStatus.IN_PROGRESS,
        )
        assert (stories["12.2"].priority, stories["12.2"].status) == (
            Priority.LOW,
            StoryStatus.DONE,
        )
        assert stories["12.3"].status is StoryStatus.REVIEW
        assert (stories["13.1"].priority, stories["13.1"].status) == (
            Priority.HIGH,
            StoryStatus.IN_PROGRESS,
        )
        assert stories["13.1"].title == "صفحه تنظیمات"
        assert stories["13.1"].sprint == 13

    def test_moscow_from_field_and_from_prioritisation(self, doc) -> None:  # type: ignore[no-untyped-def]
        stories = {s.key: s for s in doc.stories}
        assert stories["12.1"].moscow is MoSCoW.MUST
        assert stories["12.3"].moscow is MoSCoW.COULD
        assert stories["12.2"].moscow is None

    def test_numbered_checkboxes_capital_x_and_nesting(self, doc) -> None:  # type: ignore[no-untyped-def]
        tasks = doc.story("12.1").tasks
        assert [(t.text, t.done) for t in tasks] == [
            ("Layout", True),
            ("Validation", True),
            ("Error states", False),
        ]
        assert [(t.text, t.done) for t in tasks[2].subtasks] == [
            ("Wrong password", True),
            ("Locked account", False),
        ]

    def test_star_bullets_in_description(self, doc) -> None:  # type: ignore[no-untyped-def]
        assert doc.story("12.1").description == "* Email and password\n* Remember me"

    def test_unmapped_text_is_kept_and_reported_with_its_line(self, doc) -> None:  # type: ignore[no-untyped-def]
        assert doc.story("12.3").notes == "Some remark the reader has no field for."
        lines = (SAMPLES / "variations.md").read_text().splitlines()
        line = lines.index("Some remark the reader has no field for.") + 1
        assert any(w.line == line and "12.3" in w.message for w in doc.warnings)
        assert doc.errors == []

    def test_crlf_reads_the_same(self) -> None:
        text = (SAMPLES / "variations.md").read_text()
        a = parse_sprint_plan(text, "a.md")
        b = parse_sprint_plan(text.replace("\n", "\r\n").replace("\r\n", "\n"), "b.md")
        assert [(s.key, s.points, len(s.tasks)) for s in a.stories] == [
            (s.key, s.points, len(s.tasks)) for s in b.stories
        ]

    def test_export_then_read_gives_the_same_plan(self, doc) -> None:  # type: ignore[no-untyped-def]
        again = parse_sprint_plan(render_markdown(doc), "again.md")
        assert [(s.number, s.name, s.weeks) for s in again.sprints] == [
            (s.number, s.name, s.weeks) for s in doc.sprints
        ]
        fields = lambda d: [  # noqa: E731
            (
                s.key,
                s.title,
                s.points,
                s.priority,
                s.status,
                s.moscow,
                s.sprint,
                [(t.text, t.done) for t in s.tasks],
            )
            for s in d.stories
        ]
        assert fields(again) == fields(doc)


class TestMalformed:
    def test_not_a_plan(self) -> None:
        from plandeck.planfile.document import PlanSyntaxError

        with pytest.raises(PlanSyntaxError, match=r"^notes\.md:1: expected a plan"):
            parse_sprint_plan("just some notes\n", "notes.md")

    def test_duplicate_story_key_is_an_error_with_both_lines(self) -> None:
        text = "# Phase 1: X\n### Sprint 1: A\n#### Story 1.1: One\n#### Story 1.1: Two\n"
        doc = parse_sprint_plan(text, "dup.md")
        assert [(e.line, e.message) for e in doc.errors] == [
            (4, "story 1.1 appears twice (first on line 3)")
        ]

    def test_points_that_do_not_parse(self) -> None:
        text = "# Phase 1: X\n### Sprint 1: A\n#### Story 1.1: One\n**Points:** lots\n"
        doc = parse_sprint_plan(text, "p.md")
        assert [(e.line, e.message) for e in doc.errors] == [
            (4, "story 1.1: points must be a whole number, not 'lots'")
        ]

    def test_prioritisation_naming_an_unknown_story(self) -> None:
        text = "# Phase 1: X\n### Sprint 1: A\n#### Story 1.1: One\n## Prioritisation\n### Must Have\n1. Story 9.9: Ghost\n"
        doc = parse_sprint_plan(text, "p.md")
        assert [(e.line, e.message) for e in doc.errors] == [
            (6, "the prioritisation names story 9.9, which the plan does not have")
        ]

    def test_timeline_naming_a_missing_sprint(self) -> None:
        text = "# Phase 1: X\n### Sprint 1: A\n## Timeline\n### Week 1-2: Sprint 7\n"
        doc = parse_sprint_plan(text, "t.md")
        assert [(e.line, e.message) for e in doc.errors] == [
            (4, "the timeline names sprint 7, which the plan does not have")
        ]

    def test_story_heading_inside_code_fence_is_not_a_story(self) -> None:
        text = "# Phase 1: X\n### Sprint 1: A\n#### Story 1.1: One\n```\n#### Story 1.2: Not real\n```\n"
        doc = parse_sprint_plan(text, "f.md")
        assert [s.key for s in doc.stories] == ["1.1"]
        assert "#### Story 1.2: Not real" in doc.story("1.1").notes

    def test_export_is_stable_once_normalised(self) -> None:
        first = render_markdown(parse_sprint_plan((SAMPLES / "variations.md").read_text(), "v.md"))
        assert render_markdown(parse_sprint_plan(first, "v.md")) == first
