"""Security headers on every kind of response, and the request body limit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from plandeck.app import create_app
from plandeck.config import ConfigurationError
from plandeck.kit.ratelimit import RateLimitMiddleware
from plandeck.kit.security import (
    CONTENT_SECURITY_POLICY,
    DOCS_CONTENT_SECURITY_POLICY,
    STRICT_TRANSPORT_SECURITY,
    AllowedHostsMiddleware,
    BodySizeLimitMiddleware,
    install_http_hardening,
)
from tests.kit.apps import client_for, make_app, make_settings

EXPECTED = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "x-frame-options": "DENY",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
    "cross-origin-opener-policy": "same-origin",
}


def assert_hardened(response: httpx.Response) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (name, response.status_code)


class TestSecurityHeaders:
    @pytest.mark.parametrize(
        ("method", "path", "status"),
        [
            ("GET", "/api/v1/ping", 200),
            ("GET", "/page", 200),
            ("GET", "/api/v1/nothing-here", 404),
            ("POST", "/api/v1/items", 422),
            ("GET", "/api/v1/boom", 500),
            ("GET", "/static/app.css", 200),
            ("GET", "/static/missing.css", 404),
        ],
    )
    async def test_every_response_carries_the_headers(
        self, tmp_path: Path, method: str, path: str, status: int
    ) -> None:
        (tmp_path / "app.css").write_text("body { margin: 0 }")
        app = make_app(make_settings(), static_dir=tmp_path)
        async with client_for(app) as client:
            response = await client.request(method, path, json={})
        assert response.status_code == status
        assert_hardened(response)

    async def test_the_500_is_still_problem_json(self) -> None:
        async with client_for(make_app(make_settings())) as client:
            response = await client.get("/api/v1/boom")
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == 500

    def test_no_unsafe_inline(self) -> None:
        assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
        assert "unsafe-eval" not in CONTENT_SECURITY_POLICY

    async def test_hsts_only_in_production(self) -> None:
        async with client_for(make_app(make_settings())) as client:
            development = await client.get("/api/v1/ping")
        async with client_for(make_app(make_settings(production=True))) as client:
            production = await client.get("/api/v1/ping")
            production_error = await client.get("/api/v1/nothing-here")
        assert "strict-transport-security" not in development.headers
        assert production.headers["strict-transport-security"] == STRICT_TRANSPORT_SECURITY
        assert production_error.headers["strict-transport-security"] == STRICT_TRANSPORT_SECURITY

    async def test_a_header_the_route_set_is_kept(self) -> None:
        async with client_for(make_app(make_settings())) as client:
            response = await client.get("/api/v1/framed")
        assert response.headers.get_list("x-frame-options") == ["SAMEORIGIN"]
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY

    async def test_docs_get_a_relaxed_policy_in_development_only(self) -> None:
        async with client_for(make_app(make_settings())) as client:
            docs = await client.get("/docs")
            api = await client.get("/api/v1/ping")
        assert docs.status_code == 200
        assert docs.headers["content-security-policy"] == DOCS_CONTENT_SECURITY_POLICY
        assert "https://cdn.jsdelivr.net" in docs.headers["content-security-policy"]
        assert api.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        async with client_for(make_app(make_settings(production=True))) as client:
            production_docs = await client.get("/docs")
        assert production_docs.status_code == 404
        assert production_docs.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


class TestInstall:
    def test_order_rate_limit_outside_body_limit(self) -> None:
        app = make_app(make_settings())
        assert [m.cls for m in app.user_middleware] == [
            RateLimitMiddleware,
            BodySizeLimitMiddleware,
        ]

    def test_disabled_rate_limit_is_not_installed(self) -> None:
        app = make_app(make_settings(enabled=False))
        assert [m.cls for m in app.user_middleware] == [BodySizeLimitMiddleware]

    async def test_plandeck_app(self) -> None:
        settings = make_settings()
        app = create_app(settings)
        if not any(m.cls is BodySizeLimitMiddleware for m in app.user_middleware):
            install_http_hardening(app, settings)  # until create_app does it itself
        async with client_for(app) as client:
            health = await client.get("/healthz")
            missing = await client.get("/api/v1/nothing-here")
            docs = await client.get("/docs")
        assert health.status_code == 200
        assert_hardened(health)
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        assert_hardened(missing)
        assert docs.headers["content-security-policy"] == DOCS_CONTENT_SECURITY_POLICY

    @pytest.mark.parametrize(
        ("field", "value", "variable"),
        [
            ("login", "lots per minute", "PLANDECK_RATE_LIMIT_LOGIN"),
            ("per_ip", "0 per minute", "PLANDECK_RATE_LIMIT_PER_IP"),
            ("redis_url", "memcached://cache:11211", "PLANDECK_REDIS_URL"),
        ],
    )
    def test_malformed_settings_are_refused_at_start(
        self, field: str, value: str, variable: str
    ) -> None:
        settings = make_settings()
        if field == "redis_url":
            settings = settings.model_copy(update={"redis_url": value})
        else:
            section = settings.rate_limit.model_copy(update={field: value})
            settings = settings.model_copy(update={"rate_limit": section})
        with pytest.raises(ConfigurationError, match=variable):
            make_app(settings)


class TestAllowedHosts:
    """Production answers only for PLANDECK_SERVER_ALLOWED_HOSTS ("testserver" here)."""

    async def test_production_refuses_a_foreign_host(self) -> None:
        app = make_app(make_settings(production=True))
        async with client_for(app) as client:
            own = await client.get("/api/v1/ping")
            foreign = await client.get("/api/v1/ping", headers={"Host": "evil.example"})
        assert own.status_code == 200
        assert foreign.status_code == 400
        assert foreign.text == "Invalid host header"
        assert app.state.calls == 1, "the route never ran for the foreign host"
        assert_hardened(foreign)

    async def test_wildcard_subdomains(self) -> None:
        settings = make_settings(production=True)
        server = settings.server.model_copy(update={"allowed_hosts": ["*.example.com"]})
        app = make_app(settings.model_copy(update={"server": server}))
        async with client_for(app) as client:
            sub = await client.get("/api/v1/ping", headers={"Host": "plan.example.com:8443"})
            other = await client.get("/api/v1/ping", headers={"Host": "example.org"})
        assert (sub.status_code, other.status_code) == (200, 400)

    async def test_probes_answer_whatever_the_host(self) -> None:
        settings = make_settings(production=True)
        app = create_app(settings)
        async with client_for(app) as client:
            health = await client.get("/healthz", headers={"Host": "10.1.2.3:8000"})
            page = await client.get("/login", headers={"Host": "10.1.2.3:8000"})
        assert health.status_code == 200
        assert page.status_code == 400

    async def test_development_answers_any_host(self) -> None:
        app = make_app(make_settings())
        async with client_for(app) as client:
            response = await client.get("/api/v1/ping", headers={"Host": "anything.example"})
        assert response.status_code == 200
        assert AllowedHostsMiddleware not in [m.cls for m in app.user_middleware]

    def test_host_check_is_outside_the_rate_limiter(self) -> None:
        app = make_app(make_settings(production=True))
        assert [m.cls for m in app.user_middleware] == [
            AllowedHostsMiddleware,
            RateLimitMiddleware,
            BodySizeLimitMiddleware,
        ]


LIMIT = 64 * 1024


async def _chunks(size: int, count: int, sent: list[int]) -> AsyncIterator[bytes]:
    for _ in range(count):
        sent.append(size)
        yield b"x" * size


class TestBodySizeLimit:
    async def test_under_the_limit_passes(self) -> None:
        app = make_app(make_settings(max_body_bytes=LIMIT))
        async with client_for(app) as client:
            response = await client.post("/api/v1/upload", content=b"x" * LIMIT)
        assert response.status_code == 200
        assert response.json() == {"size": LIMIT}

    async def test_declared_length_over_the_limit_is_refused_before_the_app(self) -> None:
        app = make_app(make_settings(max_body_bytes=LIMIT))
        async with client_for(app) as client:
            response = await client.post("/api/v1/upload", content=b"x" * (LIMIT + 1))
        assert response.status_code == 413
        assert app.state.calls == 0
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["connection"] == "close"
        problem = response.json()
        assert problem["status"] == 413
        assert problem["instance"] == "/api/v1/upload"
        assert "64 KiB (65536 bytes)" in problem["detail"]
        assert problem["max_bytes"] == LIMIT
        assert_hardened(response)

    async def test_streamed_body_is_cut_off_once_it_passes_the_limit(self) -> None:
        app = make_app(make_settings(max_body_bytes=LIMIT))
        sent: list[int] = []
        # 100 MiB on offer; the middleware must stop reading after about 64 KiB.
        body = _chunks(16 * 1024, 6400, sent)
        async with client_for(app) as client:
            response = await client.post("/api/v1/upload", content=body)
        assert response.status_code == 413
        assert app.state.calls == 1
        assert sum(sent) <= LIMIT + 16 * 1024
        assert response.headers["content-type"] == "application/problem+json"
        assert_hardened(response)

    async def test_streamed_body_under_the_limit_passes(self) -> None:
        app = make_app(make_settings(max_body_bytes=LIMIT))
        async with client_for(app) as client:
            response = await client.post("/api/v1/upload", content=_chunks(1024, 64, []))
        assert response.status_code == 200
        assert response.json() == {"size": LIMIT}

    async def test_streamed_json_over_the_limit_is_413_not_400(self) -> None:
        # FastAPI turns any error while reading a body into a 400; the 413 must win.
        app = make_app(make_settings(max_body_bytes=LIMIT))
        async with client_for(app) as client:
            response = await client.post(
                "/api/v1/items",
                content=_chunks(16 * 1024, 10, []),
                headers={"content-type": "application/json"},
            )
        assert response.status_code == 413
        assert response.json()["status"] == 413

    async def test_megabyte_limits_are_spelled_in_mib(self) -> None:
        app = make_app(make_settings(max_body_bytes=10 * 1024 * 1024))
        async with client_for(app) as client:
            response = await client.post(
                "/api/v1/upload", headers={"content-length": str(11 * 1024 * 1024)}, content=b""
            )
        assert response.status_code == 413
        assert "10 MiB (10485760 bytes)" in response.json()["detail"]
