"""Logs: one formatter for plandeck's structlog lines and the standard library's records.

``configure_logging`` sets it up once per process (``create_app`` and ``plandeck serve``
call it): JSON lines in production, readable console lines in development
(``PLANDECK_LOG_FORMAT`` chooses), at ``PLANDECK_LOG_LEVEL``. Records of the standard
library's loggers (uvicorn, SQLAlchemy's warnings, the rate limiter, Python warnings) go
through the same processors, so every line of a process has the same shape and carries the
request id bound by the request middleware (``plandeck.ops.requests``).

Secrets: the request middleware logs no headers, query strings or bodies. As a safety net,
``redact_secrets`` replaces the value of any key that names a password, token, secret,
cookie, session or authorization, and any ``Bearer ...`` credential inside a text.
Tracebacks are rendered without local variables.

uvicorn's access log is switched off: the request middleware writes one richer line per
request, and uvicorn's would carry the raw URL, query string included.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

import structlog
from structlog.types import EventDict, Processor, WrappedLogger

if TYPE_CHECKING:
    from plandeck.config import Settings

REDACTED = "[redacted]"
_SECRET_KEY = re.compile(
    r"passw|pwd|token|secret|authoriz|cookie|session|csrf|api[-_]?key|credential|dsn",
    re.IGNORECASE,
)
_CREDENTIAL = re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
# uvicorn logs an unhandled error with this message after the request middleware has
# logged it, traceback included, on the request's own line.
_UVICORN_ERROR_MESSAGE = "Exception in ASGI application"


def _redact_text(value: str) -> str:
    return _CREDENTIAL.sub(lambda match: f"{match.group(1)} {REDACTED}", value)


def _redact(mapping: MutableMapping[str, Any]) -> None:
    for key, value in mapping.items():
        if isinstance(key, str) and _SECRET_KEY.search(key):
            mapping[key] = REDACTED
        elif isinstance(value, str):
            mapping[key] = _redact_text(value)
        elif isinstance(value, dict):
            _redact(value)


def redact_secrets(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """Replace what looks like a credential; a safety net, not a licence to log one."""
    _redact(event_dict)
    return event_dict


def log_format(settings: Settings) -> str:
    return settings.log_format or ("json" if settings.is_production else "console")


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]  # typeshed's stream type parameter
    """Writes to ``sys.stderr`` as it is at each record: a test runner swaps it per test."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


class _DropUvicornErrorEcho(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(_UVICORN_ERROR_MESSAGE)


_SHARED: list[Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def _renderer(name: str) -> Processor:
    if name == "json":
        return structlog.processors.JSONRenderer(default=str)
    return structlog.dev.ConsoleRenderer(
        colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
    )


def configure_logging(settings: Settings) -> None:
    """Route structlog and the standard library's logging through one formatter on stderr.

    Safe to call again (tests build many apps): it replaces the handler it added before and
    leaves other handlers (a test runner's) alone.
    """
    structlog.configure(
        processors=[
            *_SHARED,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_secrets,
            _renderer(log_format(settings)),
        ],
    )
    handler = _StderrHandler()
    handler.setFormatter(formatter)
    handler.set_name("plandeck")

    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "plandeck"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)

    # uvicorn's own handlers (from its default dictConfig, when it ran) would format its
    # records their own way: its records propagate to the root handler instead.
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    error_logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _DropUvicornErrorEcho) for f in error_logger.filters):
        error_logger.addFilter(_DropUvicornErrorEcho())
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False
    logging.captureWarnings(True)
