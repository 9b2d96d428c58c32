"""Prometheus gauges of the stories and points of every project by status.

``plandeck_story_points{project, status}`` sums the points of a project's live stories
(trash left out; an unestimated story counts 0) and ``plandeck_stories{project, status}``
counts them. Every status of every project is present, 0 when no story has it, labelled by
the project's key and the status's API value (``in_progress``). :meth:`PointsGauges.refresh`
reads them with one aggregate query whatever the number of projects; the metrics endpoint is
meant to call it before it renders, so a scrape shows the database as it is.

Multiprocess mode: the gauges are ``livemostrecent``. When several workers run, each keeps
its own copy of every series, and the collector must pick one. All workers read the same
database, so the right value is the one read last: ``mostrecent`` keeps the value set at
the latest time, which after a refresh is the refreshing worker's. ``max`` (or ``min``)
would keep the largest of the workers' last values, so a story moved out of a status would
stay counted there while any worker had not refreshed since; ``sum`` would multiply by
the worker count and ``all`` would give one series per worker. The ``live`` variant also
drops the series of a worker that has exited once the server calls
``prometheus_client.multiprocess.mark_process_dead`` for it (without that call it behaves
as ``mostrecent``), so a dead worker's stale series do not linger.

A project that no longer exists loses its label sets. prometheus-client cannot remove label
sets in multiprocess mode (they live in the workers' files), so there the refresh sets them
to 0 instead; being the newest values, they win over what the other workers still hold.
"""

from __future__ import annotations

import os

from prometheus_client import REGISTRY, CollectorRegistry, Gauge
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.models import Project, Story, StoryStatus

_LABELS = ("project", "status")

# Projects without live stories still give one row (status NULL, 0 stories), so every
# project is listed; the trash is left out in the join, not in a WHERE that would drop them.
_POINTS_BY_STATUS = (
    select(
        Project.key,
        Story.status,
        func.count(Story.id),
        func.sum(Story.points),
    )
    .select_from(Project)
    .outerjoin(Story, (Story.project_id == Project.id) & Story.deleted_at.is_(None))
    .group_by(Project.key, Story.status)
)


def _multiprocess() -> bool:
    # The same test prometheus-client makes before it refuses to remove label sets.
    return "PROMETHEUS_MULTIPROC_DIR" in os.environ or "prometheus_multiproc_dir" in os.environ


class PointsGauges:
    """The two gauges, registered in ``registry``, and the projects they show."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.points = Gauge(
            "plandeck_story_points",
            "Points of the live stories of a project by status (unestimated stories count 0).",
            _LABELS,
            registry=registry,
            multiprocess_mode="livemostrecent",
        )
        self.stories = Gauge(
            "plandeck_stories",
            "Number of live stories of a project by status.",
            _LABELS,
            registry=registry,
            multiprocess_mode="livemostrecent",
        )
        self._projects: set[str] = set()

    async def refresh(self, session: AsyncSession) -> None:
        """Set every series from the database and drop the projects that are gone."""
        rows = (await session.execute(_POINTS_BY_STATUS)).all()
        # No await from here on: concurrent refreshes in one worker never interleave.
        by_project: dict[str, dict[StoryStatus, tuple[int, int]]] = {}
        for key, status, stories, points in rows:
            counts = by_project.setdefault(key, {})
            if status is not None:
                # NULL when every story of the status is unestimated.
                counts[status] = (stories, points or 0)
        for key, counts in by_project.items():
            for status in StoryStatus:
                stories, points = counts.get(status, (0, 0))
                self.stories.labels(key, status.value).set(stories)
                self.points.labels(key, status.value).set(points)
        for key in self._projects - by_project.keys():
            self._drop(key)
        self._projects = set(by_project)

    def _drop(self, key: str) -> None:
        for status in StoryStatus:
            for gauge in (self.stories, self.points):
                if _multiprocess():
                    gauge.labels(key, status.value).set(0)
                else:
                    gauge.remove(key, status.value)


points_gauges = PointsGauges()
"""The gauges in prometheus-client's default registry, for the metrics endpoint."""
