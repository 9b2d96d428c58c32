"""Stories: the unit of planned work."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.auth.roles import membership_of, require_role
from plandeck.errors import InvalidInput, NotFound
from plandeck.models import EntityType, Phase, Project, Role, Sprint, Story, User
from plandeck.plans.base import ProjectChildService, ensure_free
from plandeck.plans.common import live_reference
from plandeck.plans.ranking import last_rank, rank_between
from plandeck.plans.schemas import StoryCreate, StoryUpdate

_NUMBERED_KEY = re.compile(r"^(?P<prefix>.*?)(?P<number>\d+)$")


class StoryService(ProjectChildService[Story]):
    model = Story
    entity_type = EntityType.STORY
    edit_role = Role.MEMBER
    fields = (
        "key",
        "title",
        "description",
        "notes",
        "acceptance_criteria",
        "points",
        "priority",
        "status",
        "moscow",
        "phase_id",
        "sprint_id",
        "assignee_id",
        "rank",
    )
    order_by = ("sprint_id", "rank")

    async def _key_free(self, session: AsyncSession, project: Project, key: str) -> None:
        taken = await session.scalar(
            select(Story.id).where(Story.project_id == project.id, Story.key == key)
        )
        ensure_free(taken, f"{project.key} already has a story {key} (perhaps in the trash)", "key")

    async def _next_key(
        self, session: AsyncSession, project: Project, sprint: Sprint | None
    ) -> str:
        """``S.N`` for a story created in sprint S (after that sprint's highest N); ``KEY-N`` otherwise."""
        prefix = f"{sprint.number}." if sprint else f"{project.key}-"
        keys = (
            await session.scalars(
                select(Story.key).where(
                    Story.project_id == project.id, Story.key.startswith(prefix, autoescape=True)
                )
            )
        ).all()
        numbers = [
            int(match["number"])
            for key in keys
            if (match := _NUMBERED_KEY.match(key)) and match["prefix"] == prefix
        ]
        return f"{prefix}{max(numbers, default=0) + 1}"

    async def _check_assignee(
        self, session: AsyncSession, project: Project, assignee_id: int | None
    ) -> None:
        if assignee_id is None:
            return
        user = await session.get(User, assignee_id)
        if user is None or await membership_of(session, user, project.id) is None:
            raise InvalidInput(
                f"assignee_id: user {assignee_id} is not a member of {project.key}",
                field="assignee_id",
            )

    async def create(
        self, session: AsyncSession, actor: User, project: Project, data: StoryCreate
    ) -> Story:
        await require_role(session, actor, project, self.edit_role)
        await live_reference(session, Phase, project, data.phase_id, "phase_id")
        sprint = await live_reference(session, Sprint, project, data.sprint_id, "sprint_id")
        await self._check_assignee(session, project, data.assignee_id)
        values = data.model_dump()
        if data.key is None:
            values["key"] = await self._next_key(session, project, sprint)
        else:
            await self._key_free(session, project, data.key)
        if data.phase_id is None and sprint is not None:
            values["phase_id"] = sprint.phase_id
        rank = rank_between(await last_rank(session, project.id, data.sprint_id), None)
        story = Story(project_id=project.id, reporter_id=actor.id, rank=rank, **values)
        return await self._created(session, actor, story)

    async def get_by_key(
        self, session: AsyncSession, actor: User, project: Project, key: str
    ) -> Story:
        await require_role(session, actor, project, Role.VIEWER)
        story = await session.scalar(
            select(Story).where(
                Story.project_id == project.id, Story.key == key, Story.deleted_at.is_(None)
            )
        )
        if story is None:
            raise NotFound(f"story {key} not found in project {project.key}")
        return story

    async def list_for_sprint(
        self, session: AsyncSession, actor: User, project: Project, sprint_id: int | None
    ) -> Sequence[Story]:
        """A sprint's stories by rank; ``None`` lists the backlog."""
        await require_role(session, actor, project, Role.VIEWER)
        where = Story.sprint_id.is_(None) if sprint_id is None else Story.sprint_id == sprint_id
        return (
            await session.scalars(
                select(Story)
                .where(Story.project_id == project.id, Story.deleted_at.is_(None), where)
                .order_by(Story.rank)
            )
        ).all()

    async def update(
        self, session: AsyncSession, actor: User, project: Project, story_id: int, data: StoryUpdate
    ) -> Story:
        return await self.update_fields(session, actor, project, story_id, data)

    async def _validate_changes(
        self, session: AsyncSession, project: Project, obj: Story, changes: dict[str, Any]
    ) -> dict[str, Any]:
        if "key" in changes and changes["key"] != obj.key:
            await self._key_free(session, project, changes["key"])
        if changes.get("phase_id") is not None:
            await live_reference(session, Phase, project, changes["phase_id"], "phase_id")
        if "sprint_id" in changes and changes["sprint_id"] != obj.sprint_id:
            await live_reference(session, Sprint, project, changes["sprint_id"], "sprint_id")
            # A story that changes sprint joins the end of its new list.
            changes["rank"] = rank_between(
                await last_rank(session, project.id, changes["sprint_id"]), None
            )
        if "assignee_id" in changes:
            await self._check_assignee(session, project, changes["assignee_id"])
        return changes


story_service = StoryService()
