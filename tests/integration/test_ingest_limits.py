"""One ingest request cannot buy a minute of CPU (issue 25, item 2): text shapes the parser
handles badly are refused before the parse, the parse has a time budget, and /ingest has a
per-caller rate limit. (How long each refusal takes is measured by benchmarks/attacks.py, not
asserted here.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.utils.apps import admin, make_settings, running
from tests.utils.http import assert_error_shape

pytestmark = pytest.mark.integration

# The examples, as they were sent (each cost 29-64 s of CPU on the attacked server).
ATTACKS = {
    "50,000 headings": ("# h\n" * 50_000, "headings"),
    "500k [": ("[" * 500_000, "without a space"),
    "HTML bomb": ("<div>" * 100_000, "without a space"),
    "spaced HTML bomb": ("<div> " * 50_000, "HTML tags"),
    "100k >": (">" * 100_000, "without a space"),
    "nested quotes": ("> " * 50_000, "quotes nested"),
    "repeated character": ("=" * 900 + " text", "repeated"),
    "long heading": ("# " + "word " * 100 + "\n\ntext", "heading over"),
    "full stops": (". " * 100_000, "letters or digits"),  # parsed in time, 30 s to embed
}


@pytest.mark.parametrize("name", list(ATTACKS))
async def test_pathological_text_is_refused_before_parsing(tmp_path: Path, name: str) -> None:
    content, reason = ATTACKS[name]
    async with running(make_settings(tmp_path)) as client:
        r = await client.post(
            "/ingest", json={"chapter": "attack", "content": content}, headers=admin()
        )
        error = assert_error_shape(r, 422, "invalid_input")
        assert reason in error["message"] and error["message"].startswith("content:")
        assert (await client.get("/documents", headers=admin())).json()["count"] == 0


async def test_a_parse_over_its_time_budget_is_413(tmp_path: Path) -> None:
    """Text within every cheap limit that still parses slowly (here: ordinary prose against a
    budget of 1 ms) is stopped by the budget, checked at each token count the splitter makes."""
    prose = " ".join(f"Sentence number {i} is about sourdough bread." for i in range(3000))
    settings = make_settings(tmp_path, api={"ingest_parse_timeout_s": 0.001})
    async with running(settings) as client:
        r = await client.post("/ingest", json={"chapter": "c", "content": prose}, headers=admin())
        error = assert_error_shape(r, 413, "payload_too_large")
        assert "api.ingest_parse_timeout_s" in error["message"]
    async with running(make_settings(tmp_path / "default")) as client:  # the default budget
        r = await client.post("/ingest", json={"chapter": "c", "content": prose}, headers=admin())
        assert r.status_code == 200, r.text


async def test_a_real_chapter_passes_every_limit(tmp_path: Path, repo_root: Path) -> None:
    """The limits leave real books alone: every chapter of the sample book is accepted."""
    async with running(make_settings(tmp_path)) as client:
        for path in sorted((repo_root / "data" / "book").glob("*.md")):
            r = await client.post(
                "/ingest",
                json={"chapter": path.stem, "content": path.read_text()},
                headers=admin(),
            )
            assert r.status_code == 200, r.text


async def test_ingest_is_rate_limited_per_caller(tmp_path: Path) -> None:
    """/ingest had no limit of its own: each request parses (and may embed) at the caller's
    pace. Now `api.ingest_rate_limit_per_minute` applies per key, refusals included."""
    settings = make_settings(tmp_path, api={"ingest_rate_limit_per_minute": 3})
    async with running(settings) as client:
        bad = {"chapter": "c", "content": "[" * 2000}
        for _ in range(3):  # refused content still counts: refusals must not be free
            r = await client.post("/ingest", json=bad, headers=admin())
            assert r.status_code == 422
        limited = await client.post(
            "/ingest", json={"chapter": "c", "content": "fine"}, headers=admin()
        )
        assert_error_shape(limited, 429, "rate_limited")
        assert int(limited.headers["Retry-After"]) >= 1
        other = await client.post(
            "/keys", json={"name": "other", "scopes": ["ingest"]}, headers=admin()
        )
        key = {"X-API-Key": other.json()["key"]}  # another caller has its own bucket
        ok = await client.post("/ingest", json={"chapter": "c", "content": "fine"}, headers=key)
        assert ok.status_code == 200, ok.text
