"""Errors as HTTP answers: Conveyor's taxonomy decides the status, the message is kept.

    ValidationError (ManifestError: + problems)    400
    ProjectDenied                                   403
    NotFoundError                                   404
    ConflictError                                   409
    other PermanentError                            422
    TemporaryError                                  503 + Retry-After
    a request that does not match the schema        400 (FastAPI would say 422)

Every error body is ``{"error", "message", "code"}`` (Argo CD's shape), plus ``problems``
for manifests. Bad input is never a 500: a 500 is a bug, logged with its traceback and
answered without one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from conveyor.errors import (
    ConflictError,
    ConveyorError,
    NotFoundError,
    PermanentError,
    TemporaryError,
    ValidationError,
)
from conveyor.logging import get_logger
from conveyor.model.appproject import ProjectDenied
from conveyor.redaction import mask_credentials

log = get_logger(component="api")


class ErrorBody(BaseModel):
    """What every error answer carries."""

    error: str
    message: str
    code: int
    problems: list[str] | None = None


def status_of(err: ConveyorError) -> int:
    """The HTTP status for a Conveyor error."""
    if isinstance(err, ValidationError):
        return 400
    if isinstance(err, ProjectDenied):
        return 403
    if isinstance(err, NotFoundError):
        return 404
    if isinstance(err, ConflictError):
        return 409
    if isinstance(err, PermanentError):
        return 422
    if isinstance(err, TemporaryError):
        return 503
    return 500


def error_response(
    status: int,
    message: str,
    *,
    problems: list[str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    message = mask_credentials(message)
    body: dict[str, Any] = {"error": message, "message": message, "code": status}
    if problems:
        body["problems"] = [mask_credentials(p) for p in problems]
    return JSONResponse(body, status_code=status, headers=dict(headers) if headers else None)


async def _conveyor_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ConveyorError)
    status = status_of(exc)
    if status >= 500:
        log.warning("request failed", error=str(exc), error_type=type(exc).__name__)
    headers = None
    if isinstance(exc, TemporaryError):
        headers = {"Retry-After": str(max(1, math.ceil(exc.delay)))}
    problems = list(getattr(exc, "problems", ()) or ()) or None
    return error_response(status, str(exc), problems=problems, headers=headers)


async def _request_invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "request"
        problems.append(f"{where}: {err.get('msg', 'invalid')}")
    return error_response(400, "invalid request: " + "; ".join(problems), problems=problems)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return error_response(exc.status_code, str(exc.detail), headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves on this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in request.app.routes:
        if isinstance(route, APIRoute) and route.path_regex.match(request.url.path):
            methods |= route.methods or set()
    return sorted(methods)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error", path=request.url.path, exc_info=exc)
    return error_response(500, "internal error: see the server's log")


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(ConveyorError, _conveyor_error)
    app.add_exception_handler(RequestValidationError, _request_invalid)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in {
        400: "Invalid request or manifest.",
        401: "Missing or invalid bearer token.",
        403: "The project does not permit it.",
        404: "No such object.",
        409: "Conflicts with what exists or is running.",
        422: "Cannot be done in the current state.",
        503: "Temporarily unavailable; retry after Retry-After seconds.",
    }.items()
}
"""Declared on every route, so that the OpenAPI spec lists what clients may get."""
