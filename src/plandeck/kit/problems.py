"""RFC 9457 problem details: every error the app returns is ``application/problem+json``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from plandeck.errors import NotAuthenticated, PlandeckError

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_BASE = "https://plandeck.dev/problems/"


def _wants_html(request: Request) -> bool:
    """Pages get an error page; the API and programs get problem+json."""
    if request.url.path.startswith("/api/"):
        return False
    return "text/html" in request.headers.get("accept", "")


def _error_page(request: Request, status: int, title: str, detail: str) -> Response:
    from plandeck.web.templating import templates

    return templates.TemplateResponse(
        request, "error.html", {"title": title, "detail": detail}, status_code=status
    )


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    slug: str,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PlandeckError)
    if _wants_html(request):
        return _error_page(request, exc.status_code, exc.title, exc.detail)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, NotAuthenticated) else None
    return problem_response(
        exc.status_code,
        exc.title,
        exc.detail,
        slug=exc.slug,
        instance=request.url.path,
        headers=headers,
        **exc.extra,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": [str(part) for part in error["loc"]], "msg": error["msg"], "type": error["type"]}
        for error in exc.errors()
    ]
    fields = ", ".join(".".join(e["loc"]) for e in errors)
    return problem_response(
        422,
        "Invalid input",
        f"the request is not valid: {fields}",
        slug="validation-error",
        instance=request.url.path,
        errors=errors,
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if _wants_html(request) and not exc.headers:
        title = _TITLES.get(exc.status_code, "Error")
        return _error_page(request, exc.status_code, title, str(exc.detail))
    return problem_response(
        exc.status_code,
        _TITLES.get(exc.status_code, "Error"),
        str(exc.detail),
        slug=f"http-{exc.status_code}",
        instance=request.url.path,
        headers=dict(exc.headers) if exc.headers else None,
    )


async def _unexpected_error(request: Request, _exc: Exception) -> Response:
    # Starlette re-raises the error after this response, so its traceback reaches the
    # server log; the client learns nothing internal.
    if _wants_html(request):
        return _error_page(
            request, 500, "Something went wrong", "The request changed nothing; try again."
        )
    return problem_response(
        500,
        "Internal error",
        "something went wrong on our side; the request changed nothing",
        slug="internal-error",
        instance=request.url.path,
    )


_TITLES = {
    404: "Not found",
    405: "Method not allowed",
    413: "Payload too large",
    429: "Too many requests",
}


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(PlandeckError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
