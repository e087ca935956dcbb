"""Waiting for upload jobs, and making API keys, in HTTP tests."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from tests.utils.apps import admin

FINAL = ("succeeded", "failed")


async def wait_for_job(
    client: httpx.AsyncClient,
    job_id: str,
    headers: dict[str, str] | None = None,
    timeout_s: float = 60.0,
) -> dict[str, Any]:
    """Poll `GET /jobs/{id}` until the job ended; its last body."""
    deadline = time.monotonic() + timeout_s
    while True:
        r = await client.get(f"/jobs/{job_id}", headers=headers or admin())
        assert r.status_code == 200, r.text
        if r.json()["state"] in FINAL or time.monotonic() > deadline:
            return r.json()
        await asyncio.sleep(0.05)


async def make_key(client: httpx.AsyncClient, scopes: list[str]) -> dict[str, str]:
    """A new API key's headers (X-API-Key) plus its id under `id`."""
    r = await client.post("/keys", json={"name": "t", "scopes": scopes}, headers=admin())
    assert r.status_code == 201, r.text
    return {"X-API-Key": r.json()["key"], "id": str(r.json()["id"])}


def key_headers(key: dict[str, str]) -> dict[str, str]:
    return {"X-API-Key": key["X-API-Key"]}
