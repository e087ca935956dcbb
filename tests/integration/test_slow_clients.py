"""Slow clients are cut off (issue 25, item 6): a request head or body that does not arrive in
time gets 408 and a closed connection, on a real uvicorn started the way `folio serve` starts
it. Before, 1,500 sockets each holding a partial POST body were all still open after 30 s."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from app.cli.common import uvicorn_options
from app.main import create_app
from tests.utils.apps import ADMIN_KEY, make_settings, mock_index
from tests.utils.http import serve_in_thread

pytestmark = pytest.mark.integration

SOCKET_TIMEOUT_S = 20  # far above the 1 s deadlines below: only a server that never closes
# the connection makes a read wait this long


@pytest.fixture
def server(tmp_path: Path):
    settings = make_settings(tmp_path, api={"header_timeout_s": 1, "body_timeout_s": 1})
    app = create_app(settings, index_factory=mock_index)
    with serve_in_thread(app, **uvicorn_options(settings)) as url:
        yield int(url.rsplit(":", 1)[1])


def _until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (socket.timeout if it
    never does)."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def _one_response(sock: socket.socket) -> bytes:
    """One whole response (head and Content-Length body) from a kept-alive connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    assert len(body) == length  # nothing of a next response mixed in
    return head + b"\r\n\r\n" + body


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.settimeout(SOCKET_TIMEOUT_S)
    return sock


def test_a_partial_request_head_is_closed_with_408(server: int) -> None:
    with _connect(server) as sock:
        sock.sendall(b"POST /ingest HTTP/1.1\r\nHost: x\r\nContent-Type: applic")
        answer = _until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408")
    with _connect(server) as sock:  # a connection that sends nothing at all
        assert _until_closed(sock).startswith(b"HTTP/1.1 408")


def test_a_partial_body_gets_408_in_the_error_shape_and_is_closed(server: int) -> None:
    head = (
        "POST /ingest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"X-API-Key: {ADMIN_KEY}\r\nContent-Length: 1000\r\n\r\n"
    )
    with _connect(server) as sock:
        sock.sendall(head.encode() + b'{"chapter": "c", "content": "')
        answer = _until_closed(sock)
    status, _, rest = answer.partition(b"\r\n")
    assert status == b"HTTP/1.1 408 Request Timeout"
    headers, _, body = rest.partition(b"\r\n\r\n")
    assert b"connection: close" in headers.lower()
    error = json.loads(body)["error"]
    assert error["code"] == "request_timeout" and error["request_id"]


def test_the_next_request_on_a_kept_alive_connection_has_a_head_deadline_too(
    server: int,
) -> None:
    """uvicorn's keep-alive timer stops at the first byte of the next request; the head
    deadline takes over from there."""
    with _connect(server) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _one_response(sock).startswith(b"HTTP/1.1 200")
        sock.sendall(b"GET /health HTTP/1.1\r\nHo")
        assert _until_closed(sock).startswith(b"HTTP/1.1 408")


def test_slow_but_timely_clients_are_served(server: int) -> None:
    body = json.dumps({"query": "What is autolyse?"}).encode()
    head = (
        f"POST /query HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    with _connect(server) as sock:
        sock.sendall(head.encode()[:20])
        time.sleep(0.3)
        sock.sendall(head.encode()[20:] + body[:5])
        time.sleep(0.3)
        sock.sendall(body[5:])
        answer = _until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]


def test_many_slow_bodies_are_all_closed(server: int) -> None:
    """The attack's shape, scaled down: 100 sockets each holding a partial POST body."""
    head = b"POST /query HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{"
    sockets = [_connect(server) for _ in range(100)]
    try:
        for sock in sockets:
            sock.sendall(head)
        answers = [_until_closed(sock) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
    assert all(a.startswith(b"HTTP/1.1 408") for a in answers)
