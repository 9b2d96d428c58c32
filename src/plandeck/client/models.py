"""Response models the API modules define for themselves, mirrored for the client.

The client does not import ``plandeck.api`` (that would load FastAPI and the server's database
stack into every program that only wants to talk to a server); tests/client checks that these
stay field for field the same as the API's. Records (``Story``, ``Project``, ``User``...) are the
domain schemas themselves, re-exported here.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from plandeck.auth.schemas import ApiToken, User
from plandeck.plans.schemas import (
    ActivityEvent,
    BoardStory,
    Comment,
    Membership,
    Phase,
    Project,
    Sprint,
    SprintCompletion,
    Story,
    StoryPage,
    Task,
    TrashItem,
    TrashKind,
    UserSummary,
)

__all__ = [
    "ActivityEvent",
    "ActivityPage",
    "ApiToken",
    "ApiTokenCreated",
    "BoardStory",
    "ChangeCounts",
    "Comment",
    "ImportChange",
    "ImportNotice",
    "ImportResult",
    "LoginResult",
    "Membership",
    "Phase",
    "Project",
    "Sprint",
    "SprintCompletion",
    "Story",
    "StoryPage",
    "Task",
    "Tokens",
    "TrashItem",
    "TrashKind",
    "User",
    "UserSummary",
]


class Tokens(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int


class LoginResult(Tokens):
    user: User
    csrf_token: str


class ApiTokenCreated(ApiToken):
    token: str = Field(description="The token itself: shown this once, never again.")


class ActivityPage(BaseModel):
    items: list[ActivityEvent]
    next_before: int | None


class ChangeCounts(BaseModel):
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0


class ImportChange(BaseModel):
    entity: str
    key: str
    action: str
    fields: dict[str, list[Any]] = Field(default_factory=dict)

    def __str__(self) -> str:
        if not self.fields:
            return f"{self.action} {self.entity} {self.key}"
        parts = ", ".join(
            f"{name}: {values[0]!r} -> {values[1]!r}" if len(values) == 2 else f"{name}: {values}"
            for name, values in self.fields.items()
        )
        return f"{self.action} {self.entity} {self.key} ({parts})"


class ImportNotice(BaseModel):
    file: str
    line: int | None
    message: str
    error: bool

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {'error: ' if self.error else ''}{self.message}"


class ImportResult(BaseModel):
    """What an import did, or (``dry_run``) would do."""

    file: str
    dry_run: bool
    summary: dict[str, ChangeCounts]
    changes: list[ImportChange]
    warnings: list[ImportNotice]
    missing: list[str]

    def count(self, entity: str, action: str) -> int:
        counts = self.summary.get(entity)
        return int(getattr(counts, action, 0)) if counts is not None else 0
