"""A plandeck cluster on loopback: two ``plandeck serve --production`` processes sharing one
PostgreSQL database and Redis, behind Debian's nginx running the shipped
``deploy/nginx/plandeck.conf`` (TLS included), as an operator scales out."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import ssl
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis

from tests.databases import KINDS, TestDatabase
from tests.processes import PLANDECK, env_for, free_port, server_log_dir, stop, wait_for_http

REPO_ROOT = Path(__file__).resolve().parents[2]
NGINX_CONF = REPO_ROOT / "deploy" / "nginx" / "plandeck.conf"
REDIS_URL = os.environ.get("PLANDECK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
HOSTS = "localhost,127.0.0.1"

pytestmark = pytest.mark.slow


@dataclass
class Backend:
    """One ``plandeck serve --production`` process on a fixed port, which can be stopped and
    started again (its log file grows across restarts, for the end-of-run secrets scan)."""

    port: int
    env: dict[str, str]
    workdir: Path
    log_path: Path
    process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log_path.open("a") as log:
            self.process = subprocess.Popen(
                [PLANDECK, "serve", "--production", "--port", str(self.port)],
                env=self.env,
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
        wait_for_http(self.url + "/readyz", self.process, self.log_path, timeout=120)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process, timeout=40)


@dataclass
class Nginx:
    """Debian's nginx running the shipped site config for ``backends``."""

    workdir: Path
    backends: list[int]
    http_port: int
    https_port: int
    certs: Path
    process: subprocess.Popen[bytes] | None = None

    def command(self, *args: str) -> list[str]:
        return [_nginx(), "-p", str(self.workdir), "-c", str(self.workdir / "nginx.conf"), *args]

    def configure(self, down: frozenset[int] = frozenset()) -> None:
        nginx_config(
            self.workdir,
            backends=self.backends,
            http_port=self.http_port,
            https_port=self.https_port,
            certs=self.certs,
            down=down,
        )
        checked = subprocess.run(self.command("-t"), capture_output=True, text=True, check=False)
        assert checked.returncode == 0, checked.stderr

    def reload(self, down: frozenset[int] = frozenset()) -> None:
        """New config, as ``nginx -s reload`` applies it: new workers take new requests, the
        old ones finish theirs and close their connections; returns once they are gone."""
        assert self.process is not None
        before = set(_children(self.process.pid))
        self.configure(down)
        self.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while before & set(_children(self.process.pid)) or len(_children(self.process.pid)) < 1:
            assert time.monotonic() < deadline, "nginx's old workers did not finish"
            time.sleep(0.05)


def _children(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()


@dataclass
class Cluster:
    """``proxy`` is nginx's HTTPS address; ``servers`` the two app processes."""

    proxy: str
    servers: tuple[Backend, Backend]
    nginx: Nginx
    database_url: str
    tls: ssl.SSLContext

    @property
    def backends(self) -> tuple[str, str]:
        return self.servers[0].url, self.servers[1].url

    def restart(self, server: Backend) -> None:
        """docs/operations.md's rolling restart of one process: out of nginx's upstream,
        stopped (it finishes what it serves), started, ready, back in."""
        self.nginx.reload(down=frozenset({server.port}))
        server.stop()
        server.start()
        self.nginx.reload()

    def client(
        self, *, address: str | None = None, keep_alive: bool = True, **headers: str
    ) -> httpx.Client:
        """An HTTPS client of nginx. ``address`` is the client's own address as nginx's
        X-Forwarded-For passes it on (each simulated client has its own, as real ones do).
        Without ``keep_alive`` every request opens a connection of its own."""
        if address is not None:
            headers["X-Forwarded-For"] = address
        limits = httpx.Limits() if keep_alive else httpx.Limits(max_keepalive_connections=0)
        return httpx.Client(
            base_url=self.proxy, verify=self.tls, timeout=60, headers=headers, limits=limits
        )


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
    directory: Path,
    *,
    backends: list[int],
    http_port: int,
    https_port: int,
    certs: Path,
    down: frozenset[int] = frozenset(),
) -> Path:
    """The shipped site config with loopback addresses, and a main config around it.
    ``down``: the ports of backends taken out of the upstream (``down``), as an operator
    does before restarting one."""
    site = NGINX_CONF.read_text()
    shipped = re.search(r"server app:8000([^;]*);\n    ", site)
    assert shipped, "deploy/nginx/plandeck.conf no longer has `server app:8000 ...;`"
    upstreams = "".join(
        f"server 127.0.0.1:{port}{shipped[1]}{' down' if port in down else ''};\n    "
        for port in backends
    )
    for old, new in [
        (shipped[0], upstreams),
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
    servers = (
        Backend(ports[0], env, workdir, logs / f"cluster-{tag}-a.log"),
        Backend(ports[1], env, workdir, logs / f"cluster-{tag}-b.log"),
    )
    nginx = Nginx(workdir, ports, http_port, https_port, certificate.parent)
    try:
        for server in servers:
            server.start()
        nginx.configure()
        tls = ssl.create_default_context(cafile=certificate)
        proxy = nginx.process = subprocess.Popen(
            nginx.command("-g", "daemon off;"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,  # nginx writes its errors to error.log
            start_new_session=True,
        )
        try:
            _wait_for_proxy(f"https://127.0.0.1:{https_port}/healthz", tls, proxy, workdir)
            yield Cluster(
                proxy=f"https://localhost:{https_port}",
                servers=servers,
                nginx=nginx,
                database_url=cluster_database.url,
                tls=tls,
            )
        finally:
            proxy.terminate()
            proxy.wait(timeout=15)
            shutil.copyfile(workdir / "error.log", logs / f"cluster-{tag}-nginx-error.log")
    finally:
        for server in servers:
            server.stop()


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
