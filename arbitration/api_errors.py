"""The ONE place where errors become HTTP statuses.

Services raise domain errors without any notion of HTTP (:mod:`arbitration.users`); this
module maps them: JSON ``{"detail": message}`` under ``/api``, a small error page elsewhere.
Nothing is changed when an error is raised: the request's unit of work rolls back first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from arbitration.api_security import CsrfError, LoginRequired, RateLimited, SessionExpired
from arbitration.users import (
    AuthenticationError,
    ConflictError,
    DomainError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
)

STATUS: list[tuple[type[Exception], int]] = [
    (NotFoundError, 404),
    (ForbiddenError, 403),
    (ConflictError, 409),
    (InvalidInputError, 422),
    (AuthenticationError, 401),
    (LoginRequired, 401),
    (SessionExpired, 401),
    (CsrfError, 403),
    (RateLimited, 429),
]


def status_for(exc: Exception) -> int:
    for error_type, status in STATUS:
        if isinstance(exc, error_type):
            return status
    return 500


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api")


def _respond(request: Request, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    if _is_api(request):
        return JSONResponse({"detail": message}, status_code=status, headers=headers)
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(
        request,
        "error.html",
        {"status": status, "message": message, "user": None},
        status_code=status,
        headers=headers,
    )


def _headers(exc: Exception, request: Request) -> dict[str, str] | None:
    if isinstance(exc, RateLimited):
        return {"Retry-After": str(exc.retry_after)}
    if isinstance(exc, AuthenticationError) and _is_api(request):
        return {"WWW-Authenticate": "Bearer"}
    return None


async def _domain(request: Request, exc: Exception) -> Response:
    if isinstance(exc, LoginRequired) and request.method == "GET" and not _is_api(request):
        return RedirectResponse("/login", status_code=303)
    return _respond(request, status_for(exc), str(exc), _headers(exc, request))


def _describe(errors: Sequence[Any]) -> str:
    parts = []
    for item in errors:
        where = ".".join(str(p) for p in item.get("loc", ()) if p not in ("body", "query", "path"))
        parts.append(f"{where or 'request'}: {item.get('msg', 'invalid')}")
    return "; ".join(parts)


async def _validation(request: Request, exc: Exception) -> Response:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    if _is_api(request):
        safe = [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in errors]
        return JSONResponse({"detail": safe}, status_code=422)
    return _respond(request, 422, f"invalid input: {_describe(errors)}")


def install_error_handlers(app: FastAPI) -> None:
    for error_type in (DomainError, LoginRequired, SessionExpired, CsrfError, RateLimited):
        app.add_exception_handler(error_type, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
