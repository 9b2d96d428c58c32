"""``/metrics``: what it counts, who may read it, and several workers adding up."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from plandeck.app import create_app
from plandeck.config import MetricsSettings, Settings
from tests.databases import SERVER_KINDS, TestDatabase
from tests.processes import PLANDECK, env_for, free_port, running
from tests.ratelimits import within_one_window

pytestmark = pytest.mark.slow

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def series(samples: Samples, name: str) -> list[dict[str, str]]:
    return [dict(labels) for sample_name, labels in samples if sample_name == name]


@dataclass
class Server:
    base_url: str

    def scrape(self) -> Samples:
        # A new connection each time: with several workers, any of them may answer.
        response = httpx.get(self.base_url + "/metrics", headers={"Connection": "close"})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain; version=")
        return parse(response.text)


@pytest.fixture(scope="module")
async def metrics_database(
    tmp_path_factory: pytest.TempPathFactory, _postgres_checked: None
) -> AsyncIterator[TestDatabase]:
    db = await TestDatabase.create(SERVER_KINDS[0], tmp_path_factory.mktemp("metrics-db"))
    yield db
    await db.drop()


@pytest.fixture(scope="module")
def server(
    metrics_database: TestDatabase, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """One process, default access (loopback), a login limit of 3 a minute."""
    workdir = tmp_path_factory.mktemp("metrics")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = env_for(
        metrics_database.url,
        workdir,
        PLANDECK_PASSWORD_HASHING="fast",
        PLANDECK_RATE_LIMIT_LOGIN="3 per minute",
    )
    with running(
        [PLANDECK, "serve", "--port", str(port)], env=env, cwd=workdir, ready_url=base + "/healthz"
    ):
        yield Server(base)


class TestScrape:
    def test_requests_are_counted_by_route_template_and_status(self, server: Server) -> None:
        before = server.scrape()

        for key in ("ALPHA", "BETA"):
            assert httpx.get(f"{server.base_url}/api/v1/projects/{key}").status_code == 401
        assert httpx.get(f"{server.base_url}/no-such-page").status_code == 404

        after = server.scrape()
        route = "/api/v1/projects/{key}"
        labels = {"method": "GET", "route": route, "status": "401"}
        assert value(after, "plandeck_http_requests_total", **labels) - value(
            before, "plandeck_http_requests_total", **labels
        ) == pytest.approx(2)
        unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
        assert value(after, "plandeck_http_requests_total", **unmatched) - value(
            before, "plandeck_http_requests_total", **unmatched
        ) == pytest.approx(1)
        histogram = {"method": "GET", "route": route}
        assert value(after, "plandeck_http_request_duration_seconds_count", **histogram) - value(
            before, "plandeck_http_request_duration_seconds_count", **histogram
        ) == pytest.approx(2)
        # No concrete path becomes a label.
        assert not [
            s for s in series(after, "plandeck_http_requests_total") if "ALPHA" in s["route"]
        ]

    def test_scrape_time_gauges(self, server: Server) -> None:
        samples = server.scrape()

        assert value(samples, "plandeck_ready", check="database") == 1
        assert value(samples, "plandeck_db_pool_size") == 20  # PLANDECK_DATABASE_POOL_SIZE
        in_use = value(samples, "plandeck_db_pool_connections", state="in_use")
        idle = value(samples, "plandeck_db_pool_connections", state="idle")
        assert in_use >= 0
        assert idle >= 1  # the readiness check's connection, back in the pool
        assert {s["state"] for s in series(samples, "plandeck_db_pool_connections")} == {
            "in_use",
            "idle",
            "overflow",
        }

    def test_not_in_the_openapi_schema(self, server: Server) -> None:
        schema = httpx.get(server.base_url + "/api/v1/openapi.json").json()

        assert "/metrics" not in schema["paths"]


class TestCounters:
    def test_login_failures_and_rate_limit_refusals(self, server: Server) -> None:
        before = server.scrape()
        wrong = {"email": "nobody@example.com", "password": f"wrong-{uuid.uuid4().hex}"}

        within_one_window(20)
        with httpx.Client(base_url=server.base_url) as client:
            # The limit is 3 sign-in attempts a minute from one address.
            assert client.post("/api/v1/auth/login", json=wrong).status_code == 401
            assert client.post("/api/v1/auth/login", json=wrong).status_code == 401
            assert client.post("/login", data=wrong).status_code == 401
            refused = client.post("/api/v1/auth/login", json=wrong)
        assert refused.status_code == 429

        after = server.scrape()

        def delta(name: str, **labels: str) -> float:
            return value(after, name, **labels) - value(before, name, **labels)

        assert delta("plandeck_login_failures_total", channel="api") == 2
        assert delta("plandeck_login_failures_total", channel="web") == 1
        assert delta("plandeck_rate_limit_refusals_total", scope="login") == 1
        assert delta("plandeck_rate_limit_refusals_total", scope="ip") == 0
        # Refused before routing, and still counted under the route it was for.
        refused_login = {"method": "POST", "route": "/api/v1/auth/login", "status": "429"}
        assert delta("plandeck_http_requests_total", **refused_login) == 1


class TestAccess:
    """The access rules on our own app in this process, with a client address of our choosing."""

    async def test_refused_from_an_address_not_allowed(
        self, metrics_database: TestDatabase
    ) -> None:
        async with _client(metrics_database, "203.0.113.7") as client:
            refused = await client.get("/metrics")
            unknown = await client.get("/no-such-path")

        assert refused.status_code == 404
        assert refused.json() | {"instance": None} == unknown.json() | {"instance": None}

    async def test_allowed_from_a_configured_network(self, metrics_database: TestDatabase) -> None:
        async with _client(
            metrics_database, "10.1.2.3", allowed=["192.168.0.0/16", "10.0.0.0/8"]
        ) as client:
            response = await client.get("/metrics")

        assert response.status_code == 200
        assert "plandeck_ready" in response.text

    async def test_loopback_refused_when_no_address_is_allowed(
        self, metrics_database: TestDatabase
    ) -> None:
        async with _client(metrics_database, "127.0.0.1", allowed=[]) as client:
            response = await client.get("/metrics")

        assert response.status_code == 404

    async def test_token(self, metrics_database: TestDatabase) -> None:
        async with _client(
            metrics_database, "203.0.113.7", token="scrape-token-0123456789"
        ) as client:
            missing = await client.get("/metrics")
            wrong = await client.get(
                "/metrics", headers={"Authorization": "Bearer scrape-token-0123456780"}
            )
            right = await client.get(
                "/metrics", headers={"Authorization": "Bearer scrape-token-0123456789"}
            )
            any_case = await client.get(
                "/metrics", headers={"Authorization": "bearer scrape-token-0123456789"}
            )

        assert (missing.status_code, wrong.status_code) == (404, 404)
        assert (right.status_code, any_case.status_code) == (200, 200)
        assert "plandeck_http_requests_total" in right.text


class _client:  # noqa: N801 - used as a context manager, like a function
    """An HTTP client for ``create_app`` in this process (lifespan run), as seen from ``address``."""

    def __init__(
        self,
        database: TestDatabase,
        address: str,
        *,
        allowed: list[str] | None = None,
        token: str | None = None,
    ) -> None:
        metrics = MetricsSettings(
            token=SecretStr(token) if token else None,
            allowed_addresses=["127.0.0.1/32"] if allowed is None else allowed,
        )
        settings = Settings(
            database={"url": database.url},  # type: ignore[arg-type]
            rate_limit={"enabled": False},  # type: ignore[arg-type]
            metrics=metrics,
        )
        self._app = create_app(settings)
        self._address = address

    async def __aenter__(self) -> httpx.AsyncClient:
        self._lifespan = self._app.router.lifespan_context(self._app)
        await self._lifespan.__aenter__()
        transport = httpx.ASGITransport(app=self._app, client=(self._address, 40000))
        self._client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        return self._client

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()
        await self._lifespan.__aexit__(None, None, None)


def test_two_workers_add_up(metrics_database: TestDatabase, tmp_path: Path) -> None:
    """uvicorn with two workers sharing PROMETHEUS_MULTIPROC_DIR: any worker's scrape shows
    the requests of both."""
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = env_for(
        metrics_database.url,
        tmp_path,
        PROMETHEUS_MULTIPROC_DIR=str(multiproc),
        PLANDECK_RATE_LIMIT_ENABLED="false",
    )
    args = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "plandeck.app:create_app",
        "--workers",
        "2",
        "--port",
        str(port),
        "--no-access-log",
    ]
    server = Server(base)
    with running(args, env=env, cwd=tmp_path, ready_url=base + "/healthz"):
        sent = 0
        pids: set[str] = set()

        def get(_: int) -> None:
            # A new connection per request, so that both workers accept some. A route that
            # running()'s readiness probes do not touch.
            response = httpx.get(base + "/api/v1/projects/KEY", headers={"Connection": "close"})
            assert response.status_code == 401

        with ThreadPoolExecutor(max_workers=8) as pool:
            for _ in range(20):
                list(pool.map(get, range(40)))
                sent += 40
                # Each worker sets its pool gauges (a series labelled by its pid) on requests.
                pids = {s["pid"] for s in series(server.scrape(), "plandeck_db_pool_size")}
                if len(pids) >= 2:
                    break
        assert len(pids) == 2, f"the requests all went to one worker ({sent} sent)"

        # Whichever worker answers, the counts are the sum over both.
        for _ in range(4):
            samples = server.scrape()
            labels = {"method": "GET", "route": "/api/v1/projects/{key}", "status": "401"}
            assert value(samples, "plandeck_http_requests_total", **labels) == sent
