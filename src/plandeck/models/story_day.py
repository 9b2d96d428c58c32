from __future__ import annotations

from datetime import date

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from plandeck.models.base import Base, enum_column
from plandeck.models.enums import StoryStatus


class StoryDay(Base):
    """The analytics snapshot: a story's state at the end of ``day`` (in its project's time
    zone), held until the day ``until`` (exclusive; None: still now).

    One row per story and day on which something happened to it, derived from its activity
    events and written in the same transaction as them (``analytics.snapshot``), so a chart
    reads days instead of replaying the trail. Like the trail, rows outlive the story; they
    go with their project. ``live`` is False in the trash and once purged.
    """

    __tablename__ = "story_days"
    __table_args__ = (
        Index("ix_story_days_project_id_sprint_id", "project_id", "sprint_id"),
        Index("ix_story_days_project_id_day", "project_id", "day"),
    )

    story_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    until: Mapped[date | None] = mapped_column(Date)
    status: Mapped[StoryStatus] = mapped_column(enum_column(StoryStatus, "story_status"))
    points: Mapped[int | None] = mapped_column(Integer)
    sprint_id: Mapped[int | None] = mapped_column(Integer)
    phase_id: Mapped[int | None] = mapped_column(Integer)
    live: Mapped[bool] = mapped_column(Boolean)
