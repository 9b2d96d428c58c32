"""The domain's errors. Each knows its HTTP status; the API renders them as RFC 9457 problems."""

from __future__ import annotations

from typing import Any, ClassVar


class PlandeckError(Exception):
    status_code: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"
    slug: ClassVar[str] = "internal-error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class InvalidInput(PlandeckError):
    """Input that is well-formed but breaks a rule (a negative estimate, an unknown sprint)."""

    status_code = 422
    title = "Invalid input"
    slug = "invalid-input"


class NotAuthenticated(PlandeckError):
    status_code = 401
    title = "Not authenticated"
    slug = "not-authenticated"


class Forbidden(PlandeckError):
    status_code = 403
    title = "Forbidden"
    slug = "forbidden"


class NotFound(PlandeckError):
    status_code = 404
    title = "Not found"
    slug = "not-found"


class Conflict(PlandeckError):
    """The change collides with the current state (a duplicate key, a restore onto a taken key)."""

    status_code = 409
    title = "Conflict"
    slug = "conflict"


class StaleVersion(Conflict):
    """Somebody else changed the record since the caller read it; nothing was written."""

    title = "Stale version"
    slug = "stale-version"

    def __init__(self, entity: str, entity_id: int, *, expected: int, current: int | None) -> None:
        if current is None:
            detail = f"{entity} {entity_id} was changed by someone else; reload and try again"
        else:
            detail = (
                f"{entity} {entity_id} is at version {current}, not {expected}: "
                "it was changed by someone else; reload and try again"
            )
        super().__init__(detail, entity=entity, entity_id=entity_id, current_version=current)


class ServiceUnavailable(PlandeckError):
    """The database (or another backing service) cannot take the request now; retrying may work."""

    status_code = 503
    title = "Service unavailable"
    slug = "service-unavailable"
