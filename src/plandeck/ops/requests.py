"""Request ids, the one log line per request, and the request metrics.

``RequestObservabilityMiddleware`` is pure ASGI and sits outside every other middleware
(``install_observability`` puts it there), so it sees each request's final status, 500s
included, and every error that escapes the app.

- The request id is the client's ``X-Request-ID`` when that is short and plain
  (``REQUEST_ID_PATTERN``), else a new uuid4 hex. It is returned in ``X-Request-ID`` and
  bound into structlog's context variables, so every line logged while the request runs
  carries it (and Sentry events are tagged with it).
- One line per request, event ``request``: ``request_id``, ``method``, ``route`` (the
  route's template such as ``/api/v1/projects/{key}/stories/{story_key}``, never the raw
  URL with its query string; for a request refused before routing by the host check, the
  rate limiter or the body limit, the template of the route it was for; ``unmatched`` when
  no route has its path and method, as for a 404 of an unknown path), ``status``, ``duration_ms`` and ``user_id`` when a credential was
  accepted (the auth dependencies leave it in ``request.state.user_id``). No headers,
  no query string, no body. An error that escapes the app is logged on that line, level
  ``error``, with its traceback; the client only ever gets the problem+json of
  ``kit/problems.py``.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import sentry_sdk
import structlog
from fastapi import FastAPI
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from plandeck.config import Settings

REQUEST_ID_HEADER = b"x-request-id"
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,128}")
UNMATCHED = "unmatched"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

logger = structlog.get_logger("plandeck.request")

Observe = Callable[[FastAPI, str, str, int, float], None]
"""Called once per finished request with (app, method, route, status, seconds)."""


def request_id_from(headers: list[tuple[bytes, bytes]]) -> str:
    """The client's request id when it is acceptable, else a new one."""
    for name, value in headers:
        if name == REQUEST_ID_HEADER:
            given = value.decode("latin-1")
            if REQUEST_ID_PATTERN.fullmatch(given):
                return given
            break
    return uuid.uuid4().hex


class _RouteTemplates:
    """The full template of each route object, read once every route is registered.

    FastAPI (0.13x on) keeps included routers as they are: ``scope["route"]`` is the
    router's own route, whose ``path_format`` lacks the prefixes it was included under.
    ``iter_route_contexts`` walks the app's routes with the prefixes applied.
    """

    def __init__(self, app: FastAPI) -> None:
        self._app = app
        self._templates: dict[int, str] | None = None
        self._patterns: list[tuple[re.Pattern[str], frozenset[str], str]] = []

    def _build(self) -> dict[int, str]:
        templates: dict[int, str] = {}
        try:
            from fastapi.routing import iter_route_contexts
        except ImportError:  # an older FastAPI flattens included routes: path_format is whole
            return templates
        for context in iter_route_contexts(self._app.router.routes):
            path = context.path_format or context.path
            if path:
                templates.setdefault(id(context.original_route), path)
                methods = frozenset(getattr(context, "methods", None) or ())
                if methods and context.path:
                    self._patterns.append((compile_path(context.path)[0], methods, path))
        return templates

    def of(self, scope: Scope) -> str:
        """The template of the route that took the request; for one refused before routing
        (the host check, the rate limiter, the body size limit), of the route it was for."""
        if self._templates is None:
            self._templates = self._build()
        route = scope.get("route")
        if route is None:
            return self._matching(scope["path"], scope["method"])
        template = self._templates.get(id(route))
        if template is None:
            template = getattr(route, "path_format", None) or getattr(route, "path", None)
        return str(template) if template else UNMATCHED

    def _matching(self, path: str, method: str) -> str:
        for pattern, methods, template in self._patterns:
            if method in methods and pattern.match(path):
                return template
        return UNMATCHED


class RequestObservabilityMiddleware:
    def __init__(self, app: ASGIApp, *, fastapi_app: FastAPI, observe: Observe | None) -> None:
        self.app = app
        self._fastapi_app = fastapi_app
        self._observe = observe
        self._routes = _RouteTemplates(fastapi_app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope["headers"])
        header = (REQUEST_ID_HEADER, request_id.encode("latin-1"))
        # The dict behind request.state: the auth dependencies leave user_id in it.
        state: dict[str, Any] = scope.setdefault("state", {})
        status = 500  # what the server answers when the app never starts a response
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *(h for h in message.get("headers", ()) if h[0].lower() != REQUEST_ID_HEADER),
                    header,
                ]
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            # Sentry's middleware runs outside this one and reads its events' tags after the
            # contextvars above are gone: the id goes into the request's Sentry scope too.
            sentry_sdk.set_tag("request_id", request_id)
            try:
                await self.app(scope, receive, send_with_id)
            except Exception:
                self._finish(scope, state, status, started, failed=True)
                raise
            self._finish(scope, state, status, started, failed=False)

    def _finish(
        self, scope: Scope, state: dict[str, Any], status: int, started: float, *, failed: bool
    ) -> None:
        seconds = time.perf_counter() - started
        method = scope["method"] if scope["method"] in _METHODS else "other"
        route = self._routes.of(scope)
        fields: dict[str, Any] = {
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
        }
        user_id = state.get("user_id")
        if user_id is not None:
            fields["user_id"] = user_id
        if failed:
            logger.error("request", exc_info=True, **fields)
        elif status >= 500:
            logger.error("request", **fields)
        else:
            logger.info("request", **fields)
        if self._observe is not None:
            self._observe(self._fastapi_app, method, route, status, seconds)


def install_observability(app: FastAPI, settings: Settings) -> None:
    """Logging, request ids and request logs, and ``/metrics``, in one call from ``create_app``.

    Call it after the other middleware is installed: it wraps the whole built stack (as the
    security headers do), so that it also sees the 500s of Starlette's ServerErrorMiddleware.
    """
    from plandeck.ops import metrics
    from plandeck.ops.logging import configure_logging

    configure_logging(settings)
    metrics.install_metrics(app, settings)

    build_stack = app.build_middleware_stack

    def build_stack_observed() -> ASGIApp:
        return metrics.ProcessExitMiddleware(
            RequestObservabilityMiddleware(
                build_stack(), fastapi_app=app, observe=metrics.observe_request
            )
        )

    app.build_middleware_stack = build_stack_observed  # type: ignore[method-assign]  # wraps ServerErrorMiddleware too, see above
