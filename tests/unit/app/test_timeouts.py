"""BodyTimeoutMiddleware times only the wait for the body: once the body is in, the app may
keep listening for a disconnect (a streaming answer) for as long as it streams."""

from __future__ import annotations

import asyncio

from app.core.timeouts import BodyTimeoutMiddleware


def test_listening_for_a_disconnect_after_the_body_is_not_timed() -> None:
    sent: list[dict] = []
    second: list[dict] = []

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        await receive()  # the whole body, at once
        await send({"type": "http.response.start", "status": 200, "headers": []})
        second.append(await receive())  # a stream waiting for the client to leave

    async def receive():  # type: ignore[no-untyped-def]
        if not getattr(receive, "called", False):
            receive.called = True  # type: ignore[attr-defined]
            return {"type": "http.request", "body": b"{}", "more_body": False}
        await asyncio.sleep(0.3)  # longer than the body timeout
        return {"type": "http.disconnect"}

    async def send(message):  # type: ignore[no-untyped-def]
        sent.append(message)

    middleware = BodyTimeoutMiddleware(app, timeout_s=0.05)
    asyncio.run(middleware({"type": "http", "method": "POST"}, receive, send))
    assert [m.get("status") for m in sent] == [200]  # no 408 sent after the response began
    assert second == [{"type": "http.disconnect"}]


def test_a_body_that_stops_arriving_gets_408_and_the_app_sees_a_disconnect() -> None:
    sent: list[dict] = []
    seen: list[dict] = []

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        seen.append(await receive())
        seen.append(await receive())

    async def receive():  # type: ignore[no-untyped-def]
        if not getattr(receive, "called", False):
            receive.called = True  # type: ignore[attr-defined]
            return {"type": "http.request", "body": b"{", "more_body": True}
        await asyncio.sleep(10)
        raise AssertionError("never reached")

    async def send(message):  # type: ignore[no-untyped-def]
        sent.append(message)

    middleware = BodyTimeoutMiddleware(app, timeout_s=0.05)
    asyncio.run(middleware({"type": "http", "method": "POST"}, receive, send))
    assert sent[0]["status"] == 408 and (b"connection", b"close") in sent[0]["headers"]
    assert seen[1] == {"type": "http.disconnect"}
