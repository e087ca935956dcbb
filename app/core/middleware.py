"""ASGI middleware: security headers, a hard cap on request body size, and the last-resort 500.
(Request ids come from asgi-correlation-id, see app/main.py and app/core/logs.py.)

The body cap counts bytes as they arrive, so a client lying in (or omitting) Content-Length
(a chunked upload) still cannot make the server buffer more than the limit, and gets the same
413 either way.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from urllib.parse import unquote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.asgi import ResponseWatch
from app.core.errors import error_body, where
from app.core.logs import request_id as current_request_id

log = logging.getLogger("folio.errors")


class BodySizeLimitMiddleware:
    """Rejects bodies over `max_bytes` (or the path's own limit in `path_limits`, e.g. file
    uploads) with 413 in the standard error shape."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, path_limits: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.path_limits = path_limits or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.path_limits.get(scope.get("path", ""), self.max_bytes)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await self._reject(send, max_bytes)
            return
        received = 0
        started = rejected = False

        async def limited_receive() -> Message:
            # Over the limit: answer 413 right here and tell the app the client went away.
            # (Raising instead would reach FastAPI's body parser, which turns any error into
            # 400 "error parsing the body": the 400-for-chunked bug.)
            nonlocal received, rejected
            if rejected:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    rejected = True
                    if not started:
                        await self._reject(send, max_bytes)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if rejected:  # the 413 is out; whatever the app answers to the "disconnect" is not
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not rejected:
                raise

    async def _reject(self, send: Send, max_bytes: int) -> None:
        await send_error(send, 413, "payload_too_large", f"Request body exceeds {max_bytes} bytes")


SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"strict-transport-security", b"max-age=63072000; includeSubDomains"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
NO_FRAMING = (b"x-frame-options", b"DENY")
# The API serves JSON only. /docs and /redoc load Swagger UI / ReDoc from this origin
# (DOCS_ASSETS, from the fastapi-offline package), so their pages may load nothing from elsewhere;
# the inline script is FastAPI's page bootstrap, blob: workers are ReDoc's.
API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
DOCS_CSP = (
    b"content-security-policy",
    b"default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self' data:; worker-src 'self' blob:; frame-ancestors 'none'",
)
DOCS_ASSETS = "/docs/assets"
DOCS_PATHS = ("/docs", "/redoc", "/openapi.json")
PAGE_PATHS = ("/",)  # the reader's page
WIDGET_PATHS = ("/widget",)  # the page the widget loader frames on allowed sites


def page_csp(frame_ancestors: str) -> tuple[bytes, bytes]:
    """The reader's page: its own scripts, styles and API only; no inline script or style, no
    plugin, no <base>, no form posting anywhere, and Trusted Types with no policy, so any
    `innerHTML = string` in the page throws instead of parsing server text as HTML."""
    policy = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; "
        f"frame-ancestors {frame_ancestors}; "
        "require-trusted-types-for 'script'; trusted-types 'none'"
    )
    return b"content-security-policy", policy.encode()


class SecurityHeadersMiddleware:
    """Adds security headers to every response and rejects control characters in the URL.

    Only the widget page may be framed, and only by `embed_origins` (ALLOWED_ORIGINS_STR):
    it gets CSP frame-ancestors with that list instead of X-Frame-Options: DENY.
    """

    def __init__(self, app: ASGIApp, *, embed_origins: Sequence[str] = ()) -> None:
        self.app = app
        self.page = [*SECURITY_HEADERS, NO_FRAMING, page_csp("'none'")]
        self.widget = [*SECURITY_HEADERS, page_csp(" ".join(embed_origins) or "'none'")]
        self.api = [*SECURITY_HEADERS, NO_FRAMING, API_CSP]
        self.docs = [*SECURITY_HEADERS, NO_FRAMING, DOCS_CSP]

    def headers_for(self, path: str) -> list[tuple[bytes, bytes]]:
        if path in PAGE_PATHS:
            return self.page
        if path in WIDGET_PATHS:
            return self.widget
        if path.startswith(DOCS_PATHS):
            return self.docs
        return self.api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        query = (scope.get("query_string") or b"").decode("latin-1")
        if _has_controls(path) or _has_controls(unquote(query)):
            await send_error(
                send, 400, "bad_request", "Control characters in the URL", API_ERROR_HEADERS
            )
            return
        extra = self.headers_for(path)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _has_controls(text: str) -> bool:
    return any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in text)


# the 400 for a bad URL is sent by SecurityHeadersMiddleware itself: no one adds these after
API_ERROR_HEADERS = [*SECURITY_HEADERS, NO_FRAMING, API_CSP]


async def send_error(
    send: Send,
    status: int,
    code: str,
    message: str,
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    """Answer with `error_body` as JSON, from middleware that runs before (or instead of) the
    app and its exception handlers."""
    body = json.dumps(error_body(code, message)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class UnhandledErrorMiddleware:
    """The innermost of Folio's middleware: an unexpected exception becomes the standard 500
    here, inside the request-id and security-header middleware, so the response carries both
    and the connection stays open. (A handler for `Exception` runs outside all middleware,
    and Starlette re-raises after it, so the server drops the connection.)"""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        watch = ResponseWatch(send)
        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            if watch.started:  # mid-stream: nothing valid can be sent any more
                raise
            log.error(
                "unhandled error request_id=%s type=%s at=%s",
                current_request_id(),
                type(exc).__name__,
                where(exc),
            )
            await send_error(send, 500, "internal", "Internal error")
