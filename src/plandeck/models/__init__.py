"""Every table, imported here so that ``Base.metadata`` (and so Alembic) sees them all."""

from plandeck.models.activity import ActivityEvent
from plandeck.models.api_token import ApiToken
from plandeck.models.auth_session import RefreshToken, WebSession
from plandeck.models.base import Base
from plandeck.models.comment import Comment
from plandeck.models.enums import (
    ActivityAction,
    EntityType,
    MoSCoW,
    PhaseStatus,
    Priority,
    Role,
    SprintStatus,
    StoryStatus,
    TokenScope,
)
from plandeck.models.phase import Phase
from plandeck.models.project import Membership, Project
from plandeck.models.sprint import Sprint
from plandeck.models.story import Story
from plandeck.models.story_day import StoryDay
from plandeck.models.task import Task
from plandeck.models.user import User

__all__ = [
    "ActivityAction",
    "ActivityEvent",
    "ApiToken",
    "Base",
    "Comment",
    "EntityType",
    "Membership",
    "MoSCoW",
    "Phase",
    "PhaseStatus",
    "Priority",
    "Project",
    "RefreshToken",
    "Role",
    "Sprint",
    "SprintStatus",
    "Story",
    "StoryDay",
    "StoryStatus",
    "Task",
    "TokenScope",
    "User",
    "WebSession",
]
