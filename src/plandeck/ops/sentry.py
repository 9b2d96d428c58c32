"""Error tracking: unhandled errors and sampled transactions go to Sentry, personal data never.

``init_sentry`` does nothing unless ``PLANDECK_SENTRY_DSN`` is set. What leaves the process:
the exception with its stack trace (source lines, no local variables), the request's method
and URL path, the route template as the transaction name, environment, release and the
request id as the ``request_id`` tag. ``scrub_event`` removes the rest before sending:
request headers, cookies and bodies, the user, any key that looks like a password, token or
secret, and email addresses, IP addresses and query strings inside any text (log
breadcrumbs, span descriptions and URLs).
"""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING, Any, cast

import sentry_sdk
import structlog
from fastapi import APIRouter
from sentry_sdk.integrations.fastapi import FastApiIntegration
from sentry_sdk.integrations.logging import ignore_logger
from sentry_sdk.integrations.starlette import StarletteIntegration

from plandeck import __version__

if TYPE_CHECKING:
    from sentry_sdk.types import Event, Hint

    from plandeck.config import Settings

REQUEST_ID_HEADER = "x-request-id"
# The ids the request-id middleware accepts from clients (it replaces any other).
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
FILTERED = "[Filtered]"

_SECRET_KEY = re.compile(
    r"passw|pwd|token|secret|authoriz|cookie|session|csrf|api[-_]?key|private[-_]?key"
    r"|credential|signature|dsn|e[-_]?mail|query_string|^http\.(query|fragment)$",
    re.IGNORECASE,
)
# A query string inside any text (an access-log breadcrumb's request line, an HTTP span's URL).
_QUERY = re.compile(r"(/[^\s?\"'#]*)\?[^\s\"'#]+")
_EMAIL = re.compile(r"[\w.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# Addresses inside text (the rate limiter's Redis keys in span descriptions name the client's).
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])")
_IPV6_CANDIDATE = re.compile(r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")
# Parts of the request that carry credentials or personal data; method and URL path stay.
_REQUEST_DROPPED = ("headers", "cookies", "query_string", "data", "env")


def release() -> str:
    return f"plandeck@{__version__}"


def init_sentry(settings: Settings) -> bool:
    """Start the Sentry SDK when a DSN is configured; whether it was started."""
    if settings.sentry_dsn is None:
        return False
    sentry_sdk.init(
        dsn=settings.sentry_dsn.get_secret_value(),
        environment=settings.environment.value,
        release=release(),
        send_default_pii=False,
        # Local variables can hold a password being checked or a user's row.
        include_local_variables=False,
        max_request_body_size="never",
        traces_sample_rate=settings.sentry_traces_sample_rate,
        before_send=scrub_event,
        before_send_transaction=scrub_event,
        # Named like the metrics' route label: the template, not the concrete path.
        integrations=[
            StarletteIntegration(transaction_style="url"),
            FastApiIntegration(transaction_style="url"),
        ],
    )
    # The one line per request (an error one for each failure, already an event through the
    # exception) and the access log (raw URLs with their query strings) are no breadcrumbs.
    ignore_logger("plandeck.request")
    ignore_logger("uvicorn.access")
    return True


def scrub_event(event: Event, _hint: Hint) -> Event:
    """Tag the event with the request id, then strip what may identify a person or grant access."""
    raw = cast("dict[str, Any]", event)
    request_id = _request_id(raw)
    request = raw.get("request")
    if isinstance(request, dict):
        for part in _REQUEST_DROPPED:
            request.pop(part, None)
        if isinstance(request.get("url"), str):
            request["url"] = request["url"].split("?", 1)[0]
    raw.pop("user", None)
    scrubbed: dict[str, Any] = _scrub(raw)
    if request_id:
        scrubbed.setdefault("tags", {})["request_id"] = request_id
    return cast("Event", scrubbed)


def _request_id(event: dict[str, Any]) -> str | None:
    """The request's id: a tag already on the event's scope, else the one bound in structlog's
    context while the request runs, else the one the client sent (the middleware keeps it)."""
    tagged = (event.get("tags") or {}).get("request_id")
    if tagged:
        return str(tagged)
    bound = structlog.contextvars.get_contextvars().get("request_id")
    if bound:
        return str(bound)
    headers = (event.get("request") or {}).get("headers") or {}
    for name, value in headers.items():
        if str(name).lower() == REQUEST_ID_HEADER and _REQUEST_ID.fullmatch(str(value)):
            return str(value)
    return None


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: _scrub(item)
            for key, item in value.items()
            if not (isinstance(key, str) and _SECRET_KEY.search(key))
        }
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]
    if isinstance(value, str):
        value = _EMAIL.sub(FILTERED, value)
        value = _QUERY.sub(rf"\1?{FILTERED}", value)
        return _IPV6_CANDIDATE.sub(_address, _IPV4.sub(_address, value))
    return value


def _address(match: re.Match[str]) -> str:
    try:
        ipaddress.ip_address(match.group())
    except ValueError:  # a time of day, a version: not an address
        return match.group()
    return FILTERED


class DeliberateError(RuntimeError):
    """Raised by the debug error route, so an operator or a test sees an error reach Sentry."""


debug_router = APIRouter(include_in_schema=False)


@debug_router.api_route("/_debug/error", methods=["GET", "POST"])
async def raise_deliberate_error() -> None:
    """Fail with an unhandled error. Mounted only with ``PLANDECK_DEBUG_ERROR_ROUTE=1``,
    which production settings refuse."""
    raise DeliberateError("the debug error route failed on purpose")
