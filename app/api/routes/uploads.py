"""Uploading a file as a document (API key with scope `ingest`): indexed within the request
when small, else 202 and a job (`GET /jobs/{id}`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile

from app.api.deps import (
    CurrentIdentity,
    DbDep,
    IndexDep,
    IngestRateLimit,
    IngestScope,
    JobQueueDep,
    SettingsDep,
)
from app.api.schemas.documents import IngestResponse
from app.api.schemas.errors import ERROR_RESPONSES, ErrorResponse
from app.api.schemas.jobs import JobPublic
from app.api.schemas.uploads import MAX_FORM_FIELDS, UPLOAD_FORM, UploadFields
from app.core.errors import UnsupportedMediaType
from app.core.settings import Settings
from app.db.models import Job
from app.services.jobs import accept_upload
from app.services.uploads import Upload, check_upload

router = APIRouter(tags=["ingest"], responses={**ERROR_RESPONSES, 415: {"model": ErrorResponse}})


@router.post(
    "/documents",
    response_model=IngestResponse,
    responses={202: {"model": JobPublic, "description": "Queued as a job"}},
    dependencies=[IngestScope, IngestRateLimit],
    openapi_extra=UPLOAD_FORM,
)
async def upload_document(
    request: Request,
    index: IndexDep,
    settings: SettingsDep,
    identity: CurrentIdentity,
    db: DbDep,
    queue: JobQueueDep,
) -> Any:
    """Add or replace a document from a file (multipart field `file`). Its type is read from
    its content: a zip renamed `.pdf` is refused (415). Up to `api.sync_upload_max_bytes` it is
    indexed now (200, as `/ingest`); larger files return 202 with a job to poll at
    `GET /jobs/{id}`. The body is read only after the key and its rate limit checked out."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise UnsupportedMediaType("send the file as multipart/form-data (field `file`)")
    form = await request.form(max_files=1, max_fields=MAX_FORM_FIELDS)
    try:
        upload = await _checked_upload(form, settings)
    finally:
        await form.close()  # the spooled file: its bytes are in `upload` now
    outcome = await run_in_threadpool(
        lambda: accept_upload(
            db=db,
            index=index,
            settings=settings,
            identity=identity,
            upload=upload,
            submit=queue.submit,
        )
    )
    if isinstance(outcome, Job):
        return JSONResponse(
            JobPublic.of(outcome).model_dump(mode="json"),
            status_code=202,
            headers={"Location": f"/jobs/{outcome.id}"},
        )
    return IngestResponse(**outcome.model_dump())


async def _checked_upload(form: FormData, settings: Settings) -> Upload:
    """The form's file and fields, checked (422 for a missing file or bad fields)."""
    file = form.get("file")
    if not isinstance(file, UploadFile):
        raise RequestValidationError(
            [{"loc": ("body", "file"), "msg": "Field required (a file)", "type": "missing"}]
        )
    try:
        fields = UploadFields(**{k: v for k, v in form.items() if k != "file"})
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        ) from None
    data = await file.read(settings.api.max_upload_bytes + 1)
    return check_upload(
        settings=settings,
        filename=file.filename,
        content_type=file.content_type,
        data=data,
        book=fields.book,
        chapter=fields.chapter,
        source_id=fields.source_id,
    )
