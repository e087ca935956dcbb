"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.api.deps import HolderDep
from app.api.schemas import HealthResponse, ReadyResponse
from app.services.health import readiness

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthResponse)
def health() -> HealthResponse:
    """Liveness: the process is up and serving."""
    return HealthResponse(status="healthy")


@router.get("/ready", response_model=ReadyResponse, responses={503: {"model": ReadyResponse}})
def ready(holder: HolderDep) -> JSONResponse:
    """Readiness: the index is loaded and the vector store answers. 503 names what is not."""
    report = readiness(holder)
    return JSONResponse(report.model_dump(), status_code=200 if report.status == "ready" else 503)
