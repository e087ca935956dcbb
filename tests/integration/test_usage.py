"""Usage and cost: tokens counted per request (LLM via the fake OpenAI server's usage,
embedding via MiniLM's tokenizer), priced from config, summed by GET /usage; the daily budget
warns, sets the metric and, when configured, falls back to the extractive answerer."""

from __future__ import annotations

import logging
import shutil

import httpx
import pytest
from pydantic import SecretStr

from app.core.settings import load_settings
from app.main import create_app
from app.services.usage import OVER_BUDGET
from indexes.folio_index import FolioIndex
from tests.utils.builders import write_config
from tests.utils.fake_openai import make_fake_openai_app
from tests.utils.http import assert_error_shape, serve_in_thread

pytestmark = pytest.mark.integration

ADMIN = {"X-API-Key": "test-admin-key-0123456789abcdef"}
REPLY = "A levain is an offshoot of the starter [1]."
PRICES = {
    "gpt-4o-mini": {"prompt": 1.0, "completion": 2.0},
    "all-MiniLM-L6-v2": {"embedding": 0.5},
}


@pytest.fixture
def fake_openai():
    app = make_fake_openai_app(REPLY)
    with serve_in_thread(app) as url:
        yield app, url


def _app(tmp_path, book_dir, indexed_template, minilm, url, **usage):  # type: ignore[no-untyped-def]
    shutil.copytree(indexed_template / "storage", tmp_path / "storage")
    config = write_config(tmp_path, book_dir, usage={"prices": PRICES, **usage})
    settings = load_settings(
        config, environ={"OPENAI_API_KEY": "sk-fake", "OPENAI_BASE_URL": f"{url}/v1"}
    )
    settings.auth.admin_api_key = SecretStr(ADMIN["X-API-Key"])
    return create_app(
        settings, index_factory=lambda c, **kw: FolioIndex(c, embed_model=minilm, **kw)
    )


async def _client(app):  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://folio")


async def test_usage_is_counted_priced_and_summed(
    tmp_path, book_dir, indexed_template, minilm, fake_openai
) -> None:
    _, url = fake_openai
    app = _app(tmp_path, book_dir, indexed_template, minilm, url)
    async with app.router.lifespan_context(app), await _client(app) as client:
        r = await client.post("/keys", json={"name": "a", "scopes": ["query"]}, headers=ADMIN)
        key_a = {"X-API-Key": r.json()["key"]}
        key_a_id = r.json()["id"]
        r = await client.post("/keys", json={"name": "b", "scopes": ["query"]}, headers=ADMIN)
        key_b = {"X-API-Key": r.json()["key"]}
        usages = []
        for headers, q in (
            (key_a, "What is a levain?"),
            (key_a, "What is autolyse?"),
            (key_b, "How do I score bread?"),
        ):
            body = (await client.post("/query", json={"query": q}, headers=headers)).json()
            assert body["mode"] == "llm"
            assert body["usage"]["prompt_tokens"] == 100  # from the server's `usage`
            assert body["usage"]["completion_tokens"] == 20
            assert body["usage"]["embedding_tokens"] > 3  # MiniLM word pieces of the question
            usages.append(body["usage"])

        report = (await client.get("/usage?group_by=key", headers=ADMIN)).json()
        by_group = {row["group"]: row for row in report["rows"]}
        a = by_group[f"key:{key_a_id}"]
        assert a["requests"] == 2 and a["prompt_tokens"] == 200 and a["completion_tokens"] == 40
        emb_a = usages[0]["embedding_tokens"] + usages[1]["embedding_tokens"]
        assert a["embedding_tokens"] == emb_a
        assert a["cost_usd"] == pytest.approx(2 * (0.1 + 0.04) + emb_a * 0.5 / 1000)
        total = report["total"]
        assert total["requests"] == 3
        assert total["embedding_tokens"] == sum(u["embedding_tokens"] for u in usages)

        day = (await client.get("/usage?group_by=day", headers=ADMIN)).json()
        assert len(day["rows"]) == 1 and day["total"] == {**total, "group": "total"}
        empty = (await client.get("/usage?from=2000-01-01&to=2000-01-02", headers=ADMIN)).json()
        assert empty["rows"] == [] and empty["total"]["requests"] == 0
        assert_error_shape(await client.get("/usage", headers=key_a), 403, "forbidden")
        assert_error_shape(
            await client.get("/usage?from=2020-01-02&to=2020-01-01", headers=ADMIN), 422
        )


async def test_over_budget_warns_and_falls_back_to_extractive(
    tmp_path, book_dir, indexed_template, minilm, fake_openai, caplog
) -> None:
    fake, url = fake_openai
    app = _app(
        tmp_path,
        book_dir,
        indexed_template,
        minilm,
        url,
        daily_budget_usd=0.1,
        over_budget="extractive",
    )
    async with app.router.lifespan_context(app), await _client(app) as client:
        with caplog.at_level(logging.WARNING, logger="folio.usage"):
            first = (await client.post("/query", json={"query": "What is a levain?"})).json()
        assert first["mode"] == "llm"  # 0.14 USD: this request crosses the 0.10 budget
        assert "daily budget crossed" in caplog.text
        assert OVER_BUDGET._value.get() == 1
        calls = len(fake.state.requests)
        second = (await client.post("/query", json={"query": "What is a levain?"})).json()
        assert second["mode"] == "extractive" and second["sources"]
        assert len(fake.state.requests) == calls  # the LLM was not called


def test_todays_cost_is_summed_once_per_window_and_sees_other_replicas(tmp_path) -> None:
    """Two replicas' TodayCost over one database: each counts its own records at once, reads
    the database at most once per window (not once per request), and sees the other replica's
    costs after the window."""
    from sqlalchemy import event
    from sqlmodel import Session

    from app.db.database import make_engine
    from app.db.migrate import upgrade
    from app.db.models import UsageRecord
    from app.services.usage import TodayCost

    url = f"sqlite:///{tmp_path / 'usage.db'}"
    upgrade(url)
    engine = make_engine(url)
    sums: list[str] = []
    event.listen(
        engine,
        "before_cursor_execute",
        lambda _c, _cur, sql, *_a: sums.append(sql) if "sum(" in sql.lower() else None,
    )
    a, b = TodayCost(refresh_s=3600), TodayCost(refresh_s=3600)
    with Session(engine) as db:
        assert a.get(db) == 0.0 and b.get(db) == 0.0
        for _ in range(50):  # replica A records 50 answers
            db.add(UsageRecord(subject="ip:1", endpoint="/query", cost_usd=0.01))
            db.commit()
            today = a.add(db, 0.01)
        assert today == pytest.approx(0.50)
        assert len(sums) == 2  # one sum per replica, none per request
        assert b.get(db) == 0.0  # B's window is still open: it has not read A's records yet
        b.refresh_s = 0.0
        assert b.get(db) == pytest.approx(0.50)  # the next window reads them from the database
    engine.dispose()
