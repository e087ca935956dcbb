"""Feedback: one rating per message per identity (the second replaces the first), only on
your own messages, exported as CSV/JSON by `folio feedback export`."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.utils.apps import admin, make_settings, running
from tests.utils.http import assert_error_shape

pytestmark = pytest.mark.integration


async def _key(client) -> dict[str, str]:
    r = await client.post("/keys", json={"name": "t", "scopes": ["query"]}, headers=admin())
    return {"X-API-Key": r.json()["key"]}


async def test_feedback_replaces_and_exports(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    async with running(settings) as client:
        mine, other = await _key(client), await _key(client)
        sid = (await client.post("/sessions", headers=mine)).json()["id"]
        r = await client.post(f"/sessions/{sid}/messages", json={"query": "why?"}, headers=mine)
        mid = r.json()["id"]

        r = await client.post(f"/messages/{mid}/feedback", json={"rating": 1}, headers=mine)
        assert r.status_code == 200, r.text
        first = r.json()
        body = {"rating": -1, "comment": "did not answer the question"}
        r = await client.post(f"/messages/{mid}/feedback", json=body, headers=mine)
        assert r.json()["id"] == first["id"] and r.json()["rating"] == -1

        r = await client.post(f"/messages/{mid}/feedback", json={"rating": 1}, headers=other)
        assert_error_shape(r, 404, "not_found")
        r = await client.post("/messages/99999/feedback", json={"rating": 1}, headers=mine)
        assert_error_shape(r, 404, "not_found")
        r = await client.post(f"/messages/{mid}/feedback", json={"rating": 5}, headers=mine)
        assert_error_shape(r, 422, "validation_error")

    from app.cli import app as cli

    config = str(tmp_path / "config.yaml")
    out = CliRunner().invoke(cli, ["feedback", "export", "-c", config])
    assert out.exit_code == 0, out.output
    rows = list(csv.DictReader(io.StringIO(out.output)))
    assert len(rows) == 1
    assert rows[0]["rating"] == "-1" and rows[0]["comment"] == "did not answer the question"
    assert rows[0]["question"] == "why?" and rows[0]["session_id"] == sid
    target = tmp_path / "fb.json"
    out = CliRunner().invoke(
        cli, ["feedback", "export", "-f", "json", "-o", str(target), "-c", config]
    )
    assert out.exit_code == 0, out.output
    assert json.loads(target.read_text())[0]["message_id"] == mid


async def test_anonymous_feedback_needs_the_sessions_capability(tmp_path: Path) -> None:
    """Regression (issue 14, item 5): all anonymous sessions share one owner, so any anonymous
    caller could rate any anonymous message by its sequential id."""
    import httpx

    async with running(make_settings(tmp_path)) as client:
        sid = (await client.post("/sessions")).json()["id"]
        mid = (await client.post(f"/sessions/{sid}/messages", json={"query": "why?"})).json()["id"]
        transport = httpx.ASGITransport(app=client.app, client=("192.0.2.66", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://folio.test") as other:
            for body in (
                {"rating": -1},
                {"rating": -1, "session_id": "x" * 32},
                {"rating": -1, "session_id": (await other.post("/sessions")).json()["id"]},
            ):
                r = await other.post(f"/messages/{mid}/feedback", json=body)
                assert_error_shape(r, 404, "not_found")
        # The reader who holds the session id rates their own answer.
        r = await client.post(f"/messages/{mid}/feedback", json={"rating": 1, "session_id": sid})
        assert r.status_code == 200 and r.json()["rating"] == 1
        r = await client.post(f"/messages/{mid}/feedback", json={"rating": 1})
        assert_error_shape(r, 404, "not_found")
