"""Ingesting text over the API, listing and deleting documents, through the same pipeline as
the CLI; the ledger records who ingested each document, and only they (or an admin) may replace
or delete it. Documents from config sources change only through `folio index`."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, Field
from sqlmodel import Session

from app.core.errors import Forbidden, InvalidInput, NotFound, PayloadTooLarge
from app.core.metrics import observe_ingest
from app.core.settings import Settings
from app.core.textcheck import clean_document_text
from app.db.models import ApiKey
from app.services.identity import Identity
from indexes.folio_index import FolioIndex, TooManyChunks
from indexes.ledger import LedgerEntry
from indexes.parsers import ContentTooComplex, ParseLimits, ParseTimeout
from indexes.pipeline import ProgressFn
from indexes.readers import ORIGIN_API, ORIGIN_CONFIG

MAX_ROTATION_HOPS = 50


class TooManyChunksForRequest(PayloadTooLarge):
    """The document would make more chunks than the caller may embed (`max_chunks`)."""


class IngestResult(BaseModel):
    document_id: str
    status: str = Field(description="added | updated | unchanged")
    chunks: int = Field(description="chunks embedded by this request")


class DocumentInfo(BaseModel):
    """One indexed document, as `GET /documents` lists it."""

    id: str
    origin: str = Field(description="config (from config.yaml sources) | api (POST /ingest)")
    book: str | None = None
    chapter: str | None = None
    chunks: int
    indexed_at: datetime | None = None


def api_document_id(chapter: str, source_id: str | None) -> str:
    """`api:<source_id>`, or `api:<chapter slug>` so re-posting a chapter replaces it."""
    if source_id:
        return f"{ORIGIN_API}:{source_id.removeprefix(f'{ORIGIN_API}:')}"
    slug = re.sub(r"[^a-z0-9]+", "-", chapter.lower()).strip("-")
    if not slug:
        slug = hashlib.sha256(chapter.encode()).hexdigest()[:16]
    return f"{ORIGIN_API}:{slug}"


def owns(*, db: Session, identity: Identity, owner: str | None) -> bool:
    """Whether `identity` may change a document recorded as ingested by `owner`: the same
    identity, a key that replaced the owner's key by rotation, or an admin."""
    if "admin" in identity.scopes:
        return True
    if owner is None:
        return False
    if owner == identity.subject:
        return True
    if not (owner.startswith("key:") and identity.key is not None):
        return False
    key_id: int | None = int(owner.removeprefix("key:"))
    for _ in range(MAX_ROTATION_HOPS):  # rotation hands ownership to the successor key
        key = db.get(ApiKey, key_id) if key_id is not None else None
        if key is None or key.replaced_by_id is None:
            return False
        if key.replaced_by_id == identity.key.id:
            return True
        key_id = key.replaced_by_id
    return False


def check_can_change(*, db: Session, identity: Identity, entry: LedgerEntry) -> None:
    """Forbidden unless `identity` may replace or delete the indexed document `entry`."""
    if entry.origin == ORIGIN_CONFIG:
        raise Forbidden(
            f"document {entry.id!r} comes from config.yaml sources; change it with `folio index`"
        )
    if not owns(db=db, identity=identity, owner=entry.owner):
        raise Forbidden(f"document {entry.id!r} was ingested by another key")


@dataclass(frozen=True)
class IngestBudget:
    """What one ingest may cost (chunks to embed, parse limits) and the settings that name
    each bound in a refusal: a request's budget, or an upload job's larger one."""

    max_chunks: int
    limits: ParseLimits
    chunks_key: str = "api.max_ingest_chunks"
    timeout_key: str = "api.ingest_parse_timeout_s"

    @classmethod
    def for_request(cls, settings: Settings) -> IngestBudget:
        return cls(
            max_chunks=settings.api.max_ingest_chunks,
            limits=ParseLimits(timeout_s=settings.api.ingest_parse_timeout_s),
        )


def ingest_content(
    *,
    db: Session,
    index: FolioIndex,
    settings: Settings,
    identity: Identity,
    chapter: str,
    content: str,
    source_id: str | None,
    book: str | None = None,
) -> IngestResult:
    """Validate everything first, so a rejected request leaves nothing half-ingested."""
    chapter = clean_document_text(chapter, field="chapter", max_chars=300)
    content = clean_document_text(content, field="content", max_bytes=settings.api.max_ingest_bytes)
    if book is not None:
        book = clean_document_text(book, field="book", max_chars=300)
    return ingest_document(
        db=db,
        index=index,
        identity=identity,
        doc_id=api_document_id(chapter, source_id),
        chapter=chapter,
        book=book,
        content=content,
        budget=IngestBudget.for_request(settings),
    )


def ingest_document(
    *,
    db: Session,
    index: FolioIndex,
    identity: Identity,
    doc_id: str,
    chapter: str,
    book: str | None,
    content: str,
    budget: IngestBudget,
    progress: ProgressFn | None = None,
) -> IngestResult:
    """Index validated text as the API document `doc_id` (JSON ingest and uploads): the owner
    check, then the pipeline within `budget`. `book` None: the configured book's name."""
    existing = index.document(doc_id)
    if existing is not None:
        check_can_change(db=db, identity=identity, entry=existing)
    db.close()  # no connection held while the model embeds
    try:
        report = index.ingest_text(
            content=content,
            chapter=chapter,
            book=book,
            source_id=doc_id,
            owner=identity.subject,
            max_chunks=budget.max_chunks,
            limits=budget.limits,
            progress=progress,
        )
    except TooManyChunks as exc:
        raise TooManyChunksForRequest(
            f"{exc} ({budget.chunks_key}); split the document into smaller ones"
        ) from None
    except ContentTooComplex as exc:
        raise InvalidInput(f"content: {exc}") from None
    except ParseTimeout:
        raise PayloadTooLarge(
            f"content: parsing took over {budget.limits.timeout_s:g} s ({budget.timeout_key}); "
            "split the document into smaller ones"
        ) from None
    observe_ingest(ORIGIN_API, report.counts())
    status = "added" if report.added else "updated" if report.updated else "unchanged"
    return IngestResult(document_id=doc_id, status=status, chunks=report.chunks_embedded)


def resolve_document_id(index: FolioIndex, document_id: str) -> LedgerEntry:
    """The ledger entry for an id as indexed (`api:x`), or as the client sent it (`x`)."""
    for candidate in (document_id, f"{ORIGIN_API}:{document_id}"):
        entry = index.document(candidate)
        if entry is not None:
            return entry
    raise NotFound(
        f"document {document_id!r} not found (API documents are listed by GET /documents)"
    )


def delete_document(*, db: Session, index: FolioIndex, identity: Identity, document_id: str) -> str:
    """Remove a document's points and ledger row; returns the id that was deleted."""
    entry = resolve_document_id(index, document_id)
    check_can_change(db=db, identity=identity, entry=entry)
    if not index.delete_document(entry.id):
        raise NotFound(f"document {document_id!r} not found")
    observe_ingest(entry.origin, {"deleted": 1})
    return entry.id


def list_documents(
    *, index: FolioIndex, origin: str | None, offset: int, limit: int
) -> tuple[list[DocumentInfo], int]:
    """One page of the ledger (by id) and the total count."""
    entries = index.documents(origin=origin, offset=offset, limit=limit)
    items = [
        DocumentInfo(
            id=e.id,
            origin=e.origin,
            book=e.book,
            chapter=e.chapter,
            chunks=e.chunk_count,
            indexed_at=e.indexed_at,
        )
        for e in entries
    ]
    return items, index.ledger.count(origin)
