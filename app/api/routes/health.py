"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.api.deps import DbEngineDep, HolderDep, LimiterDep
from app.api.schemas.health import HealthResponse, ReadyResponse
from app.services.health import readiness

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthResponse)
def health() -> HealthResponse:
    """Liveness: the process is up and serving."""
    return HealthResponse(status="healthy")


@router.get("/ready", response_model=ReadyResponse, responses={503: {"model": ReadyResponse}})
def ready(holder: HolderDep, db_engine: DbEngineDep, limiter: LimiterDep) -> JSONResponse:
    """Readiness of each dependency: `database`, `redis`, `index`, `vector_store`. 200 when
    `ready` or `degraded` (Redis away: limits per replica, no shared cache), 503 `not_ready`
    when the database, the index or the vector store cannot serve."""
    report = readiness(holder=holder, db_engine=db_engine, limiter=limiter)
    body = ReadyResponse(status=report.status, checks=report.checks, points=report.points)
    return JSONResponse(body.model_dump(), status_code=200 if report.serving else 503)
