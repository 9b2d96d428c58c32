"""Read models of a project for its pages: the overview and a phase's plan.

Four queries whatever the project's size (the project by membership, its phases, its
sprints, its live stories with their task counts); roll-ups (points done and in all, status
counts) are summed in memory from those rows.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.errors import NotFound
from plandeck.models import MoSCoW, Phase, Project, Sprint, Story, StoryStatus, Task, User
from plandeck.plans.projects import project_service

MOSCOW_ORDER = (MoSCoW.MUST, MoSCoW.SHOULD, MoSCoW.COULD, MoSCoW.WONT)


@dataclass
class StoryRow:
    story: Story
    tasks_done: int
    tasks_total: int


@dataclass
class Rollup:
    """Points done and in all, story counts by status, over some stories."""

    points_total: int = 0
    points_done: int = 0
    stories: int = 0
    by_status: Counter[str] = field(default_factory=Counter)

    def add(self, story: Story) -> None:
        self.stories += 1
        self.points_total += story.points or 0
        if story.status == StoryStatus.DONE:
            self.points_done += story.points or 0
        self.by_status[story.status.value] += 1

    @property
    def percent_done(self) -> int:
        return round(100 * self.points_done / self.points_total) if self.points_total else 0


@dataclass
class SprintView:
    sprint: Sprint
    rows: list[StoryRow] = field(default_factory=list)
    rollup: Rollup = field(default_factory=Rollup)


@dataclass
class PhaseView:
    phase: Phase
    sprints: list[SprintView] = field(default_factory=list)
    rollup: Rollup = field(default_factory=Rollup)

    def document_heading(self, kind: str) -> str | None:
        """The heading the plan document gave a section (``stories``, ``priorities``,
        ``timeline``, ``goals``), as written there (``## 📅 Timeline پیشنهادی`` -> its text)."""
        outline = self.phase.meta.get("outline") if isinstance(self.phase.meta, dict) else None
        for entry in outline if isinstance(outline, list) else []:
            raw = entry.get("raw") if isinstance(entry, dict) else None
            if entry.get("kind") == kind and isinstance(raw, str):
                return raw.lstrip("#").strip() or None
        return None

    @property
    def moscow(self) -> list[tuple[MoSCoW, list[StoryRow]]]:
        """The phase's stories by MoSCoW priority, in the document's order of sprints."""
        groups: dict[MoSCoW, list[StoryRow]] = {value: [] for value in MOSCOW_ORDER}
        for sprint in self.sprints:
            for row in sprint.rows:
                if row.story.moscow is not None:
                    groups[row.story.moscow].append(row)
        return [(value, rows) for value, rows in groups.items() if rows]

    @property
    def timeline(self) -> list[SprintView]:
        """Its sprints that the plan placed in weeks, in order."""
        return [view for view in self.sprints if view.sprint.weeks]


@dataclass
class ProjectOverview:
    project: Project
    phases: list[PhaseView]
    unphased: list[SprintView]
    backlog: list[StoryRow]
    rollup: Rollup

    @property
    def sprints(self) -> list[SprintView]:
        found = [view for phase in self.phases for view in phase.sprints] + self.unphased
        return sorted(found, key=lambda view: view.sprint.number)

    def phase(self, number: int) -> PhaseView:
        for view in self.phases:
            if view.phase.number == number:
                return view
        raise NotFound(f"phase {number} not found in project {self.project.key}")


async def project_overview(session: AsyncSession, actor: User, key: str) -> ProjectOverview:
    """The project if ``actor`` is a member (NotFound otherwise), its phases, sprints and
    stories with roll-ups."""
    project = await project_service.get(session, actor, key)
    phases = (
        await session.scalars(
            select(Phase)
            .where(Phase.project_id == project.id, Phase.deleted_at.is_(None))
            .order_by(Phase.number)
        )
    ).all()
    sprints = (
        await session.scalars(
            select(Sprint)
            .where(Sprint.project_id == project.id, Sprint.deleted_at.is_(None))
            .order_by(Sprint.number)
        )
    ).all()
    rows = await _story_rows(session, project)

    phase_views = {phase.id: PhaseView(phase) for phase in phases}
    sprint_views = {sprint.id: SprintView(sprint) for sprint in sprints}
    unphased: list[SprintView] = []
    for sprint in sprints:
        parent = phase_views.get(sprint.phase_id) if sprint.phase_id is not None else None
        (parent.sprints if parent else unphased).append(sprint_views[sprint.id])
    backlog: list[StoryRow] = []
    total = Rollup()
    for row in rows:
        story = row.story
        total.add(story)
        view = sprint_views.get(story.sprint_id) if story.sprint_id is not None else None
        if view is None:
            backlog.append(row)
        else:
            view.rows.append(row)
            view.rollup.add(story)
        phase_id = story.phase_id if story.phase_id is not None else _phase_of(view)
        if phase_id is not None and phase_id in phase_views:
            phase_views[phase_id].rollup.add(story)
    return ProjectOverview(project, list(phase_views.values()), unphased, backlog, total)


def _phase_of(view: SprintView | None) -> int | None:
    return view.sprint.phase_id if view is not None else None


async def _story_rows(session: AsyncSession, project: Project) -> list[StoryRow]:
    counts: Any = (
        select(
            Task.story_id,
            func.count(Task.id).label("total"),
            func.count(case((Task.done, Task.id))).label("done"),
        )
        .join(Story, Story.id == Task.story_id)
        .where(Story.project_id == project.id, Task.deleted_at.is_(None))
        .group_by(Task.story_id)
        .subquery()
    )
    result = await session.execute(
        select(Story, func.coalesce(counts.c.done, 0), func.coalesce(counts.c.total, 0))
        .outerjoin(counts, counts.c.story_id == Story.id)
        .where(Story.project_id == project.id, Story.deleted_at.is_(None))
        .order_by(Story.rank, Story.id)
    )
    return [StoryRow(story, int(done), int(total)) for story, done, total in result.all()]
