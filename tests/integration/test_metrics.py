"""GET /metrics: Prometheus text with request counts labelled by route template."""

from __future__ import annotations

import httpx
import pytest

from app.main import create_app
from indexes.folio_index import FolioIndex

pytestmark = pytest.mark.integration


async def test_metrics_count_requests_by_route_template(indexed_settings, minilm):
    app = create_app(
        indexed_settings,
        index_factory=lambda cfg, **kw: FolioIndex.from_config(cfg, embed_model=minilm, **kw),
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://folio") as client:
            await client.post("/query", json={"query": "What is autolyse?"})
            await client.get("/sessions/does-not-exist-123")
            await client.get("/health")
            response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'folio_http_requests_total{method="POST",route="/query",status="200"}' in text
    assert 'route="/sessions/{session_id}"' in text
    assert "does-not-exist-123" not in text  # raw ids never become labels
    assert "folio_http_request_seconds_bucket" in text
    assert "folio_cost_today_usd" in text


async def test_cache_ingest_token_and_pool_metrics_move(tmp_path):
    """The dashboard's FAQ-cache, ingest, token and DB-pool panels read these series."""
    from prometheus_client import REGISTRY

    from tests.utils.apps import admin, make_settings, running

    def value(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    before = {
        "added": value("folio_ingest_documents_total", origin="api", outcome="added"),
        "deleted": value("folio_ingest_documents_total", origin="api", outcome="deleted"),
        "chunks": value("folio_ingest_chunks_embedded_total", origin="api"),
        "miss": value("folio_faq_cache_lookups_total", result="miss"),
        "exact": value("folio_faq_cache_lookups_total", result="exact_hit"),
        "embedding": value("folio_tokens_total", kind="embedding"),
    }
    async with running(make_settings(tmp_path)) as client:
        r = await client.post(
            "/ingest",
            json={"chapter": "Salt", "content": "Salt tightens gluten and slows fermentation."},
            headers=admin(),
        )
        assert r.status_code == 200, r.text
        for _ in range(2):  # the second time word for word: an exact cache hit
            assert (await client.post("/query", json={"query": "What does salt do?"})).is_success
        assert (
            await client.delete(f"/documents/{r.json()['document_id']}", headers=admin())
        ).is_success
        text = (await client.get("/metrics")).text
    assert (
        value("folio_ingest_documents_total", origin="api", outcome="added") == before["added"] + 1
    )
    assert value("folio_ingest_documents_total", origin="api", outcome="deleted") == (
        before["deleted"] + 1
    )
    assert value("folio_ingest_chunks_embedded_total", origin="api") > before["chunks"]
    assert value("folio_faq_cache_lookups_total", result="miss") == before["miss"] + 1
    assert value("folio_faq_cache_lookups_total", result="exact_hit") == before["exact"] + 1
    assert value("folio_tokens_total", kind="embedding") > before["embedding"]
    assert 'folio_db_pool_capacity{database="sqlite"}' in text
    assert "folio_cost_usd_total" in text and "folio_daily_budget_usd" in text
