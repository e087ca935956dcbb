"""Ingesting text over the API and deleting documents, through the same pipeline as the CLI."""

from __future__ import annotations

import hashlib
import re

from pydantic import BaseModel, Field

from app.core.errors import NotFound
from app.core.metrics import observe_ingest
from app.core.settings import Settings
from app.core.textcheck import clean_text
from indexes.engine import FolioIndex
from indexes.readers import ORIGIN_API, ORIGIN_CONFIG


class IngestResult(BaseModel):
    document_id: str
    status: str = Field(description="added | updated | unchanged")
    chunks: int = Field(description="chunks embedded by this request")


def api_document_id(chapter: str, source_id: str | None) -> str:
    """`api:<source_id>`, or `api:<chapter slug>` so re-posting a chapter replaces it."""
    if source_id:
        return f"{ORIGIN_API}:{source_id}"
    slug = re.sub(r"[^a-z0-9]+", "-", chapter.lower()).strip("-")
    if not slug:
        slug = hashlib.sha256(chapter.encode()).hexdigest()[:16]
    return f"{ORIGIN_API}:{slug}"


def ingest_content(
    *,
    index: FolioIndex,
    settings: Settings,
    chapter: str,
    content: str,
    source_id: str | None,
) -> IngestResult:
    """Validate everything first, so a rejected request leaves nothing half-ingested."""
    chapter = clean_text(chapter, field="chapter", max_chars=300)
    content = clean_text(content, field="content", max_bytes=settings.api.max_ingest_bytes)
    doc_id = api_document_id(chapter, source_id)
    report = index.ingest_text(content=content, chapter=chapter, source_id=doc_id)
    observe_ingest(ORIGIN_API, report.counts())
    status = "added" if report.added else "updated" if report.updated else "unchanged"
    return IngestResult(document_id=doc_id, status=status, chunks=report.chunks_embedded)


def delete_document(*, index: FolioIndex, document_id: str) -> None:
    """Remove a document from Qdrant and the docstores; NotFound if it was never indexed."""
    if not index.delete_document(document_id):
        raise NotFound(f"document {document_id!r} not found")
    origin = ORIGIN_API if document_id.startswith(f"{ORIGIN_API}:") else ORIGIN_CONFIG
    observe_ingest(origin, {"deleted": 1})
