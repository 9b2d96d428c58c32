from __future__ import annotations

from datetime import date

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plandeck.models.base import (
    Base,
    IdMixin,
    SoftDeleteMixin,
    TimestampMixin,
    VersionedMixin,
    enum_column,
)
from plandeck.models.enums import SprintStatus


class Sprint(IdMixin, TimestampMixin, SoftDeleteMixin, VersionedMixin, Base):
    """A sprint; its number is unique in the project, trash included."""

    __tablename__ = "sprints"
    __table_args__ = (
        UniqueConstraint("project_id", "number"),
        CheckConstraint("number >= 0", name="number_nonnegative"),
        CheckConstraint(
            "starts_on IS NULL OR ends_on IS NULL OR starts_on <= ends_on",
            name="dates_ordered",
        ),
    )

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    # A phase purged for good leaves its sprints in the project, unattached.
    phase_id: Mapped[int | None] = mapped_column(
        ForeignKey("phases.id", ondelete="SET NULL"), index=True
    )
    number: Mapped[int]
    name: Mapped[str] = mapped_column(String(300))
    goal: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[SprintStatus] = mapped_column(
        enum_column(SprintStatus, "sprint_status"), default=SprintStatus.PLANNED
    )
    # The plan document's timeline label, e.g. "1-2" for "Week 1-2".
    weeks: Mapped[str | None] = mapped_column(String(32))
    starts_on: Mapped[date | None]
    ends_on: Mapped[date | None]
