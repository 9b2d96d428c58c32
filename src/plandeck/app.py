"""The ASGI application: ``create_app()`` wires settings, the database, error handlers and routes."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from plandeck import __version__
from plandeck.api.router import API_PREFIX, api_router
from plandeck.config import Settings, get_settings
from plandeck.db import create_engine, create_sessionmaker
from plandeck.kit.openapi import install_openapi
from plandeck.kit.problems import install_problem_handlers
from plandeck.kit.security import install_http_hardening
from plandeck.ops import health, sentry
from plandeck.ops.requests import install_observability
from plandeck.web import routes as web_routes


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    sentry.init_sentry(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url, settings)
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        # Everything loaded so far (modules, the app, mappers, schemas) lives as long as the
        # process: moved out of the collector's reach, full collections no longer walk it
        # and stop the process for tens of milliseconds under load.
        gc.collect()
        gc.freeze()
        # A request allocates thousands of short-lived objects; with the default threshold
        # (700) the youngest generation is collected several times per request.
        gc.set_threshold(20_000, 10, 10)
        try:
            yield
        finally:
            await engine.dispose()

    app = FastAPI(
        title="plandeck",
        version=__version__,
        lifespan=lifespan,
        docs_url=None if settings.is_production else "/docs",
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
    )
    app.state.settings = settings
    install_problem_handlers(app)
    install_http_hardening(app, settings)
    install_observability(app, settings)
    app.include_router(health.router)
    if settings.debug_error_route:
        app.include_router(sentry.debug_router)
    app.include_router(api_router)
    install_openapi(app, api_prefix=API_PREFIX)
    web_routes.install_web(app)
    return app
