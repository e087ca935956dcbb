"""Adding and removing documents over HTTP (API key with scope `ingest`)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from app.api.deps import IndexDep, IngestOrHandoff, IngestScope, SettingsDep
from app.api.schemas import DeleteResponse, IngestRequest, IngestResponse
from app.core.errors import ERROR_RESPONSES
from app.services.ingest import delete_document, ingest_content
from app.services.reindex import reindex_events

router = APIRouter(tags=["ingest"], responses=ERROR_RESPONSES)


@router.post("/ingest", response_model=IngestResponse, dependencies=[IngestScope])
def ingest(body: IngestRequest, index: IndexDep, settings: SettingsDep) -> IngestResponse:
    """Index one chapter. Posting the same content again changes nothing."""
    result = ingest_content(
        index=index,
        settings=settings,
        chapter=body.chapter,
        content=body.content,
        source_id=body.source_id,
    )
    return IngestResponse(**result.model_dump())


@router.delete(
    "/documents/{document_id:path}", response_model=DeleteResponse, dependencies=[IngestScope]
)
def delete(document_id: str, index: IndexDep) -> DeleteResponse:
    """Remove a document and all its chunks."""
    delete_document(index=index, document_id=document_id)
    return DeleteResponse(document_id=document_id, deleted=True)


@router.post("/admin/reindex", dependencies=[IngestOrHandoff])
def reindex(index: IndexDep, settings: SettingsDep) -> StreamingResponse:
    """Re-read the config file and re-index its sources; streams NDJSON events (`config`,
    `progress`…), the last line the summary."""
    import json

    lines = (json.dumps(event) + "\n" for event in reindex_events(index, settings=settings))
    return StreamingResponse(lines, media_type="application/x-ndjson")
