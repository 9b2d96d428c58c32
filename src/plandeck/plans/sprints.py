"""Sprints. Trashing a sprint sends its stories to the backlog, as Jira does; restoring takes back
those still there.

Starting and completing a sprint are actions of their own, as in Jira: one sprint is active at a
time; completing it keeps its done stories and carries the unfinished ones over to another
sprint or the backlog, at the top of its order. The sprint's activity event of the completion
lists what was carried over and its points (``carried_over``), so that its burndown shows them
as left undone on the last day rather than as scope removed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.analytics.history import local_date
from plandeck.auth.roles import require_role
from plandeck.errors import Conflict, InvalidInput
from plandeck.kit.audit import apply_changes, record
from plandeck.kit.integrity import flush
from plandeck.models import (
    ActivityAction,
    ActivityEvent,
    EntityType,
    Phase,
    Project,
    Role,
    Sprint,
    SprintStatus,
    Story,
    StoryStatus,
    User,
)
from plandeck.models.base import utcnow
from plandeck.plans.base import NumberedChildService
from plandeck.plans.common import check_version, get_in_project, live_reference, lock_project
from plandeck.plans.ranking import first_rank, last_rank, rank_between, ranks_before
from plandeck.plans.schemas import SprintComplete, SprintCreate, SprintStart, SprintUpdate

# A sprint started without dates of its own runs two weeks, as most teams' do.
DEFAULT_LENGTH = timedelta(days=13)


@dataclass(frozen=True, slots=True)
class Completion:
    """What ``SprintService.complete`` did (``carried_over_to``: a sprint number, None for
    the backlog)."""

    sprint: Sprint
    completed: list[str]
    completed_points: int
    carried_over: list[str]
    carried_over_points: int
    carried_over_to: int | None


class SprintService(NumberedChildService[Sprint]):
    model = Sprint
    entity_type = EntityType.SPRINT
    edit_role = Role.ADMIN
    fields = (
        "number",
        "name",
        "phase_id",
        "goal",
        "status",
        "weeks",
        "starts_on",
        "ends_on",
    )
    order_by = ("number",)

    async def create(
        self, session: AsyncSession, actor: User, project: Project, data: SprintCreate
    ) -> Sprint:
        await require_role(session, actor, project, self.edit_role)
        await live_reference(session, Phase, project, data.phase_id, "phase_id")
        await self._number_free(session, project, data.number)
        return await self._created(
            session, actor, Sprint(project_id=project.id, **data.model_dump())
        )

    async def update(
        self,
        session: AsyncSession,
        actor: User,
        project: Project,
        sprint_id: int,
        data: SprintUpdate,
    ) -> Sprint:
        return await self.update_fields(session, actor, project, sprint_id, data)

    async def start(
        self,
        session: AsyncSession,
        actor: User,
        project: Project,
        sprint_id: int,
        data: SprintStart,
        *,
        now: datetime | None = None,
    ) -> Sprint:
        """Make a planned sprint the active one. The start defaults to today, the end to the
        start plus the sprint's planned length."""
        await require_role(session, actor, project, self.edit_role)
        sprint = await self._get_live(session, project, sprint_id)
        check_version(self.label, sprint, data.version)
        if sprint.status is not SprintStatus.PLANNED:
            raise Conflict(
                f"sprint {sprint.number} is {sprint.status.value}; only a planned sprint starts"
            )
        # Two sprints started at once: the second waits here and then sees the first active.
        await lock_project(session, project)
        active = await session.scalar(
            select(Sprint.number)
            .where(
                Sprint.project_id == project.id,
                Sprint.status == SprintStatus.ACTIVE,
                Sprint.deleted_at.is_(None),
            )
            .order_by(Sprint.number)
            .limit(1)
        )
        if active is not None:
            raise Conflict(
                f"sprint {active} is active; complete it before starting sprint {sprint.number}"
            )
        starts_on = data.starts_on or project_today(project, now)
        ends_on = data.ends_on or planned_end(sprint, starts_on)
        if starts_on > ends_on:
            raise InvalidInput("starts_on must not be after ends_on", field="starts_on")
        changes = {"status": SprintStatus.ACTIVE, "starts_on": starts_on, "ends_on": ends_on}
        return await self._apply(session, actor, sprint, changes, expected_version=None)

    async def complete(
        self,
        session: AsyncSession,
        actor: User,
        project: Project,
        sprint_id: int,
        data: SprintComplete,
        *,
        now: datetime | None = None,
    ) -> Completion:
        """End the active sprint today: its done stories stay, the others move to
        ``data.carry_over_to`` (by default the next planned sprint, or the backlog), at the top
        of its order and in their own. Its end date becomes today, the day it really ended."""
        await require_role(session, actor, project, self.edit_role)
        sprint = await self._get_live(session, project, sprint_id)
        check_version(self.label, sprint, data.version)
        if sprint.status is not SprintStatus.ACTIVE:
            raise Conflict(
                f"sprint {sprint.number} is {sprint.status.value}; only the active sprint completes"
            )
        target = await self._carry_over_target(session, project, sprint, data.carry_over_to)
        stories = (
            await session.scalars(
                select(Story)
                .where(Story.sprint_id == sprint.id, Story.deleted_at.is_(None))
                .order_by(Story.rank)
            )
        ).all()
        done = [story for story in stories if story.status is StoryStatus.DONE]
        unfinished = [story for story in stories if story.status is not StoryStatus.DONE]
        target_id = target.id if target else None
        if unfinished:
            first = await first_rank(session, project.id, target_id)
            for story, rank in zip(unfinished, ranks_before(first, len(unfinished)), strict=True):
                _record_move(session, actor, story, sprint.id, target_id)
                story.sprint_id, story.rank = target_id, rank
        today = project_today(project, now)
        changes: dict[str, Any] = {"status": SprintStatus.COMPLETED, "ends_on": today}
        if sprint.starts_on is None or sprint.starts_on > today:
            changes["starts_on"] = today
        completion = Completion(
            sprint=sprint,
            completed=[story.key for story in done],
            completed_points=sum(story.points or 0 for story in done),
            carried_over=[story.key for story in unfinished],
            carried_over_points=sum(story.points or 0 for story in unfinished),
            carried_over_to=target.number if target else None,
        )
        before, after = apply_changes(sprint, changes)
        after["carried_over"] = {
            "to": target_id,
            "stories": {str(story.id): story.points or 0 for story in unfinished},
        }
        self._record(session, actor, sprint, ActivityAction.UPDATED, before=before, after=after)
        await flush(session)
        return completion

    async def _get_live(self, session: AsyncSession, project: Project, sprint_id: int) -> Sprint:
        sprint: Sprint = await get_in_project(session, Sprint, project, sprint_id)
        return sprint

    async def _carry_over_target(
        self,
        session: AsyncSession,
        project: Project,
        sprint: Sprint,
        wanted: int | Literal["backlog"] | None,
    ) -> Sprint | None:
        if wanted == "backlog":
            return None
        if wanted is None:
            live = await session.scalars(
                select(Sprint).where(Sprint.project_id == project.id, Sprint.deleted_at.is_(None))
            )
            return next_planned(live, sprint.number)
        if wanted == sprint.number:
            raise InvalidInput(
                f"carry_over_to: sprint {wanted} is the one being completed", field="carry_over_to"
            )
        target = await session.scalar(
            select(Sprint).where(
                Sprint.project_id == project.id,
                Sprint.number == wanted,
                Sprint.deleted_at.is_(None),
            )
        )
        if target is None:
            raise InvalidInput(
                f"carry_over_to: no sprint {wanted} in project {project.key}",
                field="carry_over_to",
            )
        if target.status not in (SprintStatus.PLANNED, SprintStatus.ACTIVE):
            raise Conflict(
                f"sprint {wanted} is {target.status.value}; carry the stories over to a planned "
                "sprint or the backlog"
            )
        return target

    async def _validate_changes(
        self,
        session: AsyncSession,
        project: Project,
        obj: Sprint,
        changes: dict[str, Any],
    ) -> dict[str, Any]:
        for required in ("number", "name", "status", "goal"):
            if required in changes and changes[required] is None:
                raise InvalidInput(f"{required} cannot be null", field=required)
        if "number" in changes and changes["number"] != obj.number:
            await self._number_free(session, project, changes["number"])
        if changes.get("phase_id") is not None:
            await live_reference(session, Phase, project, changes["phase_id"], "phase_id")
        starts_on = changes.get("starts_on", obj.starts_on)
        ends_on = changes.get("ends_on", obj.ends_on)
        if starts_on and ends_on and starts_on > ends_on:
            raise InvalidInput("starts_on must not be after ends_on", field="starts_on")
        return changes

    async def _on_delete(self, session: AsyncSession, actor: User, obj: Sprint) -> dict[str, Any]:
        stories = (
            await session.scalars(
                select(Story)
                .where(Story.sprint_id == obj.id, Story.deleted_at.is_(None))
                .order_by(Story.rank)
            )
        ).all()
        last: str | None = await last_rank(session, obj.project_id, None)
        for story in stories:
            last = rank_between(last, None)
            _record_move(session, actor, story, obj.id, None)
            story.sprint_id, story.rank = None, last
        return {"moved_to_backlog": [story.id for story in stories]}

    async def _on_restore(
        self, session: AsyncSession, actor: User, obj: Sprint, deleted_at: datetime
    ) -> None:
        event = await session.scalar(
            select(ActivityEvent)
            .where(
                ActivityEvent.entity_type == EntityType.SPRINT,
                ActivityEvent.entity_id == obj.id,
                ActivityEvent.action == ActivityAction.DELETED,
            )
            .order_by(ActivityEvent.id.desc())
            .limit(1)
        )
        after = (event.after or {}) if event else {}
        # Only the moves of the delete being undone: a sprint trashed with its phase moved
        # nothing, and an older delete's list would pull back stories moved out by hand since.
        if after.get("deleted_at") != deleted_at.isoformat():
            return
        moved = after.get("moved_to_backlog", [])
        if not moved:
            return
        stories = (
            await session.scalars(
                select(Story)
                .where(
                    Story.id.in_(moved),
                    Story.sprint_id.is_(None),
                    Story.deleted_at.is_(None),
                )
                .order_by(Story.rank)
            )
        ).all()
        last = await last_rank(session, obj.project_id, obj.id)
        for story in stories:
            last = rank_between(last, None)
            _record_move(session, actor, story, None, obj.id)
            story.sprint_id, story.rank = obj.id, last


def next_planned(sprints: Iterable[Sprint], after: int) -> Sprint | None:
    """Where a completion carries its unfinished stories by default: the planned sprint with
    the lowest number above ``after`` (None: the backlog)."""
    later = [s for s in sprints if s.status is SprintStatus.PLANNED and s.number > after]
    return min(later, key=lambda s: s.number, default=None)


def project_today(project: Project, now: datetime | None = None) -> date:
    """Today (or ``now``'s date) in the project's time zone."""
    return local_date(now or utcnow(), ZoneInfo(project.timezone))


def planned_end(sprint: Sprint, starts_on: date) -> date:
    """The end ``start`` gives a sprint started on ``starts_on`` without an end: one that keeps
    its planned length (``DEFAULT_LENGTH`` without one)."""
    if sprint.starts_on and sprint.ends_on:
        return starts_on + (sprint.ends_on - sprint.starts_on)
    if sprint.ends_on and sprint.ends_on >= starts_on:
        return sprint.ends_on
    return starts_on + DEFAULT_LENGTH


@dataclass(frozen=True, slots=True)
class CompletionRecord:
    """What a sprint's completion carried over, as its activity event keeps it: when, where
    (a sprint id; None for the backlog), and each story's points then."""

    at: datetime
    to_sprint_id: int | None
    stories: dict[int, int]

    @property
    def points(self) -> int:
        return sum(self.stories.values())


async def last_completion(session: AsyncSession, sprint_id: int) -> CompletionRecord | None:
    """The sprint's completion, from its activity; None when its status was last changed by
    anything else (never completed this way, set by hand, or reopened since)."""
    events = await session.execute(
        select(ActivityEvent.created_at, ActivityEvent.after)
        .where(
            ActivityEvent.entity_type == EntityType.SPRINT,
            ActivityEvent.entity_id == sprint_id,
            ActivityEvent.action == ActivityAction.UPDATED,
        )
        .order_by(ActivityEvent.id.desc())
    )
    for at, after in events:
        if not after or "status" not in after:
            continue
        carried = after.get("carried_over")
        if after["status"] != SprintStatus.COMPLETED.value or not isinstance(carried, dict):
            return None
        to = carried.get("to")
        stories = carried.get("stories") or {}
        return CompletionRecord(
            at,
            None if to is None else int(to),
            {int(story_id): int(points) for story_id, points in stories.items()},
        )
    return None


def _record_move(
    session: AsyncSession,
    actor: User,
    story: Story,
    sprint_from: int | None,
    sprint_to: int | None,
) -> None:
    record(
        session,
        actor=actor,
        project_id=story.project_id,
        entity_type=EntityType.STORY,
        entity_id=story.id,
        action=ActivityAction.MOVED,
        before={"sprint_id": sprint_from},
        after={"sprint_id": sprint_to},
    )


sprint_service = SprintService()
