"""Who may change a document: the key that ingested it (or the key that replaced it by
rotation), or an admin. Config documents change only through `folio index`. Clients may name a
document by the id they sent. `GET /documents` lists what is indexed."""

from __future__ import annotations

import pytest

from tests.utils.apps import admin, make_settings, running

pytestmark = pytest.mark.integration

DOC = {
    "chapter": "Salt",
    "content": "Salt tightens gluten and slows fermentation.",
    "source_id": "salt",
}


async def _key(client, scopes: list[str]) -> dict[str, str]:
    r = await client.post("/keys", json={"name": "t", "scopes": scopes}, headers=admin())
    assert r.status_code == 201, r.text
    return {"X-API-Key": r.json()["key"], "id": str(r.json()["id"])}


def _h(key: dict[str, str]) -> dict[str, str]:
    return {"X-API-Key": key["X-API-Key"]}


async def test_another_key_cannot_replace_or_delete_a_document(tmp_path):
    async with running(make_settings(tmp_path)) as client:
        alice, mallory = await _key(client, ["ingest"]), await _key(client, ["ingest"])
        assert (await client.post("/ingest", json=DOC, headers=_h(alice))).status_code == 200
        hijack = {**DOC, "content": "Salt is optional and harmless in any amount."}
        r = await client.post("/ingest", json=hijack, headers=_h(mallory))
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
        r = await client.delete("/documents/api:salt", headers=_h(mallory))
        assert r.status_code == 403
        # the owner may, and may use the id it sent
        r = await client.delete("/documents/salt", headers=_h(alice))
        assert r.status_code == 200 and r.json() == {"document_id": "api:salt", "deleted": True}
        assert (await client.delete("/documents/salt", headers=_h(alice))).status_code == 404


async def test_admin_may_change_any_api_document(tmp_path):
    async with running(make_settings(tmp_path)) as client:
        alice = await _key(client, ["ingest"])
        assert (await client.post("/ingest", json=DOC, headers=_h(alice))).status_code == 200
        assert (await client.delete("/documents/salt", headers=admin())).status_code == 200


async def test_a_rotated_key_keeps_ownership(tmp_path):
    async with running(make_settings(tmp_path)) as client:
        alice = await _key(client, ["ingest"])
        assert (await client.post("/ingest", json=DOC, headers=_h(alice))).status_code == 200
        r = await client.post(f"/keys/{alice['id']}/rotate", json={}, headers=admin())
        assert r.status_code == 200, r.text  # a rotation answers 200 (creating a key: 201)
        successor = {"X-API-Key": r.json()["key"]}
        changed = {**DOC, "content": "Salt tightens gluten; use 2 percent of the flour weight."}
        r = await client.post("/ingest", json=changed, headers=successor)
        assert r.status_code == 200 and r.json()["status"] == "updated"


async def test_config_documents_change_only_through_folio_index(tmp_path):
    settings = make_settings(tmp_path)
    book = tmp_path / "book"
    (book / "ch1.md").write_text("# Chapter 1\n\nFlour, water and salt.\n")
    async with running(settings) as client:
        index = client.app.state.index_holder.get()
        index.index_sources()
        r = await client.delete("/documents/sourdough:ch1.md", headers=admin())
        assert r.status_code == 403 and "folio index" in r.json()["error"]["message"]
        assert index.document("sourdough:ch1.md") is not None


async def test_documents_are_listed_by_page(tmp_path):
    async with running(make_settings(tmp_path)) as client:
        alice = await _key(client, ["ingest"])
        for i in range(3):
            doc = {**DOC, "source_id": f"salt-{i}", "content": f"Salt fact number {i}."}
            assert (await client.post("/ingest", json=doc, headers=_h(alice))).status_code == 200
        assert (await client.get("/documents")).status_code == 401
        r = await client.get("/documents?limit=2", headers=_h(alice))
        body = r.json()
        assert r.status_code == 200 and body["count"] == 3 and len(body["data"]) == 2
        first = body["data"][0]
        assert first["id"] == "api:salt-0" and first["origin"] == "api" and first["chunks"] >= 1
        assert first["chapter"] == "Salt" and first["indexed_at"]
        r = await client.get("/documents?offset=2&limit=2&origin=api", headers=_h(alice))
        assert [d["id"] for d in r.json()["data"]] == ["api:salt-2"]
        bad = await client.get("/documents?limit=100000", headers=_h(alice))
        assert bad.status_code == 422


async def test_a_chapter_over_the_chunk_limit_is_refused_before_embedding(tmp_path):
    """Regression (issue 14, item 17): a 2 MB chapter (2,366 chunks) held the indexer for
    minutes. Now a request may make at most api.max_ingest_chunks chunks; it is refused with
    413 before any embedding, and nothing is written."""
    settings = make_settings(tmp_path, api={"max_ingest_chunks": 5})
    async with running(settings) as client:
        alice = await _key(client, ["ingest"])
        long = "\n\n".join(f"## Part {i}\n\nSalt tightens gluten number {i}." for i in range(40))
        r = await client.post("/ingest", json={**DOC, "content": long}, headers=_h(alice))
        assert r.status_code == 413 and "max_ingest_chunks" in r.json()["error"]["message"]
        index = client.app.state.index_holder.get()
        assert index.document("api:salt") is None and index.point_count() == 0
        ok = await client.post("/ingest", json=DOC, headers=_h(alice))
        assert ok.status_code == 200
