"""Shared OpenAPI response declarations: every error is an RFC 9457 problem."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from plandeck.kit.problems import PROBLEM_JSON


class Problem(BaseModel):
    """An RFC 9457 problem: what went wrong, for people (``detail``) and programs (``type``)."""

    type: str = Field(examples=["https://plandeck.dev/problems/not-found"])
    title: str = Field(examples=["Not found"])
    status: int = Field(examples=[404])
    detail: str = Field(examples=["project 'P3' not found"])
    instance: str | None = Field(default=None, examples=["/api/v1/projects/P3"])
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="For 422: each invalid field's location and message."
    )


_DESCRIPTIONS = {
    401: "Not authenticated: no, an expired or an invalid credential.",
    403: "Forbidden: the caller's role or token scope does not allow this, or the CSRF token is missing.",
    404: "Not found (also when the caller is not a member of the project).",
    409: "Conflict: a duplicate, or a stale version (someone else changed the record).",
    413: "The request body is too large.",
    422: "Invalid input; `errors` lists the fields.",
    429: "Too many requests; retry after the `Retry-After` header's seconds.",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {
            "model": Problem,
            "description": _DESCRIPTIONS[status],
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


# What any authenticated route can answer besides its own result.
AUTHENTICATED = problems(401, 403, 404, 422, 429)
