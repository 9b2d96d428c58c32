"""Pieces every plans service uses: scoped lookups, version checks, the trash."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.errors import InvalidInput, NotFound, StaleVersion
from plandeck.models import Phase, Project, Sprint, Story

ProjectChild = TypeVar("ProjectChild", Phase, Sprint, Story)

_LABELS = {Phase: "phase", Sprint: "sprint", Story: "story"}


async def get_in_project(
    session: AsyncSession,
    model: type[ProjectChild],
    project: Project,
    entity_id: int,
    *,
    in_trash: bool | None = False,
) -> ProjectChild:
    """A phase, sprint or story of the project. ``in_trash``: False live only, True trash only, None both."""
    statement = select(model).where(model.id == entity_id, model.project_id == project.id)
    if in_trash is not None:
        statement = statement.where(
            model.deleted_at.is_not(None) if in_trash else model.deleted_at.is_(None)
        )
    found = await session.scalar(statement)
    if found is None:
        where = "the trash of " if in_trash else ""
        raise NotFound(f"{_LABELS[model]} {entity_id} not found in {where}project {project.key}")
    return found


async def live_reference(
    session: AsyncSession,
    model: type[ProjectChild],
    project: Project,
    entity_id: int | None,
    field: str,
) -> ProjectChild | None:
    """Resolve a foreign id given in input; an unknown or trashed one is the caller's mistake (422)."""
    if entity_id is None:
        return None
    try:
        return await get_in_project(session, model, project, entity_id)
    except NotFound:
        raise InvalidInput(
            f"{field}: no {_LABELS[model]} {entity_id} in project {project.key}",
            field=field,
        ) from None


async def lock_project(session: AsyncSession, project: Project) -> None:
    """Hold ``project``'s row until the transaction ends, for writes that pick the next free
    value (a generated story key): on PostgreSQL a concurrent one waits here for this one's
    commit and then sees its key, instead of choosing the same one and failing on the unique
    constraint. ``FOR NO KEY UPDATE``: the rows that merely reference the project (activity,
    new stories with given keys) do not wait for it. SQLite runs one writer at a time already
    (the clause is left out there)."""
    await session.execute(
        select(Project.id).where(Project.id == project.id).with_for_update(key_share=True)
    )


def check_version(entity: str, obj: Phase | Sprint | Story | Project, expected: int | None) -> None:
    if expected is not None and expected != obj.version:
        raise StaleVersion(entity, obj.id, expected=expected, current=obj.version)


def require_in_trash(entity: str, obj: Phase | Sprint | Story, deleted_at: datetime | None) -> None:
    if deleted_at is None:
        raise InvalidInput(f"{entity} {obj.id} is not in the trash")
