"""The demo project: the phase 3 sample plan (``phase3-plan.md``, byte for byte the team's
document, damaged encoding and all), loaded through the importer by ``plandeck demo``."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.auth.schemas import UserCreate
from plandeck.auth.users import user_service
from plandeck.models import Project, User
from plandeck.planfile.encoding import decode_document
from plandeck.planfile.importer import ImportReport, import_document
from plandeck.planfile.sprint_plan import parse_sprint_plan
from plandeck.plans.projects import project_service
from plandeck.plans.schemas import ProjectCreate

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "plandeck-demo"  # printed by `plandeck demo`; a demo account, not a secret
DEMO_KEY = "DEMO"
DEMO_FILE = "phase3-plan.md"


@dataclass(frozen=True)
class DemoResult:
    project: Project
    user: User
    report: ImportReport | None  # None when the demo was there already


async def load_demo(session: AsyncSession) -> DemoResult:
    """Create the demo user and import the demo plan; a second run finds them and changes nothing."""
    user = await user_service.get_by_email(session, DEMO_EMAIL)
    if user is None:
        user = await user_service.create(
            session, UserCreate(email=DEMO_EMAIL, name="Demo User", password=DEMO_PASSWORD)
        )
    existing = await session.scalar(select(Project).where(Project.key == DEMO_KEY))
    if existing is not None:
        return DemoResult(existing, user, None)
    data = resources.files("plandeck.demo").joinpath(DEMO_FILE).read_bytes()
    decoded = decode_document(data)
    doc = parse_sprint_plan(decoded.text, DEMO_FILE)
    doc.raise_for_errors()
    title = doc.phases[0].title
    project = await project_service.create(
        session,
        user,
        ProjectCreate(
            key=DEMO_KEY, name=f"Phase 3: {title}", description="The phase 3 sample plan."
        ),
    )
    report = await import_document(session, user, project, doc)
    return DemoResult(project, user, report)
