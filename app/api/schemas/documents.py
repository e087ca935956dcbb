"""`POST /ingest`, `GET /documents`, `DELETE /documents/{id}` (uploads and jobs: jobs.py)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.api.schemas.base import StrictInput
from app.services.ingest import DocumentInfo, IngestResult


class IngestRequest(StrictInput):
    chapter: str = Field(max_length=300, description="Chapter title stored on every chunk")
    content: str = Field(description="Markdown or plain text, at most 2 MB")
    book: str | None = Field(
        default=None, max_length=300, description="Book title (default: the configured book's)"
    )
    source_id: str | None = Field(
        default=None,
        max_length=200,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-/]*$",
        description="Stable id; re-ingesting the same id replaces the document",
    )


class IngestResponse(IngestResult):
    """What an ingest did to the document."""


class DocumentsPublic(BaseModel):
    """One page of indexed documents."""

    data: list[DocumentInfo]
    count: int = Field(description="documents in all pages")
    offset: int
    limit: int


class DeleteResponse(BaseModel):
    document_id: str
    deleted: bool
