from __future__ import annotations

from pathlib import Path

import pytest

from plandeck.models import MoSCoW, PhaseStatus, Priority, StoryStatus
from plandeck.planfile.bmad import (
    parse_epics,
    parse_sprint_status,
    parse_story_file,
    read_bmad_folder,
)
from plandeck.planfile.document import (
    Checkbox,
    PlanSyntaxError,
    PlanWarning,
)

SAMPLES = Path(__file__).resolve().parent / "samples" / "bmad"
PROJECT = SAMPLES / "project"
FULL_STORY = "docs/stories/1.2.user-login.md"
V6_STORY = "docs/stories/2-1-task-board.md"
EPICS = "docs/epics.md"
SPRINT_STATUS = "docs/sprint-artifacts/sprint-status.yaml"


def _sample(relative: str, root: Path = PROJECT) -> str:
    return (root / relative).read_text(encoding="utf-8")


def _project() -> dict[str, str]:
    return {
        path.relative_to(PROJECT).as_posix(): path.read_text(encoding="utf-8")
        for path in PROJECT.rglob("*")
        if path.is_file()
    }


def _section(text: str, heading: str) -> str:
    start = text.index(f"\n{heading}\n") + 1
    end = text.find("\n## ", start)
    return text[start : end if end != -1 else len(text)].strip()


def _texts(boxes: list[Checkbox]) -> list[tuple[str, bool]]:
    return [(box.text, box.done) for box in boxes]


class TestParseStoryFile:
    def test_reads_the_fields_of_a_full_story(self) -> None:
        story = parse_story_file(_sample(FULL_STORY), FULL_STORY)

        assert (story.key, story.title, story.phase, story.sprint) == ("1.2", "User Login", 1, None)
        assert (story.points, story.priority, story.status) == (
            5,
            Priority.HIGH,
            StoryStatus.REVIEW,
        )
        assert story.description == (
            "**As a** registered team member,\n"
            "**I want** to sign in with my email and password,\n"
            "**so that** I can see my team's sprint board."
        )
        assert (story.file, story.line) == (FULL_STORY, 2)

    def test_numbered_acceptance_criteria_keep_their_done_flags_and_lines(self) -> None:
        story = parse_story_file(_sample(FULL_STORY), FULL_STORY)

        assert _texts(story.acceptance_criteria) == [
            ("A member signs in with a valid email and password and lands on the board.", True),
            ('A wrong password shows "Email or password is wrong" without saying which.', True),
            ("Five failed attempts within 10 minutes lock the account for 15 minutes.", False),
        ]
        assert [ac.line for ac in story.acceptance_criteria] == [19, 20, 21]

    def test_tasks_nest_their_subtasks(self) -> None:
        story = parse_story_file(_sample(FULL_STORY), FULL_STORY)

        assert _texts(story.tasks) == [
            ("Task 1: Login form and route (AC: 1, 2)", True),
            ("Task 2: Lockout after repeated failures (AC: 3)", False),
            ("Task 3: Tests (AC: 1, 2, 3)", True),
        ]
        lockout = story.tasks[1]
        assert _texts(lockout.subtasks) == [
            ("Subtask 2.1: Count failures per account", True),
            ("Subtask 2.2: Unlock after 15 minutes", False),
        ]
        assert _texts(lockout.subtasks[1].subtasks) == [
            ("Subtask 2.2.1: Scheduled cleanup job", False)
        ]
        assert lockout.subtasks[1].subtasks[0].line == 31
        assert story.tasks[2].subtasks == []

    def test_every_unmapped_section_is_kept_verbatim_in_notes(self) -> None:
        text = _sample(FULL_STORY)
        story = parse_story_file(text, FULL_STORY)

        for heading in (
            "## Dev Notes",
            "## Testing",
            "## Change Log",
            "## Dev Agent Record",
            "## QA Results",
        ):
            assert _section(text, heading) in story.notes, heading
        assert "| 2025-03-04 | 1.1     | Lockout added after review | Sarah (PO) |" in story.notes
        assert story.notes.startswith("<!-- Powered by BMAD™ Core -->\n\n## Dev Notes\n")

    def test_mapped_sections_and_field_lines_stay_out_of_notes(self) -> None:
        story = parse_story_file(_sample(FULL_STORY), FULL_STORY)

        for mapped in ("## Status", "## Story\n", "## Acceptance Criteria", "## Tasks", "Points"):
            assert mapped not in story.notes

    def test_reads_a_v6_story_with_its_status_line_under_the_title(self) -> None:
        warnings: list[PlanWarning] = []
        story = parse_story_file(_sample(V6_STORY), V6_STORY, warnings=warnings)

        assert (story.key, story.title, story.status) == ("2.1", "Task Board", StoryStatus.DONE)
        assert _texts(story.tasks[1].subtasks) == [("Persist the new status through the API", True)]
        assert [ac.done for ac in story.acceptance_criteria] == [False, False]
        assert story.notes.startswith("## Dev Notes\n\n- Columns come from `StoryStatus`.")
        assert "Status: done" not in story.notes
        assert warnings == []

    @pytest.mark.parametrize(
        ("word", "status"),
        [
            ("Draft", StoryStatus.DRAFT),
            ("Approved", StoryStatus.APPROVED),
            ("InProgress", StoryStatus.IN_PROGRESS),
            ("Ready for Review", StoryStatus.REVIEW),
            ("ready-for-dev", StoryStatus.APPROVED),
            ("in-progress", StoryStatus.IN_PROGRESS),
            ("drafted", StoryStatus.DRAFT),
            ("**Done**", StoryStatus.DONE),
        ],
    )
    def test_maps_bmad_status_words(self, word: str, status: StoryStatus) -> None:
        story = parse_story_file(f"# Story 3.1: Export\n\n## Status\n\n{word}\n", "s.md")

        assert story.status is status

    def test_unknown_status_is_a_warning_with_its_line(self) -> None:
        warnings: list[PlanWarning] = []
        story = parse_story_file(
            "# Story 3.1: Export\n\n## Status\n\nParked\n", "3.1.export.md", warnings=warnings
        )

        assert story.status is None
        assert warnings == [PlanWarning("3.1.export.md", 5, "unknown status 'Parked'; left empty")]

    def test_status_written_in_the_heading(self) -> None:
        story = parse_story_file("# Story 3.1: Export\n\n## Status: Approved\n", "s.md")

        assert story.status is StoryStatus.APPROVED
        assert story.notes == ""

    def test_status_section_with_more_than_the_status_is_kept_in_notes(self) -> None:
        text = "# Story 3.1: Export\n\n## Status\n\nDone\n\nClosed by Sarah after the demo.\n"
        story = parse_story_file(text, "s.md")

        assert story.status is StoryStatus.DONE
        assert story.notes == "## Status\n\nDone\n\nClosed by Sarah after the demo."

    def test_field_sections_are_read_and_a_repeated_one_is_kept(self) -> None:
        text = (
            "# Story 3.1: Export (2 pts)\n\n## Priority\n\nP1\n\n"
            "## Story Points\n\n3\n\n## MoSCoW\n\nShould have\n"
        )
        story = parse_story_file(text, "s.md")

        assert (story.points, story.priority, story.moscow) == (2, Priority.HIGH, MoSCoW.SHOULD)
        assert story.notes == "## Story Points\n\n3"  # the title said 2 first

    def test_points_in_the_title(self) -> None:
        story = parse_story_file("# Story 3.1: Export CSV (8 pts)\n", "s.md")

        assert (story.title, story.points) == ("Export CSV", 8)

    def test_plain_points_line(self) -> None:
        story = parse_story_file("# Story 3.1: Export\n\nPoints: 2\n", "s.md")

        assert story.points == 2
        assert story.notes == ""

    @pytest.mark.parametrize(
        "file",
        ["docs/stories/3.4.export-csv.md", "3-4-export-csv.md", "story-3-4.md", "story-3.4.md"],
    )
    def test_key_from_the_file_name_when_the_title_has_none(self, file: str) -> None:
        story = parse_story_file("# Export CSV\n\n## Status\n\nDraft\n", file)

        assert (story.key, story.phase, story.title) == ("3.4", 3, "Export CSV")

    def test_title_key_wins_over_the_file_name_with_a_warning(self) -> None:
        warnings: list[PlanWarning] = []
        story = parse_story_file("# Story 3.5: Export\n", "3.4.export.md", warnings=warnings)

        assert story.key == "3.5"
        assert [(w.file, w.line) for w in warnings] == [("3.4.export.md", 1)]

    def test_no_key_anywhere_is_a_syntax_error_naming_file_and_line(self) -> None:
        file = "malformed/meeting-notes.md"

        with pytest.raises(PlanSyntaxError) as raised:
            parse_story_file(_sample(file, SAMPLES), file)

        assert (raised.value.file, raised.value.line) == (file, 1)
        assert raised.value.message.startswith("expected a '# Story N.M: Title' heading")

    def test_crlf_reads_like_lf(self) -> None:
        text = _sample(FULL_STORY)

        crlf = parse_story_file(text.replace("\n", "\r\n"), FULL_STORY)

        assert crlf == parse_story_file(text, FULL_STORY)
        assert "\r" not in crlf.notes

    def test_persian_digits_in_the_key(self) -> None:
        text = "# Story ۱.۱۲: ورود کاربر\n\n## Status\n\nدر حال انجام\n"

        story = parse_story_file(text, "stories/login.md")

        assert (story.key, story.phase, story.title) == ("1.12", 1, "ورود کاربر")
        assert story.status is StoryStatus.IN_PROGRESS

    def test_persian_digits_in_the_file_name(self) -> None:
        story = parse_story_file("# گزارش\n", "۲-۳-گزارش.md")

        assert story.key == "2.3"

    def test_front_matter_is_kept_in_notes_not_read_as_a_heading(self) -> None:
        text = "---\nowner: bob\n---\n# Story 3.1: Export\n\nStatus: review\n"
        story = parse_story_file(text, "s.md")

        assert (story.title, story.status, story.line) == ("Export", StoryStatus.REVIEW, 4)
        assert story.notes == "---\nowner: bob\n---"


class TestParseEpics:
    def test_reads_each_epic_as_a_phase(self) -> None:
        doc = parse_epics(_sample(EPICS), EPICS)

        assert [(p.number, p.title, p.line) for p in doc.phases] == [
            (1, "Foundation", 20),
            (2, "Task Tracking", 67),
        ]
        foundation = doc.phases[0]
        assert foundation.description.startswith(
            "Set up the project and let team members sign in, so every later epic has a running app\n"
        )
        assert foundation.goals == ["A deployable skeleton with sign-in."]
        assert foundation.meta == {
            "Goal": "A deployable skeleton with sign-in.",
            "Status": "In Progress",
        }
        assert foundation.status is PhaseStatus.ACTIVE
        assert doc.phases[1].description == "See and move the team's work."

    def test_reads_five_stories_under_their_epics(self) -> None:
        doc = parse_epics(_sample(EPICS), EPICS)

        assert [(s.key, s.title, s.phase, s.sprint) for s in doc.stories] == [
            ("1.1", "Project Scaffolding", 1, None),
            ("1.2", "User Login", 1, None),
            ("1.3", "Password Reset", 1, None),
            ("2.1", "Task Board", 2, None),
            ("2.2", "Story Comments", 2, None),
        ]
        comments = doc.story("2.2")
        assert comments is not None
        assert comments.description == (
            "As a team member,\nI want to comment on a story,\nso that discussions stay with the work."
        )
        assert doc.warnings == []

    def test_acceptance_criteria_under_a_heading(self) -> None:
        story = parse_epics(_sample(EPICS), EPICS).stories[0]

        assert _texts(story.acceptance_criteria) == [
            ("`make run` starts the app and `/health` answers 200.", False),
            ("CI runs lint and tests on every push.", False),
        ]

    def test_given_when_then_paragraph_is_one_criterion(self) -> None:
        story = parse_epics(_sample(EPICS), EPICS).stories[1]

        assert _texts(story.acceptance_criteria) == [
            (
                "**Given** a member with a valid password\n**When** they sign in\n"
                "**Then** they land on the board",
                False,
            )
        ]
        assert story.acceptance_criteria[0].line == 47
        assert story.notes == "**Prerequisites:** Story 1.1"

    def test_labelled_parts_points_and_priority(self) -> None:
        story = parse_epics(_sample(EPICS), EPICS).stories[2]

        assert (story.points, story.priority) == (3, Priority.MEDIUM)
        assert _texts(story.acceptance_criteria) == [
            ("The link expires after one hour.", False),
            ("Using the link twice fails the second time.", True),
        ]
        assert story.notes == "**Technical Notes:** Reuse the token table from Story 1.2."
        assert "Priority" not in story.description

    def test_epic_list_summaries_and_front_matter_are_no_epics(self) -> None:
        doc = parse_epics(_sample(EPICS), EPICS)

        assert len(doc.phases) == 2
        assert doc.headings[:3] == ["plandeck - Epic Breakdown", "Overview", "Epic List"]

    def test_sharded_epic_file_with_stories_one_level_down(self) -> None:
        text = (
            "# Epic 3 Reporting\n\nNumbers for the team.\n\n"
            "## Story 3.1 Burndown chart\n\nAs a lead, I want a burndown.\n\n"
            "### Acceptance Criteria\n\n- [x] Shows remaining points per day\n\n"
            "## Notes for later\n\nMaybe velocity too.\n"
        )
        doc = parse_epics(text, "epic-3.md")

        assert [(p.number, p.title) for p in doc.phases] == [(3, "Reporting")]
        assert doc.phases[0].notes == "## Notes for later\n\nMaybe velocity too."
        story = doc.stories[0]
        assert (story.key, story.title, story.description) == (
            "3.1",
            "Burndown chart",
            "As a lead, I want a burndown.",
        )
        assert _texts(story.acceptance_criteria) == [("Shows remaining points per day", True)]

    def test_story_under_the_wrong_epic_keeps_its_own_epic_with_a_warning(self) -> None:
        text = "## Epic 1: Core\n\n### Story 2.1: Stray\n\nAs a user, I want it.\n"
        doc = parse_epics(text, "epics.md")

        assert doc.stories[0].phase == 2
        assert [(w.file, w.line) for w in doc.warnings] == [("epics.md", 3)]
        assert "Epic 1" in doc.warnings[0].message

    def test_duplicate_story_is_skipped_with_a_warning(self) -> None:
        text = "## Epic 1: Core\n\n### Story 1.1: First\n\n### Story 1.1: Again\n"
        doc = parse_epics(text, "epics.md")

        assert [s.title for s in doc.stories] == ["First"]
        assert [w.line for w in doc.warnings] == [5]

    def test_persian_digits_in_epic_and_story_headings(self) -> None:
        text = "## Epic ۲: گزارش\n\n### Story ۲.۱: نمودار\n\nمتن داستان\n"
        doc = parse_epics(text, "epics.md")

        assert [(p.number, p.title) for p in doc.phases] == [(2, "گزارش")]
        assert [(s.key, s.title, s.phase) for s in doc.stories] == [("2.1", "نمودار", 2)]


class TestParseSprintStatus:
    def test_reads_story_statuses_by_key(self) -> None:
        warnings: list[PlanWarning] = []
        statuses = parse_sprint_status(_sample(SPRINT_STATUS), SPRINT_STATUS, warnings=warnings)

        assert statuses == {
            "1.1": StoryStatus.DONE,
            "1.2": StoryStatus.DONE,
            "1.3": StoryStatus.APPROVED,
            "2.1": StoryStatus.IN_PROGRESS,
            "2.2": StoryStatus.DRAFT,
        }
        assert warnings == []

    def test_unknown_status_is_left_out_with_a_warning(self) -> None:
        text = (
            "development_status:\n  epic-1: in-progress\n  1-1-setup: parked\n  1-2-login: review\n"
        )
        warnings: list[PlanWarning] = []

        statuses = parse_sprint_status(text, "sprint-status.yaml", warnings=warnings)

        assert statuses == {"1.2": StoryStatus.REVIEW}
        assert [(w.file, w.line) for w in warnings] == [("sprint-status.yaml", 3)]
        assert "'parked'" in warnings[0].message

    def test_unrecognised_key_is_skipped_with_a_warning(self) -> None:
        warnings: list[PlanWarning] = []
        text = "development_status:\n  standalone-01-refactor: done\n"

        assert parse_sprint_status(text, "s.yaml", warnings=warnings) == {}
        assert [w.line for w in warnings] == [2]

    def test_broken_yaml_names_the_line(self) -> None:
        file = "malformed/broken-sprint-status.yaml"

        with pytest.raises(PlanSyntaxError) as raised:
            parse_sprint_status(_sample(file, SAMPLES), file)

        assert (raised.value.file, raised.value.line) == (file, 4)
        assert raised.value.message.startswith("expected valid YAML")

    def test_missing_development_status_is_a_syntax_error(self) -> None:
        file = "malformed/no-development-status.yaml"

        with pytest.raises(PlanSyntaxError) as raised:
            parse_sprint_status(_sample(file, SAMPLES), file)

        assert raised.value.file == file
        assert raised.value.line == 1
        assert "development_status" in raised.value.message

    def test_development_status_that_is_no_mapping_names_its_line(self) -> None:
        with pytest.raises(PlanSyntaxError) as raised:
            parse_sprint_status("project: x\ndevelopment_status: soon\n", "s.yaml")

        assert raised.value.line == 2

    def test_crlf_and_persian_digits(self) -> None:
        text = "development_status:\r\n  ۱-۱۰-login: done\r\n  1-2-setup: review\r\n"

        assert parse_sprint_status(text, "s.yaml") == {
            "1.10": StoryStatus.DONE,
            "1.2": StoryStatus.REVIEW,
        }


class TestReadBmadFolder:
    def test_merges_the_folder_into_one_plan(self) -> None:
        doc = read_bmad_folder(_project())

        assert [(p.number, p.title, p.status) for p in doc.phases] == [
            (1, "Foundation", PhaseStatus.ACTIVE),
            (2, "Task Tracking", PhaseStatus.PLANNING),
        ]
        assert [(s.key, s.title, s.status, s.file) for s in doc.stories] == [
            ("1.1", "Project Scaffolding", StoryStatus.DONE, EPICS),
            ("1.2", "User Login", StoryStatus.DONE, FULL_STORY),
            ("1.3", "Password Reset", StoryStatus.APPROVED, EPICS),
            ("2.1", "Task Board", StoryStatus.DONE, V6_STORY),
            ("2.2", "Story Comments", StoryStatus.DRAFT, EPICS),
        ]

    def test_story_file_wins_over_the_epics_doc_and_nothing_is_lost(self) -> None:
        story = read_bmad_folder(_project()).story("1.2")

        assert story is not None
        assert story.description.startswith("**As a** registered team member,")
        assert len(story.acceptance_criteria) == 3  # the file's three, not the epic's one
        assert len(story.tasks) == 3
        assert (story.points, story.priority) == (5, Priority.HIGH)
        assert "## QA Results" in story.notes
        assert story.notes.endswith("**Prerequisites:** Story 1.1")  # from the epics doc

    def test_yaml_ahead_of_the_story_file_wins_with_a_warning(self) -> None:
        doc = read_bmad_folder(_project())

        warning = next(w for w in doc.warnings if "Story 1.2" in w.message)
        assert (warning.file, warning.line) == (FULL_STORY, 9)  # the stale "Review" line
        assert "'Review'" in warning.message
        assert f"'done' in {SPRINT_STATUS}:14" in warning.message

    def test_yaml_behind_the_story_file_never_downgrades_it(self) -> None:
        doc = read_bmad_folder(_project())

        board = doc.story("2.1")
        assert board is not None
        assert board.status is StoryStatus.DONE
        warning = next(w for w in doc.warnings if "Story 2.1" in w.message)
        assert (warning.file, warning.line) == (SPRINT_STATUS, 19)  # the stale "in-progress"
        assert "'in-progress'" in warning.message
        assert f"'done' in {V6_STORY}:3" in warning.message

    def test_readme_is_skipped_with_a_warning(self) -> None:
        doc = read_bmad_folder(_project())

        assert PlanWarning("README.md", 1, "not a plan document, skipped") in doc.warnings
        assert len(doc.warnings) == 3  # the README and the two status disagreements

    def test_story_of_an_undescribed_epic_gets_a_placeholder_phase(self) -> None:
        files = {"stories/3.1.export-csv.md": "# Story 3.1: Export CSV\n\n## Status\n\nDraft\n"}

        doc = read_bmad_folder(files)

        assert [(p.number, p.title) for p in doc.phases] == [(3, "Epic 3")]
        assert [(w.file, w.line) for w in doc.warnings] == [("stories/3.1.export-csv.md", 1)]
        assert "epic 3" in doc.warnings[0].message

    def test_stories_are_ordered_numerically(self) -> None:
        files = {
            f"stories/{key}.s.md": f"# Story {key}: S{key}\n" for key in ("1.10", "1.2", "2.1")
        }
        files["epics.md"] = "## Epic 1: A\n\n### Story 1.1: First\n\n## Epic 2: B\n"

        doc = read_bmad_folder(files)

        assert [s.key for s in doc.stories] == ["1.1", "1.2", "1.10", "2.1"]

    def test_tracked_story_without_any_file_takes_its_title_from_the_slug(self) -> None:
        files = {
            "epics.md": "## Epic 1: A\n\n### Story 1.1: First\n",
            "sprint-status.yaml": "development_status:\n  1-2-account-management: drafted\n",
        }

        story = read_bmad_folder(files).story("1.2")

        assert story is not None
        assert (story.title, story.status, story.file, story.line) == (
            "Account management",
            StoryStatus.DRAFT,
            "sprint-status.yaml",
            2,
        )

    def test_second_story_file_with_the_same_key_is_skipped(self) -> None:
        files = {"a/1.1.first.md": "# Story 1.1: First\n", "b/1-1-again.md": "# Story 1.1: Again\n"}

        doc = read_bmad_folder(files)

        assert [s.title for s in doc.stories] == ["First"]
        assert any(w.file == "b/1-1-again.md" and "skipped" in w.message for w in doc.warnings)

    def test_broken_sprint_status_stops_the_read(self) -> None:
        files = _project()
        files[SPRINT_STATUS] = "development_status:\n  1-1-x: done: really\n"

        with pytest.raises(PlanSyntaxError) as raised:
            read_bmad_folder(files)

        assert (raised.value.file, raised.value.line) == (SPRINT_STATUS, 2)

    def test_crlf_folder_reads_like_lf(self) -> None:
        files = _project()
        crlf = {path: text.replace("\n", "\r\n") for path, text in files.items()}

        assert read_bmad_folder(crlf) == read_bmad_folder(files)
