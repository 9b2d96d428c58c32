from __future__ import annotations

from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plandeck.models.base import (
    Base,
    IdMixin,
    JSONType,
    SoftDeleteMixin,
    TimestampMixin,
    VersionedMixin,
    enum_column,
)
from plandeck.models.enums import PhaseStatus


class Phase(IdMixin, TimestampMixin, SoftDeleteMixin, VersionedMixin, Base):
    """A phase (or epic) of a project; its number is unique in the project, trash included."""

    __tablename__ = "phases"
    __table_args__ = (
        UniqueConstraint("project_id", "number"),
        CheckConstraint("number >= 0", name="number_nonnegative"),
    )

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    number: Mapped[int]
    title: Mapped[str] = mapped_column(String(300))
    status: Mapped[PhaseStatus] = mapped_column(
        enum_column(PhaseStatus, "phase_status"), default=PhaseStatus.PLANNING
    )
    goals: Mapped[list[str]] = mapped_column(JSONType, default=list)
    description: Mapped[str] = mapped_column(Text, default="")
    # Anything of the plan document that has no column of its own, kept verbatim.
    notes: Mapped[str] = mapped_column(Text, default="")
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
