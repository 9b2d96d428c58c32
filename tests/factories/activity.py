from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.models import ActivityEvent


async def count_events(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(ActivityEvent)) or 0
