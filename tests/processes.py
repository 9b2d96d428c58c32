"""Running plandeck as a user does: as separate processes, a real server on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

PLANDECK = str(Path(sys.executable).with_name("plandeck"))


def env_for(database_url: str | None, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANDECK_")}
    env["PLANDECK_DATA_DIR"] = str(data_dir)
    if database_url:
        env["PLANDECK_DATABASE_URL"] = database_url
    env.update(extra)
    return env


def run_cli(
    *args: str,
    env: Mapping[str, str],
    cwd: Path,
    input_text: str | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PLANDECK, *args],
        env=dict(env),
        cwd=cwd,
        input=input_text,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_http(
    url: str, process: subprocess.Popen[str], log_path: Path, timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log_path.read_text(errors="replace")
            raise AssertionError(f"server exited with {process.returncode}:\n{output}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {timeout} s")


@contextmanager
def running(
    args: list[str], *, env: Mapping[str, str], cwd: Path, ready_url: str
) -> Iterator[subprocess.Popen[str]]:
    # The output goes to a file, not a pipe: a long-lived server would block once nobody
    # read a full pipe (its access log alone fills one).
    log_path = Path(cwd) / f"server-{os.getpid()}-{time.monotonic_ns()}.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        args,
        env=dict(env),
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        wait_for_http(ready_url, process, log_path)
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, 15)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait()
        log.close()


@contextmanager
def plandeck_server(*, env: Mapping[str, str], cwd: Path) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running(
        [PLANDECK, "serve", "--port", str(port)], env=env, cwd=cwd, ready_url=base + "/healthz"
    ):
        yield base


@contextmanager
def browser_login(base_url: str, email: str, password: str) -> Iterator[httpx.Client]:
    """An HTTP client logged in through the login form, as a browser would be (the session
    cookie is in its jar), closed after the block."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        response = client.post("/login", data={"email": email, "password": password})
        assert response.status_code == 303, response.text
        yield client
