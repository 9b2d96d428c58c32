"""Reading sprint plans like ``shared/fixtures/phase3-plan.md``.

A plan is read line by line (fenced code is never interpreted). Headings are classified by
what they say, not by their level, so a plan whose headings sit one level higher or lower
reads the same. What maps to nothing is kept verbatim in the phase's outline, so an export
gives every line back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from plandeck.models import MoSCoW
from plandeck.planfile.document import (
    N_,
    Checkbox,
    PhaseDoc,
    PlanDocument,
    PlanSyntaxError,
    PlanWarning,
    SprintDoc,
    StoryDoc,
)
from plandeck.planfile.vocabulary import (
    MOSCOW,
    PHASE_STATUS,
    PRIORITY,
    STORY_STATUS,
    fold,
    lookup,
    normalise_digits,
)

# A closing run of '#' counts only after a space (CommonMark): "Port to C#" keeps its '#'.
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")
_NUM = r"[0-9۰-۹٠-٩]"
# Leading emoji, symbols and marks before a heading's words.
_DECOR = re.compile(r"^[^\w(]+", re.UNICODE)
_PHASE = re.compile(rf"^(?:phase|فاز|مرحله|المرحلة)\s*({_NUM}+)\s*[:\-–—]\s*(.+)$", re.I)
_SPRINT = re.compile(rf"^(?:sprint|اسپرینت|سبرينت)\s*({_NUM}+)\s*(?:[:\-–—]\s*(.*))?$", re.I)
_STORY = re.compile(
    rf"^(?:story|user story|استوری|داستان|قصة)\s*({_NUM}+(?:[.\-]{_NUM}+)*)\s*[:\-–—]\s*(.+)$", re.I
)
_POINTS_SUFFIX = re.compile(
    rf"\s*[(\[]\s*({_NUM}+)\s*(?:pts?|points?|sp|story points|امتیاز|نقطه|نقاط)\s*[)\]]\s*$", re.I
)
_WEEK = re.compile(
    rf"^(?:weeks?|هفته(?:‌های)?|الأسبوع)\s*({_NUM}+(?:\s*[-–]\s*{_NUM}+)?)\s*[:\-–—]\s*"
    rf"(?:sprint|اسپرینت|سبرينت)\s*({_NUM}+)",
    re.I,
)
_FIELD = re.compile(
    r"^\s*(?:[-*+]\s+)?\*\*([^*]+?):?\*\*:?\s*(.*?)\s*$|^\s*([A-Za-z\u0600-\u06ff ][^:]{0,30}):\s+(.+?)\s*$"
)
_CHECKBOX = re.compile(r"^(\s*)(?:[-*+]|\d+[.)])\s+\[([ xX✓✔])\]\s+(.*?)\s*$")
_LIST_ITEM = re.compile(r"^(\s*)(?:[-*+]|\d+[.)])\s+(.*?)\s*$")
_STORY_REF = re.compile(rf"(?:story|استوری|داستان|قصة)\s*({_NUM}+(?:\.{_NUM}+)+)", re.I)

_FIELD_NAMES = {
    "priority": {"priority", "اولویت", "الأولوية", "الاولوية"},
    "status": {"status", "وضعیت", "الحالة", "state"},
    "points": {"points", "story points", "sp", "pts", "estimate", "امتیاز", "نقاط"},
    "moscow": {"moscow", "mo scow"},
    "description": {"description", "توضیحات", "شرح", "الوصف"},
    "tasks": {"tasks", "task", "وظایف", "کارها", "تسک ها", "المهام", "subtasks"},
    "acceptance": {"acceptance criteria", "معیار پذیرش", "معیارهای پذیرش", "معايير القبول"},
    "date": {"date", "تاریخ"},
    "previous phase": {"previous phase", "فاز قبلی"},
    "sprint": {"sprint", "اسپرینت"},
}


def _field_kind(name: str) -> str | None:
    key = fold(name)
    return next((kind for kind, names in _FIELD_NAMES.items() if key in names), None)


def _heading_words(text: str) -> str:
    # Digits stay as written: the patterns accept Persian and Arabic-Indic digits wherever
    # a number goes, and a title or a name keeps its own digits.
    return _DECOR.sub("", text).strip()


def _int(text: str) -> int:
    return int(normalise_digits(text))


def _key(text: str) -> str:
    return normalise_digits(text).replace("-", ".")


@dataclass
class _Section:
    """A run of lines that maps to nothing: kept verbatim, in its place."""

    lines: list[str] = field(default_factory=list)


class _Reader:
    def __init__(self, text: str, file: str) -> None:
        self.file = file
        self.lines = text.split("\n")
        self.doc = PlanDocument(file=file)
        self.phase: PhaseDoc | None = None
        self.outline: list[dict[str, Any]] = []
        self.sprint: SprintDoc | None = None
        self.story: StoryDoc | None = None
        self.story_level = 0
        self.story_part: str | None = None  # description / tasks / acceptance / notes
        self.context: str = "notes"  # notes / goals / stories / priorities / timeline
        self.context_level = 0
        self.moscow: MoSCoW | None = None
        self.timeline_sprint: SprintDoc | None = None
        self.priorities: dict[str, tuple[MoSCoW, int]] = {}
        self.goal_details: dict[str, str] = {}
        self.notes: _Section | None = None
        self.task_stack: list[tuple[int, Checkbox]] = []
        self.number = 0  # the line being read

    def warn(self, line: int, template: str, *, error: bool = False, **params: object) -> None:
        self.doc.warnings.append(PlanWarning.of(self.file, line, template, error=error, **params))

    # Verbatim notes

    def keep(self, line: str) -> None:
        if self.story is not None:
            self.story_note(line)
            return
        if self.notes is None:
            self.notes = _Section()
            self.outline.append({"kind": "notes", "section": self.notes})
            if line.strip():
                self.warn(
                    self.number,
                    N_("kept verbatim in the phase notes: %(text)s"),
                    text=repr(line.strip()[:60]),
                )
        self.notes.lines.append(line)

    def story_note(self, line: str) -> None:
        """Text of a story that maps to no field: kept verbatim in its notes, and reported."""
        assert self.story is not None
        if line.strip() and not self.story.notes.strip():
            self.warn(
                self.number,
                N_("story %(key)s: kept verbatim in its notes: %(text)s"),
                key=self.story.key,
                text=repr(line.strip()[:60]),
            )
        self.story.notes += line + "\n"

    def close_notes(self) -> None:
        self.notes = None

    # Reading

    def read(self) -> PlanDocument:
        in_fence = False
        for number, raw in enumerate(self.lines, 1):
            self.number = number
            line = raw.rstrip()
            if _FENCE.match(line):
                in_fence = not in_fence
                self.keep_or_story(raw)
                continue
            if in_fence:
                self.keep_or_story(raw)
                continue
            heading = _HEADING.match(line)
            if heading:
                self.on_heading(number, len(heading.group(1)), heading.group(2), raw)
            else:
                self.on_line(number, raw)
        self.finish()
        return self.doc

    def keep_or_story(self, raw: str) -> None:
        if self.story is not None:
            if self.story_part == "description":
                self.story.description += raw + "\n"
            else:
                self.story_note(raw)
        else:
            self.keep(raw)

    def end_story(self) -> None:
        if self.story is not None:
            self.story.description = self.story.description.strip("\n")
            self.story.notes = self.story.notes.strip("\n")
        self.story = None
        self.story_part = None
        self.task_stack = []

    def on_heading(self, number: int, level: int, text: str, raw: str) -> None:
        words = _heading_words(text)
        self.doc.headings.append(text.strip())
        if self.story is not None and level <= self.story_level:
            self.end_story()
        if self.story is not None:
            # A sub-heading inside a story: one of its parts, or kept in its notes.
            kind = _field_kind(words.rstrip(":"))
            if kind in ("description", "tasks", "acceptance"):
                self.story_part = kind
                self.task_stack = []
            else:
                self.story_part = "notes"
                self.story_note(raw)
            return
        if self.context != "notes" and level <= self.context_level:
            self.context = "notes"
        if match := _PHASE.match(words):
            self.start_phase(number, match.group(1), match.group(2))
            return
        if match := _STORY.match(words):
            self.start_story(number, level, match.group(1), match.group(2))
            return
        if match := _SPRINT.match(words):
            self.start_sprint(number, match.group(1), (match.group(2) or "").strip())
            return
        if self.context == "timeline" and (match := _WEEK.match(words)):
            self.timeline_week(number, match.group(1), match.group(2))
            return
        if self.context == "priorities":
            moscow = lookup(MOSCOW, _moscow_words(words))
            if moscow is not None:
                self.moscow = moscow
                self.outline.append(
                    {"kind": "moscow_heading", "moscow": moscow.value, "raw": raw, "items": []}
                )
                return
        if self.context == "goals":
            self.outline.append({"kind": "goals_heading", "raw": raw})
            return
        folded = fold(words)
        for context, markers in _SECTION_MARKERS.items():
            if any(marker in folded for marker in markers):
                self.close_notes()
                self.context, self.context_level = context, level
                self.outline.append({"kind": context, "raw": raw})
                return
        if _WEEK.match(words):
            self.close_notes()
            self.context, self.context_level = "timeline", level - 1
            self.outline.append({"kind": "timeline", "raw": None})
            self.timeline_week(number, *_WEEK.match(words).groups())  # type: ignore[union-attr]
            return
        self.context = "notes"
        self.keep(raw)

    def start_phase(self, line: int, number: str, title: str) -> None:
        status = None
        # "Production & Integration - Planning": a trailing status word is the phase's status.
        if (tail := re.match(r"^(.*\S)\s+[-–—]\s+([^-–—]+)$", title)) and (
            found := lookup(PHASE_STATUS, tail.group(2))
        ):
            title, status = tail.group(1), found
        self.phase = PhaseDoc(number=_int(number), title=title.strip(), status=status, line=line)
        self.doc.phases.append(self.phase)
        self.context = "notes"

    def start_sprint(self, line: int, number: str, name: str) -> None:
        self.close_notes()
        self.sprint = SprintDoc(
            number=_int(number),
            name=name or f"Sprint {_int(number)}",
            phase=self.phase.number if self.phase else None,
            line=line,
        )
        if any(s.number == self.sprint.number for s in self.doc.sprints):
            self.warn(
                line, N_("sprint %(sprint)s appears twice"), error=True, sprint=self.sprint.number
            )
        else:
            self.doc.sprints.append(self.sprint)
        if self.context != "stories":
            self.outline.append({"kind": "stories", "raw": None})
            self.context = "stories"
            self.context_level = 0

    def start_story(self, line: int, level: int, key: str, title: str) -> None:
        self.close_notes()
        points = None
        if match := _POINTS_SUFFIX.search(title):
            points = _int(match.group(1))
            title = title[: match.start()].strip()
        sprint_number = self.sprint.number if self.sprint else None
        story = StoryDoc(
            key=_key(key),
            title=title.strip(),
            points=points,
            sprint=sprint_number,
            phase=self.phase.number if self.phase else None,
            file=self.file,
            line=line,
        )
        first = self.doc.story(story.key)
        if first is not None:
            self.warn(
                line,
                N_("story %(key)s appears twice (first on line %(first)s)"),
                error=True,
                key=story.key,
                first=first.line,
            )
        else:
            self.doc.stories.append(story)
        self.story = story
        self.story_level = level
        self.story_part = None

    def timeline_week(self, line: int, weeks: str, sprint: str) -> None:
        number = _int(sprint)
        found = next((s for s in self.doc.sprints if s.number == number), None)
        if found is None:
            self.warn(
                line,
                N_("the timeline names sprint %(sprint)s, which the plan does not have"),
                error=True,
                sprint=number,
            )
            found = SprintDoc(number=number, name=f"Sprint {number}", line=line)
            self.doc.sprints.append(found)
        found.weeks = re.sub(r"\s*[-–]\s*", "-", normalise_digits(weeks))
        self.timeline_sprint = found
        found_items: list[str] = []
        self.outline.append(
            {"kind": "week", "sprint": number, "items": found_items, "raw": self.lines[line - 1]}
        )

    def on_line(self, number: int, raw: str) -> None:
        line = raw.rstrip()
        if self.story is not None:
            self.story_line(number, raw)
            return
        if self.phase is not None and self.context == "notes" and not self.phase.meta.get("_body"):
            if match := _FIELD.match(line):
                name = (match.group(1) or match.group(3) or "").strip()
                value = (match.group(2) or match.group(4) or "").strip()
                kind = _field_kind(name)
                phase_status = lookup(PHASE_STATUS, value) if kind == "status" else None
                if phase_status is not None:
                    self.phase.status = phase_status
                    self.phase.meta["Status"] = value
                    return
                if name and value and line.lstrip().startswith("**"):
                    self.phase.meta[name] = value
                    return
            if not line.strip() and not self.outline:
                return
            if _RULE.match(line) and not self.outline:
                return
            if line.strip():
                self.phase.meta["_body"] = "started"
        if self.context == "goals":
            self.goal_line(raw)
            return
        if self.context == "priorities":
            self.priority_line(number, raw)
            return
        if self.context == "timeline" and self.outline and self.outline[-1].get("kind") == "week":
            item = _LIST_ITEM.match(line)
            if item:
                self.outline[-1]["items"].append(item.group(2))
                return
            if not line.strip():
                return
        if (
            self.context == "stories"
            and self.sprint is not None
            and line.strip()
            and not _RULE.match(line)
        ):
            self.sprint.goal = (self.sprint.goal + "\n" + line.strip()).strip()
            return
        if self.context in ("stories", "priorities", "timeline", "goals") and (
            not line.strip() or _RULE.match(line)
        ):
            return
        self.keep(raw)

    def goal_line(self, raw: str) -> None:
        item = _LIST_ITEM.match(raw)
        if not item or self.phase is None:
            if raw.strip() and not _RULE.match(raw):
                self.outline.append({"kind": "goals_text", "raw": raw})
            return
        text = item.group(2)
        bold = re.match(r"^\*\*(.+?)\*\*\s*(?:[-–—:]\s*(.*))?$", text)
        if bold:
            goal, detail = bold.group(1).strip(), (bold.group(2) or "").strip()
        else:
            goal, detail = text.strip(), ""
        self.phase.goals.append(goal)
        if detail:
            self.goal_details[goal] = detail

    def priority_line(self, number: int, raw: str) -> None:
        item = _LIST_ITEM.match(raw)
        if not item:
            if raw.strip() and not _RULE.match(raw):
                self.outline.append({"kind": "priorities_text", "raw": raw})
            return
        ref = _STORY_REF.search(normalise_digits(item.group(2)))
        if ref is None or self.moscow is None:
            self.outline.append({"kind": "priorities_text", "raw": raw})
            return
        key = _key(ref.group(1))
        self.priorities[key] = (self.moscow, number)
        if self.outline and self.outline[-1]["kind"] == "moscow_heading":
            self.outline[-1]["items"].append({"key": key, "text": item.group(2)})

    def story_line(self, number: int, raw: str) -> None:
        story = self.story
        assert story is not None
        line = raw.rstrip()
        if _RULE.match(line):
            self.end_story()
            return
        field_match = _FIELD.match(line)
        if field_match and not _CHECKBOX.match(line):
            name = (field_match.group(1) or field_match.group(3) or "").strip()
            value = (field_match.group(2) or field_match.group(4) or "").strip()
            kind = _field_kind(name)
            if kind is not None and self.set_story_field(number, story, kind, value):
                return
        if self.story_part == "tasks" or self.story_part == "acceptance":
            if box := _CHECKBOX.match(raw):
                self.add_checkbox(story, number, box)
                return
            if not line.strip():
                return
        if self.story_part == "description":
            story.description += raw + "\n"
            return
        if not line.strip() and not story.notes:
            return
        self.story_note(raw)

    def set_story_field(self, number: int, story: StoryDoc, kind: str, value: str) -> bool:
        if kind in ("description", "tasks", "acceptance"):
            self.story_part = kind
            self.task_stack = []
            if value and kind == "description":
                story.description += value + "\n"
            return True
        # An unknown value goes to the notes and leaves the field as an earlier line set it.
        if kind == "priority":
            priority = lookup(PRIORITY, value)
            if priority is None:
                self.warn(
                    number,
                    N_("story %(key)s: unknown priority %(value)s, kept in its notes"),
                    key=story.key,
                    value=repr(value),
                )
                return False
            story.priority = priority
            return True
        if kind == "status":
            status = lookup(STORY_STATUS, value)
            if status is None:
                self.warn(
                    number,
                    N_("story %(key)s: unknown status %(value)s, kept in its notes"),
                    key=story.key,
                    value=repr(value),
                )
                return False
            story.status = status
            return True
        if kind == "points":
            digits = re.match(rf"^({_NUM}+)", value)
            if digits is None:
                self.warn(
                    number,
                    N_("story %(key)s: points must be a whole number, not %(value)s"),
                    error=True,
                    key=story.key,
                    value=repr(value),
                )
                return True
            story.points = _int(digits.group(1))
            return True
        if kind == "moscow":
            moscow = lookup(MOSCOW, value)
            if moscow is None:
                return False
            story.moscow = moscow
            return True
        return False

    def add_checkbox(self, story: StoryDoc, number: int, match: re.Match[str]) -> None:
        indent = len(match.group(1).expandtabs(4))
        box = Checkbox(text=match.group(3), done=match.group(2) != " ", line=number)
        while self.task_stack and self.task_stack[-1][0] >= indent:
            self.task_stack.pop()
        if self.task_stack:
            self.task_stack[-1][1].subtasks.append(box)
        else:
            target = story.tasks if self.story_part == "tasks" else story.acceptance_criteria
            target.append(box)
        self.task_stack.append((indent, box))

    def finish(self) -> None:
        self.end_story()
        if not self.doc.phases and not self.doc.stories:
            raise PlanSyntaxError(
                self.file,
                1,
                N_(
                    "expected a plan: a '# Phase N: Title' heading or '#### Story N.M: Title'"
                    " entries"
                ),
            )
        for key, (moscow, line) in self.priorities.items():
            story = self.doc.story(key)
            if story is None:
                self.warn(
                    line,
                    N_("the prioritisation names story %(key)s, which the plan does not have"),
                    error=True,
                    key=key,
                )
            else:
                story.moscow = moscow
        if self.phase is not None:
            outline = []
            for entry in self.outline:
                if entry["kind"] == "notes":
                    text = "\n".join(entry["section"].lines).strip("\n")
                    if text.strip():
                        outline.append({"kind": "notes", "text": text})
                else:
                    outline.append(entry)
            self.phase.meta.pop("_body", None)
            self.phase.notes = "\n\n".join(e["text"] for e in outline if e["kind"] == "notes")
            self.phase.meta["outline"] = outline  # type: ignore[assignment]
            if self.goal_details:
                self.phase.meta["goal_details"] = self.goal_details  # type: ignore[assignment]


_SECTION_MARKERS = {
    "goals": ("goals", "اهداف", "أهداف"),
    "stories": ("stories", "استوری ها", "داستان ها", "القصص", "user stories"),
    "priorities": ("prioriti", "اولویت", "moscow", "الأولويات"),
    "timeline": ("timeline", "زمان بندی", "زمانبندی", "الجدول الزمني", "schedule"),
}


def _moscow_words(words: str) -> str:
    inner = re.search(r"\(([^)]*)\)", words)
    return inner.group(1) if inner else words


def parse_sprint_plan(text: str, file: str) -> PlanDocument:
    """Read a sprint plan (already decoded and repaired)."""
    return _Reader(text, file).read()
