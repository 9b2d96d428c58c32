"""Liveness and readiness probes.

``readiness_checks`` is the one place that knows what "ready" means; ``/readyz`` reports it
and the metrics reuse it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Coroutine
from typing import Any, cast

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from plandeck import migrate
from plandeck.config import Settings
from plandeck.kit.problems import problem_response

router = APIRouter(tags=["health"])

# A probe must answer before the orchestrator's own timeout (commonly 5-10 s) gives up on it:
# a dependency slower than this counts as not ready.
CHECK_TIMEOUT_SECONDS = 3.0
OK = "ok"


async def _database(engine: AsyncEngine) -> str:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    revision = await migrate.current_revision(engine)
    head = migrate.head_revision()
    return OK if revision == head else f"schema at {revision}, expected {head}"


async def _redis(url: str) -> str:
    import redis.asyncio as redis

    # limits spells a Unix socket redis+unix://; redis-py only knows unix://.
    url = url.replace("redis+unix://", "unix://", 1)
    client = redis.Redis.from_url(
        url, socket_connect_timeout=CHECK_TIMEOUT_SECONDS, socket_timeout=CHECK_TIMEOUT_SECONDS
    )
    try:
        # redis-py types its commands for the sync and the async client at once.
        await cast("Awaitable[bool]", client.ping())
    finally:
        await client.aclose()
    return OK


async def _run(check: Coroutine[Any, Any, str]) -> str:
    try:
        result = await asyncio.wait_for(check, CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        return f"unreachable (no answer within {CHECK_TIMEOUT_SECONDS:g} s)"
    except Exception as exc:  # any failure here means "not ready", whatever its kind
        return f"unreachable ({type(exc).__name__})"
    return result


async def readiness_checks(app: FastAPI) -> dict[str, str]:
    """Each dependency the app needs, by name, with ``"ok"`` or what is wrong with it.

    ``database`` always (reachable and at the newest schema); ``redis`` when
    ``PLANDECK_REDIS_URL`` is set. The checks run concurrently, each bounded in time.
    """
    settings: Settings = app.state.settings
    engine: AsyncEngine = app.state.engine
    checks = {"database": _database(engine)}
    if settings.redis_url:
        checks["redis"] = _redis(settings.redis_url)
    results = await asyncio.gather(*(_run(check) for check in checks.values()))
    return dict(zip(checks, results, strict=True))


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="The process can serve requests: database reachable and migrated, Redis reachable",
    responses={503: {"description": "A dependency is not ready; `checks` names it."}},
)
async def readyz(request: Request) -> Any:
    checks = await readiness_checks(request.app)
    failing = [name for name, state in checks.items() if state != OK]
    if failing:
        return problem_response(
            503,
            "Not ready",
            "not ready: " + "; ".join(f"{name}: {checks[name]}" for name in failing),
            slug="not-ready",
            checks=checks,
        )
    return JSONResponse({"status": "ok", "checks": checks})
