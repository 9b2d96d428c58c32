from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from plandeck.models.base import (
    Base,
    IdMixin,
    TimestampMixin,
    VersionedMixin,
    enum_column,
)
from plandeck.models.enums import Role
from plandeck.models.user import User


class Project(IdMixin, TimestampMixin, VersionedMixin, Base):
    __tablename__ = "projects"
    __table_args__ = (CheckConstraint("length(key) >= 1", name="key_not_empty"),)

    key: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")


class Membership(IdMixin, TimestampMixin, Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("project_id", "user_id"),)

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    # Leaving the users table removes the user's memberships, never the project.
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(enum_column(Role, "role"))

    user: Mapped[User] = relationship(lazy="raise")
    project: Mapped[Project] = relationship(lazy="raise")
