"""FAQ cache: a near-identical question is answered from the cache (no retrieval), marked
`cached: true`; a different question is not; an ingest (index version bump) invalidates it.
Runs in memory, and on the real Redis when FOLIO_TEST_REDIS_URL is set."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from app.main import create_app
from indexes.folio_index import FolioIndex
from tests.utils.services import redis_url_or_skip
from tests.utils.sse import iter_events

pytestmark = pytest.mark.integration

ADMIN = {"X-API-Key": "test-admin-key-0123456789abcdef"}


@pytest.fixture(params=["memory", "redis"])
async def client(request, indexed_settings, minilm):
    settings = indexed_settings
    settings.auth.admin_api_key = SecretStr(ADMIN["X-API-Key"])
    settings.api.rate_limit_per_minute = 1000
    if request.param == "redis":
        settings.api.redis_url = redis_url_or_skip()
        settings.cache.key_prefix = f"folio-faq-test-{id(settings)}"
    app = create_app(
        settings, index_factory=lambda c, **kw: FolioIndex(c, embed_model=minilm, **kw)
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://folio") as c:
            c.app = app  # type: ignore[attr-defined]
            yield c


def _count_retrievals(app) -> list[str]:  # type: ignore[no-untyped-def]
    engine = app.state.index_holder.get().engine
    calls: list[str] = []
    original = engine.retrieve

    def counted(question, top_k=None):  # type: ignore[no-untyped-def]
        calls.append(str(question))
        return original(question, top_k)

    engine.retrieve = counted
    return calls


async def _ask(client, q: str) -> dict:  # type: ignore[no-untyped-def]
    r = await client.post("/query", json={"query": q})
    assert r.status_code == 200, r.text
    return r.json()


async def test_near_duplicates_hit_and_ingest_invalidates(client) -> None:
    calls = _count_retrievals(client.app)
    first = await _ask(client, "What is autolyse?")
    assert first["cached"] is False and len(calls) == 1

    again = await _ask(client, "what is autolyse")  # same normalised text: not even embedded
    assert again["cached"] is True and len(calls) == 1  # no retrieval, no synthesis
    assert again["answer"] == first["answer"] and again["sources"] == first["sources"]
    assert again["usage"]["embedding_tokens"] == 0

    near = await _ask(client, "What's autolyse?")  # a different text, close in meaning
    assert near["cached"] is True and len(calls) == 1
    assert near["answer"] == first["answer"] and near["usage"]["embedding_tokens"] > 0

    other = await _ask(client, "How long should autolyse last?")
    assert other["cached"] is False and len(calls) == 2
    other_topic = await _ask(client, "How do I score the loaf?")
    assert other_topic["cached"] is False

    doc = {"chapter": "Autolyse revisited", "content": "Autolyse is a rest for flour and water."}
    r = await client.post("/ingest", json=doc, headers=ADMIN)
    assert r.status_code == 200, r.text
    after = await _ask(client, "What is autolyse?")
    assert after["cached"] is False and len(calls) == 4  # index version changed: a miss
    assert (await _ask(client, "What is autolyse?"))["cached"] is True

    usage = (await client.get("/usage?group_by=day", headers=ADMIN)).json()["total"]
    assert usage["requests"] == 7 and usage["cached"] == 3


async def test_not_found_is_cached_for_the_same_question_only(client) -> None:
    calls = _count_retrievals(client.app)
    first = await _ask(client, "What is the airspeed velocity of an unladen swallow?")
    assert first["found"] is False and first["cached"] is False and len(calls) == 1
    again = await _ask(client, "what is the airspeed velocity of an unladen swallow")
    assert again["found"] is False and again["cached"] is True and len(calls) == 1
    assert again["answer"] == first["answer"]
    near = await _ask(client, "What's the airspeed velocity of an unladen swallow?")
    assert near["cached"] is False and len(calls) == 2  # similar is not the same: searched


async def _stream(client, path: str, q: str) -> list[tuple[str, dict]]:  # type: ignore[no-untyped-def]
    async with client.stream("POST", path, json={"query": q}) as r:
        assert r.status_code == 200, await r.aread()
        await r.aread()
        return list(iter_events(r))


async def test_streams_use_the_cache_and_fill_it(client) -> None:
    """Regression (issue 22): `/query/stream` and the session stream never asked the FAQ
    cache. A question the cache knows is now streamed as one delta, then `done` with
    `cached: true`; a streamed miss is stored like a /query miss."""
    first = await _ask(client, "What is autolyse?")
    events = await _stream(client, "/query/stream", "what is autolyse")
    assert [name for name, _ in events] == ["delta", "done"]
    done = events[-1][1]
    assert done["cached"] is True and done["answer"] == first["answer"]
    assert events[0][1]["text"] == first["answer"] and done["sources"] == first["sources"]

    sid = (await client.post("/sessions")).json()["id"]
    events = await _stream(client, f"/sessions/{sid}/messages/stream", "What is autolyse?")
    assert events[-1][1]["cached"] is True and events[-1][1]["message_id"]

    streamed = await _stream(client, "/query/stream", "How do I score the loaf?")
    assert streamed[-1][0] == "done" and streamed[-1][1]["cached"] is False
    again = await _ask(client, "How do I score the loaf?")
    assert again["cached"] is True and again["answer"] == streamed[-1][1]["answer"]
