"""Importing a plan document into a project, and reading a project back as a document.

An import matches phases and sprints by number and stories by key, so importing an edited
document updates what it finds (no duplicates). It runs inside the caller's unit of work:
a malformed document or a failure halfway leaves the database as it was.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from plandeck.auth.roles import require_role
from plandeck.kit.audit import record, to_json
from plandeck.kit.integrity import flush
from plandeck.models import (
    ActivityAction,
    EntityType,
    Phase,
    Project,
    Role,
    Sprint,
    Story,
    StoryStatus,
    Task,
    User,
)
from plandeck.planfile.document import (
    Checkbox,
    PhaseDoc,
    PlanDocument,
    PlanSyntaxError,
    PlanWarning,
    SprintDoc,
    StoryDoc,
)
from plandeck.planfile.vocabulary import STATUS_PROGRESS
from plandeck.plans.phases import phase_service
from plandeck.plans.schemas import (
    PhaseCreate,
    PhaseUpdate,
    SprintCreate,
    SprintUpdate,
    StoryCreate,
    StoryUpdate,
    TaskCreate,
    TaskUpdate,
)
from plandeck.plans.sprints import sprint_service
from plandeck.plans.stories import story_service
from plandeck.plans.tasks import task_service

Progress = Callable[[int, int], None]


@dataclass
class Change:
    entity: str  # phase / sprint / story / task
    key: str
    action: str  # created / updated / removed / unchanged
    fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    def __str__(self) -> str:
        if not self.fields:
            return f"{self.action} {self.entity} {self.key}"
        parts = ", ".join(
            f"{name}: {before!r} -> {after!r}" for name, (before, after) in self.fields.items()
        )
        return f"{self.action} {self.entity} {self.key} ({parts})"


@dataclass
class ImportReport:
    file: str
    changes: list[Change] = field(default_factory=list)
    warnings: list[PlanWarning] = field(default_factory=list)
    missing: list[str] = field(
        default_factory=list
    )  # story keys in the project, not in the document

    def counts(self) -> Counter[str]:
        return Counter(change.action for change in self.changes)

    def count(self, entity: str, action: str) -> int:
        return sum(1 for c in self.changes if c.entity == entity and c.action == action)


@contextmanager
def _located(file: str, line: int | None, what: str) -> Iterator[None]:
    """A value the tracker cannot hold (a title too long, say) is the document's error: say where."""
    try:
        yield
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise PlanSyntaxError(file, line, f"{what}: {where}: {first['msg']}") from None


def _tree(boxes: list[Checkbox]) -> list[Any]:
    return [[box.text, box.done, _tree(box.subtasks)] for box in boxes]


def _diff(obj: object, values: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {
        name: (getattr(obj, name), value)
        for name, value in values.items()
        if getattr(obj, name) != value
    }


class PlanImporter:
    def __init__(
        self, session: AsyncSession, actor: User, project: Project, report: ImportReport
    ) -> None:
        self.session, self.actor, self.project, self.report = session, actor, project, report

    async def run(
        self, doc: PlanDocument, *, prune: bool, progress: Progress | None = None
    ) -> None:
        await require_role(self.session, self.actor, self.project, Role.ADMIN)
        phases = {p.number: p for p in await self._live(Phase)}
        sprints = {s.number: s for s in await self._live(Sprint)}
        stories = {s.key: s for s in await self._live(Story)}
        phase_ids: dict[int, int] = {n: p.id for n, p in phases.items()}
        for phase_doc in doc.phases:
            with _located(doc.file, phase_doc.line, f"phase {phase_doc.number}"):
                phase = await self.phase(phases.get(phase_doc.number), phase_doc)
            phase_ids[phase_doc.number] = phase.id
        sprint_ids: dict[int, int] = {n: s.id for n, s in sprints.items()}
        for sprint_doc in doc.sprints:
            phase_id = phase_ids.get(sprint_doc.phase) if sprint_doc.phase is not None else None
            with _located(doc.file, sprint_doc.line, f"sprint {sprint_doc.number}"):
                sprint = await self.sprint(sprints.get(sprint_doc.number), sprint_doc, phase_id)
            sprint_ids[sprint_doc.number] = sprint.id
        for done, story_doc in enumerate(doc.stories, 1):
            with _located(story_doc.file or doc.file, story_doc.line, f"story {story_doc.key}"):
                await self.story(stories.get(story_doc.key), story_doc, phase_ids, sprint_ids)
            if progress is not None:
                progress(done, len(doc.stories))
        seen = {s.key for s in doc.stories}
        for key, story in stories.items():
            if key in seen or (
                doc.phases and story.phase_id not in {phase_ids.get(p.number) for p in doc.phases}
            ):
                continue
            self.report.missing.append(key)
            if prune:
                await story_service.delete(self.session, self.actor, self.project, story.id)
                self.report.changes.append(Change("story", key, "removed"))
        record(
            self.session,
            actor=self.actor,
            project_id=self.project.id,
            entity_type=EntityType.PROJECT,
            entity_id=self.project.id,
            action=ActivityAction.IMPORTED,
            after={
                "file": doc.file,
                **dict(sorted(self.report.counts().items())),
                "warnings": len(self.report.warnings),
                # What changed, in words (bounded: a huge import keeps its first lines).
                "changes": [str(c) for c in self.report.changes if c.action != "unchanged"][:200],
            },
        )
        await flush(self.session)

    async def _live(self, model: type[Phase] | type[Sprint] | type[Story]) -> list[Any]:
        return list(
            await self.session.scalars(
                select(model).where(model.project_id == self.project.id, model.deleted_at.is_(None))
            )
        )

    async def phase(self, phase: Phase | None, doc: PhaseDoc) -> Phase:
        values: dict[str, Any] = {
            "title": doc.title,
            "goals": doc.goals,
            "description": doc.description,
            "notes": doc.notes,
            "meta": doc.meta,
        }
        if doc.status is not None:
            values["status"] = doc.status
        key = f"{doc.number}"
        if phase is None:
            created = await phase_service.create(
                self.session, self.actor, self.project, PhaseCreate(number=doc.number, **values)
            )
            self.report.changes.append(Change("phase", key, "created"))
            return created
        changed = _diff(phase, values)
        if changed:
            await phase_service.update(
                self.session,
                self.actor,
                self.project,
                phase.id,
                PhaseUpdate(**{k: values[k] for k in changed}),
            )
        self.report.changes.append(
            Change("phase", key, "updated" if changed else "unchanged", changed)
        )
        return phase

    async def sprint(self, sprint: Sprint | None, doc: SprintDoc, phase_id: int | None) -> Sprint:
        values: dict[str, Any] = {"name": doc.name, "weeks": doc.weeks, "goal": doc.goal}
        if phase_id is not None:
            values["phase_id"] = phase_id
        key = f"{doc.number}"
        if sprint is None:
            created = await sprint_service.create(
                self.session, self.actor, self.project, SprintCreate(number=doc.number, **values)
            )
            self.report.changes.append(Change("sprint", key, "created"))
            return created
        changed = _diff(sprint, values)
        if changed:
            await sprint_service.update(
                self.session,
                self.actor,
                self.project,
                sprint.id,
                SprintUpdate(**{k: values[k] for k in changed}),
            )
        self.report.changes.append(
            Change("sprint", key, "updated" if changed else "unchanged", changed)
        )
        return sprint

    async def story(
        self,
        story: Story | None,
        doc: StoryDoc,
        phase_ids: dict[int, int],
        sprint_ids: dict[int, int],
    ) -> None:
        values: dict[str, Any] = {
            "title": doc.title,
            "points": doc.points,
            "description": doc.description,
            "notes": doc.notes,
            "acceptance_criteria": [
                {"text": c.text, "done": c.done} for c in doc.acceptance_criteria
            ],
            "moscow": doc.moscow,
            "phase_id": phase_ids.get(doc.phase) if doc.phase is not None else None,
            "sprint_id": sprint_ids.get(doc.sprint) if doc.sprint is not None else None,
        }
        if doc.priority is not None:
            values["priority"] = doc.priority
        if doc.status is not None:
            values["status"] = doc.status
        doc_tasks = _tree(doc.tasks)
        # What this import says, kept on the story so the next import can tell the
        # document's edits from the tracker's (a three-way merge, field by field).
        baseline = {**{name: to_json(value) for name, value in values.items()}, "tasks": doc_tasks}
        if story is None:
            created = await story_service.create(
                self.session, self.actor, self.project, StoryCreate(key=doc.key, **values)
            )
            await self.tasks(created, [], doc.tasks)
            await self._save_baseline(created, baseline)
            self.report.changes.append(Change("story", doc.key, "created"))
            return
        previous = story.import_baseline or {}
        for name in list(values):
            if self._keep_tracker_value(story, doc, name, to_json(values[name]), previous):
                del values[name]
        if "status" in values and STATUS_PROGRESS[values["status"]] < STATUS_PROGRESS[story.status]:
            self.report.warnings.append(
                PlanWarning(
                    doc.file,
                    doc.line,
                    f"story {doc.key} stays {story.status.value}: an import never moves a story "
                    f"back (the document says {values['status'].value})",
                )
            )
            del values["status"]
        changed = _diff(story, values)
        if changed:
            await story_service.update(
                self.session,
                self.actor,
                self.project,
                story.id,
                StoryUpdate(**{k: values[k] for k in changed}),
            )
        current_tasks, existing = await self._task_tree(story.id)
        if "tasks" in previous and doc_tasks == previous["tasks"]:
            pass  # the document left the checklist alone: the tracker's ticks stay
        else:
            if "tasks" in previous and current_tasks not in (previous["tasks"], doc_tasks):
                self._conflict(doc, "tasks", "the checklist")
            if await self.tasks(story, existing, doc.tasks):
                changed["tasks"] = (len(current_tasks), len(doc_tasks))
        if story.import_baseline != baseline:
            await self._save_baseline(story, baseline)
        self.report.changes.append(
            Change("story", doc.key, "updated" if changed else "unchanged", changed)
        )

    async def _save_baseline(self, story: Story, baseline: dict[str, Any]) -> None:
        # Bookkeeping, not an edit: written without bumping the story's version.
        await self.session.execute(
            update(Story)
            .where(Story.id == story.id)
            .values(import_baseline=baseline)
            .execution_options(synchronize_session=False)
        )
        set_committed_value(story, "import_baseline", baseline)

    def _keep_tracker_value(
        self, story: Story, doc: StoryDoc, name: str, doc_value: Any, previous: dict[str, Any]
    ) -> bool:
        """True when the tracker's value stays: the document did not change this field since
        the last import. When both changed it, the document wins and the conflict is reported."""
        if name not in previous:
            return False
        if doc_value == previous[name]:
            return True
        current = to_json(getattr(story, name))
        if current not in (previous[name], doc_value):
            self._conflict(doc, name, f"{current!r} in the tracker, now {doc_value!r}")
        return False

    def _conflict(self, doc: StoryDoc, name: str, detail: str) -> None:
        self.report.warnings.append(
            PlanWarning(
                doc.file,
                doc.line,
                f"conflict: story {doc.key} {name} was changed in the tracker and in the document "
                f"({detail}); the document's version was taken",
            )
        )

    async def _task_tree(self, story_id: int) -> tuple[list[Any], list[Task]]:
        """The story's checklist as nested ``[text, done, children]``, and its top-level tasks
        (one query for both)."""
        tasks = list(
            await self.session.scalars(
                select(Task)
                .where(Task.story_id == story_id, Task.deleted_at.is_(None))
                .order_by(Task.position, Task.id)
            )
        )
        children: dict[int | None, list[Task]] = {}
        for task in tasks:
            children.setdefault(task.parent_id, []).append(task)

        def build(parent: int | None) -> list[Any]:
            return [[t.text, t.done, build(t.id)] for t in children.get(parent, [])]

        return build(None), children.get(None, [])

    async def tasks(
        self, story: Story, existing: list[Task], boxes: list[Checkbox], parent: Task | None = None
    ) -> bool:
        """Match tasks by position; return whether anything changed."""
        changed = False
        for position, box in enumerate(boxes):
            if position < len(existing):
                task = existing[position]
                if (task.text, task.done, task.position) != (box.text, box.done, position):
                    await task_service.update(
                        self.session,
                        self.actor,
                        self.project,
                        task.id,
                        TaskUpdate(text=box.text, done=box.done, position=position),
                    )
                    changed = True
            else:
                task = await task_service.create(
                    self.session,
                    self.actor,
                    self.project,
                    story.id,
                    TaskCreate(
                        text=box.text,
                        done=box.done,
                        position=position,
                        parent_id=parent.id if parent else None,
                    ),
                )
                changed = True
            children = list(
                await self.session.scalars(
                    select(Task)
                    .where(Task.parent_id == task.id, Task.deleted_at.is_(None))
                    .order_by(Task.position, Task.id)
                )
            )
            changed |= await self.tasks(story, children, box.subtasks, task)
        for surplus in existing[len(boxes) :]:
            await task_service.delete(self.session, self.actor, self.project, surplus.id)
            changed = True
        return changed


async def import_document(
    session: AsyncSession,
    actor: User,
    project: Project,
    doc: PlanDocument,
    *,
    prune: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Import ``doc`` into ``project``; ``progress(done, total)`` is called after each story."""
    report = ImportReport(file=doc.file, warnings=list(doc.warnings))
    await PlanImporter(session, actor, project, report).run(doc, prune=prune, progress=progress)
    return report


async def document_from_project(
    session: AsyncSession, actor: User, project: Project, *, phase_number: int | None = None
) -> PlanDocument:
    """The project (or one phase of it) as a plan document, ready to export."""
    await require_role(session, actor, project, Role.VIEWER)
    doc = PlanDocument(file=f"{project.key}.md")
    phases = list(
        await session.scalars(
            select(Phase)
            .where(Phase.project_id == project.id, Phase.deleted_at.is_(None))
            .order_by(Phase.number)
        )
    )
    if phase_number is not None:
        phases = [p for p in phases if p.number == phase_number]
        if not phases:
            from plandeck.errors import NotFound

            raise NotFound(f"project {project.key} has no phase {phase_number}")
    phase_numbers = {p.id: p.number for p in phases}
    for phase in phases:
        doc.phases.append(
            PhaseDoc(
                number=phase.number,
                title=phase.title,
                status=phase.status,
                goals=list(phase.goals),
                description=phase.description,
                notes=phase.notes,
                meta=dict(phase.meta),
            )
        )
    sprints = list(
        await session.scalars(
            select(Sprint)
            .where(Sprint.project_id == project.id, Sprint.deleted_at.is_(None))
            .order_by(Sprint.number)
        )
    )
    if phase_number is not None:
        sprints = [s for s in sprints if s.phase_id in phase_numbers]
    sprint_numbers = {s.id: s.number for s in sprints}
    for sprint in sprints:
        doc.sprints.append(
            SprintDoc(
                number=sprint.number,
                name=sprint.name,
                weeks=sprint.weeks,
                goal=sprint.goal,
                phase=phase_numbers.get(sprint.phase_id) if sprint.phase_id else None,
            )
        )
    stories = list(
        await session.scalars(
            select(Story)
            .where(Story.project_id == project.id, Story.deleted_at.is_(None))
            .order_by(Story.sprint_id, Story.rank)
        )
    )
    if phase_number is not None:
        stories = [
            s for s in stories if s.phase_id in phase_numbers or s.sprint_id in sprint_numbers
        ]
    tasks = list(
        await session.scalars(
            select(Task)
            .join(Story, Story.id == Task.story_id)
            .where(Story.project_id == project.id, Task.deleted_at.is_(None))
            .order_by(Task.position, Task.id)
        )
    )
    boxes: dict[int, Checkbox] = {}
    by_story: dict[int, list[Checkbox]] = {}
    for task in tasks:
        boxes[task.id] = Checkbox(text=task.text, done=task.done)
    for task in tasks:
        box = boxes[task.id]
        if task.parent_id is not None and task.parent_id in boxes:
            boxes[task.parent_id].subtasks.append(box)
        else:
            by_story.setdefault(task.story_id, []).append(box)
    for story in stories:
        doc.stories.append(
            StoryDoc(
                key=story.key,
                title=story.title,
                points=story.points,
                priority=story.priority,
                status=story.status,
                moscow=story.moscow,
                sprint=sprint_numbers.get(story.sprint_id) if story.sprint_id else None,
                phase=phase_numbers.get(story.phase_id) if story.phase_id else None,
                description=story.description,
                tasks=by_story.get(story.id, []),
                acceptance_criteria=[
                    Checkbox(text=str(c["text"]), done=bool(c.get("done")))
                    for c in story.acceptance_criteria
                ],
                notes=story.notes,
            )
        )
    _ = StoryStatus
    return doc
