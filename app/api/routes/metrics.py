"""Prometheus exposition for operators (only to `api.metrics_allow`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.api.deps import SettingsDep, client_ip
from app.api.schemas.errors import ERROR_RESPONSES
from app.services.metrics_access import FORWARDING_HEADERS, check_metrics_access

router = APIRouter(tags=["health"], responses=ERROR_RESPONSES)


async def metrics_reader(request: Request, settings: SettingsDep) -> None:
    """403 unless the caller's address is in `api.metrics_allow`."""
    check_metrics_access(
        settings=settings,
        client_ip=client_ip(request),
        forwarded=any(name in request.headers for name in FORWARDING_HEADERS),
    )


@router.get("/metrics", include_in_schema=True, dependencies=[Depends(metrics_reader)])
def metrics() -> Response:
    """Request counts and latencies, cost-budget gauges, process metrics (text format). Only
    for the addresses in `api.metrics_allow` (default: this host and private networks)."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
