"""/healthz and /readyz against real databases and a real Redis (or a closed port)."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from plandeck import migrate
from plandeck.app import create_app
from plandeck.config import DatabaseSettings, Settings, to_async_url
from plandeck.db import create_engine
from plandeck.ops.health import readiness_checks
from tests.databases import TestDatabase
from tests.processes import free_port

REDIS_URL = "redis://127.0.0.1:6379/0"


def _app(database: TestDatabase, *, redis_url: str | None = None) -> FastAPI:
    return _app_on(database.url, database.engine, redis_url=redis_url)


def _app_on(url: str, engine: AsyncEngine, *, redis_url: str | None = None) -> FastAPI:
    settings = Settings(database=DatabaseSettings(url=url), redis_url=redis_url)
    app = create_app(settings)
    # What the lifespan does, without its process-wide garbage collector settings.
    app.state.engine = engine
    return app


async def _get(app: FastAPI, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.get(path)


class TestReadiness:
    async def test_ready_with_database_only(self, fresh_database: TestDatabase) -> None:
        response = await _get(_app(fresh_database), "/readyz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "checks": {"database": "ok"}}

    async def test_ready_with_database_and_redis(self, fresh_database: TestDatabase) -> None:
        response = await _get(_app(fresh_database, redis_url=REDIS_URL), "/readyz")
        assert response.status_code == 200, response.text
        assert response.json()["checks"] == {"database": "ok", "redis": "ok"}

    async def test_unreachable_redis_is_named(self, fresh_database: TestDatabase) -> None:
        closed = f"redis://127.0.0.1:{free_port()}/0"
        response = await _get(_app(fresh_database, redis_url=closed), "/readyz")
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert body["checks"]["database"] == "ok"
        assert body["checks"]["redis"].startswith("unreachable (")
        assert body["detail"].startswith("not ready: redis: unreachable")
        assert "database" not in body["detail"]

    async def test_schema_behind_head_is_named(self, fresh_database: TestDatabase) -> None:
        await migrate.downgrade(fresh_database.engine, "-1")
        behind = await migrate.current_revision(fresh_database.engine)
        response = await _get(_app(fresh_database, redis_url=REDIS_URL), "/readyz")
        assert response.status_code == 503
        checks = response.json()["checks"]
        assert checks == {
            "database": f"schema at {behind}, expected {migrate.head_revision()}",
            "redis": "ok",
        }

    async def test_unreachable_database_is_named(self) -> None:
        url = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
        engine = create_engine(to_async_url(url), poolclass=NullPool)
        try:
            checks = await readiness_checks(_app_on(url, engine, redis_url=REDIS_URL))
        finally:
            await engine.dispose()
        assert checks["database"].startswith("unreachable (")
        assert checks["redis"] == "ok"

    async def test_alive_even_when_not_ready(self, fresh_database: TestDatabase) -> None:
        closed = f"redis://127.0.0.1:{free_port()}/0"
        response = await _get(_app(fresh_database, redis_url=closed), "/healthz")
        assert response.status_code == 200
