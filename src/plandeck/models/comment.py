from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, Index, Text
from sqlalchemy.orm import Mapped, mapped_column

from plandeck.models.base import Base, IdMixin, SoftDeleteMixin, TimestampMixin


class Comment(IdMixin, TimestampMixin, SoftDeleteMixin, Base):
    __tablename__ = "comments"
    __table_args__ = (
        CheckConstraint("length(body) >= 1", name="body_not_empty"),
        Index("ix_comments_story_id_created_at", "story_id", "created_at"),
    )

    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"))
    # A comment outlives its author's account.
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
