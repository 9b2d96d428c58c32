"""Several plandeck processes behind one Redis share one limit, as behind a load balancer."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from plandeck.app import create_app
from plandeck.kit.ratelimit import DEFAULT_KEY_PREFIX, RateLimitMiddleware
from tests.kit.apps import make_settings
from tests.processes import env_for, plandeck_server
from tests.ratelimits import within_one_window

pytestmark = pytest.mark.slow

REDIS_URL = "redis://127.0.0.1:6379/0"
LOGIN = "/api/v1/auth/login"


def _delete_keys(address: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{DEFAULT_KEY_PREFIX}:*/{address}/*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def address() -> Iterator[str]:
    """A loopback source address of the test's own, so its limits are keys of its own.

    The servers take their key prefix from settings, so the test cannot give them one;
    every 127.x.y.z address reaches them on Linux and names the client instead.
    """
    rng = random.SystemRandom()
    address = f"127.{rng.randint(1, 254)}.{rng.randint(1, 254)}.{rng.randint(1, 254)}"
    _delete_keys(address)
    yield address
    _delete_keys(address)


def test_two_servers_share_one_login_limit(tmp_path: Path, address: str) -> None:
    installed = [m.cls for m in create_app(make_settings()).user_middleware]
    assert RateLimitMiddleware in installed, (
        "create_app() must call install_http_hardening(app, settings) from plandeck.kit.security"
    )
    env = env_for(
        None,
        tmp_path,
        PLANDECK_REDIS_URL=REDIS_URL,
        PLANDECK_RATE_LIMIT_LOGIN="5 per minute",
    )
    transport = httpx.HTTPTransport(local_address=address)
    with (
        plandeck_server(env=env, cwd=tmp_path) as first,
        plandeck_server(env=env, cwd=tmp_path) as second,
        httpx.Client(transport=transport, timeout=10) as client,
    ):
        # Whatever the endpoint answers (404 before it exists), each POST is an attempt.
        within_one_window(20)
        allowed = [client.post(base + LOGIN, json={}) for base in (first, second) * 2 + (first,)]
        assert 429 not in [r.status_code for r in allowed]
        refused = [client.post(second + LOGIN, json={}), client.post(first + LOGIN, json={})]

    assert [r.status_code for r in refused] == [429, 429]
    for response in refused:
        assert response.headers["content-type"] == "application/problem+json"
        assert 1 <= int(response.headers["retry-after"]) <= 60
