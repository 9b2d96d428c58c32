"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from plandeck import migrate
from plandeck.kit.problems import problem_response

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="The process can serve requests: database reachable and migrated",
    responses={503: {"description": "A dependency is not ready; `checks` names it."}},
)
async def readyz(request: Request) -> Any:
    engine: AsyncEngine = request.app.state.engine
    checks: dict[str, str] = {}
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        revision = await migrate.current_revision(engine)
        head = migrate.head_revision()
        checks["database"] = "ok" if revision == head else f"schema at {revision}, expected {head}"
    except Exception as exc:  # any failure here means "not ready", whatever its kind
        checks["database"] = f"unreachable ({type(exc).__name__})"
    failing = [name for name, state in checks.items() if state != "ok"]
    if failing:
        return problem_response(
            503,
            "Not ready",
            "not ready: " + "; ".join(f"{name}: {checks[name]}" for name in failing),
            slug="not-ready",
            checks=checks,
        )
    return JSONResponse({"status": "ok", "checks": checks})
