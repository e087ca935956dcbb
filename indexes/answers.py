"""Answer objects returned by the query engine (plain pydantic, no web types)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Source(BaseModel):
    """One numbered passage an answer may cite as `[n]`."""

    n: int
    node_id: str
    document_id: str
    book: str | None = None
    chapter: str | None = None
    section: str | None = None
    text: str
    score: float | None = None
    char_start: int | None = None
    char_end: int | None = None


class Usage(BaseModel):
    """Tokens one answer cost (counted by LlamaIndex's TokenCountingHandler)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    embedding_tokens: int = 0


class Answer(BaseModel):
    """The answer text with `[n]` markers, the sources they point to, and how it was made."""

    answer: str
    sources: list[Source] = Field(default_factory=list)
    mode: str
    latency_ms: float = 0.0
    invalid_citations: list[int] = Field(default_factory=list)
    found: bool = True
    usage: Usage = Field(default_factory=Usage)
    cached: bool = False
