"""What Folio's ASGI middleware share: one wrapper around `send` that watches the response go
out (status, whether it started), for the access log, the metrics and the last-resort 500."""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import Message, Send


class ResponseWatch:
    """An ASGI `send` that passes every message on and remembers the response's `status` (500
    until one is sent, as when the app raised) and whether it `started`; `on_start` runs as
    the headers go out."""

    def __init__(self, send: Send, on_start: Callable[[Message], None] | None = None) -> None:
        self._send = send
        self._on_start = on_start
        self.status = 500
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            self.status = message["status"]
            if self._on_start is not None:
                self._on_start(message)
        await self._send(message)
