"""Readiness checks: each component reports `ok` or a one-line reason."""

from __future__ import annotations

from app.api.schemas import ReadyResponse
from app.services.index_holder import IndexHolder
from indexes.stores import StoreError


def readiness(holder: IndexHolder) -> ReadyResponse:
    checks: dict[str, str] = {}
    points = 0
    try:
        index = holder.get()
        checks["index"] = "ok"
    except Exception:
        checks["index"] = "not loaded"
        checks["vector_store"] = holder.error or "unavailable"
        return ReadyResponse(status="not_ready", checks=checks, points=0)
    try:
        index.check()
        points = index.point_count()
        checks["vector_store"] = "ok"
    except StoreError as exc:
        checks["vector_store"] = str(exc)
    status = "ready" if all(v == "ok" for v in checks.values()) else "not_ready"
    return ReadyResponse(status=status, checks=checks, points=points)
