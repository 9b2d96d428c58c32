"""Running plandeck as a user does: as separate processes, a real server on a free loopback port.

Every server a test run starts writes its output to ``server_log_dir()``, one directory per
run (tests/conftest.py makes it), and the HTTP clients made here note the secrets they send
or receive (``remember_secret``): at the end of the run, tests/conftest.py scans every
server log for them (``find_secrets``).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl

import httpx

from plandeck.demo import DEMO_PASSWORD

PLANDECK = str(Path(sys.executable).with_name("plandeck"))
LOG_DIR_VARIABLE = "PLANDECK_TEST_LOG_DIR"


def server_log_dir() -> Path:
    """This test run's directory of server logs, shared by the xdist workers through the
    environment (tests/conftest.py sets it before they start)."""
    value = os.environ.get(LOG_DIR_VARIABLE)
    if not value:
        value = tempfile.mkdtemp(prefix="plandeck-test-logs-")
        os.environ[LOG_DIR_VARIABLE] = value
    path = Path(value)
    path.mkdir(parents=True, exist_ok=True)
    return path


# Secrets the tests used: passwords are searched for as they are; tokens and cookies (many,
# all of URL-safe characters) by their long runs of such characters, so that one pass over
# a log finds any of thousands.
SecretKind = Literal["password", "token"]
_MIN_SECRET_LENGTH = 8
# Published in the README and printed by `plandeck demo` (make run's output is a server log).
_PUBLIC = frozenset({DEMO_PASSWORD})
_secrets: dict[str, SecretKind] = {}
_RUN = re.compile(rb"[A-Za-z0-9_-]{12,}")
_SECRET_FIELD = re.compile(r"token|password|secret", re.IGNORECASE)
_NOT_SECRET_FIELDS = frozenset({"token_type"})


def remember_secret(value: object, kind: SecretKind = "token") -> None:
    if isinstance(value, str) and len(value) >= _MIN_SECRET_LENGTH and value not in _PUBLIC:
        _secrets.setdefault(value, kind)


def _remember_fields(fields: Any) -> None:
    if isinstance(fields, dict):
        for key, value in fields.items():
            if isinstance(key, str) and _SECRET_FIELD.search(key) and key not in _NOT_SECRET_FIELDS:
                remember_secret(value, "password" if "password" in key else "token")
            _remember_fields(value)
    elif isinstance(fields, list):
        for item in fields:
            _remember_fields(item)


def _remember_request(request: httpx.Request) -> None:
    for name in ("authorization", "x-csrf-token"):
        if value := request.headers.get(name):
            remember_secret(value.rpartition(" ")[2])
    for part in request.headers.get("cookie", "").split(";"):
        remember_secret(part.partition("=")[2].strip())
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith("application/json"):
            _remember_fields(json.loads(request.content))
        elif content_type.startswith("application/x-www-form-urlencoded"):
            _remember_fields(dict(parse_qsl(request.content.decode())))
    except (ValueError, httpx.RequestNotRead):
        pass  # a test sending a malformed or streamed body on purpose


def _remember_response(response: httpx.Response) -> None:
    for value in response.cookies.values():
        remember_secret(value)
    path = response.request.url.path
    if ("/auth/" in path or "token" in path) and response.headers.get(
        "content-type", ""
    ).startswith("application/json"):
        response.read()
        with suppress(ValueError):
            _remember_fields(response.json())


def noting_secrets(client: httpx.Client) -> httpx.Client:
    """``client``, noting every credential it sends or receives for the end-of-run scan."""
    client.event_hooks["request"].append(_remember_request)
    client.event_hooks["response"].append(_remember_response)
    return client


def save_secrets(directory: Path) -> None:
    """This process's secrets, for the process that scans the logs (xdist's controller)."""
    if _secrets:
        (directory / f"secrets-{os.getpid()}.json").write_text(json.dumps(_secrets))


def load_secrets(directory: Path) -> dict[str, SecretKind]:
    secrets = dict(_secrets)
    for path in directory.glob("secrets-*.json"):
        secrets.update(json.loads(path.read_text()))
    return secrets


def find_secrets(directory: Path, secrets: Mapping[str, SecretKind]) -> list[tuple[Path, str]]:
    """Each (log file, secret) where a secret appears in a log of ``directory``."""
    passwords = [secret.encode() for secret, kind in secrets.items() if kind == "password"]
    by_run: dict[bytes, str] = {}
    for secret, kind in secrets.items():
        runs = _RUN.findall(secret.encode())
        if kind == "token" and runs:
            by_run.update(dict.fromkeys(runs, secret))
        elif kind == "token":
            passwords.append(secret.encode())  # short runs only: searched for as it is
    found = []
    for log in sorted(directory.glob("*.log")):
        data = log.read_bytes()
        leaked = {by_run[run] for run in set(_RUN.findall(data)) & by_run.keys()}
        leaked |= {password.decode() for password in passwords if password in data}
        found += [(log, secret) for secret in sorted(leaked)]
    return found


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
    args: list[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    ready_url: str,
    log_path: Path | None = None,
    timeout: float = 30,
) -> Iterator[subprocess.Popen[str]]:
    """``args`` running until the block ends; its output goes to ``log_path`` (by default a
    new file in ``server_log_dir()``, where the end-of-run secrets scan reads it)."""
    # The output goes to a file, not a pipe: a long-lived server would block once nobody
    # read a full pipe (its request log alone fills one).
    if log_path is None:
        log_path = server_log_dir() / f"server-{os.getpid()}-{time.monotonic_ns()}.log"
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
        wait_for_http(ready_url, process, log_path, timeout)
        yield process
    finally:
        stop(process)
        log.close()


def stop(process: subprocess.Popen[Any], timeout: float = 15) -> None:
    """SIGTERM to the process's group (as a service manager stops a server: requests in
    flight finish first), SIGKILL after ``timeout`` seconds."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


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
    with noting_secrets(httpx.Client(base_url=base_url, timeout=30)) as client:
        response = client.post("/login", data={"email": email, "password": password})
        assert response.status_code == 303, response.text
        yield client
