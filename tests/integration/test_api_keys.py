"""API keys: shown once, stored hashed, scopes per route, rotation with grace, revocation,
last_used_at; on SQLite and on the real PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from app.db.models import ApiKey, utcnow
from tests.utils.apps import admin, make_settings, running
from tests.utils.services import fresh_pg_schema, postgres_url_or_skip

pytestmark = pytest.mark.integration

DOC = {"chapter": "Salt", "content": "Salt tightens gluten and slows fermentation."}


async def _create(client, scopes: list[str], **extra) -> dict:
    r = await client.post("/keys", json={"name": "ci", "scopes": scopes, **extra}, headers=admin())
    assert r.status_code == 201, r.text
    return r.json()


async def _key_lifecycle(settings) -> None:
    async with running(settings) as client:
        ingest_key = await _create(client, ["ingest"])
        query_key = await _create(client, ["query"])

        # Scopes per route: ingest needs `ingest`, key management needs `admin`.
        assert (await client.post("/ingest", json=DOC)).status_code == 401
        r = await client.post("/ingest", json=DOC, headers={"X-API-Key": query_key["key"]})
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
        r = await client.post("/ingest", json=DOC, headers={"X-API-Key": ingest_key["key"]})
        assert r.status_code == 200, r.text
        bearer = {"Authorization": f"Bearer {ingest_key['key']}"}
        assert (await client.delete("/documents/api:salt", headers=bearer)).status_code == 200
        assert (await client.get("/keys", headers=bearer)).status_code == 403
        # Readers may ask anonymously, so every valid key may ask too.
        assert (
            await client.post("/query", json={"query": "salt?"}, headers=bearer)
        ).status_code == 200
        r = await client.post(
            "/query", json={"query": "salt?"}, headers={"X-API-Key": query_key["key"]}
        )
        assert r.status_code == 200

        # Only a hash is stored; the listing never shows the key.
        with Session(client.app.state.db_engine) as db:
            rows = db.exec(select(ApiKey)).all()
            assert all(ingest_key["key"] not in (r.key_hash + r.prefix) for r in rows)
            row = db.get(ApiKey, ingest_key["id"])
            assert row.last_used_at is not None  # recorded on use
        listing = (await client.get("/keys", headers=admin())).text
        assert ingest_key["key"] not in listing and query_key["key"] not in listing

        # Rotation: new key works at once, old one until the grace period ends.
        r = await client.post(
            f"/keys/{ingest_key['id']}/rotate", json={"grace": "24h"}, headers=admin()
        )
        assert r.status_code == 200
        new_key = r.json()
        for key in (ingest_key["key"], new_key["key"]):
            r = await client.post("/ingest", json=DOC, headers={"X-API-Key": key})
            assert r.status_code == 200
        with Session(client.app.state.db_engine) as db:  # the grace period ends...
            row = db.get(ApiKey, ingest_key["id"])
            row.expires_at = utcnow() - timedelta(seconds=1)
            db.add(row)
            db.commit()
        r = await client.post("/ingest", json=DOC, headers={"X-API-Key": ingest_key["key"]})
        assert r.status_code == 401  # ...and the old key stops working

        # Revocation takes effect on the next request.
        assert (await client.delete(f"/keys/{new_key['id']}", headers=admin())).status_code == 200
        r = await client.post("/ingest", json=DOC, headers={"X-API-Key": new_key["key"]})
        assert r.status_code == 401

        # A key with the right prefix but a wrong secret is refused.
        forged = new_key["key"][:-4] + "AAAA"
        assert (
            await client.post("/ingest", json=DOC, headers={"X-API-Key": forged})
        ).status_code == 401


async def test_key_lifecycle_sqlite(tmp_path: Path) -> None:
    await _key_lifecycle(make_settings(tmp_path))


async def test_key_lifecycle_postgres(tmp_path: Path) -> None:
    with fresh_pg_schema(postgres_url_or_skip()) as url:
        await _key_lifecycle(make_settings(tmp_path, database={"url": url}))


async def test_admin_routes_need_admin_scope(tmp_path: Path) -> None:
    async with running(make_settings(tmp_path)) as client:
        assert (await client.get("/keys")).status_code == 401
        assert (await client.get("/users")).status_code == 401
        ingest = await _create(client, ["ingest", "query"])
        r = await client.post(
            "/keys", json={"name": "x", "scopes": ["admin"]}, headers={"X-API-Key": ingest["key"]}
        )
        assert r.status_code == 403
        r = await client.post("/keys", json={"name": "x", "scopes": ["root"]}, headers=admin())
        assert r.status_code == 422
        admin_key = await _create(client, ["admin"])
        assert (
            await client.get("/users", headers={"X-API-Key": admin_key["key"]})
        ).status_code == 200


async def test_readme_admin_key_can_ask_and_ingest(tmp_path: Path) -> None:
    """Regression: the README's `--scopes admin,ingest` key got 403 on /query while anonymous
    readers got in. `admin` implies every scope; an ingest-only key still cannot administer."""
    async with running(make_settings(tmp_path)) as client:
        ops = await _create(client, ["admin", "ingest"])
        headers = {"X-API-Key": ops["key"]}
        r = await client.post("/query", json={"query": "salt?"}, headers=headers)
        assert r.status_code == 200, r.text
        admin_only = {"X-API-Key": (await _create(client, ["admin"]))["key"]}
        assert (await client.post("/ingest", json=DOC, headers=admin_only)).status_code == 200
        ingest_only = {"X-API-Key": (await _create(client, ["ingest"]))["key"]}
        assert (await client.get("/usage", headers=ingest_only)).status_code == 403
        r = await client.post("/keys", json={"name": "x", "scopes": ["admin"]}, headers=ingest_only)
        assert r.status_code == 403


async def test_cli_keys_create_rotate_revoke(tmp_path: Path) -> None:
    """`folio keys create` prints the key once; rotate and revoke work on the same database."""
    from app.cli import app as cli

    settings = make_settings(tmp_path)
    config = str(tmp_path / "config.yaml")
    runner = CliRunner()
    created = runner.invoke(
        cli, ["keys", "create", "--name", "ops", "--scopes", "ingest,admin", "-c", config]
    )
    assert created.exit_code == 0, created.output
    plaintext = created.output.strip().splitlines()[-1]
    assert plaintext.startswith("fk_")
    rotated = runner.invoke(cli, ["keys", "rotate", "1", "--grace", "1h", "-c", config])
    assert rotated.exit_code == 0 and "stays valid for 1h" in rotated.output
    listed = runner.invoke(cli, ["keys", "list", "-c", config]).output
    assert plaintext not in listed
    assert runner.invoke(cli, ["keys", "revoke", "2", "-c", config]).exit_code == 0
    bad = runner.invoke(cli, ["keys", "create", "--name", "x", "--scopes", "root", "-c", config])
    assert bad.exit_code == 1
    async with running(settings) as client:
        r = await client.get("/keys", headers={"X-API-Key": plaintext})  # old key, in grace
        assert r.status_code == 200
        assert [k["revoked_at"] is not None for k in r.json()["data"]] == [False, True]
