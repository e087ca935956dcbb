"""HTTP helpers: an app client over ASGI, and a uvicorn server in a background thread."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import uvicorn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serve_in_thread(app, port: int | None = None, **options) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """Run an ASGI app with uvicorn on 127.0.0.1 (extra uvicorn.Config `options`); yields
    its base URL."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 60
    while not server.started:
        if time.time() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def assert_error_shape(response: httpx.Response, status: int, code: str | None = None) -> dict:
    """Every 4xx/5xx body is {"error": {"code", "message", "request_id"}} and leaks nothing."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "request_id"}
    if code is not None:
        assert body["error"]["code"] == code
    text = response.text
    for leak in ("Traceback", 'File "', "/work/", "site-packages"):
        assert leak not in text
    return body["error"]
