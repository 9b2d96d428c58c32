"""``plandeck serve --production`` as an operator runs it: real processes on loopback."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.databases import SERVER_KINDS, TestDatabase
from tests.processes import PLANDECK, env_for, free_port, run_cli, stop, wait_for_http
from tests.ratelimits import within_one_window

pytestmark = pytest.mark.slow

HOST = "plan.example.test"
REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def server_database(fresh_database: TestDatabase) -> TestDatabase:
    if fresh_database.kind not in SERVER_KINDS:
        pytest.skip("served from PostgreSQL, as in production")
    return fresh_database


def production_env(url: str | None, workdir: Path, **extra: str) -> dict[str, str]:
    return env_for(
        url,
        workdir,
        PLANDECK_SECRET_KEY=secrets.token_urlsafe(48),
        PLANDECK_SERVER_ALLOWED_HOSTS=HOST,
        PLANDECK_RATE_LIMIT_PER_IP="3 per minute",
        **extra,
    )


@contextmanager
def production_server(
    env: dict[str, str], cwd: Path
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``plandeck serve --production`` on a free port; its base URL and process.

    Each worker imports the whole app anew, which takes seconds on a busy two-core machine,
    hence the longer wait than ``tests.processes.running`` gives.
    """
    port = free_port()
    log_path = cwd / f"server-{port}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [PLANDECK, "serve", "--production", "--port", str(port)],
            env=env,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for_http(base + "/healthz", process, log_path, timeout=120)
            yield base, process
        finally:
            stop(process, timeout=30)


def _spawned_workers(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    workers = []
    for child in children:
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        if b"spawn_main" in cmdline:
            workers.append(int(child))
    return workers


def _wait_until_a_worker_has_read_the_request(port: int, timeout: float = 20) -> None:
    """Wait until the one connection to ``port`` is accepted and its bytes read.

    uvicorn's graceful shutdown finishes requests it has begun, but closes a connection whose
    request it has not yet read (and one still in the accept queue goes with the socket), so
    the signal must come after that. On a busy machine a fixed pause was not always enough
    (seen once in CI). In /proc/net/tcp a listening socket's receive queue is its accept
    backlog, an established one's the bytes nobody has read yet.
    """
    listening, established = "0A", "01"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        queues: dict[str, list[int]] = {listening: [], established: []}
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] in queues:
                queues[fields[3]].append(int(fields[4].split(":")[1], 16))
        if queues[listening] == [0] and queues[established] == [0]:
            return
        time.sleep(0.05)
    raise AssertionError(f"no worker read the request on port {port} within {timeout} s")


def _documentation_address() -> str:
    """An address no other test (nor an earlier run, within the limit's minute) used."""
    return f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"


def _api(base: str, client_address: str) -> int:
    headers = {"Host": HOST, "X-Forwarded-For": client_address}
    return httpx.get(base + "/api/v1/no-such-thing", headers=headers).status_code


class TestProductionServe:
    def test_an_incomplete_configuration_is_refused_in_one_line(self, tmp_path: Path) -> None:
        result = run_cli("serve", "--production", env=env_for(None, tmp_path), cwd=tmp_path)
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        for variable in (
            "PLANDECK_SECRET_KEY",
            "PLANDECK_DATABASE_URL",
            "PLANDECK_SERVER_ALLOWED_HOSTS",
        ):
            assert variable in lines[0]
        assert not (tmp_path / "plandeck.sqlite3").exists()

    def test_workers_hosts_and_trusted_proxy(
        self, server_database: TestDatabase, tmp_path: Path
    ) -> None:
        env = production_env(
            server_database.url,
            tmp_path,
            PLANDECK_SERVER_WORKERS="2",
            PLANDECK_REDIS_URL=REDIS_URL,  # the two workers share the rate limit
        )
        with production_server(env, tmp_path) as (base, process):
            assert len(_spawned_workers(process.pid)) == 2
            ready = httpx.get(base + "/readyz")
            assert ready.json()["checks"] == {"database": "ok", "redis": "ok"}

            assert httpx.get(base + "/login", headers={"Host": HOST}).status_code == 200
            assert httpx.get(base + "/login", headers={"Host": "evil.example"}).status_code == 400
            assert httpx.get(base + "/login").status_code == 400, "an IP is no allowed host"

            # Loopback is a trusted proxy by default: X-Forwarded-For names the client.
            first, second = _documentation_address(), _documentation_address()
            within_one_window(10)
            assert [_api(base, first) for _ in range(3)] == [404, 404, 404]
            assert _api(base, first) == 429
            assert _api(base, second) == 404, "another client behind the same proxy"

    def test_forwarded_headers_from_an_untrusted_address_are_ignored(
        self, server_database: TestDatabase, tmp_path: Path
    ) -> None:
        env = production_env(
            server_database.url,
            tmp_path,
            PLANDECK_SERVER_WORKERS="1",
            PLANDECK_SERVER_TRUSTED_PROXIES="192.0.2.1",
        )
        with production_server(env, tmp_path) as (base, _process):
            # Each request claims another client; all are counted against 127.0.0.1.
            within_one_window(10)
            statuses = [_api(base, _documentation_address()) for _ in range(4)]
        assert statuses == [404, 404, 404, 429]

    def test_shutdown_finishes_the_request_in_flight(
        self, server_database: TestDatabase, tmp_path: Path
    ) -> None:
        env = production_env(server_database.url, tmp_path, PLANDECK_SERVER_WORKERS="2")
        started = threading.Event()
        outcome: dict[str, object] = {}

        def slow_body() -> Iterator[bytes]:
            yield b"email=someone%40example.com"
            started.set()
            time.sleep(2)  # the server is told to stop meanwhile
            yield b"&password=not-the-password"

        def post() -> None:
            try:
                response = httpx.post(
                    base + "/login",
                    content=slow_body(),
                    headers={"Host": HOST, "Content-Type": "application/x-www-form-urlencoded"},
                    timeout=30,
                )
                outcome["status"] = response.status_code
            except httpx.HTTPError as exc:
                outcome["error"] = repr(exc)

        with production_server(env, tmp_path) as (base, process):
            thread = threading.Thread(target=post)
            thread.start()
            assert started.wait(10)
            _wait_until_a_worker_has_read_the_request(int(base.rsplit(":", 1)[1]))
            os.kill(process.pid, signal.SIGTERM)  # as `docker stop` does to the main process
            thread.join(30)
            assert process.wait(30) == 0
        assert outcome.get("status") == 401, outcome  # the login form again, with its error
        with pytest.raises(httpx.TransportError):
            httpx.get(base + "/healthz", timeout=2)
