"""Adding, listing and removing documents over HTTP (API key with scope `ingest`)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from app.api.deps import (
    CurrentIdentity,
    DbDep,
    IndexDep,
    IngestOrHandoff,
    IngestRateLimit,
    IngestScope,
    SettingsDep,
)
from app.api.schemas.documents import (
    DeleteResponse,
    DocumentsPublic,
    IngestRequest,
    IngestResponse,
)
from app.api.schemas.errors import ERROR_RESPONSES
from app.ops.reindex import reindex_events
from app.services.ingest import delete_document, ingest_content, list_documents

router = APIRouter(tags=["ingest"], responses=ERROR_RESPONSES)


@router.post("/ingest", response_model=IngestResponse, dependencies=[IngestScope, IngestRateLimit])
def ingest(
    body: IngestRequest,
    index: IndexDep,
    settings: SettingsDep,
    identity: CurrentIdentity,
    db: DbDep,
) -> IngestResponse:
    """Index one chapter. Posting the same content again changes nothing. Only the key that
    ingested a document (or its rotated successor, or an admin) may replace it. Rate-limited
    per caller (`api.ingest_rate_limit_*`); text shapes that would take long to parse are 422,
    a parse over `api.ingest_parse_timeout_s` is 413."""
    result = ingest_content(
        db=db,
        index=index,
        settings=settings,
        identity=identity,
        chapter=body.chapter,
        content=body.content,
        source_id=body.source_id,
        book=body.book,
    )
    return IngestResponse(**result.model_dump())


@router.get("/documents", response_model=DocumentsPublic, dependencies=[IngestScope])
def documents(
    index: IndexDep,
    origin: Literal["config", "api"] | None = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> DocumentsPublic:
    """What is indexed, by document id: origin, book, chapter, chunks, when it was indexed."""
    items, total = list_documents(index=index, origin=origin, offset=offset, limit=limit)
    return DocumentsPublic(data=items, count=total, offset=offset, limit=limit)


@router.delete(
    "/documents/{document_id:path}", response_model=DeleteResponse, dependencies=[IngestScope]
)
def delete(
    document_id: str, index: IndexDep, identity: CurrentIdentity, db: DbDep
) -> DeleteResponse:
    """Remove a document and all its chunks. The id may be the indexed one (`api:x`) or the
    `source_id` the client sent (`x`). Config documents change only through `folio index`."""
    deleted = delete_document(db=db, index=index, identity=identity, document_id=document_id)
    return DeleteResponse(document_id=deleted, deleted=True)


@router.post("/admin/reindex", dependencies=[IngestOrHandoff])
def reindex(index: IndexDep, settings: SettingsDep) -> StreamingResponse:
    """Re-read the config file and re-index its sources; streams NDJSON events (`config`,
    `progress`…), the last line the summary."""
    import json

    lines = (json.dumps(event) + "\n" for event in reindex_events(index, settings=settings))
    return StreamingResponse(lines, media_type="application/x-ndjson")
