"""What the client raises: one exception class per kind of refusal, built from the RFC 9457 body."""

from __future__ import annotations

import email.utils
import math
from datetime import UTC, datetime
from typing import Any

import httpx


class PlandeckClientError(Exception):
    """Anything the client raises on purpose (the CLI prints these as one line)."""


class ConnectionFailed(PlandeckClientError):
    """The server could not be reached, or did not answer in time."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot reach the plandeck server at {url}: {reason}")
        self.url = url
        self.reason = reason


class PlandeckApiError(PlandeckClientError):
    """A non-2xx answer. ``body`` is the problem+json document (or what stood in for it)."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        type: str = "about:blank",  # noqa: A002 - RFC 9457 names the member `type`
        body: dict[str, Any] | None = None,
        response: httpx.Response | None = None,
    ) -> None:
        super().__init__(f"{status} {title}: {detail}" if detail else f"{status} {title}")
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type
        self.body: dict[str, Any] = body if body is not None else {}
        self.response = response

    @property
    def field(self) -> str | None:
        """The input field the problem is about, when the server named one."""
        value = self.body.get("field")
        return value if isinstance(value, str) else None


class NotAuthenticated(PlandeckApiError):
    """401: no credential, or an expired, revoked or invalid one."""


class Forbidden(PlandeckApiError):
    """403: the role or the token's scope does not allow this (or a missing CSRF token)."""


class NotFound(PlandeckApiError):
    """404: no such record, or the caller is not a member of its project."""


class Conflict(PlandeckApiError):
    """409: a duplicate, or a change that collides with the current state."""


class StaleVersion(Conflict):
    """409: someone else changed the record since the caller read it; nothing was written."""

    @property
    def current_version(self) -> int | None:
        value = self.body.get("current_version")
        return value if isinstance(value, int) else None


class PayloadTooLarge(PlandeckApiError):
    """413: the request body is over the server's limit."""


class ValidationFailed(PlandeckApiError):
    """422: invalid input; ``errors`` lists each field's location and message when given."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        reasons = [
            f"{'.'.join(str(part) for part in error.get('loc', []))}: {error.get('msg', '')}"
            for error in self.errors
        ]
        if reasons:
            self.args = (f"{self.args[0]} ({'; '.join(reasons)})",)

    @property
    def errors(self) -> list[dict[str, Any]]:
        value = self.body.get("errors")
        return [e for e in value if isinstance(e, dict)] if isinstance(value, list) else []


class RateLimited(PlandeckApiError):
    """429: too many requests; ``retry_after`` is how many seconds to wait (None: not said)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if (seconds := self.retry_after) is not None:
            self.args = (f"{self.args[0]} (retry after {math.ceil(seconds)} s)",)

    @property
    def retry_after(self) -> float | None:
        if self.response is None:
            return None
        return parse_retry_after(self.response.headers.get("Retry-After"))


class ServerError(PlandeckApiError):
    """5xx: the server failed; the request most likely changed nothing."""


_BY_STATUS: dict[int, type[PlandeckApiError]] = {
    401: NotAuthenticated,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: ValidationFailed,
    429: RateLimited,
}


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _first_line(text: str, limit: int = 200) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


def error_class(status: int, problem_type: str) -> type[PlandeckApiError]:
    if status == 409 and problem_type.endswith("stale-version"):
        return StaleVersion
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, PlandeckApiError)


def error_from_response(response: httpx.Response) -> PlandeckApiError:
    """The typed error for a non-2xx response. A body that is not a problem document (a proxy's
    HTML page, say) still gives a useful message: the reason phrase and the text's first line."""
    status = response.status_code
    body: dict[str, Any] = {}
    try:
        parsed = response.json()
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        body = parsed
    reason = response.reason_phrase or "Error"
    title = body.get("title") if isinstance(body.get("title"), str) else reason
    detail = body.get("detail")
    if not isinstance(detail, str):
        detail = "" if body else _first_line(response.text)
    problem_type = body.get("type") if isinstance(body.get("type"), str) else "about:blank"
    cls = error_class(status, str(problem_type))
    return cls(
        status,
        str(title),
        detail,
        type=str(problem_type),
        body=body,
        response=response,
    )
