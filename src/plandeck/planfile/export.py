"""Writing plan documents: the sprint-plan markdown the importer reads, and the JSON form."""

from __future__ import annotations

from typing import Any

from plandeck.models import MoSCoW, PhaseStatus, Priority, StoryStatus
from plandeck.planfile.document import Checkbox, PhaseDoc, PlanDocument, SprintDoc, StoryDoc

STATUS_LABEL = {
    StoryStatus.DRAFT: "Draft",
    StoryStatus.APPROVED: "Approved",
    StoryStatus.IN_PROGRESS: "InProgress",
    StoryStatus.REVIEW: "Review",
    StoryStatus.DONE: "Done",
    StoryStatus.BLOCKED: "Blocked",
}
PHASE_STATUS_LABEL = {
    PhaseStatus.PLANNING: "Planning",
    PhaseStatus.ACTIVE: "Active",
    PhaseStatus.COMPLETED: "Completed",
    PhaseStatus.CANCELLED: "Cancelled",
}
MOSCOW_HEADING = {
    MoSCoW.MUST: "Must Have:",
    MoSCoW.SHOULD: "Should Have:",
    MoSCoW.COULD: "Could Have:",
    MoSCoW.WONT: "Won't Have:",
}
_RULE = "---"


def _priority_label(priority: Priority | None) -> str | None:
    return priority.value.capitalize() if priority else None


def _checkboxes(boxes: list[Checkbox], depth: int = 0) -> list[str]:
    lines = []
    for box in boxes:
        lines.append(f"{'  ' * depth}- [{'x' if box.done else ' '}] {box.text}")
        lines.extend(_checkboxes(box.subtasks, depth + 1))
    return lines


def render_story(story: StoryDoc, level: int = 4) -> list[str]:
    points = f" ({story.points} pts)" if story.points is not None else ""
    lines = [f"{'#' * level} Story {story.key}: {story.title}{points}"]
    if story.priority:
        lines.append(f"**Priority:** {_priority_label(story.priority)}  ")
    lines.append(f"**Status:** {STATUS_LABEL[story.status or StoryStatus.DRAFT]}")
    # Notes go before the parts: after a description or a task list they would read back as
    # more of it (a description takes every line, a task list drops blank lines).
    if story.notes.strip():
        lines += ["", story.notes.strip()]
    if story.description.strip():
        lines += ["", "**Description:**", story.description.strip()]
    if story.acceptance_criteria:
        lines += ["", "**Acceptance Criteria:**", *_checkboxes(story.acceptance_criteria)]
    if story.tasks:
        lines += ["", "**Tasks:**", *_checkboxes(story.tasks)]
    return lines


def _sprint_lines(doc: PlanDocument, sprint: SprintDoc) -> list[str]:
    lines = [f"### Sprint {sprint.number}: {sprint.name}", ""]
    if sprint.goal.strip():
        lines += [sprint.goal.strip(), ""]
    for story in (s for s in doc.stories if s.sprint == sprint.number):
        lines += [*render_story(story), "", _RULE, ""]
    return lines


def _stories_section(doc: PlanDocument, phase: PhaseDoc, raw: str | None) -> list[str]:
    lines = [raw or f"## Phase {phase.number} Stories", ""] if raw or doc.sprints else []
    for sprint in sorted(doc.sprints, key=lambda s: s.number):
        lines += _sprint_lines(doc, sprint)
    loose = [s for s in doc.stories if s.sprint is None]
    if loose:
        lines += ["### Backlog", ""]
        for story in loose:
            lines += [*render_story(story), "", _RULE, ""]
    return lines


def _sub_heading(raw: str | None, default_level: int = 2) -> str:
    """Hashes for a heading one level below ``raw`` (a section's own heading)."""
    level = len(raw) - len(raw.lstrip("#")) if raw and raw.startswith("#") else default_level
    return "#" * min(level + 1, 6)


def _priorities_section(
    doc: PlanDocument, outline: list[dict[str, Any]], raw: str | None
) -> list[str]:
    lines = [raw or "## Prioritisation", ""]
    given = {MoSCoW(e["moscow"]): e for e in outline if e["kind"] == "moscow_heading"}
    for moscow in MoSCoW:
        stories = [s for s in doc.stories if s.moscow is moscow]
        entry = given.get(moscow)
        if not stories and entry is None:
            continue
        lines.append(entry["raw"] if entry else f"{_sub_heading(raw)} {MOSCOW_HEADING[moscow]}")
        written = {item["key"]: item["text"] for item in (entry["items"] if entry else [])}
        for number, story in enumerate(stories, 1):
            text = written.get(story.key) or f"Story {story.key}: {story.title}"
            lines.append(f"{number}. {text}")
        lines.append("")
    return [*lines, _RULE, ""]


def _timeline_section(
    doc: PlanDocument, outline: list[dict[str, Any]], raw: str | None
) -> list[str]:
    lines = [raw or "## Timeline", ""]
    items = {e["sprint"]: e for e in outline if e["kind"] == "week"}
    for sprint in sorted((s for s in doc.sprints if s.weeks), key=lambda s: s.number):
        entry = items.get(sprint.number)
        lines.append(f"{_sub_heading(raw)} Week {sprint.weeks}: Sprint {sprint.number}")
        if entry:
            lines += [f"- {item}" for item in entry["items"]]
        else:
            lines += [f"- {s.title}" for s in doc.stories if s.sprint == sprint.number]
        lines.append("")
    return [*lines, _RULE, ""]


def _goals_section(phase: PhaseDoc, outline: list[dict[str, Any]], raw: str | None) -> list[str]:
    details: dict[str, str] = phase.meta.get("goal_details", {})  # type: ignore[assignment]
    lines = [raw or f"## Phase {phase.number} Goals", ""]
    lines += [e["raw"] for e in outline if e["kind"] in ("goals_heading", "goals_text")]
    for number, goal in enumerate(phase.goals, 1):
        detail = details.get(goal)
        lines.append(f"{number}. **{goal}** - {detail}" if detail else f"{number}. **{goal}**")
    return [*lines, "", _RULE, ""]


def render_markdown(doc: PlanDocument) -> str:
    """The plan in the seed format; a phase's outline keeps its sections in their order."""
    if not doc.phases:
        lines: list[str] = []
        lines += _stories_section(doc, PhaseDoc(number=0, title=""), None)
        return "\n".join(lines).rstrip() + "\n"
    phase = doc.phases[0]
    status = PHASE_STATUS_LABEL[phase.status or PhaseStatus.PLANNING]
    lines = [f"# Phase {phase.number}: {phase.title} - {status}", ""]
    for key, value in phase.meta.items():
        if key in ("outline", "goal_details"):
            continue
        lines.append(f"**{key}:** {status if key == 'Status' else value}  ")
    if "Status" not in phase.meta:
        lines.append(f"**Status:** {status}  ")
    lines += ["", _RULE, ""]
    outline: list[dict[str, Any]] = phase.meta.get("outline") or [  # type: ignore[assignment]
        {"kind": "goals", "raw": None},
        {"kind": "stories", "raw": None},
        {"kind": "priorities", "raw": None},
        {"kind": "timeline", "raw": None},
    ]
    done: set[str] = set()
    for entry in outline:
        kind = entry["kind"]
        if kind == "notes":
            lines += [entry["text"], ""]
        elif kind in done:
            continue
        elif kind == "goals":
            lines += _goals_section(phase, outline, entry.get("raw"))
        elif kind == "stories":
            lines += _stories_section(doc, phase, entry.get("raw"))
        elif kind == "priorities":
            lines += _priorities_section(doc, outline, entry.get("raw"))
        elif kind == "timeline":
            lines += _timeline_section(doc, outline, entry.get("raw"))
        else:
            continue
        done.add(kind)
    for kind, section in (("stories", _stories_section), ("goals", None)):
        if kind not in done and section is not None and doc.stories:
            lines += section(doc, phase, None)
    return "\n".join(lines).rstrip() + "\n"


def _story_json(story: StoryDoc) -> dict[str, Any]:
    def boxes(items: list[Checkbox]) -> list[dict[str, Any]]:
        return [{"text": b.text, "done": b.done, "subtasks": boxes(b.subtasks)} for b in items]

    return {
        "key": story.key,
        "title": story.title,
        "points": story.points,
        "priority": story.priority.value if story.priority else None,
        "moscow": story.moscow.value if story.moscow else None,
        "status": (story.status or StoryStatus.DRAFT).value,
        "description": story.description,
        "acceptance_criteria": [
            {"text": b.text, "done": b.done} for b in story.acceptance_criteria
        ],
        "tasks": boxes(story.tasks),
        "notes": story.notes,
    }


def render_json(doc: PlanDocument, project: dict[str, Any]) -> dict[str, Any]:
    """The documented JSON export: phases with their sprints, a phase's unscheduled stories, the backlog."""
    phases = []
    placed: set[str] = set()
    for phase in doc.phases:
        sprints = [s for s in doc.sprints if s.phase == phase.number]
        sprint_numbers = {s.number for s in sprints}
        own = [s for s in doc.stories if s.phase == phase.number and s.sprint is None]
        in_sprints = [s for s in doc.stories if s.sprint in sprint_numbers]
        placed.update(s.key for s in own + in_sprints)
        phases.append(
            {
                "number": phase.number,
                "title": phase.title,
                "status": (phase.status or PhaseStatus.PLANNING).value,
                "goals": phase.goals,
                "notes": phase.notes,
                "sprints": [
                    {
                        "number": sprint.number,
                        "name": sprint.name,
                        "weeks": sprint.weeks,
                        "stories": [
                            _story_json(s) for s in in_sprints if s.sprint == sprint.number
                        ],
                    }
                    for sprint in sprints
                ],
                "stories": [_story_json(s) for s in own],
            }
        )
    backlog = [_story_json(s) for s in doc.stories if s.key not in placed]
    return {"project": project, "phases": phases, "backlog": backlog}
