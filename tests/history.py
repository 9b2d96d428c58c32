"""Putting activity on chosen days: the services stamp events with the real time, the
analytics tests need them in the past."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.analytics import snapshot
from plandeck.models import ActivityEvent, Project


class EventClock:
    """``stamp(day)`` dates every activity event written since the last call at noon UTC
    on ``day``, then replays the analytics snapshot, which by itself only moves forward."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.mark = 0

    async def stamp(self, day: date, hour: int = 12) -> None:
        await self.session.flush()
        await self.session.execute(
            update(ActivityEvent)
            .where(ActivityEvent.id > self.mark)
            .values(created_at=datetime.combine(day, time(hour), tzinfo=UTC))
            .execution_options(synchronize_session=False)
        )
        self.mark = await self.session.scalar(select(func.max(ActivityEvent.id))) or 0
        for project_id in await self.session.scalars(select(Project.id)):
            await snapshot.rebuild(self.session, project_id)
