"""The OpenAPI document, made to say what the API really answers.

FastAPI documents validation errors as its own ``application/json`` shape; ours are RFC 9457
problems. Every API operation also shares a few errors no route declares by itself: a body
that cannot be parsed (400), one too large (413), invalid input (422) and rate limiting (429).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from plandeck.kit.problems import PROBLEM_JSON

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_SHARED = {
    "400": "The request body could not be parsed.",
    "413": "The request body is too large.",
    "422": "Invalid input; `errors` lists the fields.",
    "429": "Too many requests; retry after the `Retry-After` header's seconds.",
}
_UNSAFE = {"post", "put", "patch", "delete"}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_JSON: {"schema": _PROBLEM_REF}}}


def install_openapi(app: FastAPI, *, api_prefix: str) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        for path, operations in schema.get("paths", {}).items():
            if not path.startswith(api_prefix):
                continue
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                for status, response in responses.items():
                    if status.isdigit() and int(status) >= 400:
                        description = response.get("description", "")
                        if status in _SHARED and description == "Validation Error":
                            description = _SHARED[status]  # FastAPI's default wording
                        responses[status] = _problem(description)
                for status, description in _SHARED.items():
                    if status in ("400", "413") and method not in _UNSAFE:
                        continue
                    responses.setdefault(status, _problem(description))
        schemas = schema.get("components", {}).get("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to customise the schema
