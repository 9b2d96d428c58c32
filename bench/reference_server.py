"""The bare reference for ``bench_api.py``: a sprint's stories from Starlette and asyncpg alone.

It answers ``GET /projects/{key}/sprints/{number}/stories`` with the same rows as plandeck's
endpoint (the columns of ``plans.schemas.BoardStory``: the story's fields, ``tasks_total`` and
``tasks_done``, in rank order), read from the same database in one hand-written statement and
serialised with orjson. There is no authentication, no membership check, no ORM, no
validation and no middleware: it is the floor that plandeck's endpoint is compared with, not
an alternative to it.

``bench_api.py`` starts it under uvicorn, like plandeck::

    PLANDECK_BENCH_REFERENCE_DSN=postgresql://postgres@127.0.0.1:5432/DB \\
        uvicorn --app-dir bench --factory reference_server:create_app --workers 2
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

DSN_VARIABLE = "PLANDECK_BENCH_REFERENCE_DSN"
POOL_SIZE = 20  # plandeck's default pool_size

# The columns and order of plandeck's board query (plans/stories.py), in one statement.
BOARD_SQL = """
SELECT s.id, s.project_id, s.key, s.title, s.description, s.notes, s.acceptance_criteria,
       s.points, s.priority, s.status, s.moscow, s.phase_id, s.sprint_id, s.assignee_id,
       s.reporter_id, s.rank, s.version, s.created_at, s.updated_at, s.deleted_at,
       count(t.id) AS tasks_total, count(t.id) FILTER (WHERE t.done) AS tasks_done
FROM stories AS s
JOIN projects AS p ON p.id = s.project_id
JOIN sprints AS sp ON sp.id = s.sprint_id
LEFT OUTER JOIN tasks AS t ON t.story_id = s.id AND t.deleted_at IS NULL
WHERE p.key = $1 AND sp.number = $2 AND sp.deleted_at IS NULL AND s.deleted_at IS NULL
GROUP BY s.id
ORDER BY s.rank, s.id
"""


async def _init_connection(connection: asyncpg.Connection[Any]) -> None:
    await connection.set_type_codec(
        "jsonb", schema="pg_catalog", encoder=orjson.dumps, decoder=orjson.loads, format="text"
    )


async def sprint_stories(request: Request) -> Response:
    pool: asyncpg.Pool[Any] = request.app.state.pool
    try:
        number = int(request.path_params["number"])
    except ValueError:
        return Response(status_code=422)
    rows = await pool.fetch(BOARD_SQL, request.path_params["key"], number)
    return Response(orjson.dumps([dict(row) for row in rows]), media_type="application/json")


def create_app() -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.pool = await asyncpg.create_pool(
            os.environ[DSN_VARIABLE],
            min_size=1,
            max_size=POOL_SIZE,
            init=_init_connection,
        )
        try:
            yield
        finally:
            await app.state.pool.close()

    return Starlette(
        routes=[Route("/projects/{key}/sprints/{number}/stories", sprint_stories)],
        lifespan=lifespan,
    )


if __name__ == "__main__":
    raise SystemExit(
        "this is the reference server of bench/bench_api.py, which starts it; see bench/README.md"
    )
