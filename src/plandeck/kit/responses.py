"""JSON responses serialised by orjson, for the busiest reads.

FastAPI validates what a route returns against its ``response_model`` and then serialises
it with pydantic. For a list of fifty plain rows that the query already shaped, the
validation is pure cost. A route that returns ``json_response(rows)`` skips both steps and
keeps its ``response_model=`` for the OpenAPI document; the bytes are the ones pydantic
would write for the same values (UTC as ``Z``, enums by value, UTF-8 unescaped).
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

_OPTIONS = orjson.OPT_UTC_Z


def json_response(content: Any, *, status_code: int = 200) -> Response:
    """``content`` (dicts, lists, str, int, bool, None, datetimes, enums) as a JSON response."""
    return Response(
        orjson.dumps(content, option=_OPTIONS),
        status_code=status_code,
        media_type="application/json",
    )
