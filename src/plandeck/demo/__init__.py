"""The demo project: the phase 3 sample plan, loaded by ``plandeck demo``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.auth.schemas import UserCreate
from plandeck.auth.users import user_service
from plandeck.models import Project, User
from plandeck.plans.phases import phase_service
from plandeck.plans.projects import project_service
from plandeck.plans.schemas import PhaseCreate, ProjectCreate, SprintCreate, StoryCreate, TaskCreate
from plandeck.plans.sprints import sprint_service
from plandeck.plans.stories import story_service
from plandeck.plans.tasks import task_service

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "plandeck-demo"  # printed by `plandeck demo`; a demo account, not a secret


@dataclass(frozen=True)
class DemoResult:
    project: Project
    user: User
    created: bool


def demo_data() -> dict[str, Any]:
    text = resources.files("plandeck.demo").joinpath("phase3.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


async def load_demo(session: AsyncSession) -> DemoResult:
    """Create the demo user and project; a second run finds them and changes nothing."""
    data = demo_data()
    user = await user_service.get_by_email(session, DEMO_EMAIL)
    if user is None:
        user = await user_service.create(
            session, UserCreate(email=DEMO_EMAIL, name="Demo User", password=DEMO_PASSWORD)
        )
    existing = await session.scalar(select(Project).where(Project.key == data["project"]["key"]))
    if existing is not None:
        return DemoResult(existing, user, created=False)
    project = await project_service.create(session, user, ProjectCreate(**data["project"]))
    phase = await phase_service.create(session, user, project, PhaseCreate(**data["phase"]))
    sprint_ids = {}
    for sprint in data["sprints"]:
        created = await sprint_service.create(
            session, user, project, SprintCreate(**sprint, phase_id=phase.id)
        )
        sprint_ids[sprint["number"]] = created.id
    for story in data["stories"]:
        fields = {k: v for k, v in story.items() if k not in ("sprint", "tasks")}
        created_story = await story_service.create(
            session,
            user,
            project,
            StoryCreate(**fields, phase_id=phase.id, sprint_id=sprint_ids[story["sprint"]]),
        )
        for task in story["tasks"]:
            await task_service.create(session, user, project, created_story.id, TaskCreate(**task))
    return DemoResult(project, user, created=True)
