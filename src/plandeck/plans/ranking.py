"""Ordering of stories within a sprint or the backlog by fractional-index strings.

Moving a story rewrites its own rank only (a key between its new neighbours), so two
people reordering different stories never touch the same rows.
"""

from __future__ import annotations

from fractional_indexing import generate_key_between, generate_n_keys_between
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.models import Story


def rank_between(before: str | None, after: str | None) -> str:
    key: str = generate_key_between(before, after)
    return key


async def last_rank(session: AsyncSession, project_id: int, sprint_id: int | None) -> str | None:
    """The highest rank in a sprint (or the backlog, for ``None``), trash included so restores fit."""
    where = Story.sprint_id.is_(None) if sprint_id is None else Story.sprint_id == sprint_id
    rank: str | None = await session.scalar(
        select(func.max(Story.rank)).where(Story.project_id == project_id, where)
    )
    return rank


def ranks_before(first: str | None, count: int) -> list[str]:
    """``count`` ascending ranks that all sort before ``first`` (or start an empty list)."""
    keys: list[str] = generate_n_keys_between(None, first, count)
    return keys


async def first_rank(session: AsyncSession, project_id: int, sprint_id: int | None) -> str | None:
    """The lowest rank in a sprint (or the backlog, for ``None``), trash included."""
    where = Story.sprint_id.is_(None) if sprint_id is None else Story.sprint_id == sprint_id
    rank: str | None = await session.scalar(
        select(func.min(Story.rank)).where(Story.project_id == project_id, where)
    )
    return rank
