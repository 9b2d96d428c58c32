"""Enumerations stored by value. Values are the API's vocabulary (lower snake case)."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"
    VIEWER = "viewer"

    @property
    def rank(self) -> int:
        return _ROLE_RANK[self]

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


_ROLE_RANK = {Role.VIEWER: 0, Role.MEMBER: 1, Role.ADMIN: 2, Role.OWNER: 3}


class PhaseStatus(enum.StrEnum):
    PLANNING = "planning"
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class SprintStatus(enum.StrEnum):
    PLANNED = "planned"
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class StoryStatus(enum.StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    IN_PROGRESS = "in_progress"
    REVIEW = "review"
    DONE = "done"
    BLOCKED = "blocked"


class Priority(enum.StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class MoSCoW(enum.StrEnum):
    MUST = "must"
    SHOULD = "should"
    COULD = "could"
    WONT = "wont"


class TokenScope(enum.StrEnum):
    READ = "read"
    WRITE = "write"


class EntityType(enum.StrEnum):
    USER = "user"
    PROJECT = "project"
    MEMBERSHIP = "membership"
    PHASE = "phase"
    SPRINT = "sprint"
    STORY = "story"
    TASK = "task"
    COMMENT = "comment"
    API_TOKEN = "api_token"


class ActivityAction(enum.StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"  # moved to the trash
    RESTORED = "restored"
    PURGED = "purged"  # removed for good
    MOVED = "moved"
    IMPORTED = "imported"
    REVOKED = "revoked"
