"""Every error is JSON naming the field and the reason, in Persian or English (Accept-Language)."""

from __future__ import annotations

import inspect
import logging
import sqlite3
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import FastAPI, Path, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.messages import MESSAGES, Lang, message, pick_lang
from processes.declaration import UnknownProcess

log = logging.getLogger("peygir.api")

RETRY_AFTER_SECONDS = 5
"""What a 503 asks the caller to wait before trying again."""
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6
_PG_LOCK_NOT_AVAILABLE, _PG_QUERY_CANCELED = "55P03", "57014"

# pydantic's built-in error types → our message keys (custom validators already use our keys).
_PYDANTIC_KINDS = {
    "missing": "required",
    "string_too_long": "too_long",
    "string_too_short": "too_short",
    "extra_forbidden": "unknown_field",
    "enum": "invalid_value",
    "literal_error": "invalid_value",
    "bool_parsing": "invalid_value",
    "bool_type": "invalid_value",
    "string_type": "invalid_value",
    "less_than_equal": "too_large",
    "greater_than_equal": "too_small",
}


class FieldProblem(BaseModel):
    field: str
    """Name of the offending field (dotted for nested ones), or `request`."""
    reason: str
    """What is wrong, in the caller's language."""
    code: str
    """Stable machine-readable reason, e.g. `national_code_invalid`."""


class ErrorBody(BaseModel):
    """Shape of every 4xx/5xx answer."""

    code: str
    message: str
    errors: list[FieldProblem] = []


def documented(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for the errors a route answers: every one is an ErrorBody."""
    return {code: {"model": ErrorBody, "description": HTTPStatus(code).phrase} for code in codes}


RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]
"""A row's id in a route's path, within what the database keeps (PostgreSQL's integer): a
larger one is a 422 on the path, never a driver's overflow."""


class ApiError(Exception):
    """Raised by routes; rendered in the caller's language."""

    def __init__(
        self,
        status_code: int,
        code: str,
        errors: list[FieldProblem] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(code)
        self.status_code = status_code
        self.code = code
        self.errors = errors or []
        self.headers = headers


def unavailable() -> ApiError:
    """503: nothing was saved; the caller may try again after Retry-After."""
    return ApiError(503, "unavailable", headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def is_lock_wait(error: OperationalError) -> bool:
    """The statement gave up waiting on another connection: SQLite busy or locked, PostgreSQL's
    lock_timeout (55P03) or statement_timeout (57014). Any other failure stays a 500."""
    cause = error.orig
    if isinstance(cause, sqlite3.OperationalError):
        return (cause.sqlite_errorcode & 0xFF) in (_SQLITE_BUSY, _SQLITE_LOCKED)
    return getattr(cause, "sqlstate", None) in (_PG_LOCK_NOT_AVAILABLE, _PG_QUERY_CANCELED)


def lang_of(request: Request) -> Lang:
    cookie = request.cookies.get("lang")
    if cookie in (Lang.fa, Lang.en):
        return Lang(cookie)
    return pick_lang(request.headers.get("accept-language"))


def field_problems(
    errors: list[dict[str, Any]], lang: Lang, *, skip_loc: int = 0
) -> list[FieldProblem]:
    """Translate pydantic error dicts into field problems in `lang`."""
    problems = []
    for error in errors:
        loc = [str(p) for p in error.get("loc", ())][skip_loc:]
        kind = _PYDANTIC_KINDS.get(error["type"], error["type"])
        params = {k: v for k, v in (error.get("ctx") or {}).items() if isinstance(v, int)}
        try:
            reason = message(kind, lang, **params)
        except (KeyError, IndexError):
            kind = "invalid_value"
            reason = message(kind, lang)
        problems.append(FieldProblem(field=".".join(loc) or "request", reason=reason, code=kind))
    return problems


def _body(lang: Lang, code: str, errors: list[FieldProblem]) -> dict[str, Any]:
    text = message(code, lang) if code in MESSAGES else code
    return ErrorBody(code=code, message=text, errors=errors).model_dump()


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            _body(lang_of(request), exc.code, exc.errors),
            status_code=exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(OperationalError)
    async def _database_busy(request: Request, exc: OperationalError) -> Response:
        """A lock held elsewhere past the timeout: 503 with Retry-After, as JSON or as a page
        (whichever ApiError handler is installed last answers). The request's transaction was
        rolled back when its session closed."""
        if not is_lock_wait(exc):
            raise exc
        log.warning("%s %s: database lock wait timed out", request.method, request.url.path)
        answer = app.exception_handlers[ApiError](request, unavailable())
        return await answer if inspect.isawaitable(answer) else answer

    @app.exception_handler(UnknownProcess)
    async def _unknown_process(request: Request, exc: UnknownProcess) -> Response:
        """A case of a process this installation no longer runs: not found, not a crash."""
        log.warning("%s %s: case of unknown process %s", request.method, request.url.path, exc)
        answer = app.exception_handlers[ApiError](request, ApiError(404, "not_found"))
        return await answer if inspect.isawaitable(answer) else answer

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        lang = lang_of(request)
        errors = field_problems(list(exc.errors()), lang, skip_loc=1)
        return JSONResponse(
            _body(lang, "invalid_value", errors),
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {
            400: "invalid_value",
            401: "not_authenticated",
            403: "forbidden",
            404: "not_found",
            429: "rate_limited",
        }
        code = codes.get(exc.status_code, str(exc.detail))
        return JSONResponse(
            _body(lang_of(request), code, []),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )
