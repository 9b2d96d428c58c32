"""A small app wired like plandeck's, and settings for the hardening middleware."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, SecretStr

from plandeck.config import Environment, HttpSettings, RateLimitSettings, ServerSettings, Settings
from plandeck.kit.problems import install_problem_handlers
from plandeck.kit.ratelimit import OnRefused
from plandeck.kit.security import install_http_hardening

CLIENT_IP = "203.0.113.7"


def make_settings(
    *,
    production: bool = False,
    redis_url: str | None = None,
    max_body_bytes: int = 64 * 1024,
    enabled: bool = True,
    per_ip: str = "1000 per minute",
    per_user: str = "1000 per minute",
    login: str = "1000 per minute",
) -> Settings:
    return Settings(
        environment=Environment.PRODUCTION if production else Environment.DEVELOPMENT,
        secret_key=SecretStr("a-test-secret-that-is-long-enough-for-production"),
        redis_url=redis_url,
        rate_limit=RateLimitSettings(
            enabled=enabled, per_ip=per_ip, per_user=per_user, login=login
        ),
        http=HttpSettings(max_body_bytes=max_body_bytes),
        # What production requires; the test client's host is "testserver".
        server=ServerSettings(allowed_hosts=["testserver"], allow_sqlite=True),
    )


class Item(BaseModel):
    name: str


def make_app(
    settings: Settings, *, static_dir: Path | None = None, on_refused: OnRefused | None = None
) -> FastAPI:
    """Routes of each kind the middleware must cover: API, page, error, static, raw body."""
    app = FastAPI(docs_url=None if settings.is_production else "/docs")
    app.state.calls = 0
    install_problem_handlers(app)

    @app.get("/api/v1/ping")
    async def ping(request: Request) -> dict[str, bool]:
        request.app.state.calls += 1
        return {"ok": True}

    @app.post("/api/v1/items")
    async def create_item(item: Item) -> Item:
        return item

    @app.get("/api/v1/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    @app.get("/api/v1/framed")
    async def framed() -> JSONResponse:
        return JSONResponse({}, headers={"X-Frame-Options": "SAMEORIGIN"})

    @app.post("/api/v1/upload")
    async def upload(request: Request) -> dict[str, int]:
        request.app.state.calls += 1
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        return {"size": size}

    @app.get("/page")
    async def page() -> HTMLResponse:
        return HTMLResponse("<h1>plandeck</h1>")

    if static_dir is not None:
        app.mount("/static", StaticFiles(directory=static_dir), name="static")
    install_http_hardening(app, settings, on_refused=on_refused)
    return app


def client_for(app: FastAPI, ip: str = CLIENT_IP) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(ip, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")
