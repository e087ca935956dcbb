"""Slow clients: a deadline for the request head and one for the request body.

uvicorn (0.55) has neither. A client that sends part of a request head, or a Content-Length
and then a trickle of body, held its connection (and, for the body, a request task) forever:
1,500 such sockets were all still open after 30 s. Behind a proxy that buffers requests
(nginx's default) the proxy absorbs this; without one, Folio does it itself:

- `head_timeout_protocol(s)`: uvicorn's h11 protocol with a timer from the connection's start
  (and from the end of each response on a kept-alive connection) until a whole request head
  has arrived; on expiry it answers 408 and closes the connection.
- `BodyTimeoutMiddleware`: the whole body must arrive within `timeout_s` of the request
  starting; otherwise 408 in the standard error shape, `Connection: close`, and the app is
  told the client went away. Time spent by the app itself (answering, streaming) is not
  counted: only waiting for body bytes that have not arrived.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from app.core.logs import request_id as current_request_id

_HEAD_408_BODY = json.dumps(
    {"error": {"code": "request_timeout", "message": "Request head too slow", "request_id": ""}}
).encode()
RAW_408 = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
    + f"content-length: {len(_HEAD_408_BODY)}\r\n\r\n".encode()
    + _HEAD_408_BODY
)


class _HeadTimeoutH11Protocol(H11Protocol):
    """H11Protocol that closes connections whose request head does not arrive in time."""

    head_timeout_s = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def data_received(self, data: bytes) -> None:
        if self._between_requests() and self._head_timer is None:
            self._arm_head_timer()  # the first bytes of a kept-alive connection's next request
        super().data_received(data)
        if not self._between_requests():
            self._cancel_head_timer()  # a whole head arrived: the app (and its body) runs

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._cancel_head_timer()  # idle now: uvicorn's keep-alive timeout takes over

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def _between_requests(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._between_requests() and not self.transport.is_closing():
            self.transport.write(RAW_408)
            self.transport.close()


def head_timeout_protocol(timeout_s: float) -> type[H11Protocol]:
    """uvicorn's `http=` protocol class with a `timeout_s` deadline for each request head."""
    return type("HeadTimeoutH11Protocol", (_HeadTimeoutH11Protocol,), {"head_timeout_s": timeout_s})


class BodyTimeoutMiddleware:
    """408 when the request body has not fully arrived within `timeout_s`."""

    def __init__(self, app: ASGIApp, *, timeout_s: float) -> None:
        self.app = app
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        body_done = timed_out = started = False

        async def timed_receive() -> Message:
            nonlocal body_done, timed_out
            if timed_out:
                return {"type": "http.disconnect"}
            if body_done:  # e.g. a streaming response listening for the client leaving
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(deadline - loop.time(), 0))
            except TimeoutError:
                timed_out = True
                if not started:
                    await _send_408(send, self.timeout_s)
                return {"type": "http.disconnect"}
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if timed_out:  # the 408 is out; what the app answers to the "disconnect" is not
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, timed_receive, guarded_send)
        except Exception:
            if not timed_out:
                raise


async def _send_408(send: Send, timeout_s: float) -> None:
    body = json.dumps(
        {
            "error": {
                "code": "request_timeout",
                "message": f"The request body did not arrive within {timeout_s:g} s",
                "request_id": current_request_id(),
            }
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 408,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),  # the rest of the body, if it comes, is not read
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
