"""The HTTP façade over the real index: answers, citations, ingest, errors."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from app.main import create_app
from indexes.folio_index import FolioIndex
from tests.utils.http import assert_error_shape

pytestmark = pytest.mark.integration

ADMIN_KEY = "test-admin-key-0123456789abcdef"


@pytest.fixture
def app(indexed_settings, minilm):
    settings = indexed_settings
    settings.auth.admin_api_key = SecretStr(ADMIN_KEY)

    def factory(cfg, **kw):
        return FolioIndex.from_config(cfg, embed_model=minilm, **kw)

    return create_app(settings, index_factory=factory)


@pytest.fixture
async def client(app):
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://folio") as c:
            yield c


def _index(app) -> FolioIndex:
    return app.state.index_holder.loaded


async def test_health_and_ready(client):
    assert (await client.get("/health")).json() == {"status": "healthy"}
    ready = await client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready" and ready.json()["points"] > 20


async def test_query_cites_sentences_found_in_their_sources(client):
    import re

    for question in ("What is autolyse?", "Why is my crumb dense?", "What is oven spring?"):
        body = (await client.post("/query", json={"query": question})).json()
        assert body["mode"] == "extractive" and body["sources"]
        by_n = {s["n"]: s for s in body["sources"]}
        cited = re.findall(r"(.+?) \[(\d+)\]", body["answer"])
        assert cited, body["answer"]
        for sentence, n in cited:
            assert sentence.strip() in by_n[int(n)]["text"]
        assert all(s["chapter"] and s["section"] and s["document_id"] for s in body["sources"])


async def test_query_answers_from_the_right_chapter(client):
    body = (await client.post("/query", json={"query": "What is a banneton?"})).json()
    assert body["sources"][0]["document_id"] == "sourdough:ch04-shaping-and-scoring.md"
    assert "banneton" in body["answer"].lower()


async def test_unrelated_question_says_not_found(client):
    body = (await client.post("/query", json={"query": "Who won the 1998 world cup final?"})).json()
    assert body["found"] is False and body["sources"] == []


async def test_top_k_limits_sources(client):
    """`top_k` is how many passages come back: 2 when asked for 2, while the same question
    without it gets more (config top_k 5), so the limit, not a short result, makes it 2."""
    default = (await client.post("/query", json={"query": "starter feeding"})).json()
    body = (await client.post("/query", json={"query": "starter feeding", "top_k": 2})).json()
    assert len(default["sources"]) > 2
    assert body["found"] and [s["n"] for s in body["sources"]] == [1, 2]


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"query": ""}, 422, "invalid_input"),
        ({"query": "   "}, 422, "invalid_input"),
        ({"query": "x" * 2001}, 422, "invalid_input"),
        ({"query": "what\x00is this"}, 422, "invalid_input"),
        ({"query": "bell\x07"}, 422, "invalid_input"),
        ({"query": 42}, 422, "validation_error"),
        ({}, 422, "validation_error"),
        ({"query": "ok", "top_k": 0}, 422, "validation_error"),
        ({"query": "ok", "extra": 1}, 422, "validation_error"),
    ],
)
async def test_bad_queries_get_the_error_envelope(client, payload, status, code):
    assert_error_shape(await client.post("/query", json=payload), status, code)


async def test_malformed_json_gets_the_error_envelope(client):
    response = await client.post(
        "/query", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert_error_shape(response, 422, "validation_error")


async def test_unknown_route_and_method(client):
    assert_error_shape(await client.get("/nope"), 404, "not_found")
    assert_error_shape(await client.get("/query"), 405, "method_not_allowed")


async def test_ingest_requires_the_admin_key(client):
    payload = {"chapter": "Rye", "content": "Rye bread."}
    assert_error_shape(await client.post("/ingest", json=payload), 401, "unauthorized")
    wrong = await client.post("/ingest", json=payload, headers={"X-API-Key": ADMIN_KEY + "x"})
    assert_error_shape(wrong, 401, "unauthorized")


async def test_ingest_is_idempotent_and_queryable(client, app):
    headers = {"X-API-Key": ADMIN_KEY}
    payload = {
        "chapter": "Rye Breads",
        "content": "# Rye\n\nRye dough is sticky and needs a pan because rye has little gluten.",
        "source_id": "rye-notes",
    }
    first = (await client.post("/ingest", json=payload, headers=headers)).json()
    second = (await client.post("/ingest", json=payload, headers=headers)).json()
    assert first["status"] == "added" and first["chunks"] >= 1
    assert second == {"document_id": "api:rye-notes", "status": "unchanged", "chunks": 0}
    answer = (await client.post("/query", json={"query": "Why does rye dough need a pan?"})).json()
    assert answer["sources"][0]["document_id"] == "api:rye-notes"


async def test_ingest_reads_c1_controls_as_windows_1252(client, app):
    """Mojibake from real corpora (U+0096 for an en dash, as in two SciFact abstracts) is
    repaired, not refused; the repaired text is what is stored and cited."""
    headers = {"X-API-Key": ADMIN_KEY}
    body = {
        "chapter": "Rye \x93notes\x94",
        "content": "Rye proofs 2\x964 hours.",
        "source_id": "c1",
    }
    response = await client.post("/ingest", json=body, headers=headers)
    assert response.status_code == 200, response.text
    answer = (await client.post("/query", json={"query": "How long does rye proof?"})).json()
    cited = next(s for s in answer["sources"] if s["document_id"] == "api:c1")
    assert "2–4 hours" in cited["text"] and "\x96" not in cited["text"]


async def test_rejected_ingest_leaves_nothing_behind(client, app):
    headers = {"X-API-Key": ADMIN_KEY}
    before = _index(app).point_count()
    cases = [
        ({"chapter": "Rye", "content": ""}, 422),
        ({"chapter": "Rye", "content": "ok\x00bad"}, 422),
        ({"chapter": "Rye", "content": "ok\x07bad"}, 422),  # C0 controls are still refused
        ({"chapter": "", "content": "ok"}, 422),
        ({"chapter": "Rye", "content": "x" * (2 * 1024 * 1024 + 1)}, 413),
        ({"chapter": "Rye", "content": "ok", "source_id": "../../etc/passwd"}, 422),
    ]
    for payload, status in cases:
        assert_error_shape(await client.post("/ingest", json=payload, headers=headers), status)
    assert _index(app).point_count() == before
    assert _index(app).documents(origin="api") == []


async def test_oversized_body_is_rejected_before_parsing(client):
    body = b'{"query": "' + b"a" * (3 * 1024 * 1024) + b'"}'
    response = await client.post(
        "/query", content=body, headers={"content-type": "application/json"}
    )
    assert_error_shape(response, 413, "payload_too_large")


async def test_delete_document(client, app):
    headers = {"X-API-Key": ADMIN_KEY}
    doc = "sourdough:ch04-shaping-and-scoring.md"
    assert_error_shape(await client.delete(f"/documents/{doc}"), 401, "unauthorized")
    # config documents change only through `folio index`
    assert_error_shape(await client.delete(f"/documents/{doc}", headers=headers), 403, "forbidden")
    body = {"chapter": "Rye", "content": "Rye ferments fast.", "source_id": "rye"}
    assert (await client.post("/ingest", json=body, headers=headers)).status_code == 200
    before = _index(app).point_count()
    response = await client.delete("/documents/api:rye", headers=headers)
    assert response.json() == {"document_id": "api:rye", "deleted": True}
    assert _index(app).point_count() < before
    missing = await client.delete("/documents/api:rye", headers=headers)
    assert_error_shape(missing, 404, "not_found")


async def test_openapi_docs_are_served(client):
    spec = (await client.get("/openapi.json")).json()
    assert "/query" in spec["paths"] and "/ingest" in spec["paths"]
    assert (await client.get("/docs")).status_code == 200


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_pages_load_nothing_from_a_cdn(client, page):
    """Regression: /docs was blank offline, its Swagger UI came from a CDN. Every script and
    stylesheet the page names is served here, and the page's CSP allows this origin only."""
    import re

    response = await client.get(page)
    assert response.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', response.text)
    assert assets and all(a.startswith("/") for a in assets), assets
    assert "//" not in "".join(assets)
    for asset in assets:
        served = await client.get(asset)
        assert served.status_code == 200 and len(served.content) > 1000, asset
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "http" not in csp


async def test_responses_carry_a_request_id(client):
    response = await client.post("/query", json={"query": ""})
    assert response.headers["x-request-id"] == response.json()["error"]["request_id"]
