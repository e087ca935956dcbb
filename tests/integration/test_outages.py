"""Dependency outages, for real: Redis on a closed port, a SQLite database whose folder is
gone, PostgreSQL on a closed port. Requests get 503 + Retry-After (never 500) or keep working
degraded; /ready names the dependency that is down."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from app.db.database import sqlite_path
from tests.utils.apps import make_settings, running
from tests.utils.http import assert_error_shape, free_port
from tests.utils.sse import iter_events

pytestmark = pytest.mark.integration

Q = {"query": "How long does the dough rise?"}
CREDS = {"email": "reader@example.com", "password": "a long enough passphrase"}


def _assert_503(response) -> None:  # type: ignore[no-untyped-def]
    assert_error_shape(response, 503, "unavailable")
    assert int(response.headers["Retry-After"]) > 0
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-request-id"]


async def test_redis_down_limits_fall_back_in_process_and_ready_says_degraded(
    tmp_path: Path, caplog
) -> None:
    """Regression (issue 14, item 4): with Redis unreachable, /query, the streams, session
    messages, login and register answered 500 while /ready said ready."""
    caplog.set_level(logging.INFO)
    closed = f"redis://127.0.0.1:{free_port()}/0"
    settings = make_settings(tmp_path, api={"redis_url": closed, "rate_limit_per_minute": 6})
    async with running(settings) as client:
        r = await client.post("/auth/register", json=CREDS)
        assert r.status_code == 201, r.text
        r = await client.post("/auth/login", json=CREDS)
        assert r.status_code == 200, r.text
        assert (await client.post("/query", json=Q)).status_code == 200
        async with client.stream("POST", "/query/stream", json=Q) as r:
            assert r.status_code == 200
            assert [name for name, _ in [e async for e in _aiter(r)]][-1] == "done"
        sid = (await client.post("/sessions")).json()["id"]
        r = await client.post(f"/sessions/{sid}/messages", json=Q)
        assert r.status_code == 200, r.text
        # The limit still holds (counted in this process): 6 answers a minute, then 429.
        codes = [(await client.post("/query", json=Q)).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]

        ready = await client.get("/ready")
        assert ready.status_code == 200
        body = ready.json()
        assert body["status"] == "degraded" and body["checks"]["redis"].startswith("unreachable")
        assert body["checks"]["database"] == "ok"
        metrics = (await client.get("/metrics")).text
        assert "folio_ratelimit_degraded 1.0" in metrics
        assert "folio_ratelimit_fallback_total" in metrics
    warnings = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING


async def _aiter(response):  # type: ignore[no-untyped-def]
    """iter_events over an async streaming response (collects the body first)."""
    await response.aread()
    for event in iter_events(response):
        yield event


async def test_sqlite_database_gone_gives_503_and_not_ready(tmp_path: Path) -> None:
    """The database folder is removed under a running server: every request that needs the
    database answers 503 with Retry-After, and /ready says which dependency is down."""
    db_dir = tmp_path / "dbdir"
    settings = make_settings(tmp_path, database={"url": f"sqlite:///{db_dir / 'folio.db'}"})
    async with running(settings) as client:
        assert (await client.post("/auth/register", json=CREDS)).status_code == 201
        ready = await client.get("/ready")  # up, but nothing indexed yet: degraded, 200
        assert ready.status_code == 200 and ready.json()["status"] == "degraded"
        path = sqlite_path(settings.database.url)
        assert path is not None and path.parent == db_dir
        shutil.rmtree(db_dir)
        client.app.state.db_engine.dispose()  # new connections, as after the pool recycles
        _assert_503(await client.post("/auth/login", json=CREDS))
        _assert_503(await client.post("/auth/register", json={**CREDS, "email": "b@example.com"}))
        _assert_503(await client.post("/query", json=Q))
        _assert_503(await client.post("/sessions"))
        ready = await client.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["status"] == "not_ready"
        assert ready.json()["checks"]["database"] == "unreachable (database file missing)"
        assert str(tmp_path) not in ready.text


async def test_postgres_on_a_closed_port_gives_503(tmp_path: Path) -> None:
    url = f"postgresql://folio@127.0.0.1:{free_port()}/folio"
    settings = make_settings(tmp_path, database={"url": url, "auto_migrate": False})
    async with running(settings) as client:
        _assert_503(await client.post("/auth/login", json=CREDS))
        _assert_503(await client.post("/query", json=Q))
        # credentials are looked up on a worker thread: that lookup failing is a 503 too
        key = {"X-API-Key": "fk_0123456789ab_" + "a" * 40}  # well formed: it needs a lookup
        _assert_503(await client.post("/query", json=Q, headers=key))
        # a token that is not a valid JWT is refused before any lookup: 401, database or not
        bearer = {"Authorization": "Bearer not.a.real.jwt"}
        response = await client.post("/query", json=Q, headers=bearer)
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] == "unauthorized"
        ready = await client.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"] == "unreachable (OperationalError)"
        assert (await client.get("/health")).status_code == 200
