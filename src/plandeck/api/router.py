"""Every API router, under ``/api/v1``."""

from __future__ import annotations

from fastapi import APIRouter

from plandeck.api import (
    activity,
    analytics,
    auth,
    comments,
    phases,
    plans,
    projects,
    sprints,
    stories,
    tasks,
    trash,
    users,
)

API_PREFIX = "/api/v1"

api_router = APIRouter(prefix=API_PREFIX)
# Routes are matched in order, one by one: the busiest (stories, tasks) come first. No two
# routers' paths overlap, so the order changes nothing else.
for module in (
    stories,
    tasks,
    auth,
    users,
    projects,
    phases,
    sprints,
    comments,
    activity,
    trash,
    plans,
    analytics,
):
    api_router.include_router(module.router)
