"""Prometheus metrics and ``GET /metrics``.

The metrics (names are an interface: alert rules and dashboards use them):

- ``plandeck_http_requests_total{method, route, status}``: finished requests, by the route
  template (``unmatched`` when no route has the request's path and method) and the status sent;
- ``plandeck_http_request_duration_seconds{method, route}``: their latency (5 ms to 5 s);
- ``plandeck_db_pool_connections{state}`` (``in_use``, ``idle``, ``overflow``) and
  ``plandeck_db_pool_size``: the SQLAlchemy pool of the app's engine. Pools without a
  fixed size (``NullPool``) report a size of 0 and no connections;
- ``plandeck_rate_limit_refusals_total{scope}``: 429s of the rate limiter, by the limit
  (``login``, ``ip``, ``user``);
- ``plandeck_login_failures_total{channel}``: sign-ins refused for a wrong email or
  password, through the ``api`` or the ``web`` login form;
- ``plandeck_ready{check}``: 1 when the readiness check (``database``, ``redis`` when
  configured) passes, else 0: the checks of ``/readyz``, run at scrape time;
- ``plandeck_story_points`` and ``plandeck_stories`` (``plandeck.analytics.metrics``),
  refreshed from the database at scrape time.

Access: ``/metrics`` answers a client whose address is in
``PLANDECK_METRICS_ALLOWED_ADDRESSES`` (default loopback only) or that sends
``Authorization: Bearer <PLANDECK_METRICS_TOKEN>``; anyone else gets the same 404 as an
unknown path. It is not in the OpenAPI schema.

Multiprocess mode: with several worker processes, set ``PROMETHEUS_MULTIPROC_DIR`` to an
empty directory writable by all of them before they start (``plandeck serve
--production`` makes one), and empty it at each start of the server. Each worker writes
its values to files there, and a scrape, whichever worker answers it, reads every file
through ``MultiProcessCollector`` into a fresh registry: counters and histograms are summed
over the workers. Gauges say how to combine:

- the pool gauges are ``liveall``: one series per live worker, with a ``pid`` label (each
  worker has its own pool). A worker sets them at most once a second as it finishes
  requests, as well as when it answers a scrape, so that a scraper that keeps its
  connection to one worker still sees the others' pools;
- ``plandeck_ready`` is ``livemostrecent``: every worker checks the same database and
  Redis, so the latest check is the truth;
- the points gauges are ``livemostrecent`` (see ``plandeck.analytics.metrics``).

The ``live`` modes drop a worker's series when it exits: each worker calls
``mark_process_dead`` for itself when its lifespan ends. In one process (no
``PROMETHEUS_MULTIPROC_DIR``) everything lives in prometheus-client's default registry.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import time
from typing import Any

import structlog
from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from plandeck.config import Settings

# This module stays light (the rate limiter and the login routes import it for their
# counters): the database, health and analytics modules are imported where a scrape
# needs them.

logger = structlog.get_logger(__name__)

HTTP_REQUESTS = Counter(
    "plandeck_http_requests_total",
    "Finished HTTP requests by method, route template and status.",
    ("method", "route", "status"),
)
HTTP_REQUEST_DURATION = Histogram(
    "plandeck_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response, by method and route template.",
    ("method", "route"),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
DB_POOL_CONNECTIONS = Gauge(
    "plandeck_db_pool_connections",
    "Connections of the database pool: in_use (checked out), idle (in the pool), overflow.",
    ("state",),
    multiprocess_mode="liveall",
)
DB_POOL_SIZE = Gauge(
    "plandeck_db_pool_size",
    "Connections the database pool keeps (overflow comes on top); 0 for a pool without a size.",
    multiprocess_mode="liveall",
)
RATE_LIMIT_REFUSALS = Counter(
    "plandeck_rate_limit_refusals_total",
    "Requests refused with 429 by the rate limiter, by limit (login, ip, user).",
    ("scope",),
)
LOGIN_FAILURES = Counter(
    "plandeck_login_failures_total",
    "Sign-ins refused for a wrong email or password, by channel (api, web).",
    ("channel",),
)
READY = Gauge(
    "plandeck_ready",
    "1 when the readiness check passes, 0 when it fails (the checks of /readyz).",
    ("check",),
    multiprocess_mode="livemostrecent",
)

# In multiprocess mode a worker refreshes its pool gauges at most this often from requests.
_POOL_REFRESH_SECONDS = 1.0
_pool_refreshed_at = 0.0


def multiprocess_dir() -> str | None:
    # Only the upper-case name: prometheus-client's lower-case one is deprecated.
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def set_pool_gauges(engine: Any) -> None:
    """Read the pool of ``engine`` (an ``AsyncEngine``) into the pool gauges."""
    from sqlalchemy.pool import QueuePool

    pool = engine.pool
    if not isinstance(pool, QueuePool):  # NullPool, StaticPool: no fixed size to report
        DB_POOL_SIZE.set(0)
        return
    DB_POOL_SIZE.set(pool.size())
    DB_POOL_CONNECTIONS.labels("in_use").set(pool.checkedout())
    DB_POOL_CONNECTIONS.labels("idle").set(pool.checkedin())
    # Negative while the pool has not opened all its pool_size connections yet.
    DB_POOL_CONNECTIONS.labels("overflow").set(max(pool.overflow(), 0))


def observe_request(app: FastAPI, method: str, route: str, status: int, seconds: float) -> None:
    """Count a finished request (called by the request middleware)."""
    global _pool_refreshed_at
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_REQUEST_DURATION.labels(method, route).observe(seconds)
    if multiprocess_dir():
        now = time.monotonic()
        engine = getattr(app.state, "engine", None)
        if engine is not None and now - _pool_refreshed_at >= _POOL_REFRESH_SECONDS:
            _pool_refreshed_at = now
            set_pool_gauges(engine)


class _Access:
    """Who may read /metrics: the token's bearer, or a client in the allowed networks."""

    def __init__(self, settings: Settings) -> None:
        token = settings.metrics.token
        self._expected = b"bearer " + token.get_secret_value().encode() if token else None
        self._networks = [
            ipaddress.ip_network(entry, strict=False)
            for entry in settings.metrics.allowed_addresses
        ]

    def allows(self, scope: Scope) -> bool:
        if self._expected is not None:
            for name, value in scope["headers"]:
                if name == b"authorization":
                    # The scheme is case-insensitive; the token is compared in constant time.
                    scheme, _, token = value.partition(b" ")
                    presented = scheme.lower() + b" " + token.strip()
                    if hmac.compare_digest(presented, self._expected):
                        return True
                    break
        client = scope.get("client")
        if not client or not self._networks:
            return False
        try:
            address = ipaddress.ip_address(client[0])
        except ValueError:  # not an IP (a test client's "testclient", a Unix socket)
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        return any(address in network for network in self._networks)


async def refresh(app: FastAPI) -> None:
    """Set the scrape-time gauges: readiness, the pool, the points by status."""
    from plandeck.analytics.metrics import points_gauges
    from plandeck.db import unit_of_work
    from plandeck.ops import health

    checks = await health.readiness_checks(app)
    for check, state in checks.items():
        READY.labels(check).set(1 if state == health.OK else 0)
    set_pool_gauges(app.state.engine)
    if checks.get("database") != health.OK:
        return  # the gauges keep their last values; plandeck_ready says why
    try:
        async with unit_of_work(app.state.sessionmaker, read_only=True) as session:
            await points_gauges.refresh(session)
    except Exception:  # a scrape must still show what it has, plandeck_ready among it
        logger.warning("metrics: the points gauges could not be refreshed", exc_info=True)


def render() -> bytes:
    """The exposition: every worker's values in multiprocess mode, else this process's."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # untyped in prometheus-client
        return generate_latest(registry)
    return generate_latest(REGISTRY)


router = APIRouter(include_in_schema=False)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    access: _Access = request.app.state.metrics_access
    if not access.allows(request.scope):
        # The same answer as an unknown path: the endpoint's existence is not revealed.
        raise StarletteHTTPException(404)
    await refresh(request.app)
    return Response(render(), media_type=CONTENT_TYPE_LATEST)


class ProcessExitMiddleware:
    """In multiprocess mode, drops this worker's live gauges when its lifespan ends."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan" or not multiprocess_dir():
            await self.app(scope, receive, send)
            return

        async def send_marking_exit(message: Message) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]  # untyped in prometheus-client
            await send(message)

        await self.app(scope, receive, send_marking_exit)


def install_metrics(app: FastAPI, settings: Settings) -> None:
    app.state.metrics_access = _Access(settings)
    app.include_router(router)
