"""Request and response models of the HTTP API.

HTML rule (docs/security.md, docs/API_REFERENCE.md): in reader-facing responses every free-text
field (answers, passages, chapter/section/book titles, questions, session titles, comments,
streamed text) has an `<name>_html` twin that is HTML-escaped and safe to insert as HTML. The
field without the suffix is the raw text, for non-HTML clients: never insert it as HTML.
Identifiers, enums, numbers and timestamps have no twin; display them as text."""

from __future__ import annotations

import html

from pydantic import BaseModel, ConfigDict, Field, computed_field

from app.services.ingest import DocumentInfo, IngestResult
from indexes.answers import Answer, Source


class QueryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(description="The question", examples=["What is autolyse?"])
    top_k: int | None = Field(default=None, ge=1, le=50)


def escaped(text: str | None) -> str | None:
    """The HTML-escaped twin of a text field (None stays None)."""
    return None if text is None else html.escape(text)


class SourceOut(Source):
    """A source whose displayable text also comes HTML-escaped (ingested `<script>` never
    comes back live): `text_html`, `chapter_html`, `section_html`, `book_html`."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def text_html(self) -> str:
        return html.escape(self.text)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def chapter_html(self) -> str | None:
        return escaped(self.chapter)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def section_html(self) -> str | None:
        return escaped(self.section)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def book_html(self) -> str | None:
        return escaped(self.book)


class QueryResponse(Answer):
    """An answer with numbered sources; `[n]` in `answer` refers to `sources[n-1]`.

    Display `answer_html` / `text_html` in a page; the raw fields are for non-HTML clients.
    """

    sources: list[SourceOut] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def answer_html(self) -> str:
        return html.escape(self.answer)


class IngestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

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


class HealthResponse(BaseModel):
    status: str


class ReadyResponse(BaseModel):
    status: str
    checks: dict[str, str]
    points: int


__all__ = [
    "Answer",
    "DeleteResponse",
    "HealthResponse",
    "IngestRequest",
    "IngestResponse",
    "QueryRequest",
    "QueryResponse",
    "ReadyResponse",
    "Source",
]
