"""Prometheus exposition for operators."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

router = APIRouter(tags=["health"])


@router.get("/metrics", include_in_schema=True)
def metrics() -> Response:
    """Request counts and latencies, cost-budget gauges, process metrics (text format)."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
