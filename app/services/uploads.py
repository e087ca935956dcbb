"""Uploaded files (POST /documents): checked in the request, read by the config sources'
readers, indexed at once when small, else handed to a job (app/services/jobs.py).

Everything cheap is checked before anything is stored or embedded: the size (413), what the
bytes are (415), the fields and the owner of the document it would replace (422, 403). Reading
the text (a PDF's pages) happens where the indexing happens, in the request or in the job, and
a file that cannot be read fails there before the pipeline starts: nothing is half-indexed.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path

from sqlmodel import Session

from app.core.errors import InvalidInput, PayloadTooLarge
from app.core.settings import Settings
from app.core.textcheck import clean_document_text
from app.services.identity import Identity
from app.services.ingest import (
    IngestBudget,
    IngestResult,
    TooManyChunksForRequest,
    api_document_id,
    check_can_change,
    ingest_document,
)
from app.services.upload_types import sniff_reader
from indexes.folio_index import FolioIndex
from indexes.parsers import ParseLimits
from indexes.pipeline import ProgressFn
from indexes.readers import chapter_title, read_bytes

MAX_FILENAME_CHARS = 200
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9._-]+")


class UnreadableFile(InvalidInput):
    """The bytes are of a supported kind but hold no readable text (a corrupt or encrypted PDF,
    HTML with nothing visible)."""

    code = "unreadable_file"


@dataclass(frozen=True)
class Upload:
    """A checked upload: what it is and where it goes; its text is read later."""

    filename: str
    reader: str  # pdf | html | markdown | text (indexes/readers.py)
    data: bytes
    document_id: str
    book: str | None
    chapter: str | None  # None: the first heading, else the file name


def check_upload(
    *,
    settings: Settings,
    filename: str | None,
    content_type: str | None,
    data: bytes,
    book: str | None,
    chapter: str | None,
    source_id: str | None,
) -> Upload:
    """The cheap checks, in the request: 413 over `api.max_upload_bytes`, 415 for what Folio
    does not read (by content), 422 for bad fields."""
    limit = settings.api.max_upload_bytes
    if len(data) > limit:
        raise PayloadTooLarge(f"file: at most {limit} bytes (api.max_upload_bytes)")
    name = safe_filename(filename)
    reader = sniff_reader(data, filename=name, content_type=content_type)
    if book is not None:
        book = clean_document_text(book, field="book", max_chars=300)
    if chapter is not None:
        chapter = clean_document_text(chapter, field="chapter", max_chars=300)
    return Upload(
        filename=name,
        reader=reader,
        data=data,
        document_id=api_document_id("", source_id or _id_from_filename(name)),
        book=book,
        chapter=chapter,
    )


def check_owner(*, db: Session, index: FolioIndex, identity: Identity, upload: Upload) -> None:
    """403 now, not a failed job later, when the upload would replace another key's document."""
    existing = index.document(upload.document_id)
    if existing is not None:
        check_can_change(db=db, identity=identity, entry=existing)


def read_upload_text(*, data: bytes, reader: str, filename: str, max_bytes: int) -> str:
    """The file's text through the config sources' reader, or a 4xx that says why not."""
    try:
        text = read_bytes(data, reader)
    except Exception as exc:  # pypdf raises a dozen types for damaged files; none is a 500
        raise UnreadableFile(_unreadable(filename, reader, exc)) from None
    if reader == "pdf":  # extraction artefacts, not the author's text
        text = "".join(
            ch if ch in "\n\t" or unicodedata.category(ch) != "Cc" else " " for ch in text
        )
    if not text.strip():
        raise UnreadableFile(_empty(filename, reader))
    return clean_document_text(text, field="file", max_bytes=max_bytes)


def ingest_upload(
    *,
    db: Session,
    index: FolioIndex,
    settings: Settings,
    identity: Identity,
    upload: Upload,
    budget: IngestBudget,
    progress: ProgressFn | None = None,
) -> IngestResult:
    """Read and index one upload (in the request, or in a job): same content → unchanged."""
    text = read_upload_text(
        data=upload.data,
        reader=upload.reader,
        filename=upload.filename,
        max_bytes=settings.api.max_upload_bytes,
    )
    return ingest_document(
        db=db,
        index=index,
        identity=identity,
        doc_id=upload.document_id,
        chapter=upload.chapter or chapter_title(text, Path(upload.filename)),
        book=upload.book,
        content=text,
        budget=budget,
        progress=progress,
    )


def job_budget(settings: Settings) -> IngestBudget:
    """A job may index a book, not a chapter: `jobs.max_chunks` chunks, `jobs.parse_timeout_s`
    to parse, and the parse's count limits (lines, headings, tags) scaled by the same factor
    as the chunks; the limits per line, word and heading stay those of a request."""
    scale = max(1, settings.jobs.max_chunks // settings.api.max_ingest_chunks)
    base = ParseLimits()
    limits = replace(
        base,
        timeout_s=settings.jobs.parse_timeout_s,
        max_lines=base.max_lines * scale,
        max_headings=base.max_headings * scale,
        max_tags=base.max_tags * scale,
    )
    return IngestBudget(
        max_chunks=settings.jobs.max_chunks,
        limits=limits,
        chunks_key="jobs.max_chunks",
        timeout_key="jobs.parse_timeout_s",
    )


def runs_in_request(settings: Settings, upload: Upload) -> bool:
    """Small uploads are indexed within the request; larger ones return 202 and a job."""
    return len(upload.data) <= settings.api.sync_upload_max_bytes


def ingest_small_upload(
    *, db: Session, index: FolioIndex, settings: Settings, identity: Identity, upload: Upload
) -> IngestResult | None:
    """Index a small upload now; None when it turns out to make more chunks than a request
    may embed (`api.max_ingest_chunks`: a PDF compresses its text), so it goes to a job."""
    try:
        return ingest_upload(
            db=db,
            index=index,
            settings=settings,
            identity=identity,
            upload=upload,
            budget=IngestBudget.for_request(settings),
        )
    except TooManyChunksForRequest:
        return None


def safe_filename(filename: str | None) -> str:
    """The last path component, without control characters, at most 200 characters."""
    name = re.split(r"[/\\]", filename or "")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    if len(name) > MAX_FILENAME_CHARS:
        stem, dot, suffix = name.rpartition(".")
        name = (stem[: MAX_FILENAME_CHARS - 10] + dot + suffix[:8]) if dot else name[:200]
    return name or "upload"


def _id_from_filename(name: str) -> str:
    """`Report 2024.pdf` → `Report-2024.pdf`: uploading the same file name again replaces it."""
    slug = _UNSAFE_ID.sub("-", name).strip("-.")
    if not slug or not slug[0].isalnum():
        slug = "upload-" + hashlib.sha256(name.encode()).hexdigest()[:16]
    return slug


def _unreadable(filename: str, reader: str, exc: Exception) -> str:
    if reader != "pdf":
        return f"{filename}: the file could not be read as {reader} ({type(exc).__name__})"
    if type(exc).__name__ == "FileNotDecryptedError":
        return f"{filename}: the PDF is encrypted; upload it without a password"
    return f"{filename}: the PDF is damaged and cannot be read ({type(exc).__name__})"


def _empty(filename: str, reader: str) -> str:
    match reader:
        case "pdf":
            return f"{filename}: the PDF has no text layer (a scanned PDF needs OCR first)"
        case "html":
            return f"{filename}: the HTML has no visible text"
    return f"{filename}: the file is empty"
