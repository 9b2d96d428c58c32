"""What the story page shows: the story with its checklist, comments, members and history.

A read service over the plans services: every lookup checks the caller's role the way the
API does (a non-member finds nothing). The history is the story's own events and those of
its tasks and comments, newest first, turned into entries a page can phrase as sentences.
``move_task`` reorders a task among its siblings through ``task_service``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.auth.roles import require_role
from plandeck.errors import NotFound
from plandeck.models import (
    ActivityAction,
    ActivityEvent,
    Comment,
    EntityType,
    Membership,
    Phase,
    Project,
    Role,
    Sprint,
    Story,
    Task,
    User,
)
from plandeck.plans.comments import comment_service
from plandeck.plans.projects import project_service
from plandeck.plans.schemas import TaskUpdate
from plandeck.plans.stories import story_service
from plandeck.plans.tasks import task_service

HISTORY_LIMIT = 100

# The story fields a history entry names, in the order a change lists them.
_STORY_FIELDS = (
    "title",
    "key",
    "status",
    "priority",
    "moscow",
    "points",
    "assignee_id",
    "sprint_id",
    "phase_id",
    "description",
    "notes",
    "acceptance_criteria",
)
_ENUM_FIELDS = frozenset({"status", "priority", "moscow"})
# Long text: the entry says it changed, not the whole before and after.
_TEXT_FIELDS = frozenset({"description", "notes", "acceptance_criteria"})


class ValueKind(enum.StrEnum):
    NONE = "none"  # no value (unassigned, not estimated)
    ENUM = "enum"  # an enum value, shown with the ``label`` filter
    TEXT = "text"  # shown as is


@dataclass(frozen=True)
class Shown:
    """A value as a history entry shows it."""

    kind: ValueKind
    text: str = ""


@dataclass(frozen=True)
class FieldChange:
    name: str
    before: Shown
    after: Shown
    # Long text fields: only "changed" is said.
    summary_only: bool = False


class EntryKind(enum.StrEnum):
    STORY_CREATED = "story_created"
    STORY_CHANGED = "story_changed"
    STORY_MOVED = "story_moved"
    STORY_DELETED = "story_deleted"
    STORY_RESTORED = "story_restored"
    STORY_IMPORTED = "story_imported"
    TASK_ADDED = "task_added"
    TASK_DONE = "task_done"
    TASK_UNDONE = "task_undone"
    TASK_RENAMED = "task_renamed"
    TASK_MOVED = "task_moved"
    TASK_DELETED = "task_deleted"
    TASK_RESTORED = "task_restored"
    COMMENT_ADDED = "comment_added"
    COMMENT_EDITED = "comment_edited"
    COMMENT_DELETED = "comment_deleted"
    COMMENT_RESTORED = "comment_restored"
    OTHER = "other"


@dataclass(frozen=True)
class HistoryEntry:
    kind: EntryKind
    actor: str | None  # None: a removed account or the system
    at: datetime
    subject: str = ""  # the task's text, for task entries
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True)
class TaskRow:
    task: Task
    depth: int
    first: bool  # among its siblings
    last: bool


@dataclass(frozen=True)
class CommentRow:
    comment: Comment
    author: str | None


@dataclass(frozen=True)
class MemberChoice:
    user_id: int
    name: str


@dataclass(frozen=True)
class StoryView:
    project: Project
    story: Story
    role: Role
    members: list[MemberChoice]
    tasks: list[TaskRow]
    comments: list[CommentRow]
    history: list[HistoryEntry]
    sprint: Sprint | None
    names: dict[int, str] = field(default_factory=dict)
    viewer_id: int | None = None

    @property
    def can_edit(self) -> bool:
        return self.role.at_least(Role.MEMBER)

    def may_edit_comment(self, comment: Comment) -> bool:
        """Its author, while a member (``CommentService.update``'s rule)."""
        return comment.author_id == self.viewer_id and self.can_edit

    def may_delete_comment(self, comment: Comment) -> bool:
        """Its author while a member, or an admin (``CommentService.delete``'s rule)."""
        return self.may_edit_comment(comment) or self.role.at_least(Role.ADMIN)

    @property
    def tasks_done(self) -> int:
        return sum(1 for row in self.tasks if row.task.done)

    def member_name(self, user_id: int | None) -> str | None:
        return None if user_id is None else self.names.get(user_id)


def task_tree(tasks: Sequence[Task]) -> list[TaskRow]:
    """The checklist in reading order: each task followed by its subtasks, depth-first.
    A task whose parent is gone (in the trash) is shown at the top level."""
    ids = {task.id for task in tasks}
    children: dict[int | None, list[Task]] = {}
    for task in tasks:
        parent = task.parent_id if task.parent_id in ids else None
        children.setdefault(parent, []).append(task)
    rows: list[TaskRow] = []

    def walk(parent: int | None, depth: int) -> None:
        siblings = children.get(parent, [])
        for index, task in enumerate(siblings):
            rows.append(TaskRow(task, depth, index == 0, index == len(siblings) - 1))
            walk(task.id, depth + 1)

    walk(None, 0)
    return rows


class StoryViewService:
    async def get(
        self, session: AsyncSession, actor: User, project_key: str, story_key: str
    ) -> StoryView:
        project = await project_service.get(session, actor, project_key)
        role = await require_role(session, actor, project, Role.VIEWER)
        story = await story_service.get_by_key(session, actor, project, story_key)
        tasks = await task_service.list_by_story_key(session, actor, project, story_key)
        comments = await comment_service.list_by_story_key(session, actor, project, story_key)
        memberships: Sequence[Membership] = await project_service.list_members(
            session, actor, project
        )
        names = {membership.user_id: membership.user.name for membership in memberships}
        events = await self._events(session, project, story)
        wanted = {c.author_id for c in comments if c.author_id is not None}
        wanted |= {e.actor_id for e in events if e.actor_id is not None}
        wanted |= _user_ids_in(events)
        if story.assignee_id is not None:
            wanted.add(story.assignee_id)
        names.update(await _names(session, wanted - names.keys()))
        sprint = None if story.sprint_id is None else await session.get(Sprint, story.sprint_id)
        history = await _History.build(session, story, events, names)
        return StoryView(
            project=project,
            story=story,
            role=role,
            members=sorted(
                (MemberChoice(m.user_id, m.user.name) for m in memberships),
                key=lambda choice: (choice.name.casefold(), choice.user_id),
            ),
            tasks=task_tree(tasks),
            comments=[CommentRow(c, names.get(c.author_id or 0)) for c in comments],
            history=history,
            sprint=sprint,
            names=names,
            viewer_id=actor.id,
        )

    async def _events(
        self, session: AsyncSession, project: Project, story: Story
    ) -> Sequence[ActivityEvent]:
        """The story's events and those of its tasks and comments (trashed ones included),
        newest first."""
        task_ids = select(Task.id).where(Task.story_id == story.id).scalar_subquery()
        comment_ids = select(Comment.id).where(Comment.story_id == story.id).scalar_subquery()
        statement = (
            select(ActivityEvent)
            .where(
                ActivityEvent.project_id == project.id,
                or_(
                    and_(
                        ActivityEvent.entity_type == EntityType.STORY,
                        ActivityEvent.entity_id == story.id,
                    ),
                    and_(
                        ActivityEvent.entity_type == EntityType.TASK,
                        ActivityEvent.entity_id.in_(task_ids),
                    ),
                    and_(
                        ActivityEvent.entity_type == EntityType.COMMENT,
                        ActivityEvent.entity_id.in_(comment_ids),
                    ),
                ),
            )
            .order_by(ActivityEvent.id.desc())
            .limit(HISTORY_LIMIT)
        )
        return (await session.scalars(statement)).all()

    async def move_task(
        self,
        session: AsyncSession,
        actor: User,
        project: Project,
        story_key: str,
        task_id: int,
        *,
        up: bool,
    ) -> Task:
        """Swap a task with its previous (``up``) or next sibling; the siblings are
        renumbered 0, 1, 2... so that tied positions move too. At the end already: no change."""
        await require_role(session, actor, project, Role.MEMBER)
        tasks = await task_service.list_by_story_key(session, actor, project, story_key)
        task = next((each for each in tasks if each.id == task_id), None)
        if task is None:
            raise NotFound(f"task {task_id} not found in story {story_key}")
        siblings = [each for each in tasks if each.parent_id == task.parent_id]
        index = siblings.index(task)
        other = index - 1 if up else index + 1
        if not 0 <= other < len(siblings):
            return task
        siblings[index], siblings[other] = siblings[other], siblings[index]
        for position, sibling in enumerate(siblings):
            if sibling.position != position:
                await task_service.update(
                    session, actor, project, sibling.id, TaskUpdate(position=position)
                )
        return task


def _user_ids_in(events: Iterable[ActivityEvent]) -> set[int]:
    """Assignees named in story events (before or after)."""
    found: set[int] = set()
    for event in events:
        for values in (event.before, event.after):
            user_id = (values or {}).get("assignee_id")
            if isinstance(user_id, int):
                found.add(user_id)
    return found


async def _names(session: AsyncSession, user_ids: set[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    rows = await session.execute(select(User.id, User.name).where(User.id.in_(user_ids)))
    return dict(rows.tuples().all())


@dataclass
class _History:
    names: dict[int, str]
    sprints: dict[int, int]
    phases: dict[int, int]
    task_texts: dict[int, str]

    @classmethod
    async def build(
        cls,
        session: AsyncSession,
        story: Story,
        events: Sequence[ActivityEvent],
        names: dict[int, str],
    ) -> list[HistoryEntry]:
        sprint_ids: set[int] = set()
        phase_ids: set[int] = set()
        for event in events:
            for values in (event.before, event.after):
                if isinstance(sprint := (values or {}).get("sprint_id"), int):
                    sprint_ids.add(sprint)
                if isinstance(phase := (values or {}).get("phase_id"), int):
                    phase_ids.add(phase)
        sprints = await _numbers(session, Sprint, sprint_ids)
        phases = await _numbers(session, Phase, phase_ids)
        task_texts: dict[int, str] = {}
        if any(event.entity_type == EntityType.TASK for event in events):
            rows = await session.execute(
                select(Task.id, Task.text).where(Task.story_id == story.id)
            )
            task_texts = dict(rows.tuples().all())
        history = cls(names, sprints, phases, task_texts)
        return [history.entry(event) for event in events]

    def entry(self, event: ActivityEvent) -> HistoryEntry:
        actor = None if event.actor_id is None else self.names.get(event.actor_id)
        before, after = event.before or {}, event.after or {}
        if event.entity_type == EntityType.STORY:
            return self._story_entry(event, actor, before, after)
        if event.entity_type == EntityType.TASK:
            return self._task_entry(event, actor, before, after)
        kind = {
            ActivityAction.CREATED: EntryKind.COMMENT_ADDED,
            ActivityAction.UPDATED: EntryKind.COMMENT_EDITED,
            ActivityAction.DELETED: EntryKind.COMMENT_DELETED,
            ActivityAction.RESTORED: EntryKind.COMMENT_RESTORED,
        }.get(event.action, EntryKind.OTHER)
        return HistoryEntry(kind, actor, event.created_at)

    def _story_entry(
        self,
        event: ActivityEvent,
        actor: str | None,
        before: dict[str, Any],
        after: dict[str, Any],
    ) -> HistoryEntry:
        kind = {
            ActivityAction.CREATED: EntryKind.STORY_CREATED,
            ActivityAction.UPDATED: EntryKind.STORY_CHANGED,
            ActivityAction.MOVED: EntryKind.STORY_MOVED,
            ActivityAction.DELETED: EntryKind.STORY_DELETED,
            ActivityAction.RESTORED: EntryKind.STORY_RESTORED,
            ActivityAction.IMPORTED: EntryKind.STORY_IMPORTED,
        }.get(event.action, EntryKind.OTHER)
        changes: tuple[FieldChange, ...] = ()
        if kind in (EntryKind.STORY_CHANGED, EntryKind.STORY_MOVED, EntryKind.STORY_IMPORTED):
            changes = tuple(
                FieldChange(
                    name,
                    self._shown(name, before.get(name)),
                    self._shown(name, after.get(name)),
                    summary_only=name in _TEXT_FIELDS,
                )
                for name in _STORY_FIELDS
                if name in after and before.get(name) != after.get(name)
            )
        return HistoryEntry(kind, actor, event.created_at, changes=changes)

    def _task_entry(
        self,
        event: ActivityEvent,
        actor: str | None,
        before: dict[str, Any],
        after: dict[str, Any],
    ) -> HistoryEntry:
        text = after.get("text") or before.get("text") or self.task_texts.get(event.entity_id, "")
        if event.action == ActivityAction.CREATED:
            kind = EntryKind.TASK_ADDED
        elif event.action == ActivityAction.DELETED:
            kind = EntryKind.TASK_DELETED
        elif event.action == ActivityAction.RESTORED:
            kind = EntryKind.TASK_RESTORED
        elif event.action != ActivityAction.UPDATED:
            kind = EntryKind.OTHER
        elif "done" in after:
            kind = EntryKind.TASK_DONE if after["done"] else EntryKind.TASK_UNDONE
        elif "text" in after:
            kind = EntryKind.TASK_RENAMED
        else:
            kind = EntryKind.TASK_MOVED
        changes: tuple[FieldChange, ...] = ()
        if kind == EntryKind.TASK_RENAMED:
            changes = (
                FieldChange(
                    "text",
                    Shown(ValueKind.TEXT, str(before.get("text", ""))),
                    Shown(ValueKind.TEXT, str(after["text"])),
                ),
            )
        return HistoryEntry(kind, actor, event.created_at, subject=str(text), changes=changes)

    def _shown(self, name: str, value: Any) -> Shown:
        if value is None or value == "":
            return Shown(ValueKind.NONE)
        if name in _ENUM_FIELDS:
            return Shown(ValueKind.ENUM, str(value))
        if name == "assignee_id":
            return Shown(ValueKind.TEXT, self.names.get(value, f"#{value}"))
        if name == "sprint_id" and value in self.sprints:
            return Shown(ValueKind.TEXT, str(self.sprints[value]))
        if name == "phase_id" and value in self.phases:
            return Shown(ValueKind.TEXT, str(self.phases[value]))
        return Shown(ValueKind.TEXT, str(value))


async def _numbers(
    session: AsyncSession, model: type[Sprint] | type[Phase], ids: set[int]
) -> dict[int, int]:
    if not ids:
        return {}
    rows = await session.execute(select(model.id, model.number).where(model.id.in_(ids)))
    return dict(rows.tuples().all())


story_view_service = StoryViewService()
