"""Writing the activity trail: every change adds an ActivityEvent in the change's own transaction."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.models import ActivityAction, ActivityEvent, EntityType, User


def to_json(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    return value


def snapshot(obj: object, fields: Iterable[str]) -> dict[str, Any]:
    return {name: to_json(getattr(obj, name)) for name in fields}


def apply_changes(obj: object, changes: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Set the attributes that really change; return their (before, after) for the trail."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for name, value in changes.items():
        current = getattr(obj, name)
        if current == value:
            continue
        before[name] = to_json(current)
        after[name] = to_json(value)
        setattr(obj, name, value)
    return before, after


def record(
    session: AsyncSession,
    *,
    actor: User | None,
    project_id: int | None,
    entity_type: EntityType,
    entity_id: int,
    action: ActivityAction,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> ActivityEvent:
    event = ActivityEvent(
        actor_id=actor.id if actor else None,
        project_id=project_id,
        entity_type=entity_type,
        entity_id=entity_id,
        action=action,
        before=before,
        after=after,
    )
    session.add(event)
    return event
