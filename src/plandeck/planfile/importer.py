"""Importing a plan document into a project, and reading a project back as a document.

An import matches phases and sprints by number and stories by key, so importing an edited
document updates what it finds (no duplicates). It runs inside the caller's unit of work:
a malformed document or a failure halfway leaves the database as it was.

It keeps the services' rules (only an admin imports; every row created or changed gets its
activity event; numbers and keys stay unique, trash included; a new story joins the end of
its sprint) but not their one row at a time: it reads the project in a few queries, works
out every change in memory, validating each value with the services' schemas so an error
still names its line, then writes in batches (``planfile.bulk``). A 2,000-story plan takes
about twenty statements, not one or two per row.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from plandeck.auth.roles import require_role
from plandeck.errors import Conflict
from plandeck.kit.audit import apply_changes, to_json
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
from plandeck.models.base import utcnow
from plandeck.planfile.bulk import (
    ActivityBatch,
    NewRow,
    execute,
    gc_paused,
    insert_rows,
    insert_tree,
    json_value,
)
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
from plandeck.planfile.vocabulary import STATUS_PROGRESS
from plandeck.plans.phases import phase_service
from plandeck.plans.ranking import rank_between
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
# Up to this many stories' tasks are read by id; more, and every task of the project is.
_TASKS_BY_STORY_ID = 500


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


# A story's live tasks by parent id (None: its top-level tasks), each list by position.
_TaskTree = dict[int | None, list[Task]]


def _checklist(tree: _TaskTree, parent: int | None = None) -> list[Any]:
    """The tasks as nested ``[text, done, children]``, the form the baseline keeps."""
    return [[t.text, t.done, _checklist(tree, t.id)] for t in tree.get(parent, [])]


def _checklist_kept(story: Story, doc_tasks: list[Any]) -> bool:
    """The document left the checklist as the last import had it: the tracker's ticks stay."""
    previous = story.import_baseline or {}
    return "tasks" in previous and bool(doc_tasks == previous["tasks"])


class _Ranks:
    """The last rank of each sprint (None: the backlog), trash included, as ``last_rank``
    reads it while the import places stories one after the other."""

    def __init__(self, stories: Iterable[Story]) -> None:
        self._ranks: dict[int | None, dict[str, str]] = {}
        for story in stories:
            self._ranks.setdefault(story.sprint_id, {})[story.key] = story.rank
        self._last: dict[int | None, str | None] = {}

    def last(self, sprint_id: int | None) -> str | None:
        if sprint_id not in self._last:
            self._last[sprint_id] = max(self._ranks.get(sprint_id, {}).values(), default=None)
        return self._last[sprint_id]

    def append(self, sprint_id: int | None, key: str) -> str:
        """A rank after the sprint's last one, now the story ``key``'s."""
        rank = rank_between(self.last(sprint_id), None)
        self._ranks.setdefault(sprint_id, {})[key] = rank
        self._last[sprint_id] = rank
        return rank

    def leave(self, sprint_id: int | None, key: str) -> None:
        rank = self._ranks.get(sprint_id, {}).pop(key, None)
        if rank is not None and rank == self._last.get(sprint_id):
            del self._last[sprint_id]  # read again when next needed


class PlanImporter:
    def __init__(
        self, session: AsyncSession, actor: User, project: Project, report: ImportReport
    ) -> None:
        self.session, self.actor, self.project, self.report = session, actor, project, report
        self.trail = ActivityBatch(actor.id, project.id)
        self.new_stories: list[NewRow] = []
        self.new_tasks: list[NewRow] = []
        self.baselines: dict[int, dict[str, Any]] = {}  # by story id
        self.story_keys: set[str] = set()  # the project's, trash included, and those created
        self.ranks = _Ranks(())

    async def run(
        self, doc: PlanDocument, *, prune: bool, progress: Progress | None = None
    ) -> None:
        # The role is checked once: what follows writes without the services' own checks.
        await require_role(self.session, self.actor, self.project, Role.ADMIN)
        phase_ids = await self.phases(doc, await self._all(Phase))
        sprint_ids, sprint_phases = await self.sprints(doc, await self._all(Sprint), phase_ids)
        stories: list[Story] = await self._all(Story)
        live = {s.key: s for s in stories if s.deleted_at is None}
        self.story_keys = {s.key for s in stories}
        self.ranks = _Ranks(stories)
        entries = [(d, live.get(d.key), _tree(d.tasks)) for d in doc.stories]
        trees = await self._task_trees(
            {s.id for _, s, tasks in entries if s is not None and not _checklist_kept(s, tasks)}
        )
        for done, (story_doc, story, doc_tasks) in enumerate(entries, 1):
            with _located(story_doc.file or doc.file, story_doc.line, f"story {story_doc.key}"):
                self.story(
                    story,
                    story_doc,
                    doc_tasks,
                    phase_ids,
                    sprint_ids,
                    sprint_phases,
                    trees.get(story.id) if story is not None else None,
                )
            if progress is not None:
                progress(done, len(doc.stories))
        seen = {s.key for s in doc.stories}
        for key, story in live.items():
            if key in seen or (
                doc.phases and story.phase_id not in {phase_ids.get(p.number) for p in doc.phases}
            ):
                continue
            self.report.missing.append(key)
            if prune:
                # To the trash, as StoryService.delete does.
                story.deleted_at = utcnow()
                self.trail.add(
                    EntityType.STORY,
                    story.id,
                    ActivityAction.DELETED,
                    after={"deleted_at": story.deleted_at.isoformat()},
                )
                self.report.changes.append(Change("story", key, "removed"))
        self.trail.add(
            EntityType.PROJECT,
            self.project.id,
            ActivityAction.IMPORTED,
            after={
                "file": doc.file,
                **dict(sorted(self.report.counts().items())),
                "warnings": len(self.report.warnings),
                # What changed, in words (bounded: a huge import keeps its first lines).
                "changes": [str(c) for c in self.report.changes if c.action != "unchanged"][:200],
            },
        )
        await self._write()

    async def _all(self, model: type[Phase] | type[Sprint] | type[Story]) -> list[Any]:
        """Every phase, sprint or story of the project, trash included: numbers and keys
        stay unique across the trash, and ranks count it. In the order they were made, so
        the missing stories are reported in a stable order."""
        return list(
            await self.session.scalars(
                select(model).where(model.project_id == self.project.id).order_by(model.id)
            )
        )

    async def _write(self) -> None:
        await insert_rows(self.session, Story, self.new_stories, ("key",))
        await insert_tree(self.session, Task, self.new_tasks, ("story_id", "parent_id", "position"))
        # Edits of rows the project had, one UPDATE each, versions checked and bumped.
        await flush(self.session)
        if self.baselines:
            # Bookkeeping, not an edit: written without bumping the stories' versions.
            statement = (
                update(Story)
                .where(Story.id == bindparam("story_id"))
                .values(import_baseline=bindparam("baseline"))
            )
            await execute(
                await self.session.connection(),
                statement,
                [{"story_id": i, "baseline": b} for i, b in self.baselines.items()],
            )
        await self.trail.write(self.session)

    def _apply(
        self, entity_type: EntityType, obj: Phase | Sprint | Story, changes: dict[str, Any]
    ) -> None:
        """Set what really changes and record it, as ``ProjectChildService._apply`` does."""
        before, after = apply_changes(obj, changes)
        if after:
            self.trail.add(entity_type, obj.id, ActivityAction.UPDATED, before=before, after=after)

    # Phases and sprints

    async def phases(self, doc: PlanDocument, phases: list[Phase]) -> dict[int, int]:
        """Create or update the document's phases; the id of every live phase by number."""
        live = {p.number: p for p in phases if p.deleted_at is None}
        numbers = {p.number for p in phases}
        created: list[NewRow] = []
        for phase_doc in doc.phases:
            with _located(doc.file, phase_doc.line, f"phase {phase_doc.number}"):
                if (row := self.phase(live.get(phase_doc.number), phase_doc, numbers)) is not None:
                    created.append(row)
        await insert_rows(self.session, Phase, created, ("number",))
        ids = {number: phase.id for number, phase in live.items()}
        for row in created:
            assert row.id is not None
            ids[row.values["number"]] = row.id
        return ids

    def phase(self, phase: Phase | None, doc: PhaseDoc, numbers: set[int]) -> NewRow | None:
        """Update ``phase`` from ``doc``, or plan the row that creates it."""
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
            data = PhaseCreate(number=doc.number, **values)
            if data.number in numbers:
                raise Conflict(
                    f"{self.project.key} already has a phase {data.number} (perhaps in the trash)",
                    field="number",
                )
            numbers.add(data.number)
            row = NewRow({"project_id": self.project.id, **data.model_dump()})
            self.trail.created(EntityType.PHASE, row, phase_service.fields)
            self.report.changes.append(Change("phase", key, "created"))
            return row
        changed = _diff(phase, values)
        if changed:
            data_update = PhaseUpdate(**{k: values[k] for k in changed})
            changes = {k: v for k, v in data_update.changes().items() if v is not None}
            self._apply(EntityType.PHASE, phase, changes)
        self.report.changes.append(
            Change("phase", key, "updated" if changed else "unchanged", changed)
        )
        return None

    async def sprints(
        self, doc: PlanDocument, sprints: list[Sprint], phase_ids: dict[int, int]
    ) -> tuple[dict[int, int], dict[int, int | None]]:
        """Create or update the document's sprints; the id of every live sprint by number,
        and the phase id of each by sprint id."""
        live = {s.number: s for s in sprints if s.deleted_at is None}
        numbers = {s.number for s in sprints}
        created: list[NewRow] = []
        for sprint_doc in doc.sprints:
            phase_id = phase_ids.get(sprint_doc.phase) if sprint_doc.phase is not None else None
            with _located(doc.file, sprint_doc.line, f"sprint {sprint_doc.number}"):
                row = self.sprint(live.get(sprint_doc.number), sprint_doc, phase_id, numbers)
            if row is not None:
                created.append(row)
        await insert_rows(self.session, Sprint, created, ("number",))
        ids = {number: sprint.id for number, sprint in live.items()}
        phases = {sprint.id: sprint.phase_id for sprint in live.values()}
        for row in created:
            assert row.id is not None
            ids[row.values["number"]] = row.id
            phases[row.id] = row.values["phase_id"]
        return ids, phases

    def sprint(
        self, sprint: Sprint | None, doc: SprintDoc, phase_id: int | None, numbers: set[int]
    ) -> NewRow | None:
        """Update ``sprint`` from ``doc``, or plan the row that creates it."""
        values: dict[str, Any] = {"name": doc.name, "weeks": doc.weeks, "goal": doc.goal}
        if phase_id is not None:
            values["phase_id"] = phase_id
        key = f"{doc.number}"
        if sprint is None:
            data = SprintCreate(number=doc.number, **values)
            if data.number in numbers:
                raise Conflict(
                    f"{self.project.key} already has a sprint {data.number} (perhaps in the trash)",
                    field="number",
                )
            numbers.add(data.number)
            row = NewRow({"project_id": self.project.id, **data.model_dump()})
            self.trail.created(EntityType.SPRINT, row, sprint_service.fields)
            self.report.changes.append(Change("sprint", key, "created"))
            return row
        changed = _diff(sprint, values)
        if changed:
            data_update = SprintUpdate(**{k: values[k] for k in changed})
            self._apply(EntityType.SPRINT, sprint, data_update.changes())
        self.report.changes.append(
            Change("sprint", key, "updated" if changed else "unchanged", changed)
        )
        return None

    # Stories and tasks

    async def _task_trees(self, story_ids: set[int]) -> dict[int, _TaskTree]:
        """The live tasks of these stories, in one query."""
        if not story_ids:
            return {}
        statement = select(Task).where(Task.deleted_at.is_(None))
        if len(story_ids) <= _TASKS_BY_STORY_ID:
            statement = statement.where(Task.story_id.in_(story_ids))
        else:
            statement = statement.join(Story, Story.id == Task.story_id).where(
                Story.project_id == self.project.id
            )
        trees: dict[int, _TaskTree] = {story_id: {} for story_id in story_ids}
        for task in await self.session.scalars(statement.order_by(Task.position, Task.id)):
            if (tree := trees.get(task.story_id)) is not None:
                tree.setdefault(task.parent_id, []).append(task)
        return trees

    def story(
        self,
        story: Story | None,
        doc: StoryDoc,
        doc_tasks: list[Any],
        phase_ids: dict[int, int],
        sprint_ids: dict[int, int],
        sprint_phases: dict[int, int | None],
        tree: _TaskTree | None,
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
        # What this import says, kept on the story so the next import can tell the
        # document's edits from the tracker's (a three-way merge, field by field).
        baseline = {name: json_value(value) for name, value in values.items()}
        baseline["tasks"] = doc_tasks
        if story is None:
            self.create_story(doc, values, baseline, sprint_phases)
        else:
            self.update_story(story, doc, values, doc_tasks, baseline, tree)

    def create_story(
        self,
        doc: StoryDoc,
        values: dict[str, Any],
        baseline: dict[str, Any],
        sprint_phases: dict[int, int | None],
    ) -> None:
        """Plan the story's row and its tasks' (``StoryService.create``, ``TaskService.create``)."""
        data = StoryCreate(key=doc.key, **values)
        key = data.key
        assert key is not None
        if key in self.story_keys:
            raise Conflict(
                f"{self.project.key} already has a story {key} (perhaps in the trash)", field="key"
            )
        self.story_keys.add(key)
        row = data.model_dump()
        if data.phase_id is None and data.sprint_id is not None:
            row["phase_id"] = sprint_phases.get(data.sprint_id)
        row |= {
            "project_id": self.project.id,
            "reporter_id": self.actor.id,
            "rank": self.ranks.append(data.sprint_id, key),
            "import_baseline": baseline,
        }
        story = NewRow(row)
        self.new_stories.append(story)
        self.trail.created(EntityType.STORY, story, story_service.fields)
        for position, box in enumerate(doc.tasks):
            self.create_task(story, None, position, box)
        self.report.changes.append(Change("story", doc.key, "created"))

    def create_task(
        self, story: NewRow | Story, parent: NewRow | Task | None, position: int, box: Checkbox
    ) -> None:
        """Plan a task's row, and its subtasks'."""
        data = TaskCreate(text=box.text, done=box.done, position=position)
        row = NewRow(
            {
                "story_id": None,
                "parent_id": None,
                "text": data.text,
                "done": data.done,
                "position": data.position,
            }
        )
        for column, ref in (("story_id", story), ("parent_id", parent)):
            if isinstance(ref, NewRow):
                row.refer(column, ref)
            elif ref is not None:
                row.values[column] = ref.id
        self.new_tasks.append(row)
        self.trail.created(EntityType.TASK, row, task_service.fields)
        for child_position, child in enumerate(box.subtasks):
            self.create_task(story, row, child_position, child)

    def update_story(
        self,
        story: Story,
        doc: StoryDoc,
        values: dict[str, Any],
        doc_tasks: list[Any],
        baseline: dict[str, Any],
        tree: _TaskTree | None,
    ) -> None:
        previous = story.import_baseline or {}
        for name in list(values):
            if self._keep_tracker_value(story, doc, name, to_json(values[name]), previous):
                del values[name]
        if "status" in values and STATUS_PROGRESS[values["status"]] < STATUS_PROGRESS[story.status]:
            self.report.warnings.append(
                PlanWarning.of(
                    doc.file,
                    doc.line,
                    N_(
                        "story %(key)s stays %(status)s: an import never moves a story back (the"
                        " document says %(document)s)"
                    ),
                    key=doc.key,
                    status=story.status.value,
                    document=values["status"].value,
                )
            )
            del values["status"]
        changed = _diff(story, values)
        if changed:
            changes = StoryUpdate(**{k: values[k] for k in changed}).changes()
            if "sprint_id" in changes and changes["sprint_id"] != story.sprint_id:
                # A story that changes sprint joins the end of its new list (StoryService).
                self.ranks.leave(story.sprint_id, story.key)
                changes["rank"] = self.ranks.append(changes["sprint_id"], story.key)
            self._apply(EntityType.STORY, story, changes)
        if not _checklist_kept(story, doc_tasks):
            tree = tree or {}
            current_tasks = _checklist(tree)
            if "tasks" in previous and current_tasks not in (previous["tasks"], doc_tasks):
                self._conflict(doc, "tasks")
            if self.match_tasks(story, tree, tree.get(None, []), doc.tasks):
                changed["tasks"] = (len(current_tasks), len(doc_tasks))
        if story.import_baseline != baseline:
            # Kept on the object now; written in one batch at the end.
            set_committed_value(story, "import_baseline", baseline)
            self.baselines[story.id] = baseline
        self.report.changes.append(
            Change("story", doc.key, "updated" if changed else "unchanged", changed)
        )

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
            self._conflict(doc, name, tracker=repr(current), document=repr(doc_value))
        return False

    def _conflict(self, doc: StoryDoc, name: str, **values: str) -> None:
        """Both sides changed ``name``; ``values``: the tracker's and the document's (a field's
        values; none for the checklist)."""
        template = (
            N_(
                "conflict: story %(key)s %(field)s was changed in the tracker and in the document"
                " (%(tracker)s in the tracker, now %(document)s); the document's version was taken"
            )
            if values
            else N_(
                "conflict: story %(key)s %(field)s was changed in the tracker and in the document"
                " (the checklist); the document's version was taken"
            )
        )
        self.report.warnings.append(
            PlanWarning(
                doc.file,
                doc.line,
                template,
                params=PlanWarning.pack({"key": doc.key, "field": name, **values}),
            )
        )

    def match_tasks(
        self,
        story: Story,
        tree: _TaskTree,
        existing: list[Task],
        boxes: list[Checkbox],
        parent: Task | None = None,
    ) -> bool:
        """Match tasks by position, as ``TaskService`` would change them; return whether
        anything changed."""
        changed = False
        for position, box in enumerate(boxes):
            if position >= len(existing):
                self.create_task(story, parent, position, box)
                changed = True
                continue
            task = existing[position]
            if (task.text, task.done, task.position) != (box.text, box.done, position):
                data = TaskUpdate(text=box.text, done=box.done, position=position)
                changes = {k: v for k, v in data.changes().items() if v is not None}
                before, after = apply_changes(task, changes)
                if after:
                    self.trail.add(
                        EntityType.TASK,
                        task.id,
                        ActivityAction.UPDATED,
                        before={"story_id": task.story_id, **before},
                        after={"story_id": task.story_id, **after},
                    )
                changed = True
            changed |= self.match_tasks(story, tree, tree.get(task.id, []), box.subtasks, task)
        for surplus in existing[len(boxes) :]:
            # To the trash, as TaskService.delete does.
            surplus.deleted_at = utcnow()
            self.trail.add(
                EntityType.TASK,
                surplus.id,
                ActivityAction.DELETED,
                after={"story_id": surplus.story_id},
            )
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
    """Import ``doc`` into ``project``; ``progress(done, total)`` is called after each story
    is worked out (the rows are written after the last one)."""
    report = ImportReport(file=doc.file, warnings=list(doc.warnings))
    with gc_paused():
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
