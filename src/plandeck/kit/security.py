"""HTTP hardening: security headers on every response and a cap on request bodies.

Both are pure ASGI middleware (no ``BaseHTTPMiddleware``): they run on every request, so
they only look at the scope and wrap ``send``/``receive``, never build ``Request`` objects.
``install_http_hardening`` wires them, and the rate limiter, into the app.
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import FastAPI
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from plandeck.config import Settings
from plandeck.kit.problems import problem_response
from plandeck.kit.ratelimit import OnRefused, RateLimitMiddleware, parse_limits, storage_uri

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# Swagger UI (development only: create_app turns /docs off in production) loads its script
# and stylesheet from jsDelivr, its favicon from fastapi.tiangolo.com, and starts with an
# inline script, so its page alone gets this policy. Nothing else is relaxed.
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "img-src 'self' data: https://fastapi.tiangolo.com; font-src 'self'; connect-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
STRICT_TRANSPORT_SECURITY = "max-age=63072000; includeSubDomains"

_Header = tuple[bytes, bytes]


def _security_headers(*, csp: str, production: bool) -> tuple[_Header, ...]:
    headers = {
        "content-security-policy": csp,
        "x-content-type-options": "nosniff",
        "referrer-policy": "strict-origin-when-cross-origin",
        "x-frame-options": "DENY",
        "permissions-policy": "camera=(), microphone=(), geolocation=()",
        "cross-origin-opener-policy": "same-origin",
    }
    if production:
        # Only in production: a development server on http://localhost must not teach
        # the browser to insist on HTTPS for that host for two years.
        headers["strict-transport-security"] = STRICT_TRANSPORT_SECURITY
    return tuple(
        (name.encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()
    )


class SecurityHeadersMiddleware:
    """Adds the security headers to every HTTP response, keeping any a route set itself.

    ``docs_path`` (``/docs`` by default) and its OAuth2 redirect page get
    ``DOCS_CONTENT_SECURITY_POLICY`` outside production; pass ``None`` to relax nothing.
    """

    def __init__(self, app: ASGIApp, *, production: bool, docs_path: str | None = "/docs") -> None:
        self.app = app
        self._headers = _security_headers(csp=CONTENT_SECURITY_POLICY, production=production)
        self._docs_headers = _security_headers(
            csp=DOCS_CONTENT_SECURITY_POLICY, production=production
        )
        self._names = frozenset(name for name, _ in self._headers)
        self._docs_paths = (
            frozenset({docs_path, docs_path + "/oauth2-redirect"})
            if docs_path and not production
            else frozenset()
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self._docs_headers if scope["path"] in self._docs_paths else self._headers

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", ())
                present = {name.lower() for name, _ in headers}
                if present.isdisjoint(self._names):
                    message["headers"] = [*headers, *extra]
                else:
                    message["headers"] = [
                        *headers,
                        *(header for header in extra if header[0] not in present),
                    ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _BodyTooLarge(Exception):
    """Raised from ``receive`` when a streamed body grows past the limit."""


def _size(n: int) -> str:
    for unit, factor in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= factor:
            return f"{n / factor:.3g} {unit} ({n} bytes)"
    return f"{n} bytes"


class BodySizeLimitMiddleware:
    """Refuses request bodies over ``max_bytes`` with 413, without buffering them.

    A declared ``Content-Length`` over the limit is refused before the app runs. Any other
    body (chunked, or longer than declared) is counted as the app reads it: the read that
    crosses the limit raises inside the app, and whatever response the app makes of that
    error is replaced by the 413. Bytes are never held here, only counted.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self._detail = f"the request body is larger than the limit of {_size(max_bytes)}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                if value.isdigit() and int(value) > self.max_bytes:
                    await self._refuse(scope, receive, send)
                    return
                break

        received = 0
        exceeded = False
        started = False

        async def receive_with_limit() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise _BodyTooLarge  # an app that caught the first one gets no more bytes
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        async def send_unless_exceeded(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # the app's answer to _BodyTooLarge; the 413 replaces it
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive_with_limit, send_unless_exceeded)
        except Exception:
            if not exceeded or started:
                raise
        if exceeded and not started:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            413,
            "Payload too large",
            self._detail,
            slug="payload-too-large",
            instance=scope["path"],
            # The unread rest of the body is not worth keeping the connection for.
            headers={"connection": "close"},
            max_bytes=self.max_bytes,
        )
        await response(scope, receive, send)


# Probes and scrapers address the app by its IP or service name, not its public host name.
HOST_CHECK_EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class AllowedHostsMiddleware:
    """Starlette's ``TrustedHostMiddleware`` for every path but the health probes and /metrics.

    A request whose ``Host`` is not among ``allowed_hosts`` gets 400 before any route runs,
    so a forged host never reaches links, redirects or cookies built from it.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        allowed_hosts: Iterable[str],
        exempt_paths: frozenset[str] = HOST_CHECK_EXEMPT_PATHS,
    ) -> None:
        self.app = app
        self._checked = TrustedHostMiddleware(
            app, allowed_hosts=list(allowed_hosts), www_redirect=False
        )
        self._exempt_paths = exempt_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in self._exempt_paths:
            await self.app(scope, receive, send)
            return
        await self._checked(scope, receive, send)


def install_http_hardening(
    app: FastAPI, settings: Settings, *, on_refused: OnRefused | None = None
) -> None:
    """Add the body limit, the rate limiter, the host check and the security headers to ``app``.

    From the outside in: security headers, Starlette's ServerErrorMiddleware, the allowed
    hosts check (production only), the rate limiter, the body limit, then the app. A request
    for a foreign host is refused before it costs a rate-limit hit. The rate limiter comes before the body limit so
    that oversized uploads count against a client's limit; the body limit sits next to the
    app so that it can replace the app's response to an over-long stream.

    The headers go around the whole built stack rather than through ``add_middleware``:
    Starlette puts ServerErrorMiddleware outside every user middleware, so a middleware
    added the usual way never sees the 500 response, which must carry the headers too.
    """
    # Refuse a malformed limit or Redis URL at start-up, not on the first request.
    parse_limits(settings)
    storage_uri(settings.redis_url)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.http.max_body_bytes)
    if settings.rate_limit.enabled:
        app.add_middleware(RateLimitMiddleware, settings=settings, on_refused=on_refused)
    if settings.is_production:
        app.add_middleware(AllowedHostsMiddleware, allowed_hosts=settings.server.allowed_hosts)

    build_stack = app.build_middleware_stack
    production = settings.is_production
    docs_path = app.docs_url

    def build_stack_with_headers() -> ASGIApp:
        return SecurityHeadersMiddleware(build_stack(), production=production, docs_path=docs_path)

    # Starlette calls build_middleware_stack once, on the first request or lifespan event.
    app.build_middleware_stack = build_stack_with_headers  # type: ignore[method-assign]  # wraps ServerErrorMiddleware too, see above
