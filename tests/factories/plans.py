from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.models import Membership, Phase, Project, Role, Sprint, Story, Task, User
from plandeck.plans.phases import phase_service
from plandeck.plans.projects import project_service
from plandeck.plans.schemas import PhaseCreate, ProjectCreate, SprintCreate, StoryCreate, TaskCreate
from plandeck.plans.sprints import sprint_service
from plandeck.plans.stories import story_service
from plandeck.plans.tasks import task_service
from tests.factories.accounts import make_user

_numbers = itertools.count(1)


async def make_project(session: AsyncSession, owner: User, **fields: Any) -> Project:
    number = next(_numbers)
    data = {"key": f"P{number}", "name": f"Project {number}", **fields}
    return await project_service.create(session, owner, ProjectCreate(**data))


async def add_member(session: AsyncSession, project: Project, user: User, role: Role) -> Membership:
    membership = Membership(project_id=project.id, user_id=user.id, role=role)
    session.add(membership)
    await session.flush()
    return membership


async def make_phase(session: AsyncSession, actor: User, project: Project, **fields: Any) -> Phase:
    data = {"number": next(_numbers), "title": "A phase", **fields}
    return await phase_service.create(session, actor, project, PhaseCreate(**data))


async def make_sprint(
    session: AsyncSession, actor: User, project: Project, **fields: Any
) -> Sprint:
    data = {"number": next(_numbers), "name": "A sprint", **fields}
    return await sprint_service.create(session, actor, project, SprintCreate(**data))


async def make_story(session: AsyncSession, actor: User, project: Project, **fields: Any) -> Story:
    data = {"title": "A story", "points": 3, **fields}
    return await story_service.create(session, actor, project, StoryCreate(**data))


async def make_task(
    session: AsyncSession, actor: User, project: Project, story: Story, **fields: Any
) -> Task:
    data = {"text": "A task", **fields}
    return await task_service.create(session, actor, project, story.id, TaskCreate(**data))


async def make_member(session: AsyncSession, project: Project, role: Role) -> User:
    """A new user who belongs to ``project`` with ``role``."""
    user = await make_user(session)
    await add_member(session, project, user, role)
    return user
