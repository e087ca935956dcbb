"""Response models of upload jobs (`POST /documents` → 202, `GET /jobs`, `GET /jobs/{id}`)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from app.db.models import Job
from app.services.ingest import IngestResult
from app.services.jobs import aware


class JobError(BaseModel):
    code: str = Field(description="stable snake_case, as the same problem in a request")
    message: str


class JobPublic(BaseModel):
    """One upload job: where it is, and its result or error once it ended."""

    id: str
    state: Literal["queued", "running", "succeeded", "failed"]
    stage: str = Field(description="queued | starting | reading | embedding | done | failed")
    progress: float = Field(ge=0, le=1, description="0 to 1")
    filename: str
    media_type: str = Field(description="what the content is: pdf | html | markdown | text")
    size_bytes: int
    document_id: str = Field(description="the document the upload becomes (`api:<id>`)")
    book: str | None = None
    chapter: str | None = None
    attempts: int = Field(description="claims so far; above 1 a crashed run was resumed")
    result: IngestResult | None = Field(default=None, description="set when succeeded")
    error: JobError | None = Field(default=None, description="set when failed")
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @classmethod
    def of(cls, job: Job) -> JobPublic:
        return cls(
            id=job.id,
            state=job.state,  # type: ignore[arg-type]
            stage=job.stage,
            progress=job.progress,
            filename=job.filename,
            media_type=job.media_type,
            size_bytes=job.size_bytes,
            document_id=job.document_id,
            book=job.book,
            chapter=job.chapter,
            attempts=job.attempts,
            result=IngestResult(**job.result) if job.result else None,
            error=JobError(code=job.error_code, message=job.error_message or "")
            if job.error_code
            else None,
            created_at=aware(job.created_at),  # type: ignore[arg-type]
            started_at=aware(job.started_at),
            finished_at=aware(job.finished_at),
        )


class JobsPublic(BaseModel):
    """One page of the caller's jobs, newest first."""

    data: list[JobPublic]
    count: int = Field(description="all of the caller's jobs (in this state), not just this page")
    offset: int
    limit: int
