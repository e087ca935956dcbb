"""One error shape everywhere: {"error": {"code", "message", "request_id"}}.

Services raise FolioError subclasses; the handlers here render them, plus FastAPI's validation
errors, HTTP errors, an exhausted connection pool and anything unexpected (logged with the
request id, never shown). `error_body` builds the body for every one of them, and for the ASGI
middleware that answers before the app (app/core/middleware.py) and the SSE `error` event. The
handler for driver errors needs the database, so `app/main.py` registers it.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.logs import request_id as current_request_id

log = logging.getLogger("folio.errors")


class FolioError(Exception):
    """Base of every error a client may see; `message` must be safe to show."""

    code, status = "internal", 500

    def __init__(self, message: str = "Internal error", *, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class InvalidInput(FolioError):
    code, status = "invalid_input", 422


class PayloadTooLarge(FolioError):
    code, status = "payload_too_large", 413


class UnsupportedMediaType(FolioError):
    code, status = "unsupported_media_type", 415


class Unauthorized(FolioError):
    code, status = "unauthorized", 401


class Forbidden(FolioError):
    code, status = "forbidden", 403


class NotFound(FolioError):
    code, status = "not_found", 404


class SessionExpired(FolioError):
    code, status = "session_expired", 404


class Conflict(FolioError):
    code, status = "conflict", 409


class MfaRequired(FolioError):
    code, status = "mfa_required", 401


class RateLimited(FolioError):
    code, status = "rate_limited", 429


RETRY_AFTER_S = 5  # what a 503 tells clients to wait before trying again


class ServiceUnavailable(FolioError):
    """A dependency (database, vector store, LLM, login provider) is down: 503 + Retry-After."""

    code, status = "unavailable", 503

    def __init__(
        self, message: str = "Service unavailable", *, headers: dict[str, str] | None = None
    ):
        super().__init__(message, headers={"Retry-After": str(RETRY_AFTER_S), **(headers or {})})


class BackendUnavailable(ServiceUnavailable):
    """The index, the vector store or the LLM failed while answering (or condensing) a
    question: the client gets this stable message, the log gets the type and place."""

    def __init__(self, message: str = "The answering backend is unavailable, try again later"):
        super().__init__(message)


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def where(exc: BaseException) -> str:
    """`module.function:line` of the innermost frame, without the file path."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return "-"
    module = tb.tb_frame.f_globals.get("__name__", "?")
    return f"{module}.{tb.tb_frame.f_code.co_name}:{tb.tb_lineno}"


def request_id_of(request: Request) -> str:
    """The request's id (asgi-correlation-id), as in its X-Request-ID header and log lines."""
    return current_request_id()


def error_body(code: str, message: str, request_id: str | None = None) -> dict[str, object]:
    """The one error shape, `{"error": {"code", "message", "request_id"}}`; the request id is
    the current request's unless given."""
    rid = request_id if request_id is not None else current_request_id()
    return {"error": {"code": code, "message": message, "request_id": rid}}


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """`error_body` as a JSON response with `status` (and headers such as Retry-After)."""
    body = error_body(code, message, request_id_of(request))
    return JSONResponse(body, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    """First problem as `field: message`, without echoing the (possibly hostile) input."""
    errors = exc.errors()
    if not errors:
        return "Invalid request"
    err = errors[0]
    loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
    message = str(err.get("msg", "invalid value"))
    return f"{loc}: {message}"


TRACEBACK = "Traceback (most recent call last)"


class NoTracebackFilter(logging.Filter):
    """Drops exc_info from records: Starlette re-raises after our handler has sent the 500, and
    the server (uvicorn) would log the full traceback, which can hold SQL, paths and secrets."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith(TRACEBACK):
            # Starlette hands a failed lifespan's traceback to uvicorn as text: keep only
            # its last line, `Type: message` (DatabaseUnreachable says the cause and the fix).
            lines = [line for line in record.getMessage().splitlines() if line.strip()]
            record.msg, record.args = f"startup failed: {lines[-1].strip()}", ()
        if record.exc_info:
            exc = record.exc_info[1]
            record.msg = f"{record.msg} type={type(exc).__name__} at={where(exc) if exc else '-'}"
            record.exc_info = None
            record.exc_text = None
        return True


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that render every failure in the one JSON shape."""
    for name in ("uvicorn.error", "uvicorn.asgi"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, NoTracebackFilter) for f in logger.filters):
            logger.addFilter(NoTracebackFilter())

    @app.exception_handler(FolioError)
    async def _folio(request: Request, exc: FolioError) -> JSONResponse:
        return error_response(request, exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(request, 422, "validation_error", _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return error_response(request, exc.status_code, code, message, exc.headers)

    @app.exception_handler(SQLAlchemyTimeout)
    async def _pool_exhausted(request: Request, exc: SQLAlchemyTimeout) -> JSONResponse:
        # every pooled connection is busy: retryable overload, not a server bug
        log.warning("database pool exhausted request_id=%s", request_id_of(request))
        return error_response(
            request,
            503,
            "unavailable",
            "The database is busy, try again shortly",
            {"Retry-After": "1"},
        )

    app.add_exception_handler(Exception, unexpected_error)


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    """A 500 `internal` for anything unexpected. No traceback: it can carry SQL, file paths and
    secrets. Type and raising function (module.function:line) are enough to find the bug with
    the request id."""
    log.error(
        "unhandled error request_id=%s type=%s at=%s",
        request_id_of(request),
        type(exc).__name__,
        where(exc),
    )
    return error_response(request, 500, "internal", "Internal error")
