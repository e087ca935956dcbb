"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.api.deps import EngineDep, HolderDep, LimiterDep
from app.api.schemas import HealthResponse, ReadyResponse
from app.services.health import readiness

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthResponse)
def health() -> HealthResponse:
    """Liveness: the process is up and serving."""
    return HealthResponse(status="healthy")


@router.get("/ready", response_model=ReadyResponse, responses={503: {"model": ReadyResponse}})
def ready(holder: HolderDep, engine: EngineDep, limiter: LimiterDep) -> JSONResponse:
    """Readiness of each dependency: `database`, `redis`, `index`, `vector_store`. 200 when
    `ready` or `degraded` (Redis away: limits per replica, no shared cache), 503 `not_ready`
    when the database, the index or the vector store cannot serve."""
    report = readiness(holder=holder, engine=engine, limiter=limiter)
    code = 503 if report.status == "not_ready" else 200
    return JSONResponse(report.model_dump(), status_code=code)
