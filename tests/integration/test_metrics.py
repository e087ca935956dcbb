"""GET /metrics: Prometheus text with request counts labelled by route template."""

from __future__ import annotations

import httpx
import pytest

from app.main import create_app
from indexes.engine import FolioIndex

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
