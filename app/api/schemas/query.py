"""`POST /query` and `POST /query/stream`: the question, and the answer with its sources."""

from __future__ import annotations

import html

from pydantic import Field, computed_field

from app.api.schemas.base import StrictInput, escaped
from indexes.answers import Answer, Source


class QueryRequest(StrictInput):
    query: str = Field(description="The question", examples=["What is autolyse?"])
    top_k: int | None = Field(default=None, ge=1, le=50)


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

    @classmethod
    def of(cls, answer: Answer) -> QueryResponse:
        """The response for an answer of the index (or of the FAQ cache)."""
        return cls.model_validate(answer.model_dump())
