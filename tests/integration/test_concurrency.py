"""100 concurrent readers against a real uvicorn: no pool deadlock, no 500, on SQLite and on
PostgreSQL; and an overload is a 503 with Retry-After from the admission limit.

Regression (issue 12): every request held a pooled database connection while it waited for the
model, so 100 clients exhausted the pool (5 + 10) and got `TimeoutError` 500s after 30 s. The
pool here is made tiny (2 connections, 10 s timeout) on purpose: a request that held its
connection through the model work would time out, so the test fails if that comes back.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter

import httpx
import pytest

from tests.utils.apps import make_settings
from tests.utils.builders import SAMPLE_BOOK
from tests.utils.http import serve_in_thread
from tests.utils.services import fresh_pg_schema, postgres_url_or_skip

pytestmark = pytest.mark.integration

QUESTIONS = [
    "How long does bulk fermentation take?",
    "What is a levain?",
    "How do I score the loaf?",
    "Why is my crumb dense?",
    "How often should I feed my starter?",
    "What does salt do to dough?",
]


async def _readers(base: str, clients: int, rounds: int) -> Counter:
    """`clients` closed-loop readers, each asking `rounds` questions (half through /query,
    half as session messages)."""
    statuses: Counter = Counter()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:

        async def reader(n: int) -> None:
            session = None
            for r in range(rounds):
                question = QUESTIONS[(n + r) % len(QUESTIONS)]
                if n % 2:
                    response = await client.post("/query", json={"query": question})
                else:
                    if session is None:
                        created = await client.post("/sessions")
                        statuses[created.status_code] += 1
                        session = created.json().get("id")
                    response = await client.post(
                        f"/sessions/{session}/messages", json={"query": question}
                    )
                statuses[response.status_code] += 1

        await asyncio.gather(*(reader(n) for n in range(clients)))
    return statuses


def _app(tmp_path, minilm, **database):
    import shutil

    from app.main import create_app
    from indexes.folio_index import FolioIndex

    settings = make_settings(
        tmp_path,
        embedding={"provider": "local"},
        api={
            "rate_limit_per_minute": 100_000,
            "rate_limit_per_day": 1_000_000,
            "write_rate_limit_per_minute": 100_000,
            "write_rate_limit_per_day": 1_000_000,
        },
        database={"pool_size": 2, "max_overflow": 0, "pool_timeout_s": 10, **database},
    )
    shutil.copytree(SAMPLE_BOOK, settings.sources[0].path, dirs_exist_ok=True)

    def factory(cfg, **kw):  # type: ignore[no-untyped-def]
        index = FolioIndex(cfg, embed_model=minilm, **kw)
        if not index.documents():
            index.index_sources()
        return index

    return create_app(settings, index_factory=factory)


def _check_100_readers(app) -> None:
    with serve_in_thread(app) as base:
        started = time.perf_counter()
        statuses = asyncio.run(_readers(base, clients=100, rounds=3))
        elapsed = time.perf_counter() - started
    assert statuses == Counter({200: 300, 201: 50}), statuses
    assert elapsed < 120


def test_100_concurrent_readers_on_sqlite(tmp_path, minilm):
    _check_100_readers(_app(tmp_path, minilm))


def test_100_concurrent_readers_on_postgres(tmp_path, minilm):
    with fresh_pg_schema(postgres_url_or_skip()) as url:
        _check_100_readers(_app(tmp_path, minilm, url=url))


class _SlowIndex:
    """Wraps a FolioIndex so that answering waits for the test (a stand-in for a slow model)."""

    def __init__(self, inner, gate: threading.Event) -> None:  # type: ignore[no-untyped-def]
        self._inner, self._gate = inner, gate

    def query(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self._gate.wait(30)
        return self._inner.query(*args, **kwargs)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._inner, name)


def test_overload_is_503_with_retry_after_never_500(tmp_path, minilm):
    """Beyond `api.max_pending` answers running or waiting, a request is refused at once (503 +
    Retry-After) instead of queueing for seconds or failing with a 500; admitted ones finish."""
    from app.main import create_app
    from indexes.folio_index import FolioIndex

    gate = threading.Event()
    settings = make_settings(
        tmp_path,
        api={"rate_limit_per_minute": 1000, "max_pending": 2, "answer_workers": 2},
        cache={"enabled": False},
    )

    def factory(cfg, **kw):  # type: ignore[no-untyped-def]
        return _SlowIndex(FolioIndex(cfg, embed_model=minilm, **kw), gate)

    app = create_app(settings, index_factory=factory)

    async def burst(base: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            asks = [client.post("/query", json={"query": f"levain {i}?"}) for i in range(6)]
            tasks = [asyncio.ensure_future(a) for a in asks]
            await asyncio.sleep(1.0)  # the refused ones are answered at once
            refused = [t for t in tasks if t.done()]
            assert len(refused) == 4, [t.done() for t in tasks]
            gate.set()
            return [await t for t in tasks]

    with serve_in_thread(app) as base:
        responses = asyncio.run(burst(base))
    codes = Counter(r.status_code for r in responses)
    assert codes == Counter({503: 4, 200: 2}), codes
    for r in responses:
        if r.status_code == 503:
            assert r.json()["error"]["code"] == "overloaded"
            assert r.headers["retry-after"] == "1"


class _SlowStreamIndex(_SlowIndex):
    """Streams only once the test opens the gate."""

    def stream(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self._gate.wait(30)
        yield from self._inner.stream(*args, **kwargs)


def test_streams_are_admitted_and_hold_their_place_until_they_end(tmp_path, minilm):
    """Regression (issue 22): `/query/stream` ran on FastAPI's threadpool with no admission
    limit. Now a stream takes a place in the answer pool until it ends: with `max_pending: 2`
    and two streams running, a third stream and a /query get 503 `overloaded` + Retry-After at
    once; when the streams end their places are free again."""
    from app.main import create_app
    from indexes.folio_index import FolioIndex

    gate = threading.Event()
    settings = make_settings(
        tmp_path,
        api={"rate_limit_per_minute": 1000, "max_pending": 2, "answer_workers": 2},
        cache={"enabled": False},
    )

    def factory(cfg, **kw):  # type: ignore[no-untyped-def]
        return _SlowStreamIndex(FolioIndex(cfg, embed_model=minilm, **kw), gate)

    app = create_app(settings, index_factory=factory)

    async def scenario(base: str) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:

            async def read(q: str) -> httpx.Response:
                async with client.stream("POST", "/query/stream", json={"query": q}) as r:
                    await r.aread()
                    return r

            streams = [asyncio.ensure_future(read(f"levain {i}?")) for i in range(2)]
            await asyncio.sleep(1.0)  # both admitted, waiting for the model
            assert app.state.answer_pool.pending == 2
            refused = [
                await client.post("/query/stream", json={"query": "levain?"}),
                await client.post("/query", json={"query": "levain?"}),
            ]
            for r in refused:
                assert r.status_code == 503, r.text
                assert r.json()["error"]["code"] == "overloaded"
                assert r.headers["retry-after"] == "1"
            gate.set()
            for r in await asyncio.gather(*streams):
                assert r.status_code == 200 and "event: done" in r.text
            assert app.state.answer_pool.pending == 0
            again = await client.post("/query/stream", json={"query": "levain?"})
            assert again.status_code == 200 and "event: done" in again.text

    with serve_in_thread(app) as base:
        asyncio.run(scenario(base))
