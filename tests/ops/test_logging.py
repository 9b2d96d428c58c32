"""The server's log: one line per request with its id, route template, status and user; errors
with their traceback in the log only; no credential in any line."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from plandeck.ops.logging import REDACTED, redact_secrets
from tests.api.live import PASSWORD, LiveServer
from tests.processes import (
    PLANDECK,
    env_for,
    find_secrets,
    free_port,
    running,
    server_log_dir,
)

pytestmark = pytest.mark.slow

HEX_ID = re.compile(r"[0-9a-f]{32}")


@dataclass
class LoggedServer:
    live: LiveServer
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def records(self) -> list[dict[str, Any]]:
        records = []
        for line in self.text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # the CLI's "serving on" line
            if isinstance(record, dict):
                records.append(record)
        return records

    def request_lines(self, request_id: str, timeout: float = 5) -> list[dict[str, Any]]:
        """The request lines logged for ``request_id``, once there is one (the line is
        written just after the response is sent)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [
                r
                for r in self.records()
                if r.get("event") == "request" and r.get("request_id") == request_id
            ]
            if found or time.monotonic() > deadline:
                time.sleep(0.1)  # a second line would have been written by now
                return [
                    r
                    for r in self.records()
                    if r.get("event") == "request" and r.get("request_id") == request_id
                ]
            time.sleep(0.05)


@contextmanager
def logged_server(workdir: Path, **env: str) -> Iterator[LoggedServer]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    environment = env_for(
        None,
        workdir,
        PLANDECK_RATE_LIMIT_ENABLED="false",
        PLANDECK_PASSWORD_HASHING="fast",
        PLANDECK_DEBUG_ERROR_ROUTE="1",
        **env,
    )
    log = server_log_dir() / f"logging-{uuid.uuid4().hex}.log"
    with running(
        [PLANDECK, "serve", "--port", str(port)],
        env=environment,
        cwd=workdir,
        ready_url=base + "/healthz",
        log_path=log,
    ):
        live = LiveServer(base, "sqlite", "", workdir, environment)
        try:
            yield LoggedServer(live, log)
        finally:
            live.close_clients()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoggedServer]:
    """A JSON-logging server (production's format, in development's environment)."""
    with logged_server(tmp_path_factory.mktemp("logging"), PLANDECK_LOG_FORMAT="json") as s:
        yield s


class TestRequestLine:
    def test_given_request_id_is_returned_and_logged_once_with_the_route_template(
        self, server: LoggedServer
    ) -> None:
        alice = server.live.signup("alice")
        project = server.live.project(alice)
        request_id = f"test-{uuid.uuid4().hex}"

        response = alice.client.get(
            f"/projects/{project['key']}/stories/{project['key']}-999",
            headers={"X-Request-ID": request_id},
        )

        assert response.status_code == 404
        assert response.headers["x-request-id"] == request_id
        [line] = server.request_lines(request_id)
        assert line["method"] == "GET"
        assert line["route"] == "/api/v1/projects/{key}/stories/{story_key}"
        assert line["status"] == 404
        assert line["user_id"] == alice.user["id"]
        assert isinstance(line["duration_ms"], float)
        assert line["duration_ms"] > 0
        assert line["level"] == "info"
        assert line["timestamp"].endswith("Z")

    def test_request_without_id_gets_a_new_one(self, server: LoggedServer) -> None:
        response = httpx.get(server.live.base_url + "/healthz")

        request_id = response.headers["x-request-id"]
        assert HEX_ID.fullmatch(request_id)
        [line] = server.request_lines(request_id)
        assert (line["route"], line["status"]) == ("/healthz", 200)
        assert "user_id" not in line

    @pytest.mark.parametrize("given", ["has spaces in it", "x" * 129, "semi;colon"])
    def test_unsafe_request_id_is_replaced(self, server: LoggedServer, given: str) -> None:
        response = httpx.get(server.live.base_url + "/healthz", headers={"X-Request-ID": given})

        assert HEX_ID.fullmatch(response.headers["x-request-id"])
        assert given not in server.text()

    def test_unknown_path_is_unmatched_and_its_query_string_is_not_logged(
        self, server: LoggedServer
    ) -> None:
        secret = f"query-secret-{uuid.uuid4().hex}"
        response = httpx.get(
            server.live.base_url + f"/no/such/{uuid.uuid4().hex}", params={"token": secret}
        )

        assert response.status_code == 404
        [line] = server.request_lines(response.headers["x-request-id"])
        assert (line["route"], line["status"]) == ("unmatched", 404)
        assert secret not in server.text()

    def test_page_request_by_session_logs_the_user(self, server: LoggedServer) -> None:
        bob = server.live.signup("bob")
        browser = server.live.browser_for(bob)

        response = browser.get("/")

        assert response.status_code == 200
        [line] = server.request_lines(response.headers["x-request-id"])
        assert (line["route"], line["user_id"]) == ("/", bob.user["id"])


class TestErrors:
    def test_traceback_in_the_log_only(self, server: LoggedServer) -> None:
        request_id = f"error-{uuid.uuid4().hex}"

        response = httpx.get(
            server.live.base_url + "/_debug/error", headers={"X-Request-ID": request_id}
        )

        assert response.status_code == 500
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["x-request-id"] == request_id
        assert "Traceback" not in response.text
        assert "DeliberateError" not in response.text
        [line] = server.request_lines(request_id)
        assert (line["level"], line["route"], line["status"]) == ("error", "/_debug/error", 500)
        assert "Traceback (most recent call last)" in line["exception"]
        assert "DeliberateError: the debug error route failed on purpose" in line["exception"]
        # uvicorn's own report of the same error is not repeated beside it.
        assert "Exception in ASGI application" not in server.text()


class TestSecrets:
    def test_credentials_sent_with_requests_are_not_logged(self, server: LoggedServer) -> None:
        carol = server.live.signup("carol")
        access = carol.tokens["access_token"]
        wrong = f"wrong-password-{uuid.uuid4().hex}"

        with server.live.anonymous() as anonymous:
            refused = anonymous.post("/auth/login", json={"email": carol.email, "password": wrong})
            assert refused.status_code == 401
            refreshed = anonymous.post(
                "/auth/refresh", json={"refresh_token": carol.tokens["refresh_token"]}
            )
            assert refreshed.status_code == 200
        browser = server.live.browser_for(carol)
        assert browser.get("/").status_code == 200
        carol.client.get("/projects", params={"access_token": access})

        text = server.text()
        for secret in (
            PASSWORD,
            wrong,
            access,
            carol.tokens["refresh_token"],
            refreshed.json()["access_token"],
            *browser.cookies.values(),
        ):
            assert secret not in text
        # Every request above did get its line.
        assert len([r for r in server.records() if r.get("event") == "request"]) >= 6

    def test_redaction_processor_replaces_credential_keys_and_bearer_values(self) -> None:
        event = {
            "event": "calling upstream with Bearer abc.def-ghi",
            "password": "hunter2-hunter2",
            "refresh_token": "r-123456789",
            "upstream": {"Authorization": "Basic dXNlcjpwYXNz", "status": 200},
            "request_id": "keep-me",
        }

        redacted = redact_secrets(None, "info", event)

        assert redacted == {
            "event": f"calling upstream with Bearer {REDACTED}",
            "password": REDACTED,
            "refresh_token": REDACTED,
            "upstream": {"Authorization": REDACTED, "status": 200},
            "request_id": "keep-me",
        }

    def test_scan_finds_a_secret_in_a_log(self, tmp_path: Path) -> None:
        """The end-of-run scan (tests/conftest.py) would fail the run on such a log."""
        token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
        (tmp_path / "clean.log").write_text('{"event": "request", "route": "/healthz"}\n')
        (tmp_path / "leaky.log").write_text(
            f'{{"event": "request", "authorization": "Bearer {token}"}}\n'
            f"password={PASSWORD}&next=/\n"
        )

        found = find_secrets(tmp_path, {token: "token", PASSWORD: "password"})

        assert found == [(tmp_path / "leaky.log", PASSWORD), (tmp_path / "leaky.log", token)]


def test_console_lines_in_development(tmp_path: Path) -> None:
    with logged_server(tmp_path) as server:
        request_id = f"console-{uuid.uuid4().hex}"
        httpx.get(server.live.base_url + "/healthz", headers={"X-Request-ID": request_id})

        deadline = time.monotonic() + 5
        while not (lines := [ln for ln in server.text().splitlines() if request_id in ln]):
            assert time.monotonic() < deadline, server.text()
            time.sleep(0.05)
    [line] = lines
    assert not line.startswith("{")
    assert "request" in line
    assert "route=/healthz" in line
    assert "status=200" in line
    assert f"request_id={request_id}" in line
