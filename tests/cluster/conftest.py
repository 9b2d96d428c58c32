"""A plandeck cluster on loopback: two ``plandeck serve --production`` processes sharing one
PostgreSQL database and Redis, behind Debian's nginx running the shipped
``deploy/nginx/plandeck.conf`` (TLS included), as an operator scales out."""

from __future__ import annotations

import os
import secrets
import shutil
import ssl
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis

from tests.databases import KINDS, TestDatabase
from tests.processes import PLANDECK, env_for, free_port, running, server_log_dir

REPO_ROOT = Path(__file__).resolve().parents[2]
NGINX_CONF = REPO_ROOT / "deploy" / "nginx" / "plandeck.conf"
REDIS_URL = os.environ.get("PLANDECK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
HOSTS = "localhost,127.0.0.1"

pytestmark = pytest.mark.slow


@dataclass
class Cluster:
    """``proxy`` is nginx's HTTPS address; ``backends`` the two app processes' own."""

    proxy: str
    backends: tuple[str, str]
    database_url: str
    tls: ssl.SSLContext

    def client(self, *, address: str | None = None, **headers: str) -> httpx.Client:
        """An HTTPS client of nginx. ``address`` is the client's own address as nginx's
        X-Forwarded-For passes it on (each simulated client has its own, as real ones do)."""
        if address is not None:
            headers["X-Forwarded-For"] = address
        return httpx.Client(base_url=self.proxy, verify=self.tls, timeout=60, headers=headers)


def _nginx() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found is None:
        pytest.fail("Debian's nginx is not installed: run `make system-deps`", pytrace=False)
    return found


def _certificate(directory: Path) -> Path:
    directory.mkdir()
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout", str(directory / "privkey.pem"), "-out", str(directory / "fullchain.pem"),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return directory / "fullchain.pem"


def _replace(text: str, old: str, new: str) -> str:
    """``text`` with ``old`` replaced; fails when the shipped config no longer has ``old``, so
    this test keeps running the file operators deploy rather than a drifted copy."""
    assert old in text, f"deploy/nginx/plandeck.conf no longer has {old!r}"
    return text.replace(old, new)


def nginx_config(
    directory: Path, *, backends: list[int], http_port: int, https_port: int, certs: Path
) -> Path:
    """The shipped site config with loopback addresses, and a main config around it."""
    upstreams = "".join(
        f"server 127.0.0.1:{port} max_fails=3 fail_timeout=10s;\n    " for port in backends
    )
    site = NGINX_CONF.read_text()
    for old, new in [
        ("server app:8000 max_fails=3 fail_timeout=10s;\n    ", upstreams),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen [::]:80;", ""),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
        ("listen [::]:443 ssl http2;", ""),
        ("/etc/nginx/certs", str(certs)),
        ("/var/log/nginx", str(directory)),
    ]:
        site = _replace(site, old, new)
    (directory / "plandeck.conf").write_text(site)
    temp = "".join(
        f"{kind}_temp_path {directory / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    main = directory / "nginx.conf"
    main.write_text(
        # Run by root (CI), nginx's workers would otherwise become `nobody`, who cannot enter
        # pytest's private temporary directory.
        ("user root;\n" if os.geteuid() == 0 else "") + f"pid {directory}/nginx.pid;\n"
        f"error_log {directory}/error.log;\n"
        "worker_processes 1;\n"
        "events { worker_connections 1024; }\n"
        f"http {{\n{temp}include {directory}/plandeck.conf;\n}}\n"
    )
    return main


def _redis_reachable() -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        # CI must fail, not skip, when a service the cluster shares is missing.
        pytest.fail(f"Redis is unreachable at {REDIS_URL} ({exc}): start it", pytrace=False)


@pytest.fixture(scope="module")
async def cluster_database(
    tmp_path_factory: pytest.TempPathFactory, _postgres_checked: None
) -> AsyncIterator[TestDatabase]:
    if "postgresql" not in KINDS:
        pytest.skip("scale-out runs on PostgreSQL (PLANDECK_TEST_DATABASES leaves it out)")
    database = await TestDatabase.create("postgresql", tmp_path_factory.mktemp("cluster-db"))
    await database.engine.dispose()
    yield database
    await database.drop()


@pytest.fixture(scope="module")
def cluster(
    cluster_database: TestDatabase, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    _redis_reachable()
    workdir = tmp_path_factory.mktemp("cluster")
    certificate = _certificate(workdir / "certs")
    ports = [free_port(), free_port()]
    http_port, https_port = free_port(), free_port()
    env = env_for(
        cluster_database.url,
        workdir,
        PLANDECK_ENVIRONMENT="production",
        PLANDECK_SECRET_KEY=secrets.token_urlsafe(48),
        PLANDECK_REDIS_URL=REDIS_URL,
        PLANDECK_SERVER_ALLOWED_HOSTS=HOSTS,
        PLANDECK_SERVER_WORKERS="1",
        PLANDECK_LOG_FORMAT="json",
        # The load test's clients each make a few hundred requests in seconds; the login
        # limit stays at its default, the one the shared-limit test exhausts.
        PLANDECK_RATE_LIMIT_PER_IP="20000 per minute",
        PLANDECK_RATE_LIMIT_PER_USER="20000 per minute",
        PLANDECK_DATABASE_POOL_SIZE="10",
    )
    logs = server_log_dir()
    tag = uuid.uuid4().hex[:8]
    with ExitStack() as stack:
        for port, name in zip(ports, "ab", strict=True):
            stack.enter_context(
                running(
                    [PLANDECK, "serve", "--production", "--port", str(port)],
                    env=env,
                    cwd=workdir,
                    ready_url=f"http://127.0.0.1:{port}/readyz",
                    log_path=logs / f"cluster-{tag}-{name}.log",
                    timeout=120,
                )
            )
        config = nginx_config(
            workdir,
            backends=ports,
            http_port=http_port,
            https_port=https_port,
            certs=certificate.parent,
        )
        nginx = [_nginx(), "-p", str(workdir), "-c", str(config)]
        checked = subprocess.run([*nginx, "-t"], capture_output=True, text=True, check=False)
        assert checked.returncode == 0, checked.stderr
        tls = ssl.create_default_context(cafile=certificate)
        proxy = subprocess.Popen(
            [*nginx, "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,  # nginx writes its errors to error.log
            start_new_session=True,
        )
        try:
            _wait_for_proxy(f"https://127.0.0.1:{https_port}/healthz", tls, proxy, workdir)
            yield Cluster(
                proxy=f"https://localhost:{https_port}",
                backends=(f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[1]}"),
                database_url=cluster_database.url,
                tls=tls,
            )
        finally:
            proxy.terminate()
            proxy.wait(timeout=15)
            shutil.copyfile(workdir / "error.log", logs / f"cluster-{tag}-nginx-error.log")


def _wait_for_proxy(
    url: str, tls: ssl.SSLContext, process: subprocess.Popen[bytes], workdir: Path
) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            errors = (workdir / "error.log").read_text(errors="replace")
            raise AssertionError(f"nginx exited with {process.returncode}:\n{errors}")
        try:
            if httpx.get(url, verify=tls, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"nginx did not answer on {url}")
