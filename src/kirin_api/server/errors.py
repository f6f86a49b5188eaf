"""The one place where errors become HTTP answers: ``{"error": {code, message, param}}``."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Sequence

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from kirin_api.contract.errors import (
    InternalError,
    InvalidParameter,
    MethodNotAllowed,
    NotFound,
    RequestError,
    TooManyRequests,
    Unavailable,
)
from kirin_api.logs import REQUEST_ID
from kirin_api.server.dialects import Dialect, dialect_for_path
from kirin_api.storage.base import StorageError
from kirin_api.store.base import StoreUnavailable

log = logging.getLogger("kirin_api.server")

_HTTP_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    429: "too_many_requests",
}


def error_response(error: RequestError) -> JSONResponse:
    headers = {}
    if isinstance(error, TooManyRequests):
        headers["Retry-After"] = str(error.retry_after)
    return JSONResponse(error.body(), status_code=error.status, headers=headers)


def _query_param_error(exc: RequestValidationError) -> InvalidParameter:
    first = exc.errors()[0]
    location = [str(part) for part in first.get("loc", ()) if part not in ("query", "path", "body")]
    param = ".".join(location) or None
    return InvalidParameter(
        f"{param or 'request'}: {first.get('msg', 'invalid value')}", param=param
    )


def _allowed_methods(request: Request, unlisted: Sequence[APIRouter]) -> list[str]:
    """Every method of this path, from the OpenAPI document and the routers kept out of it
    (Starlette's 405 names only the first matching route's, and one path's methods are often
    several routes)."""
    methods: set[str] = set()
    for template, operations in request.app.openapi()["paths"].items():
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, request.url.path):
            methods |= {method.upper() for method in operations}
    for router in unlisted:
        for route in router.routes:
            if isinstance(route, APIRoute) and route.path_regex.fullmatch(request.url.path):
                methods |= route.methods or set()
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def install_error_handlers(
    app: FastAPI, dialects: list[Dialect], unlisted: Sequence[APIRouter] = ()
) -> None:
    """Every error becomes a :class:`RequestError`, answered by the dialect that owns the path
    (its own envelope and codes) or else in the Kirin envelope. ``unlisted``: routers kept out
    of the OpenAPI document (the console), whose methods a 405 names too."""

    def respond(request: Request, error: RequestError) -> JSONResponse:
        dialect = dialect_for_path(dialects, request.url.path)
        if dialect is not None and dialect.render_error is not None:
            return dialect.render_error(error, request)
        return error_response(error)

    @app.exception_handler(RequestError)
    async def _request_error(request: Request, exc: RequestError) -> JSONResponse:
        return respond(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return respond(request, _query_param_error(exc))

    @app.exception_handler(StoreUnavailable)
    async def _store_down(request: Request, exc: StoreUnavailable) -> JSONResponse:
        log.warning("database unavailable: %s", exc)
        return respond(request, Unavailable("the database cannot be reached; try again shortly"))

    @app.exception_handler(StorageError)
    async def _storage_down(request: Request, exc: StorageError) -> JSONResponse:
        log.warning("storage unavailable: %s", exc)
        return respond(request, Unavailable("storage cannot be reached; try again shortly"))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return respond(request, NotFound(f"no route {request.method} {request.url.path}"))
        if exc.status_code == 405:
            allowed = _allowed_methods(request, unlisted)
            answer = respond(
                request,
                MethodNotAllowed(
                    f"{request.method} is not allowed on {request.url.path}; "
                    f"allowed: {', '.join(allowed)}"
                ),
            )
            answer.headers["Allow"] = ", ".join(allowed)
            return answer
        code = _HTTP_CODES.get(exc.status_code, "error")
        body = {"error": {"code": code, "message": str(exc.detail)}}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        request_id = REQUEST_ID.get() or uuid.uuid4().hex
        log.exception("unhandled error, request id %s", request_id)
        return respond(request, InternalError(f"internal error; request id {request_id}"))
