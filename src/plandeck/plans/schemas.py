"""Input and output schemas of the plans domain: ``Story``, ``StoryCreate``, ``StoryUpdate``..."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    EmailStr,
    Field,
    StringConstraints,
    model_validator,
)

from plandeck.kit.schemas import InputSchema, NonEmptyStr, Schema
from plandeck.models import (
    ActivityAction,
    EntityType,
    MoSCoW,
    PhaseStatus,
    Priority,
    Role,
    SprintStatus,
    StoryStatus,
)


def _not_reserved(key: str) -> str:
    # /projects/new is the page that creates a project.
    if key == "new":
        raise ValueError("'new' is reserved; choose another key")
    return key


ProjectKey = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        min_length=1,
        max_length=32,
        pattern=r"^[A-Za-z][A-Za-z0-9_-]*$",
    ),
    AfterValidator(_not_reserved),
]
StoryKey = Annotated[
    str,
    # No "/": a story key is a URL path segment.
    StringConstraints(strip_whitespace=True, min_length=1, max_length=32, pattern=r"^[^\s/]+$"),
]


def _not_reserved_story_key(key: str) -> str:
    # /projects/{key}/stories/new is the page that creates a story.
    if key == "new":
        raise ValueError("'new' is reserved; choose another key")
    return key


# A key given to a story (created or renamed): not the new story page's path segment.
GivenStoryKey = Annotated[StoryKey, AfterValidator(_not_reserved_story_key)]
# Integers the database stores as 32-bit INTEGER: bounded here, so an oversized value is a
# clear validation error instead of a driver error on PostgreSQL.
MAX_INT = 2_147_483_647
RefId = Annotated[int, Field(ge=1, le=MAX_INT)]
Number = Annotated[int, Field(ge=0, le=MAX_INT)]
Points = Annotated[int, Field(ge=0, le=1000)]
ExpectedVersion = Annotated[
    int, Field(ge=1, le=MAX_INT, description="The version the caller last read.")
]


# Projects and members


class ProjectCreate(InputSchema):
    key: ProjectKey
    name: Annotated[NonEmptyStr, Field(max_length=200)]
    description: str = ""
    timezone: str = "UTC"


class ProjectUpdate(InputSchema):
    name: Annotated[NonEmptyStr, Field(max_length=200)] | None = None
    description: str | None = None
    timezone: str | None = None
    version: ExpectedVersion | None = None


class Project(Schema):
    id: int
    key: str
    name: str
    description: str
    timezone: str
    version: int
    created_at: datetime
    updated_at: datetime


class MembershipCreate(InputSchema):
    user_id: RefId | None = Field(default=None, description="The user to add; or give `email`.")
    email: EmailStr | None = Field(
        default=None,
        description="The email address of the user to add, instead of `user_id`.",
        examples=["grace@example.com"],
    )
    role: Role = Role.MEMBER

    @model_validator(mode="after")
    def _one_way_to_name_the_user(self) -> MembershipCreate:
        if (self.user_id is None) == (self.email is None):
            raise ValueError("give either user_id or email")
        return self


class MembershipUpdate(InputSchema):
    role: Role


class UserSummary(Schema):
    id: int
    name: str
    email: str


class Membership(Schema):
    id: int
    project_id: int
    user_id: int
    role: Role
    created_at: datetime
    user: UserSummary


# Phases and sprints


class PhaseCreate(InputSchema):
    number: Number
    title: Annotated[NonEmptyStr, Field(max_length=300)]
    status: PhaseStatus = PhaseStatus.PLANNING
    goals: list[str] = Field(default_factory=list)
    description: str = ""
    notes: str = ""
    meta: dict[str, Any] = Field(default_factory=dict)


class PhaseUpdate(InputSchema):
    number: Number | None = None
    title: Annotated[NonEmptyStr, Field(max_length=300)] | None = None
    status: PhaseStatus | None = None
    goals: list[str] | None = None
    description: str | None = None
    notes: str | None = None
    meta: dict[str, Any] | None = None
    version: ExpectedVersion | None = None


class Phase(Schema):
    id: int
    project_id: int
    number: int
    title: str
    status: PhaseStatus
    goals: list[str]
    description: str
    notes: str
    meta: dict[str, Any]
    version: int
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


class _SprintDates(InputSchema):
    starts_on: date | None = None
    ends_on: date | None = None

    @model_validator(mode="after")
    def _dates_in_order(self) -> _SprintDates:
        if self.starts_on and self.ends_on and self.starts_on > self.ends_on:
            raise ValueError("starts_on must not be after ends_on")
        return self


class SprintCreate(_SprintDates):
    number: Number
    name: Annotated[NonEmptyStr, Field(max_length=300)]
    phase_id: RefId | None = None
    goal: str = ""
    status: SprintStatus = SprintStatus.PLANNED
    weeks: Annotated[str, Field(max_length=32)] | None = None


class SprintUpdate(_SprintDates):
    number: Number | None = None
    name: Annotated[NonEmptyStr, Field(max_length=300)] | None = None
    phase_id: RefId | None = None
    goal: str | None = None
    status: SprintStatus | None = None
    weeks: Annotated[str, Field(max_length=32)] | None = None
    version: ExpectedVersion | None = None


class SprintStart(_SprintDates):
    """Both dates optional: the start defaults to today in the project's time zone, the end
    keeps the sprint's planned length (two weeks when it had none)."""

    version: ExpectedVersion | None = None


def _sprint_or_backlog(value: object) -> object:
    # One clear message instead of one per member of the union.
    if value is None or value == "backlog":
        return value
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_INT:
        raise ValueError("a sprint's number or 'backlog'")
    return value


class SprintComplete(InputSchema):
    carry_over_to: Annotated[
        Number | Literal["backlog"] | None,
        BeforeValidator(_sprint_or_backlog),
        Field(
            description="Where the unfinished stories go: a sprint's number or ``backlog``; "
            "by default the next planned sprint, or the backlog when there is none."
        ),
    ] = None
    version: ExpectedVersion | None = None


class Sprint(Schema):
    id: int
    project_id: int
    phase_id: int | None
    number: int
    name: str
    goal: str
    status: SprintStatus
    weeks: str | None
    starts_on: date | None
    ends_on: date | None
    version: int
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


class SprintCompletion(Schema):
    """What completing a sprint did: its done stories stay in it, the unfinished ones moved on
    (``carried_over_to``: the sprint's number, None for the backlog)."""

    sprint: Sprint
    completed: list[str]
    completed_points: int
    carried_over: list[str]
    carried_over_points: int
    carried_over_to: int | None


# The trash


class TrashKind(enum.StrEnum):
    """What can be in a project's trash (values as in the activity trail's ``entity_type``)."""

    PHASE = "phase"
    SPRINT = "sprint"
    STORY = "story"
    TASK = "task"
    COMMENT = "comment"


class TrashItem(Schema):
    kind: TrashKind
    id: int
    label: str = Field(examples=["Sprint 9: Board"])
    deleted_at: datetime
    deleted_by: UserSummary | None = Field(
        description="Who moved it to the trash (with its phase, for what went along); null when unknown."
    )


# Stories, tasks, comments


class AcceptanceCriterion(InputSchema):
    text: NonEmptyStr
    done: bool = False


class StoryCreate(InputSchema):
    title: Annotated[NonEmptyStr, Field(max_length=500)]
    key: GivenStoryKey | None = Field(default=None, description="Generated when omitted.")
    description: str = ""
    notes: str = ""
    acceptance_criteria: list[AcceptanceCriterion] = Field(default_factory=list)
    points: Points | None = None
    priority: Priority = Priority.MEDIUM
    status: StoryStatus = StoryStatus.DRAFT
    moscow: MoSCoW | None = None
    phase_id: RefId | None = None
    sprint_id: RefId | None = None
    assignee_id: RefId | None = None


class StoryUpdate(InputSchema):
    title: Annotated[NonEmptyStr, Field(max_length=500)] | None = None
    key: GivenStoryKey | None = None
    description: str | None = None
    notes: str | None = None
    acceptance_criteria: list[AcceptanceCriterion] | None = None
    points: Points | None = None
    priority: Priority | None = None
    status: StoryStatus | None = None
    moscow: MoSCoW | None = None
    phase_id: RefId | None = None
    sprint_id: RefId | None = None
    assignee_id: RefId | None = None
    version: ExpectedVersion | None = None

    @model_validator(mode="after")
    def _required_fields_not_null(self) -> StoryUpdate:
        for name in (
            "title",
            "key",
            "description",
            "notes",
            "priority",
            "status",
            "acceptance_criteria",
        ):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class Story(Schema):
    id: int
    project_id: int
    key: str
    title: str
    description: str
    notes: str
    acceptance_criteria: list[dict[str, Any]]
    points: int | None
    priority: Priority
    status: StoryStatus
    moscow: MoSCoW | None
    phase_id: int | None
    sprint_id: int | None
    assignee_id: int | None
    reporter_id: int | None
    rank: str
    version: int
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


class TaskCreate(InputSchema):
    text: NonEmptyStr
    done: bool = False
    position: Number | None = Field(default=None, description="Appended at the end when omitted.")
    parent_id: RefId | None = None


class TaskUpdate(InputSchema):
    text: NonEmptyStr | None = None
    done: bool | None = None
    position: Number | None = None


class Task(Schema):
    id: int
    story_id: int
    parent_id: int | None
    text: str
    done: bool
    position: int
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


class CommentCreate(InputSchema):
    body: Annotated[NonEmptyStr, Field(max_length=20_000)]


class CommentUpdate(InputSchema):
    body: Annotated[NonEmptyStr, Field(max_length=20_000)]


class Comment(Schema):
    id: int
    story_id: int
    author_id: int | None
    body: str
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


class ActivityEvent(Schema):
    id: int
    project_id: int | None
    actor_id: int | None
    entity_type: EntityType
    entity_id: int
    action: ActivityAction
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    created_at: datetime


# Story lists, the board and moves

StorySort = Literal[
    "rank",
    "-rank",
    "key",
    "-key",
    "points",
    "-points",
    "priority",
    "-priority",
    "status",
    "-status",
    "created_at",
    "-created_at",
    "updated_at",
    "-updated_at",
]


class StoryFilter(Schema):
    """What ``GET /projects/{key}/stories`` narrows the list by; every filter given must hold."""

    status: list[StoryStatus] = Field(
        default_factory=list, description="Any of these statuses (repeat the parameter)."
    )
    priority: list[Priority] = Field(default_factory=list, description="Any of these priorities.")
    moscow: list[MoSCoW] = Field(default_factory=list, description="Any of these MoSCoW values.")
    assignee: RefId | Literal["me", "none"] | None = Field(
        default=None,
        description="A user id, `me` (the caller) or `none` (unassigned).",
        examples=["me"],
    )
    sprint: Number | Literal["backlog"] | None = Field(
        default=None,
        description="A sprint number, or `backlog` for the stories in no sprint.",
        examples=[9],
    )
    q: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = Field(
        default=None,
        description="Text in the key, title or description (case-insensitive).",
        examples=["migration"],
    )


class StoryPage(Schema):
    items: list[Story]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page.",
        examples=["eyJzb3J0IjoicmFuayIsImFmdGVyIjpbOSwiYTMiLDQyXX0"],
    )


class BoardStory(Story):
    """A story on a sprint board or in the backlog, with its checklist progress."""

    tasks_total: int = Field(description="Live tasks, subtasks included.", examples=[5])
    tasks_done: int = Field(examples=[2])


class StoryMove(InputSchema):
    """Where a story goes: a sprint (``null``: the backlog) and a place between two neighbours.

    Leave ``sprint`` out to stay in the story's sprint. Neighbours are story keys in the
    target list; with neither, a story that changes list goes to its end and a story that
    stays keeps its place. Positions are computed from the neighbours' current places, so a
    move stays right even if the list changed since the caller read it.
    """

    sprint: Number | None = Field(
        default=None, description="Target sprint number; null for the backlog.", examples=[9]
    )
    status: StoryStatus | None = Field(default=None, description="A new status, if any.")
    before: StoryKey | None = Field(
        default=None, description="Place the story right before this one.", examples=["9.3"]
    )
    after: StoryKey | None = Field(
        default=None, description="Place the story right after this one.", examples=["9.2"]
    )
    version: ExpectedVersion | None = None

    @model_validator(mode="after")
    def _consistent(self) -> StoryMove:
        if "status" in self.model_fields_set and self.status is None:
            raise ValueError("status cannot be null")
        if self.before is not None and self.before == self.after:
            raise ValueError("before and after must be different stories")
        return self
