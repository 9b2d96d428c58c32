from __future__ import annotations

from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from plandeck.models.base import (
    Base,
    IdMixin,
    JSONType,
    RankType,
    SoftDeleteMixin,
    TimestampMixin,
    VersionedMixin,
    enum_column,
)
from plandeck.models.enums import MoSCoW, Priority, StoryStatus


class Story(IdMixin, TimestampMixin, SoftDeleteMixin, VersionedMixin, Base):
    """A story. ``key`` (e.g. ``9.1``) is unique in its project, trash included.

    No sprint means the story is in the backlog; ``rank`` orders stories within a sprint
    or the backlog (fractional-index strings, so a move rewrites one row).
    """

    __tablename__ = "stories"
    __table_args__ = (
        UniqueConstraint("project_id", "key"),
        CheckConstraint("points IS NULL OR points >= 0", name="points_nonnegative"),
        CheckConstraint("length(key) >= 1", name="key_not_empty"),
        # The board (a sprint's stories by rank) and the backlog (sprint IS NULL, by rank).
        Index("ix_stories_project_id_sprint_id_rank", "project_id", "sprint_id", "rank"),
        Index("ix_stories_project_id_status", "project_id", "status"),
    )

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    phase_id: Mapped[int | None] = mapped_column(
        ForeignKey("phases.id", ondelete="SET NULL"), index=True
    )
    sprint_id: Mapped[int | None] = mapped_column(
        ForeignKey("sprints.id", ondelete="SET NULL"), index=True
    )
    key: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    # [{"text": ..., "done": ...}], in order; the plan document's acceptance criteria.
    acceptance_criteria: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    # The values the last plan import gave this story, so a re-import can tell which fields
    # the document changed and which the team changed in the tracker. None: never imported.
    import_baseline: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    points: Mapped[int | None]
    priority: Mapped[Priority] = mapped_column(
        enum_column(Priority, "priority"), default=Priority.MEDIUM
    )
    status: Mapped[StoryStatus] = mapped_column(
        enum_column(StoryStatus, "story_status"), default=StoryStatus.DRAFT
    )
    moscow: Mapped[MoSCoW | None] = mapped_column(enum_column(MoSCoW, "moscow"))
    rank: Mapped[str] = mapped_column(RankType)
    # A user who leaves keeps the stories they were assigned: the link is cleared, not the story.
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
