"""Structured logs: one line per event, JSON in production, readable text on a console.

Every logger goes through one structlog `ProcessorFormatter` on the root logger: Folio's own
(`logging.getLogger("folio.…")`), uvicorn's, alembic's and the libraries'. Each line carries
timestamp, level, logger, message and the request id (asgi-correlation-id's context variable,
set per request from `X-Request-ID` or freshly made). Access lines add method, route (the
template, never the raw path: a session id in a path is a reader's only credential), status,
latency and the caller's identity kind (never the key, token or user).

Nothing here decides what is safe to log; callers never log credentials. `mask_secrets` is a
second line of defence that masks anything shaped like a Folio API key, a JWT or a bearer
header, should one ever reach a message. Tracebacks are never written (they can hold SQL,
paths and secrets); the exception's type is kept instead.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from typing import Any, Literal

import structlog
from asgi_correlation_id import correlation_id
from starlette.types import ASGIApp, Receive, Scope, Send

from app.core.asgi import ResponseWatch
from app.core.metrics import route_of

HANDLER_NAME = "folio-structured"
QUIET_ROUTES = ("/health", "/ready", "/metrics")  # probes: DEBUG, or they drown everything else

_SECRET_PATTERNS = [
    # fk_<public prefix>_<secret>: keep the prefix (it finds the key), drop the secret
    (re.compile(r"\b(fk_[A-Za-z0-9]{12})_[A-Za-z0-9_\-]{8,}"), r"\1_[masked]"),
    (re.compile(r"\beyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*"), "[masked-jwt]"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]{8,}"), r"\1 [masked]"),
    (
        re.compile(r"(?i)\b(password|passwd|secret|token|api_key|totp_code)=\S+"),
        r"\1=[masked]",
    ),
]


def mask_secrets(text: str) -> str:
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _mask_processor(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = mask_secrets(value)
    return event


def _add_request_id(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    request_id = correlation_id.get()
    if request_id is not None:
        event.setdefault("request_id", request_id)
    return event


def _drop_traceback(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    exc_info = event.pop("exc_info", None)
    event.pop("stack_info", None)
    if isinstance(exc_info, tuple) and exc_info[0] is not None:
        event.setdefault("exc_type", exc_info[0].__name__)
    elif isinstance(exc_info, BaseException):
        event.setdefault("exc_type", type(exc_info).__name__)
    return event


_FIRST = ("timestamp", "level", "logger", "message", "request_id")


def _standard_fields_first(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    ordered = {key: event.pop(key) for key in _FIRST if key in event}
    ordered.update(event)
    return ordered


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__()

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_request_id,
    ]


def configure_logging(*, level: str, fmt: Literal["json", "console"]) -> None:
    """Route every logger through one structured handler on the root logger (idempotent:
    calling it again replaces Folio's handler, leaving others, e.g. pytest's, alone)."""
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    # JSON names the text "message"; the console renderer prints the "event" key as the text
    json_only = (
        [structlog.processors.EventRenamer("message"), _standard_fields_first]
        if fmt == "json"
        else []
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _drop_traceback,
            _mask_processor,
            *json_only,
            renderer,
        ],
    )
    handler = _StderrHandler()
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)  # warnings become log lines too, not stray stderr text
    # uvicorn's own handlers would print a second, unstructured copy of each line.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    structlog.configure(
        processors=[
            *_shared_processors(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def request_id() -> str:
    """The current request's id ('-' outside a request)."""
    return correlation_id.get() or "-"


def valid_request_id(value: str) -> bool:
    """Incoming X-Request-ID values are honoured when short and plain (no log injection)."""
    return bool(_REQUEST_ID.fullmatch(value))


_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}")


class AccessLogMiddleware:
    """One line per HTTP request, written when the response has been sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.log = structlog.get_logger("folio.access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        watch = ResponseWatch(send)
        try:
            await self.app(scope, receive, watch)
        finally:
            route, status = route_of(scope), watch.status
            level = logging.DEBUG if route in QUIET_ROUTES and status < 400 else logging.INFO
            self.log.log(
                level,
                "request",
                method=scope["method"],
                route=route,
                status=status,
                latency_ms=round((time.perf_counter() - started) * 1000, 1),
                identity=scope.get("state", {}).get("identity_kind", "-"),
            )
