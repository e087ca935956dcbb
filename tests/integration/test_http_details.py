"""Small HTTP details from issue 25, item 7: dates in /usage are YYYY-MM-DD only, HEAD works on
every GET route, and /ready says `degraded` while nothing is indexed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.utils.apps import admin, make_settings, running
from tests.utils.http import assert_error_shape

pytestmark = pytest.mark.integration


async def test_usage_dates_must_be_iso_days(tmp_path: Path) -> None:
    """Regression: `GET /usage?to=0` was read as a Unix time, 1970-01-01, and answered 200."""
    async with running(make_settings(tmp_path)) as client:
        for query in ("to=0", "from=0", "to=1700000000", "from=2026-1-5", "to=tomorrow"):
            r = await client.get(f"/usage?{query}", headers=admin())
            assert_error_shape(r, 422, "validation_error")
        for query in ("to=2026-12-04", "from=2026-01-01&to=2026-12-31", "to=9999-12-31"):
            assert (await client.get(f"/usage?{query}", headers=admin())).status_code == 200


async def test_head_answers_like_get_on_every_get_route(tmp_path: Path) -> None:
    """Regression: `HEAD /widget.js` (and HEAD on every other GET route) answered 405. HEAD now
    gives GET's status and headers (Content-Length included) and no body; a route without GET
    still answers 405."""
    async with running(make_settings(tmp_path)) as client:
        schema = (await client.get("/openapi.json")).json()
        get_paths = sorted(
            {p for p, ops in schema["paths"].items() if "get" in ops and "{" not in p}
            | {"/", "/widget", "/widget.js", "/docs", "/redoc"}  # pages outside the schema
        )
        assert {"/", "/widget", "/widget.js", "/health", "/ready", "/metrics"} <= set(get_paths)
        for path in [*get_paths, "/static/folio.css", "/sessions/does-not-exist"]:
            got = await client.get(path, headers=admin())
            head = await client.head(path, headers=admin())
            assert head.status_code == got.status_code != 405, path
            assert head.content == b"", path
            assert head.headers["content-type"] == got.headers["content-type"], path
            if path in ("/widget.js", "/", "/static/folio.css"):  # files: the same length
                assert head.headers["content-length"] == got.headers["content-length"]
        post_only = await client.head("/query")
        assert post_only.status_code == 405 and post_only.content == b""


async def test_ready_is_degraded_with_a_reason_while_nothing_is_indexed(tmp_path: Path) -> None:
    """Regression: `/ready` said `ready` with 0 points; every answer would be "not found"."""
    async with running(make_settings(tmp_path)) as client:
        empty = await client.get("/ready")
        assert empty.status_code == 200  # the service works: no reason to pull it out of a LB
        body = empty.json()
        assert body["status"] == "degraded" and body["points"] == 0
        assert (
            body["checks"]["content"].startswith("empty")
            and "folio index" in body["checks"]["content"]
        )
        r = await client.post(
            "/ingest",
            json={"chapter": "Salt", "content": "Salt slows fermentation."},
            headers=admin(),
        )
        assert r.status_code == 200
        ready = (await client.get("/ready")).json()
        assert ready["status"] == "ready" and ready["checks"]["content"] == "ok"
        assert ready["points"] > 0
