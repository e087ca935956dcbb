"""Upload jobs: their state, progress and result (the key that uploaded, or an admin)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool

from app.api.deps import CurrentIdentity, DbDep, IngestScope
from app.api.schemas.errors import ERROR_RESPONSES
from app.api.schemas.jobs import JobPublic, JobsPublic
from app.services.jobs import get_job, list_jobs

router = APIRouter(tags=["ingest"], responses=ERROR_RESPONSES, dependencies=[IngestScope])

JobId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[0-9a-f]+$")]


@router.get("/jobs/{job_id}", response_model=JobPublic)
async def job(job_id: JobId, identity: CurrentIdentity, db: DbDep) -> JobPublic:
    """State (`queued`, `running`, `succeeded`, `failed`), progress from 0 to 1, and the
    result (as `/ingest` returns it) or the error. Another key's job is 404."""
    found = await run_in_threadpool(get_job, db=db, identity=identity, job_id=job_id)
    return JobPublic.of(found)


@router.get("/jobs", response_model=JobsPublic)
async def jobs(
    identity: CurrentIdentity,
    db: DbDep,
    state: Literal["queued", "running", "succeeded", "failed"] | None = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> JobsPublic:
    """The caller's jobs, newest first (an admin sees everyone's)."""
    items, total = await run_in_threadpool(
        list_jobs, db=db, identity=identity, state=state, offset=offset, limit=limit
    )
    return JobsPublic(
        data=[JobPublic.of(j) for j in items], count=total, offset=offset, limit=limit
    )
