from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from plandeck.models.base import Base, IdMixin, enum_column, utcnow
from plandeck.models.enums import ActivityAction, EntityType


class ActivityEvent(IdMixin, Base):
    """One change, written in the same transaction as the change itself.

    The trail outlives what it describes: deleting a project or a user clears the link
    and keeps the event, whose ``before``/``after`` still say what was there.
    """

    __tablename__ = "activity_events"
    __table_args__ = (
        Index("ix_activity_events_project_id_created_at", "project_id", "created_at"),
        Index("ix_activity_events_entity_type_entity_id", "entity_type", "entity_id"),
    )

    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="SET NULL"))
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    entity_type: Mapped[EntityType] = mapped_column(enum_column(EntityType, "entity_type"))
    entity_id: Mapped[int] = mapped_column(Integer)
    action: Mapped[ActivityAction] = mapped_column(enum_column(ActivityAction, "activity_action"))
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
