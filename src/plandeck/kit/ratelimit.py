"""Rate limits on the API and on sign-in, with the ``limits`` library.

Three limits, each in ``limits`` notation from ``settings.rate_limit``:

- ``per_ip``: every request under ``/api/`` (and the login form POST), keyed by the
  client address of the ASGI scope. Behind a reverse proxy that address is the proxy's
  unless the server is told to trust its forwarded headers.
- ``per_user``: the same requests that carry a credential, keyed by the SHA-256 of the
  ``Authorization`` header or else of the ``plandeck_session`` cookie. No database lookup:
  the limiter runs before routing and must stay cheap. An invalid credential is limited
  like a valid one, and a client inventing new ones is still held by its address's limit.
- ``login``: POSTs to the sign-in, token, refresh and registration endpoints and to the
  ``/login`` form, per address. Much stricter, against password guessing.

Storage is in-process memory by default (one limit per process), or Redis when
``PLANDECK_REDIS_URL`` is set, so that every process behind a load balancer shares one
limit. The algorithm is the sliding window counter: two counters per key, so memory and
Redis work stay constant however high a limit is, and one Redis round trip per limit.

If Redis cannot be reached the limiter fails open: requests pass unchecked and a warning
is logged, and the limiter tries Redis again after a few seconds. An outage of a cache
should not take the whole API down with it; the limits are a brake, not a lock.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.storage.redis.redispy import RedispyBridge
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from plandeck.config import ConfigurationError, Settings
from plandeck.kit.problems import problem_response
from plandeck.ops.metrics import RATE_LIMIT_REFUSALS

logger = logging.getLogger(__name__)

DEFAULT_KEY_PREFIX = "plandeck:ratelimit"
SESSION_COOKIE = b"plandeck_session"
LOGIN_PATHS = frozenset(
    {
        "/api/v1/auth/login",
        "/api/v1/auth/token",
        "/api/v1/auth/refresh",
        "/api/v1/auth/register",
        "/login",
        "/signup",
    }
)
# After Redis fails, requests pass unchecked this long before it is tried again, so that
# an outage costs one timeout every few seconds rather than one per request.
STORAGE_RETRY_SECONDS = 5.0
_REDIS_TIMEOUT_SECONDS = 0.5

OnRefused = Callable[[str], None]
"""Called with the name of the limit ("login", "ip" or "user") each time one refuses."""

_DETAILS = {
    "login": "too many sign-in attempts from this address",
    "ip": "too many requests from this address",
    "user": "too many requests with this credential",
}


def storage_uri(redis_url: str | None) -> str:
    """The ``limits`` storage URI for plandeck's Redis URL; in-process memory without one."""
    if not redis_url:
        return "async+memory://"
    scheme, separator, rest = redis_url.partition("://")
    schemes = {
        "redis": "async+redis",
        "rediss": "async+rediss",
        "unix": "async+redis+unix",
        "redis+unix": "async+redis+unix",
    }
    if not separator or scheme not in schemes:
        raise ConfigurationError(
            f"PLANDECK_REDIS_URL: expected redis://, rediss:// or unix://, got {scheme + separator!r}"
        )
    return f"{schemes[scheme]}://{rest}"


def _parse(variable: str, value: str) -> tuple[RateLimitItem, ...]:
    try:
        items = tuple(parse_many(value))
    except ValueError as exc:
        raise ConfigurationError(
            f"{variable}: {value!r} is not a rate limit such as '10 per minute;50 per hour'"
        ) from exc
    if not items or any(item.amount < 1 for item in items):
        raise ConfigurationError(f"{variable}: {value!r} must allow at least one request")
    return items


def parse_limits(
    settings: Settings,
) -> tuple[tuple[RateLimitItem, ...], tuple[RateLimitItem, ...], tuple[RateLimitItem, ...]]:
    """The (per-IP, per-user, login) limits; ``ConfigurationError`` names a malformed one."""
    section = settings.rate_limit
    return (
        _parse("PLANDECK_RATE_LIMIT_PER_IP", section.per_ip),
        _parse("PLANDECK_RATE_LIMIT_PER_USER", section.per_user),
        _parse("PLANDECK_RATE_LIMIT_LOGIN", section.login),
    )


def _credential(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    cookie = b""
    for name, value in headers:
        if name == b"authorization":
            return value
        if name == b"cookie":
            cookie += b";" + value
    if SESSION_COOKIE in cookie:
        for part in cookie.split(b";"):
            key, _, value = part.strip().partition(b"=")
            if key == SESSION_COOKIE and value:
                return value
    return None


def _retry_after(item: RateLimitItem, window: tuple[int, float, int, float]) -> int:
    """Whole seconds until ``item`` admits one more request; at least 1.

    The sliding window counter counts ``previous * previous_ttl / expiry + current``:
    the previous window weighs the share of it still inside the sliding window, which
    shrinks as the current window runs out (``previous_ttl``).
    """
    previous, previous_ttl, current, current_ttl = window
    expiry, limit = item.get_expiry(), item.amount
    if current < limit:
        # Wait until the previous window's weight falls below what is left.
        wait = previous_ttl - (limit - current) * expiry / previous if previous else 0.0
    else:
        # Wait for the current window to end, then for it to weigh less than the limit.
        wait = max(current_ttl - expiry, 0.0) + expiry * (1 - limit / current)
    return max(1, math.floor(wait) + 1)


_Check = tuple[str, tuple[RateLimitItem, ...], str]


class RateLimitMiddleware:
    """Refuses requests over a limit with 429 problem+json and ``Retry-After``.

    ``key_prefix`` namespaces the Redis keys (tests use their own); ``on_refused`` is
    called with the limit's name for each refusal, for metrics.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: Settings,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        on_refused: OnRefused | None = None,
    ) -> None:
        self.app = app
        self.enabled = settings.rate_limit.enabled
        self.on_refused = on_refused
        self._per_ip, self._per_user, self._login = parse_limits(settings)
        uri = storage_uri(settings.redis_url)
        self.storage: MemoryStorage | RedisStorage
        if uri.startswith("async+memory"):
            self.storage = MemoryStorage()
        else:
            self.storage = RedisStorage(
                uri,
                implementation="redispy",
                key_prefix=key_prefix,
                wrap_exceptions=True,
                socket_connect_timeout=_REDIS_TIMEOUT_SECONDS,
                socket_timeout=_REDIS_TIMEOUT_SECONDS,
            )
        self._limiter = SlidingWindowCounterRateLimiter(self.storage)
        self._unchecked_until = 0.0
        self._storage_failing = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.enabled:
            if scope["type"] == "lifespan":
                send = self._closing_on_shutdown(send)
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        login = path in LOGIN_PATHS and scope["method"] == "POST"
        if not (login or path.startswith("/api/")) or self._unchecked_until > time.monotonic():
            await self.app(scope, receive, send)
            return

        client = scope.get("client")
        address = client[0] if client else "unknown"
        checks: list[_Check] = []
        if login:
            checks.append(("login", self._login, address))
        checks.append(("ip", self._per_ip, address))
        if (credential := _credential(scope["headers"])) is not None:
            checks.append(("user", self._per_user, hashlib.sha256(credential).hexdigest()))

        try:
            refused = await self._first_refusal(checks)
        except StorageError as exc:
            self._fail_open(exc)
            refused = None
        else:
            if self._storage_failing:
                self._storage_failing = False
                logger.info("rate limit storage reachable again; limits apply")
        if refused is None:
            await self.app(scope, receive, send)
            return

        name, retry_after = refused
        RATE_LIMIT_REFUSALS.labels(name).inc()
        if self.on_refused is not None:
            self.on_refused(name)
        response = problem_response(
            429,
            "Too many requests",
            f"{_DETAILS[name]}; try again in {retry_after} s",
            slug="too-many-requests",
            instance=path,
            headers={"retry-after": str(retry_after)},
        )
        await response(scope, receive, send)

    async def _first_refusal(self, checks: list[_Check]) -> tuple[str, int] | None:
        """Hit each limit in turn; the name and Retry-After of the first that refuses.

        Hits stop at the first refusal, and a refused hit is not counted, so a client
        hammering a closed limit does not push its reopening further away.
        """
        for name, items, identity in checks:
            for item in items:
                if not await self._limiter.hit(item, name, identity):
                    window = await self.storage.get_sliding_window(
                        item.key_for(name, identity), item.get_expiry()
                    )
                    return name, _retry_after(item, window)
        return None

    def _fail_open(self, exc: StorageError) -> None:
        self._unchecked_until = time.monotonic() + STORAGE_RETRY_SECONDS
        if not self._storage_failing:
            self._storage_failing = True
            logger.warning(
                "rate limit storage unreachable (%s); requests pass unchecked, retrying in %.0f s",
                exc.storage_error,
                STORAGE_RETRY_SECONDS,
            )

    def _closing_on_shutdown(self, send: Send) -> Send:
        async def send_closing(message: Message) -> None:
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                await self.aclose()
            await send(message)

        return send_closing

    async def aclose(self) -> None:
        """Close the Redis connections; done at lifespan shutdown."""
        if isinstance(self.storage, RedisStorage) and isinstance(
            self.storage.bridge, RedispyBridge
        ):
            await self.storage.bridge.storage.aclose()
