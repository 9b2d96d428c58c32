"""Sentry for real: a plandeck server process sends its errors to a Sentry stand-in on loopback.

The stand-in is a plain HTTP server playing the DSN's host: it stores every envelope the
SDK posts, and the tests read what left the process, byte for byte.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog

from plandeck import __version__
from plandeck.app import create_app
from plandeck.config import ConfigurationError, Settings, load_settings
from plandeck.ops.sentry import scrub_event
from tests.api.live import PASSWORD, LiveServer, live_server


@dataclass
class Envelope:
    path: str
    auth: str
    raw: bytes
    items: list[tuple[dict[str, Any], dict[str, Any]]]

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [payload for header, payload in self.items if header.get("type") == kind]


def _failing_server(workdir: Path, **env: str) -> AbstractContextManager[LiveServer]:
    """A server on SQLite with the always-failing ``/_debug/error`` route, and ``env``."""
    return live_server("sqlite", "", workdir, PLANDECK_DEBUG_ERROR_ROUTE="1", **env)


def parse_envelope(raw: bytes) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The items of a Sentry envelope: a header line, then item headers each followed by a
    payload of ``length`` bytes (or up to the next newline when no length is given)."""
    _header, _, rest = raw.partition(b"\n")
    items = []
    while rest.strip():
        line, _, rest = rest.partition(b"\n")
        item_header = json.loads(line)
        if "length" in item_header:
            payload, rest = rest[: item_header["length"]], rest[item_header["length"] :]
            rest = rest.removeprefix(b"\n")
        else:
            payload, _, rest = rest.partition(b"\n")
        try:
            items.append((item_header, json.loads(payload)))
        except ValueError:  # attachments need not be JSON; none of ours are
            items.append((item_header, {}))
    return items


@dataclass
class SentryStandIn:
    """Answers the SDK as sentry.io would, keeping what it received."""

    port: int
    envelopes: list[Envelope] = field(default_factory=list)

    @property
    def dsn(self) -> str:
        return f"http://publickey@127.0.0.1:{self.port}/1"

    def events(self) -> list[dict[str, Any]]:
        return [event for envelope in self.envelopes for event in envelope.of_type("event")]

    def transactions(self) -> list[dict[str, Any]]:
        return [item for envelope in self.envelopes for item in envelope.of_type("transaction")]

    def wait_for(self, what: str, timeout: float = 20) -> None:
        """Until an error event (``what="exception"``) or a transaction has arrived."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if what == "transaction" and self.transactions():
                return
            if what == "exception" and any("exception" in event for event in self.events()):
                return
            time.sleep(0.05)
        raise AssertionError(f"no {what} reached the Sentry stand-in within {timeout} s")


@pytest.fixture
def sentry_stand_in() -> Iterator[SentryStandIn]:
    received: list[Envelope] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            encoding = self.headers.get("Content-Encoding", "")
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "deflate":
                body = zlib.decompress(body)
            assert encoding in ("", "gzip", "deflate"), encoding
            received.append(
                Envelope(
                    self.path, self.headers.get("X-Sentry-Auth", ""), body, parse_envelope(body)
                )
            )
            answer = json.dumps({"id": uuid.uuid4().hex}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield SentryStandIn(server.server_address[1], received)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.slow
class TestErrorsReachSentry:
    def test_unhandled_error_arrives_with_request_id_and_without_personal_data(
        self, sentry_stand_in: SentryStandIn, tmp_path: Path
    ) -> None:
        request_id = f"req-{uuid.uuid4().hex}"
        query_secret = f"qs-{uuid.uuid4().hex}"
        with _failing_server(
            tmp_path,
            PLANDECK_SENTRY_DSN=sentry_stand_in.dsn,
            PLANDECK_SENTRY_TRACES_SAMPLE_RATE="1.0",
        ) as server:
            caller = server.signup("sentry")
            browser = server.browser_for(caller)  # a session cookie in its jar
            session_cookies = [cookie.value for cookie in browser.cookies.jar]
            assert session_cookies
            failed = browser.post(
                f"/_debug/error?token={query_secret}&email={caller.email}",
                json={"password": PASSWORD, "email": caller.email, "note": caller.email},
                headers={
                    "X-Request-ID": request_id,
                    "Authorization": f"Bearer {caller.tokens['access_token']}",
                    "Accept": "application/json",
                },
            )
            assert failed.status_code == 500
            assert failed.headers["content-type"] == "application/problem+json"
            assert "on purpose" not in failed.text  # the client learns nothing internal

            sentry_stand_in.wait_for("exception")
            sentry_stand_in.wait_for("transaction")
            server.close_clients()
        # The server has exited (the SDK flushes on exit): everything it would send is here.

        events = sentry_stand_in.events()
        assert len(events) == 1, events  # one failure, one event: no duplicate from the logs
        event = events[0]
        exception = event["exception"]["values"][-1]
        assert exception["type"] == "DeliberateError"
        assert exception["module"] == "plandeck.ops.sentry"
        assert event["tags"]["request_id"] == request_id
        assert event["environment"] == "development"
        assert event["release"] == f"plandeck@{__version__}"
        assert event["transaction"] == "/_debug/error"
        assert event["request"]["method"] == "POST"
        assert event["request"]["url"].endswith("/_debug/error")
        assert not {"headers", "cookies", "query_string", "data", "env"} & set(event["request"])
        assert "user" not in event
        frames = exception["stacktrace"]["frames"]
        assert frames
        assert not any("vars" in frame for frame in frames)

        transactions = sentry_stand_in.transactions()
        requests = [t for t in transactions if t["transaction"] == "/_debug/error"]
        assert requests, [t["transaction"] for t in transactions]
        assert requests[0]["tags"]["request_id"] == request_id
        assert requests[0]["release"] == f"plandeck@{__version__}"

        for envelope in sentry_stand_in.envelopes:
            assert envelope.path == "/api/1/envelope/"
            assert "sentry_key=publickey" in envelope.auth
        everything = b"\n".join(envelope.raw for envelope in sentry_stand_in.envelopes)
        secrets = {
            "password": PASSWORD,
            "email": caller.email,
            "email's local part": caller.email.split("@")[0],
            "access token": caller.tokens["access_token"],
            "refresh token": caller.tokens["refresh_token"],
            "query string secret": query_secret,
            **{f"cookie {i}": value for i, value in enumerate(session_cookies)},
        }
        for name, secret in secrets.items():
            at = everything.find(secret.encode())
            assert at == -1, f"the {name} reached Sentry: {everything[at - 200 : at + 100]!r}"
        lowered = everything.lower()
        for word in (b"bearer ", b"authorization", b"cookie", b"@example.com"):
            assert word not in lowered, word

    def test_a_generated_request_id_is_the_events_tag(
        self, sentry_stand_in: SentryStandIn, tmp_path: Path
    ) -> None:
        with _failing_server(tmp_path, PLANDECK_SENTRY_DSN=sentry_stand_in.dsn) as server:
            failed = httpx.post(f"{server.base_url}/_debug/error", timeout=30)
            assert failed.status_code == 500
            generated = failed.headers["X-Request-ID"]
            sentry_stand_in.wait_for("exception")
        (event,) = sentry_stand_in.events()
        assert event["tags"]["request_id"] == generated

    def test_without_a_dsn_nothing_is_sent(
        self, sentry_stand_in: SentryStandIn, tmp_path: Path
    ) -> None:
        # The SDK's own variable is ignored: only PLANDECK_SENTRY_DSN turns error tracking on.
        with _failing_server(tmp_path, SENTRY_DSN=sentry_stand_in.dsn) as server:
            failed = server.browser().get("/_debug/error", headers={"Accept": "application/json"})
            assert failed.status_code == 500
            time.sleep(1)
            server.close_clients()
        assert sentry_stand_in.envelopes == []


class TestSettings:
    def test_debug_error_route_is_refused_in_production(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PLANDECK_ENVIRONMENT", "production")
        monkeypatch.setenv("PLANDECK_DEBUG_ERROR_ROUTE", "1")
        with pytest.raises(ConfigurationError, match="PLANDECK_DEBUG_ERROR_ROUTE"):
            load_settings()

    def test_debug_error_route_is_off_by_default(self) -> None:
        app = create_app(Settings())
        assert "/_debug/error" not in {getattr(route, "path", None) for route in app.routes}

    def test_a_malformed_dsn_is_refused_without_echoing_it(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PLANDECK_SENTRY_DSN", "http://127.0.0.1:9/1")
        with pytest.raises(ConfigurationError, match=r"PLANDECK_SENTRY_DSN.*Missing public key"):
            load_settings()

    def test_an_empty_dsn_turns_sentry_off(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PLANDECK_SENTRY_DSN", " ")
        assert load_settings().sentry_dsn is None

    @pytest.mark.parametrize("rate", ["-0.1", "1.5"])
    def test_the_sample_rate_is_a_fraction(
        self, monkeypatch: pytest.MonkeyPatch, rate: str
    ) -> None:
        monkeypatch.setenv("PLANDECK_SENTRY_TRACES_SAMPLE_RATE", rate)
        with pytest.raises(ConfigurationError, match="PLANDECK_SENTRY_TRACES_SAMPLE_RATE"):
            load_settings()


class TestScrubEvent:
    def test_secret_keys_and_emails_are_removed_everywhere(self) -> None:
        event: Any = {
            "request": {
                "method": "POST",
                "url": "http://plan.example.com/x?token=abc",
                "headers": {"Authorization": "Bearer abc"},
                "cookies": {"plandeck_session": "s"},
                "query_string": "token=abc",
                "data": {"password": "p"},
            },
            "user": {"email": "ana@example.com", "ip_address": "10.0.0.1"},
            "extra": {"refresh_token": "r", "api_key": "k", "nested": [{"Secret": "s"}]},
            "breadcrumbs": {"values": [{"message": "login failed for ana@example.com"}]},
        }
        scrubbed: Any = scrub_event(event, {})
        assert scrubbed["request"] == {"method": "POST", "url": "http://plan.example.com/x"}
        assert "user" not in scrubbed
        assert scrubbed["extra"] == {"nested": [{}]}
        assert scrubbed["breadcrumbs"]["values"][0]["message"] == "login failed for [Filtered]"

    def test_query_strings_inside_text_are_removed(self) -> None:
        event: Any = {
            "breadcrumbs": {
                "values": [
                    {"message": '127.0.0.1:5 - "GET /p/x?token=abc&b=1 HTTP/1.1" 200'},
                    {"data": {"url": "http://h/x?y=1", "http.query": "y=1", "method": "GET"}},
                ]
            }
        }
        crumbs = scrub_event(event, {})["breadcrumbs"]["values"]  # type: ignore[typeddict-item]
        assert crumbs[0]["message"] == '[Filtered]:5 - "GET /p/x?[Filtered] HTTP/1.1" 200'
        assert crumbs[1]["data"] == {"url": "http://h/x?[Filtered]", "method": "GET"}

    def test_addresses_inside_text_are_removed(self) -> None:
        event: Any = {
            "spans": [
                {"description": "EVALSHA 'LIMITS:LIMITER/ip/203.0.113.7/600/1/minute'"},
                {"description": "GET 'LIMITS:LIMITER/ip/2001:db8::1/600'"},
                {"description": "at 07:35:25 with Python 3.11.7 on 127.0.0.1:8000"},
            ]
        }
        spans = scrub_event(event, {})["spans"]  # type: ignore[typeddict-item]
        assert [span["description"] for span in spans] == [
            "EVALSHA 'LIMITS:LIMITER/ip/[Filtered]/600/1/minute'",
            "GET 'LIMITS:LIMITER/ip/[Filtered]/600'",
            "at 07:35:25 with Python 3.11.7 on [Filtered]:8000",
        ]

    def test_the_bound_request_id_wins_over_the_header(self) -> None:
        event: Any = {"request": {"headers": {"x-request-id": "from-header"}}}
        with structlog.contextvars.bound_contextvars(request_id="from-middleware"):
            scrubbed: Any = scrub_event(event, {})
        assert scrubbed["tags"] == {"request_id": "from-middleware"}

    def test_the_header_is_the_fallback(self) -> None:
        event: Any = {"request": {"headers": {"X-Request-ID": "from-header"}}}
        assert scrub_event(event, {})["tags"] == {"request_id": "from-header"}

    def test_a_header_the_middleware_would_replace_is_no_request_id(self) -> None:
        event: Any = {"request": {"headers": {"x-request-id": "not plain; <script>"}}}
        assert "tags" not in scrub_event(event, {})

    def test_a_tag_set_on_the_scope_is_kept(self) -> None:
        event: Any = {"tags": {"request_id": "on-scope"}, "request": {"headers": {}}}
        with structlog.contextvars.bound_contextvars(request_id="from-middleware"):
            scrubbed: Any = scrub_event(event, {})
        assert scrubbed["tags"] == {"request_id": "on-scope"}

    def test_no_request_id_no_tag(self) -> None:
        assert "tags" not in scrub_event({"message": "boot"}, {})
