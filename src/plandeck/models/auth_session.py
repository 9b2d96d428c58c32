from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from plandeck.models.base import Base, IdMixin, utcnow


class RefreshToken(IdMixin, Base):
    """One refresh token of an API client's login; only its SHA-256 is stored.

    Every refresh replaces the token with a new one of the same ``family`` (one family per
    login). A token presented after it was replaced means it was stolen or replayed, so the
    whole family is revoked.
    """

    __tablename__ = "refresh_tokens"
    __table_args__ = (Index("ix_refresh_tokens_family", "family"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    family: Mapped[str] = mapped_column(String(36))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    replaced_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class WebSession(IdMixin, Base):
    """A browser login, identified by an HttpOnly cookie whose SHA-256 is stored here."""

    __tablename__ = "web_sessions"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
