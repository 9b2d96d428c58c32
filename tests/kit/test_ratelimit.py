"""Rate limits: sign-in attempts, per address, per credential; memory and Redis storage."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Callable, MutableMapping
from typing import Any

import httpx
import limits.aio.storage.memory
import pytest
import redis.asyncio
from fastapi import FastAPI
from limits import parse
from limits.errors import StorageError

from plandeck.config import Settings
from plandeck.kit import ratelimit
from plandeck.kit.ratelimit import LOGIN_PATHS, RateLimitMiddleware, _retry_after, storage_uri
from tests.kit.apps import CLIENT_IP, client_for, make_app, make_settings
from tests.kit.test_security import assert_hardened
from tests.ratelimits import within_one_window

REDIS_URL = "redis://127.0.0.1:6379/0"
LOGIN = "/api/v1/auth/login"


class Clock:
    """Stands in for the ``time`` module inside limits' memory storage."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Memory-storage windows are aligned on the wall clock; tests set it: 20 s into a minute."""
    fake = Clock(60 * 28_000_000 + 20.0)
    monkeypatch.setattr(limits.aio.storage.memory, "time", fake)
    return fake


async def _post_many(client: httpx.AsyncClient, path: str, times: int) -> list[int]:
    return [(await client.post(path)).status_code for _ in range(times)]


class TestLoginLimit:
    async def test_refused_with_retry_after_once_used_up(self, clock: Clock) -> None:
        app = make_app(make_settings(login="3 per minute"))
        async with client_for(app) as client:
            # No such route in this app: 404s count all the same, the limiter runs first.
            assert await _post_many(client, LOGIN, 3) == [404, 404, 404]
            response = await client.post(LOGIN)
        assert response.status_code == 429
        # The three attempts fall out of the sliding window when this minute ends.
        assert response.headers["retry-after"] == "41"
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["status"] == 429
        assert problem["instance"] == LOGIN
        assert problem["detail"] == "too many sign-in attempts from this address; try again in 41 s"
        assert_hardened(response)

    async def test_reopens_when_retry_after_has_passed(self, clock: Clock) -> None:
        app = make_app(make_settings(login="3 per minute"))
        async with client_for(app) as client:
            await _post_many(client, LOGIN, 3)
            retry_after = int((await client.post(LOGIN)).headers["retry-after"])
            clock.now += retry_after - 1
            assert (await client.post(LOGIN)).status_code == 429
            clock.now += 1
            assert (await client.post(LOGIN)).status_code == 404

    @pytest.mark.parametrize("path", sorted(LOGIN_PATHS))
    async def test_every_sign_in_path_is_limited(self, clock: Clock, path: str) -> None:
        app = make_app(make_settings(login="1 per minute"))
        async with client_for(app) as client:
            assert (await client.post(path)).status_code != 429
            assert (await client.post(path)).status_code == 429

    async def test_sign_in_paths_share_one_limit(self, clock: Clock) -> None:
        app = make_app(make_settings(login="2 per minute"))
        async with client_for(app) as client:
            await client.post("/api/v1/auth/token")
            await client.post("/login")
            assert (await client.post(LOGIN)).status_code == 429

    async def test_other_addresses_are_not_affected(self, clock: Clock) -> None:
        app = make_app(make_settings(login="2 per minute"))
        async with client_for(app, "198.51.100.1") as client:
            assert await _post_many(client, LOGIN, 3) == [404, 404, 429]
        async with client_for(app, "198.51.100.2") as client:
            assert await _post_many(client, LOGIN, 2) == [404, 404]

    async def test_only_posts_are_attempts(self, clock: Clock) -> None:
        app = make_app(make_settings(login="1 per minute"))
        async with client_for(app) as client:
            statuses = [(await client.get(path)).status_code for path in ("/login", LOGIN) * 3]
        assert 429 not in statuses

    async def test_refusals_are_reported(self, clock: Clock) -> None:
        refused: list[str] = []
        app = make_app(make_settings(login="1 per minute"), on_refused=refused.append)
        async with client_for(app) as client:
            await _post_many(client, LOGIN, 3)
        assert refused == ["login", "login"]


class TestGeneralLimits:
    async def test_per_address_limit_covers_the_api(self, clock: Clock) -> None:
        app = make_app(make_settings(per_ip="2 per minute"))
        async with client_for(app) as client:
            statuses = [(await client.get("/api/v1/ping")).status_code for _ in range(3)]
            refused = await client.get("/api/v1/ping")
        assert statuses == [200, 200, 429]
        assert refused.json()["detail"].startswith("too many requests from this address")
        assert app.state.calls == 2

    async def test_pages_and_static_files_are_not_limited(self, clock: Clock) -> None:
        app = make_app(make_settings(per_ip="1 per minute"))
        async with client_for(app) as client:
            statuses = [(await client.get("/page")).status_code for _ in range(5)]
        assert statuses == [200] * 5

    async def test_per_credential_limit_follows_the_token_across_addresses(
        self, clock: Clock
    ) -> None:
        app = make_app(make_settings(per_user="2 per minute"))
        alice = {"authorization": "Bearer alice-token"}
        async with client_for(app, "198.51.100.1") as client:
            assert (await client.get("/api/v1/ping", headers=alice)).status_code == 200
        async with client_for(app, "198.51.100.2") as client:
            assert (await client.get("/api/v1/ping", headers=alice)).status_code == 200
            refused = await client.get("/api/v1/ping", headers=alice)
            other = await client.get("/api/v1/ping", headers={"authorization": "Bearer bob"})
            anonymous = await client.get("/api/v1/ping")
        assert refused.status_code == 429
        assert refused.json()["detail"].startswith("too many requests with this credential")
        assert (other.status_code, anonymous.status_code) == (200, 200)

    async def test_session_cookie_is_a_credential(self, clock: Clock) -> None:
        app = make_app(make_settings(per_user="1 per minute"))
        cookies = {"cookie": "theme=dark; plandeck_session=abc123"}
        async with client_for(app, "198.51.100.1") as client:
            assert (await client.get("/api/v1/ping", headers=cookies)).status_code == 200
        async with client_for(app, "198.51.100.2") as client:
            assert (await client.get("/api/v1/ping", headers=cookies)).status_code == 429
            other = {"cookie": "plandeck_session=def456"}
            assert (await client.get("/api/v1/ping", headers=other)).status_code == 200

    async def test_disabled_means_no_limit(self, clock: Clock) -> None:
        settings = make_settings(enabled=False, per_ip="1 per minute", login="1 per minute")
        app = make_app(settings)
        async with client_for(app) as client:
            assert await _post_many(client, LOGIN, 5) == [404] * 5
            statuses = [(await client.get("/api/v1/ping")).status_code for _ in range(5)]
        assert statuses == [200] * 5


class TestRetryAfter:
    """Seconds until the sliding window counter admits one more request."""

    item = parse("10 per minute")

    def test_current_window_full_and_previous_empty(self) -> None:
        # 25 s left in the window; the 10 hits then weigh 10 * (60 - s) / 60 < 10 at once.
        assert _retry_after(self.item, (0, 0.0, 10, 85.0)) == 26

    def test_previous_window_has_to_fade(self) -> None:
        # 12 * ttl / 60 + 4 must fall below 10: ttl < 30, 15 s from now.
        assert _retry_after(self.item, (12, 45.0, 4, 105.0)) == 16

    def test_current_window_over_full(self) -> None:
        # Window ends in 25 s, then 20 * (60 - s) / 60 < 10 needs s > 30.
        assert _retry_after(self.item, (0, 0.0, 20, 85.0)) == 56

    def test_never_below_one_second(self) -> None:
        assert _retry_after(self.item, (10, 0.2, 0, 0.0)) == 1


class TestStorageUri:
    @pytest.mark.parametrize(
        ("redis_url", "uri"),
        [
            (None, "async+memory://"),
            ("redis://cache:6379/0", "async+redis://cache:6379/0"),
            ("rediss://:pw@cache:6380/1", "async+rediss://:pw@cache:6380/1"),
            ("unix:///run/redis.sock?db=2", "async+redis+unix:///run/redis.sock?db=2"),
        ],
    )
    def test_derived_from_the_redis_url(self, redis_url: str | None, uri: str) -> None:
        assert storage_uri(redis_url) == uri


LimitedApp = Callable[[Settings], RateLimitMiddleware]


@pytest.fixture
async def limited() -> AsyncIterator[LimitedApp]:
    """Rate-limited apps under a Redis key prefix of their own, removed afterwards."""
    prefix = f"plandeck-test-{uuid.uuid4().hex}"
    made: list[RateLimitMiddleware] = []

    def limited_app(settings: Settings) -> RateLimitMiddleware:
        # The limiter is wrapped by hand to give it the test's own key prefix.
        inner: FastAPI = make_app(make_settings(enabled=False))
        middleware = RateLimitMiddleware(inner, settings=settings, key_prefix=prefix)
        made.append(middleware)
        return middleware

    yield limited_app
    for middleware in made:
        await middleware.aclose()
    client = redis.asyncio.Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def _client(app: RateLimitMiddleware, ip: str = CLIENT_IP) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(ip, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


class TestRedisStorage:
    async def test_two_app_instances_share_one_limit(self, limited: LimitedApp) -> None:
        settings = make_settings(redis_url=REDIS_URL, login="3 per minute")
        first, second = limited(settings), limited(settings)
        within_one_window(10)
        async with _client(first) as one, _client(second) as two:
            statuses = [
                (await one.post(LOGIN)).status_code,
                (await two.post(LOGIN)).status_code,
                (await one.post(LOGIN)).status_code,
            ]
            refused = [await two.post(LOGIN), await one.post(LOGIN)]
        assert statuses == [404, 404, 404]
        assert [r.status_code for r in refused] == [429, 429]
        assert 1 <= int(refused[0].headers["retry-after"]) <= 60

    async def test_keys_carry_the_prefix(self, limited: LimitedApp) -> None:
        app = limited(make_settings(redis_url=REDIS_URL))
        async with _client(app) as client:
            await client.post(LOGIN)
        assert isinstance(app.storage, limits.aio.storage.RedisStorage)
        client_redis = redis.asyncio.Redis.from_url(REDIS_URL)
        try:
            keys = [
                k async for k in client_redis.scan_iter(match=f"{app.storage.bridge.key_prefix}:*")
            ]
        finally:
            await client_redis.aclose()
        assert any(CLIENT_IP.encode() in key and b"login" in key for key in keys)

    async def test_unreachable_redis_fails_open(
        self, limited: LimitedApp, caplog: pytest.LogCaptureFixture
    ) -> None:
        settings = make_settings(redis_url="redis://127.0.0.1:1/0", login="1 per minute")
        refused: list[str] = []
        app = limited(settings)
        app.on_refused = refused.append
        with caplog.at_level(logging.WARNING, logger="plandeck.kit.ratelimit"):
            async with _client(app) as client:
                statuses = await _post_many(client, LOGIN, 3)
        assert statuses == [404, 404, 404]
        assert refused == []
        warnings = [r for r in caplog.records if r.name == "plandeck.kit.ratelimit"]
        assert len(warnings) == 1
        assert "requests pass unchecked" in warnings[0].getMessage()

    async def test_limits_apply_again_once_redis_answers(
        self, limited: LimitedApp, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(ratelimit, "STORAGE_RETRY_SECONDS", 0.0)
        app = limited(make_settings(redis_url=REDIS_URL, login="1 per minute"))
        hit = app._limiter.hit
        outage = [StorageError(ConnectionError("connection refused"))]

        async def flaky_hit(*args: Any, **kwargs: Any) -> bool:
            if outage:
                raise outage.pop()
            return await hit(*args, **kwargs)

        monkeypatch.setattr(app._limiter, "hit", flaky_hit)
        within_one_window(10)
        with caplog.at_level(logging.INFO, logger="plandeck.kit.ratelimit"):
            async with _client(app) as client:
                statuses = await _post_many(client, LOGIN, 3)
        assert statuses == [404, 404, 429]
        messages = [r.getMessage() for r in caplog.records if r.name == "plandeck.kit.ratelimit"]
        assert len(messages) == 2
        assert "unreachable" in messages[0]
        assert "reachable again" in messages[1]

    async def test_redis_connections_close_at_shutdown(
        self, limited: LimitedApp, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        app = limited(make_settings(redis_url=REDIS_URL))
        closed: list[bool] = []
        aclose = app.aclose

        async def spy() -> None:
            closed.append(True)
            await aclose()

        monkeypatch.setattr(app, "aclose", spy)
        events = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
        sent: list[str] = []

        async def receive() -> dict[str, str]:
            return next(events)

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(message["type"])

        await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
        assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
        assert closed == [True]
