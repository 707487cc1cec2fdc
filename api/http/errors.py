"""The API's errors and the handlers that turn every failure into the contract's error body.

``ApiError(status, code, message, field)`` is raised by routes and dependencies; the handlers
installed by ``install_handlers`` also translate request validation errors (422 naming the
parameter), values PostgreSQL cannot hold such as NUL characters (422), unknown routes (404), a
database that is away (503) and anything unexpected (500
with a generic message, the trace only in the log): no client ever sees a stack trace.
"""

from __future__ import annotations

import logging

import psycopg
import psycopg_pool
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from alerts.errors import NotFound, StateConflict
from api.schemas.common import ErrorDetail, ErrorOut

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None,
                 headers: dict[str, str] | None = None) -> None:  # fmt: skip
        super().__init__(message)
        self.status, self.code, self.message, self.field, self.headers = status, code, message, field, headers


def documented(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI ``responses`` for these error statuses, all with the contract's error body."""
    return {status: {"model": ErrorOut} for status in statuses}


def not_found(what: str, code: str = "not_found") -> ApiError:
    return ApiError(404, code, f"{what} not found")


def bad_request(message: str, field: str | None = None, code: str = "bad_request") -> ApiError:
    return ApiError(400, code, message, field)


def error_response(status: int, code: str, message: str, field: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:  # fmt: skip
    body = ErrorOut(error=ErrorDetail(code=code, message=message, field=field))
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
               406: "not_acceptable", 413: "too_large", 415: "unsupported_media_type",
               429: "too_many_requests"}  # fmt: skip


def _field(location: tuple[object, ...]) -> str | None:
    parts = [str(p) for p in location if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or None


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_request: Request, error: ApiError) -> JSONResponse:
        return error_response(error.status, error.code, error.message, error.field, error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {"loc": (), "msg": "invalid request"}
        field = _field(tuple(first.get("loc", ())))
        message = f"{field}: {first['msg']}" if field else str(first["msg"])
        return error_response(422, "invalid", message, field)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(error.status_code, "http_error")
        headers = dict(error.headers) if error.headers else None
        return error_response(error.status_code, code, str(error.detail), None, headers)

    @app.exception_handler(NotFound)
    async def missing(_request: Request, error: NotFound) -> JSONResponse:
        return error_response(404, error.code, str(error))

    @app.exception_handler(StateConflict)
    async def conflict(_request: Request, error: StateConflict) -> JSONResponse:
        return error_response(409, error.code, str(error))

    @app.exception_handler(psycopg.DataError)
    async def unstorable(_request: Request, error: psycopg.DataError) -> JSONResponse:
        # SQLSTATE class 22, or psycopg's own refusal: a value PostgreSQL cannot hold, such as a NUL character
        return error_response(422, "invalid", f"a value the database cannot store: {str(error).splitlines()[0]}")

    @app.exception_handler(psycopg_pool.PoolTimeout)
    @app.exception_handler(psycopg.OperationalError)
    async def database_away(_request: Request, error: Exception) -> JSONResponse:
        log.warning("database unavailable: %s", error)
        return error_response(503, "unavailable", "the database is not answering; try again shortly",
                              headers={"Retry-After": "5"})  # fmt: skip

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal", "internal error (logged on the server)")
