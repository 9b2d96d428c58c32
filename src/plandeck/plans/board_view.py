"""What the sprint board and the backlog pages show: read-only views over a project's stories.

The cards come from ``story_service.list_for_board`` (stories by rank with their task
counts); this module adds what a page needs around them: the sprint, its committed and done
points, the assignees' names, the sprints to plan into and the team's average velocity.
Every view checks membership first: a non-member gets NotFound, as for a missing project.

The sprint board also says what an admin may do with the sprint (start it, complete it) with
the defaults ``sprint_service`` would use, and for a completed sprint what its completion
carried over (read from the completion's activity event). The backlog gives an admin the new
sprint form's choices (the next free number, the phases), and ``story_form`` what the form
that creates a story from either page offers (the members, the sprints to plan into).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.auth.roles import require_role
from plandeck.errors import NotFound
from plandeck.models import (
    Phase,
    Project,
    Role,
    Sprint,
    SprintStatus,
    Story,
    StoryStatus,
    User,
)
from plandeck.plans.phases import phase_service
from plandeck.plans.projects import project_service
from plandeck.plans.sprints import (
    last_completion,
    next_planned,
    planned_end,
    project_today,
    sprint_service,
)
from plandeck.plans.stories import story_service
from plandeck.plans.story_view import MemberChoice

# The sprints a backlog story can be planned into.
PLANNING_STATUSES = (SprintStatus.PLANNED, SprintStatus.ACTIVE)

Card = dict[str, Any]


@dataclass(frozen=True)
class SprintPoints:
    """A sprint with the points of its live stories: all of them, and those done."""

    sprint: Sprint
    stories: list[Card]

    @property
    def committed(self) -> int:
        return committed_points(self.stories)

    @property
    def done(self) -> int:
        return done_points(self.stories)

    @property
    def finished(self) -> list[Card]:
        return [card for card in self.stories if card["status"] == StoryStatus.DONE]

    @property
    def unfinished(self) -> list[Card]:
        """The stories that completing the sprint would carry over."""
        return [card for card in self.stories if card["status"] != StoryStatus.DONE]

    @property
    def unfinished_points(self) -> int:
        return committed_points(self.unfinished)


@dataclass(frozen=True)
class CarriedOver:
    """What a sprint's completion moved on: how many stories, their points then, and where
    (``to_sprint``: the sprint's number; None for the backlog, or for a sprint since purged)."""

    stories: int
    points: int
    to_backlog: bool
    to_sprint: int | None


@dataclass(frozen=True)
class SprintBoard:
    project: Project
    sprint: SprintPoints
    sprints: Sequence[Sprint]
    columns: list[tuple[StoryStatus, list[Card]]]
    assignees: dict[int, str]
    can_move: bool
    # Whether the visitor may start and complete sprints (admins).
    can_manage: bool
    # Another sprint of the project that is active: this one cannot start before it ends.
    active: Sprint | None
    # The start form's dates, as ``sprint_service.start`` defaults them (a planned sprint).
    start_dates: tuple[date, date] | None
    # Where the complete form can carry the unfinished stories (besides the backlog), and
    # where they go by default (None: the backlog).
    carry_over_targets: list[Sprint]
    carry_over_default: Sprint | None
    # A completed sprint's completion, when it was one (not a status set by hand).
    carried_over: CarriedOver | None


@dataclass(frozen=True)
class Backlog:
    project: Project
    stories: list[Card]
    planning: list[SprintPoints]
    sprints: Sequence[Sprint]
    average_velocity: float | None
    completed_sprints: int
    assignees: dict[int, str]
    can_move: bool
    # Whether the visitor may create sprints (admins), and the new sprint form's choices:
    # the number after the highest one taken (the trash included), and the live phases.
    can_manage: bool
    next_sprint_number: int
    phases: Sequence[Phase]


@dataclass(frozen=True)
class StoryForm:
    """What the form that creates a story offers: the members to assign it to, and the
    sprints to plan it into (planned and active ones; the backlog besides)."""

    project: Project
    members: list[MemberChoice]
    sprints: list[Sprint]

    def sprint_numbered(self, number: str) -> Sprint | None:
        """The sprint chosen by its number as text (a form's value or a query's)."""
        return next((each for each in self.sprints if str(each.number) == number), None)


def committed_points(cards: Iterable[Card]) -> int:
    return sum(card["points"] or 0 for card in cards)


def done_points(cards: Iterable[Card]) -> int:
    return sum(card["points"] or 0 for card in cards if card["status"] == StoryStatus.DONE)


class BoardViewRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> BoardViewRepository:
        return cls(session)

    async def sprints(self, project: Project) -> Sequence[Sprint]:
        return (
            await self.session.scalars(
                select(Sprint)
                .where(Sprint.project_id == project.id, Sprint.deleted_at.is_(None))
                .order_by(Sprint.number)
            )
        ).all()

    async def names(self, user_ids: set[int]) -> dict[int, str]:
        if not user_ids:
            return {}
        rows = await self.session.execute(
            select(User.id, User.name).where(User.id.in_(sorted(user_ids)))
        )
        return dict(rows.tuples().all())

    async def highest_sprint_number(self, project: Project) -> int | None:
        """The trash included: a trashed sprint keeps its number (``sprint_service`` refuses
        to reuse it)."""
        highest: int | None = await self.session.scalar(
            select(func.max(Sprint.number)).where(Sprint.project_id == project.id)
        )
        return highest

    async def done_points_of_completed_sprints(self, project: Project) -> list[int]:
        """The done points of each live completed sprint (0 for one that finished nothing)."""
        done = func.coalesce(
            func.sum(case((Story.status == StoryStatus.DONE, Story.points), else_=0)), 0
        )
        rows = await self.session.execute(
            select(Sprint.id, done)
            .outerjoin(Story, and_(Story.sprint_id == Sprint.id, Story.deleted_at.is_(None)))
            .where(
                Sprint.project_id == project.id,
                Sprint.deleted_at.is_(None),
                Sprint.status == SprintStatus.COMPLETED,
            )
            .group_by(Sprint.id)
        )
        return [int(points) for _, points in rows]

    async def carried_over(self, sprint: Sprint) -> CarriedOver | None:
        """What the sprint's completion carried over; None when its status was last changed
        otherwise (set by hand, or reopened since)."""
        completion = await last_completion(self.session, sprint.id)
        if completion is None:
            return None
        to = completion.to_sprint_id
        number = (
            None
            if to is None
            else await self.session.scalar(select(Sprint.number).where(Sprint.id == to))
        )
        return CarriedOver(
            stories=len(completion.stories),
            points=completion.points,
            to_backlog=to is None,
            to_sprint=number,
        )


def _assignee_ids(*lists: Iterable[Card]) -> set[int]:
    return {card["assignee_id"] for cards in lists for card in cards if card["assignee_id"]}


class BoardViewService:
    async def _open(
        self, session: AsyncSession, actor: User, project_key: str
    ) -> tuple[Project, Role]:
        """The project if ``actor`` is a member (NotFound otherwise), and their role in it."""
        project = await project_service.get(session, actor, project_key)
        role = await require_role(session, actor, project, Role.VIEWER)
        return project, role

    async def sprint_board(
        self,
        session: AsyncSession,
        actor: User,
        project_key: str,
        number: int,
        *,
        now: datetime | None = None,
    ) -> SprintBoard:
        """Sprint ``number``'s stories in a column per status, each column by rank, and what
        an admin may do with the sprint (the start form's dates are for ``now``)."""
        project, role = await self._open(session, actor, project_key)
        repository = BoardViewRepository.from_session(session)
        sprints = await repository.sprints(project)
        sprint = next((each for each in sprints if each.number == number), None)
        if sprint is None:
            raise NotFound(f"sprint {number} not found in project {project.key}")
        cards = await story_service.list_for_board(session, actor, project.key, number)
        columns: list[tuple[StoryStatus, list[Card]]] = [(status, []) for status in StoryStatus]
        by_status = dict(columns)
        for card in cards:
            by_status[StoryStatus(card["status"])].append(card)
        others = [each for each in sprints if each.id != sprint.id]
        today = project_today(project, now)
        return SprintBoard(
            project=project,
            sprint=SprintPoints(sprint, cards),
            sprints=sprints,
            columns=columns,
            assignees=await repository.names(_assignee_ids(cards)),
            can_move=role.at_least(story_service.edit_role),
            can_manage=role.at_least(sprint_service.edit_role),
            active=next((each for each in others if each.status is SprintStatus.ACTIVE), None),
            start_dates=(
                (today, planned_end(sprint, today))
                if sprint.status is SprintStatus.PLANNED
                else None
            ),
            carry_over_targets=[each for each in others if each.status in PLANNING_STATUSES],
            carry_over_default=next_planned(others, sprint.number),
            carried_over=(
                await repository.carried_over(sprint)
                if sprint.status is SprintStatus.COMPLETED
                else None
            ),
        )

    async def backlog(self, session: AsyncSession, actor: User, project_key: str) -> Backlog:
        """The stories in no sprint by rank, and the planned and active sprints with their
        committed points, to weigh against the average velocity (the mean done points of
        the completed sprints; None before any sprint is completed)."""
        project, role = await self._open(session, actor, project_key)
        repository = BoardViewRepository.from_session(session)
        stories = await story_service.list_for_board(session, actor, project.key, None)
        sprints = await repository.sprints(project)
        planning = [
            SprintPoints(
                sprint,
                await story_service.list_for_board(session, actor, project.key, sprint.number),
            )
            for sprint in sprints
            if sprint.status in PLANNING_STATUSES
        ]
        velocities = await repository.done_points_of_completed_sprints(project)
        average = sum(velocities) / len(velocities) if velocities else None
        can_manage = role.at_least(sprint_service.edit_role)
        highest = await repository.highest_sprint_number(project) if can_manage else None
        return Backlog(
            project=project,
            stories=stories,
            planning=planning,
            sprints=sprints,
            average_velocity=average,
            completed_sprints=len(velocities),
            assignees=await repository.names(
                _assignee_ids(stories, *(each.stories for each in planning))
            ),
            can_move=role.at_least(story_service.edit_role),
            can_manage=can_manage,
            next_sprint_number=1 if highest is None else highest + 1,
            phases=await phase_service.list_in(session, actor, project) if can_manage else (),
        )

    async def sprint_planning(
        self, session: AsyncSession, actor: User, project_key: str
    ) -> Project:
        """The project, if ``actor`` may create its sprints: Forbidden for the other members
        (checked before the form is read), NotFound for anyone else."""
        project = await project_service.get(session, actor, project_key)
        await require_role(session, actor, project, sprint_service.edit_role)
        return project

    async def story_form(self, session: AsyncSession, actor: User, project_key: str) -> StoryForm:
        """For those who may create stories (members): Forbidden for viewers, NotFound for
        anyone else."""
        project = await project_service.get(session, actor, project_key)
        await require_role(session, actor, project, story_service.edit_role)
        memberships = await project_service.list_members(session, actor, project)
        sprints = await BoardViewRepository.from_session(session).sprints(project)
        return StoryForm(
            project=project,
            members=sorted(
                (MemberChoice(each.user_id, each.user.name) for each in memberships),
                key=lambda choice: (choice.name.casefold(), choice.user_id),
            ),
            sprints=[each for each in sprints if each.status in PLANNING_STATUSES],
        )


board_view_service = BoardViewService()
