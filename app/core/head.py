"""HEAD on every GET route: answered as GET would be, without the body (RFC 9110 §9.3.2).

FastAPI registers only the methods a route declares, so `HEAD /widget.js` was a 405 while
`GET /widget.js` was a 200; link checkers, CDNs and uptime probes use HEAD. Here the request
goes to the app as GET and the body is dropped; the status and headers (Content-Length too)
are the GET's. A route without GET still answers 405.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGetMiddleware:
    """Runs HEAD as GET and sends only the response head."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        inner = {**scope, "method": "GET"}
        ended = False

        async def head_only(message: Message) -> None:
            nonlocal ended
            if message["type"] == "http.response.start":
                if "route" in inner:  # metrics and logs outside label by the matched route
                    scope["route"] = inner["route"]
                await send(message)
            elif message["type"] == "http.response.body":
                if not message.get("more_body", False) and not ended:
                    ended = True
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
            else:
                await send(message)

        await self.app(inner, receive, head_only)
