"""Chat sessions over HTTP: ownership (404, never content), pagination, expiry and purge,
and follow-up questions that retrieve the right chapter of the sample book."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlmodel import Session
from typer.testing import CliRunner

from app.db.models import ChatSession, utcnow
from app.main import create_app
from indexes.folio_index import FolioIndex
from tests.utils.apps import admin, make_settings, running
from tests.utils.http import assert_error_shape
from tests.utils.services import fresh_pg_schema, postgres_url_or_skip

pytestmark = pytest.mark.integration

EMAIL, PASSWORD = "reader@example.com", "a long enough passphrase"


async def _user(client, email: str = EMAIL) -> dict[str, str]:
    r = await client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert r.status_code == 201, r.text
    r = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def _key(client, scopes: list[str]) -> dict[str, str]:
    r = await client.post("/keys", json={"name": "t", "scopes": scopes}, headers=admin())
    assert r.status_code == 201, r.text
    return {"X-API-Key": r.json()["key"]}


async def test_owners_see_only_their_own_sessions(tmp_path: Path) -> None:
    await _ownership(make_settings(tmp_path))


async def test_sessions_feedback_and_usage_on_postgres(tmp_path: Path) -> None:
    with fresh_pg_schema(postgres_url_or_skip()) as url:
        settings = make_settings(tmp_path, database={"url": url})
        await _ownership(settings)
        async with running(settings) as client:
            key = await _key(client, ["query"])
            sid = (await client.post("/sessions", headers=key)).json()["id"]
            r = await client.post(f"/sessions/{sid}/messages", json={"query": "a?"}, headers=key)
            mid = r.json()["id"]
            for rating in (1, -1):  # the second replaces the first (unique per identity)
                r = await client.post(
                    f"/messages/{mid}/feedback", json={"rating": rating}, headers=key
                )
                assert r.status_code == 200, r.text
            report = (await client.get("/usage?group_by=day", headers=admin())).json()
            assert report["total"]["requests"] == 2


async def _ownership(settings) -> None:  # type: ignore[no-untyped-def]
    async with running(settings) as client:
        alice, bob = await _user(client), await _user(client, "bob@example.com")
        key = await _key(client, ["query"])
        r = await client.post("/sessions", headers=alice)
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        assert len(sid) >= 32
        r = await client.post(f"/sessions/{sid}/messages", json={"query": "hello?"}, headers=alice)
        assert r.status_code == 200, r.text
        assert (await client.get(f"/sessions/{sid}", headers=alice)).json()["messages"]

        for other in (bob, key, {}):  # another user, an API key, an anonymous reader
            for method, path, body in (
                ("GET", f"/sessions/{sid}", None),
                ("DELETE", f"/sessions/{sid}", None),
                ("POST", f"/sessions/{sid}/messages", {"query": "what did alice ask?"}),
            ):
                r = await client.request(method, path, json=body, headers=other)
                err = assert_error_shape(r, 404, "not_found")
                assert "hello" not in r.text and sid not in err["message"]
            if other:
                assert (await client.get("/sessions", headers=other)).json()["count"] == 0
        assert_error_shape(await client.get("/sessions"), 401, "unauthorized")

        # An anonymous session is reached by its id alone, and by no logged-in owner.
        anon = (await client.post("/sessions")).json()["id"]
        assert (await client.get(f"/sessions/{anon}")).status_code == 200
        assert_error_shape(await client.get(f"/sessions/{anon}", headers=alice), 404)
        assert_error_shape(await client.get("/sessions/not-a-real-id"), 404, "not_found")

        r = await client.delete(f"/sessions/{sid}", headers=alice)
        assert r.status_code == 204
        assert_error_shape(await client.get(f"/sessions/{sid}", headers=alice), 404)


async def test_list_is_newest_first_and_paginated(tmp_path: Path) -> None:
    async with running(make_settings(tmp_path)) as client:
        key = await _key(client, ["query"])
        ids = [(await client.post("/sessions", headers=key)).json()["id"] for _ in range(5)]
        # Using an old session makes it the most recent.
        r = await client.post(f"/sessions/{ids[0]}/messages", json={"query": "hi?"}, headers=key)
        assert r.status_code == 200
        page1 = (await client.get("/sessions?limit=2", headers=key)).json()
        page2 = (await client.get("/sessions?limit=2&offset=2", headers=key)).json()
        page3 = (await client.get("/sessions?limit=2&offset=4", headers=key)).json()
        assert page1["count"] == 5
        got = [s["id"] for p in (page1, page2, page3) for s in p["data"]]
        assert got == [ids[0], ids[4], ids[3], ids[2], ids[1]]
        assert page1["data"][0]["title"] == "hi?"


async def test_a_turn_stores_message_and_usage_in_one_commit(tmp_path: Path) -> None:
    """Regression (issue 22): a session turn went back and forth (check session, condense,
    answer, record) with three database commits. Now it reads once (session, history, budget),
    answers with no connection held, and commits the message with its usage record at once."""
    from sqlalchemy import event

    async with running(make_settings(tmp_path)) as client:
        sid = (await client.post("/sessions")).json()["id"]
        commits: list[str] = []
        event.listen(client.app.state.db_engine, "commit", lambda conn: commits.append("c"))
        r = await client.post(f"/sessions/{sid}/messages", json={"query": "What is salt?"})
        assert r.status_code == 200, r.text
        assert len(commits) == 1
        detail = (await client.get(f"/sessions/{sid}")).json()
        assert [m["id"] for m in detail["messages"]] == [r.json()["id"]]
        usage = (await client.get("/usage", headers=admin())).json()["total"]
        assert usage["requests"] == 1


async def test_idle_sessions_expire_and_purge_deletes_them(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, api={"session_timeout_hours": 2})
    async with running(settings) as client:
        key = await _key(client, ["query"])
        old, fresh = [(await client.post("/sessions", headers=key)).json()["id"] for _ in "ab"]
        with Session(client.app.state.db_engine) as db:
            row = db.get(ChatSession, old)
            row.last_active_at = utcnow() - timedelta(hours=2, minutes=1)
            db.add(row)
            db.commit()
        r = await client.get(f"/sessions/{old}", headers=key)
        assert_error_shape(r, 404, "session_expired")
        r = await client.post(f"/sessions/{old}/messages", json={"query": "x?"}, headers=key)
        assert_error_shape(r, 404, "session_expired")
        listed = (await client.get("/sessions", headers=key)).json()
        assert [s["id"] for s in listed["data"]] == [fresh]

    from app.cli import app as cli

    config = tmp_path / "config.yaml"
    result = CliRunner().invoke(cli, ["sessions", "purge", "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert "1 expired session(s) deleted" in result.output
    async with running(settings) as client:
        assert_error_shape(await client.get(f"/sessions/{old}", headers=key), 404, "not_found")
        assert (await client.get(f"/sessions/{fresh}", headers=key)).status_code == 200


@pytest.fixture
async def book_client(indexed_settings, minilm):
    settings = indexed_settings
    settings.auth.admin_api_key = SecretStr("test-admin-key-0123456789abcdef")
    app = create_app(
        settings, index_factory=lambda cfg, **kw: FolioIndex(cfg, embed_model=minilm, **kw)
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://folio") as client:
            yield client


def _top_chapter(sources: list[dict]) -> str | None:
    return sources[0]["chapter"] if sources else None


async def test_follow_up_retrieves_the_chapter_of_the_conversation(book_client) -> None:
    """'How do I build it?' alone finds the shaping chapter; after 'What is a levain?' the
    rewrite carries 'levain' and retrieval lands on Fermentation, where levain is built."""
    client = book_client
    sid = (await client.post("/sessions")).json()["id"]
    first = await client.post(f"/sessions/{sid}/messages", json={"query": "What is a levain?"})
    assert _top_chapter(first.json()["sources"]).startswith("Chapter 3")
    r = await client.post(f"/sessions/{sid}/messages", json={"query": "How do I build it?"})
    follow = r.json()
    assert follow["standalone_question"] == "How do I build the levain?"
    assert _top_chapter(follow["sources"]).startswith("Chapter 3")
    assert "levain" in follow["answer"].lower()

    bare = (await client.post("/query", json={"query": "How do I build it?"})).json()
    assert not (_top_chapter(bare["sources"]) or "").startswith("Chapter 3")

    detail = (await client.get(f"/sessions/{sid}")).json()
    asked = [m["question"] for m in detail["messages"]]
    assert asked == ["What is a levain?", "How do I build it?"]
    assert detail["messages"][1]["sources"][0]["text"]


async def test_llm_condenses_follow_ups_with_the_history(
    tmp_path, book_dir, indexed_template, minilm
) -> None:
    """With an LLM configured, the follow-up goes through LlamaIndex's condense prompt with
    the earlier turns; the model's rewrite is what retrieval uses."""
    import shutil

    from app.core.settings import load_settings
    from tests.utils.builders import write_config
    from tests.utils.fake_openai import make_fake_openai_app
    from tests.utils.http import serve_in_thread

    fake = make_fake_openai_app("How do I build a levain?")
    shutil.copytree(indexed_template / "storage", tmp_path / "storage")
    with serve_in_thread(fake) as url:
        settings = load_settings(
            write_config(tmp_path, book_dir),
            environ={"OPENAI_API_KEY": "sk-fake", "OPENAI_BASE_URL": f"{url}/v1"},
        )
        app = create_app(
            settings, index_factory=lambda c, **kw: FolioIndex(c, embed_model=minilm, **kw)
        )
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://f") as client:
                sid = (await client.post("/sessions")).json()["id"]
                path = f"/sessions/{sid}/messages"
                await client.post(path, json={"query": "What is a levain?"})
                calls = len(fake.state.requests)
                r = await client.post(path, json={"query": "How do I build it?"})
    follow = r.json()
    assert follow["standalone_question"] == "How do I build a levain?"
    condense = fake.state.requests[calls]["body"]["messages"][-1]["content"]
    assert "<Follow Up Message>" in condense and "How do I build it?" in condense
    assert "Human: What is a levain?" in condense
    assert follow["sources"][0]["chapter"].startswith("Chapter 3")
