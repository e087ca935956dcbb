"""/metrics stays small and private (issue 25, item 1): made-up methods and unknown paths add no
series, and only `api.metrics_allow` (default: this host and private networks) may read it."""

from __future__ import annotations

import random
import socket
import string
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY

from app.main import create_app
from tests.utils.apps import make_settings, mock_index, running
from tests.utils.http import assert_error_shape, serve_in_thread

pytestmark = pytest.mark.integration

HTTP_SERIES = ("folio_http_requests_total", "folio_http_request_seconds")


def _http_series() -> set[tuple[str, tuple]]:
    """Every (sample name, labels) of the request counter and latency histogram."""
    return {
        (sample.name, tuple(sorted(sample.labels.items())))
        for family in REGISTRY.collect()
        if family.name in HTTP_SERIES
        for sample in family.samples
    }


def _raw_request(port: int, method: str, path: str) -> None:
    """One request with any method token (httpx would not send `XA3F /x`)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        while sock.recv(65536):
            pass


def test_random_methods_and_paths_add_a_bounded_number_of_series(tmp_path: Path) -> None:
    """Regression: the `method` label took whatever the client sent (20,000 random methods
    grew /metrics from 447 KB to 35.6 MB). 300 requests with random methods and paths now add
    at most the series of one `other` method and one `unmatched` route."""
    app = create_app(make_settings(tmp_path), index_factory=mock_index)
    rng = random.Random(25)
    with serve_in_thread(app) as url:
        port = int(url.rsplit(":", 1)[1])
        _raw_request(port, "GET", "/health")  # warm: the series every server has anyway
        before = _http_series()
        for _ in range(300):
            method = "X" + "".join(rng.choices(string.ascii_uppercase, k=6))
            path = "/" + "".join(rng.choices(string.ascii_lowercase + string.digits, k=12))
            _raw_request(port, method, path)
        for _ in range(100):  # real methods on unknown paths: the route label stays one value
            path = "/" + "".join(rng.choices(string.ascii_lowercase, k=10))
            _raw_request(port, rng.choice(["GET", "POST", "PUT", "DELETE"]), path)
        new = _http_series() - before
    labels = [dict(lbl) for _, lbl in new]
    assert {lbl["method"] for lbl in labels} <= {"other", "GET", "POST", "PUT", "DELETE"}
    assert {lbl["route"] for lbl in labels} == {"unmatched"}
    # 5 methods x (a few statuses + 13 latency buckets + sum/count/created): well under 150
    assert len(new) < 150, len(new)
    assert not any(lbl["method"].startswith("X") for lbl in labels)


async def test_metrics_only_for_allowed_addresses(tmp_path: Path) -> None:
    """The default list admits this host (the test client is 127.0.0.1); a list without it
    refuses with 403, `[]` turns the endpoint off, and a request forwarded by a proxy that is
    not trusted is refused (behind a local proxy every client would look like 127.0.0.1)."""
    async with running(make_settings(tmp_path / "default")) as client:
        assert (await client.get("/metrics")).status_code == 200
        forwarded = await client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
        assert_error_shape(forwarded, 403, "forbidden")
        assert "trusted_proxies" in forwarded.json()["error"]["message"]
        assert (
            await client.get("/metrics", headers={"Forwarded": "for=1.2.3.4"})
        ).status_code == 403

    elsewhere = make_settings(tmp_path / "elsewhere", api={"metrics_allow": ["10.0.0.0/8"]})
    async with running(elsewhere) as client:
        refused = await client.get("/metrics")
        error = assert_error_shape(refused, 403, "forbidden")
        assert "api.metrics_allow" in error["message"]
        assert "folio_http_requests_total" not in refused.text
        assert (await client.get("/health")).status_code == 200  # only /metrics is closed

    off = make_settings(tmp_path / "off", api={"metrics_allow": []})
    async with running(off) as client:
        assert (await client.get("/metrics")).status_code == 403


async def test_metrics_through_a_trusted_proxy_check_the_real_client(tmp_path: Path) -> None:
    """With the proxy trusted, uvicorn takes the client from X-Forwarded-For and the list is
    checked against that address (real uvicorn, proxy headers on)."""
    from app.cli.common import uvicorn_options

    settings = make_settings(
        tmp_path, api={"trusted_proxies": ["127.0.0.1"], "metrics_allow": ["10.0.0.0/8"]}
    )
    app = create_app(settings, index_factory=mock_index)
    with serve_in_thread(app, **uvicorn_options(settings)) as url:
        inside = httpx.get(f"{url}/metrics", headers={"X-Forwarded-For": "10.1.2.3"})
        outside = httpx.get(f"{url}/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert inside.status_code == 200 and "folio_http_requests_total" in inside.text
    assert outside.status_code == 403


def test_metrics_allow_takes_only_addresses(tmp_path: Path) -> None:
    from app.core.settings import ConfigError

    for bad in (["*"], ["internal"], ["10.0.0.0/33"]):
        with pytest.raises(ConfigError, match="api.metrics_allow"):
            make_settings(tmp_path, api={"metrics_allow": bad})
