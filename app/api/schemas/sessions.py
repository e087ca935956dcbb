"""`/sessions`: conversations, their messages, and the message request."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, computed_field

from app.api.schemas.base import StrictInput, escaped
from app.api.schemas.query import SourceOut


class SessionPublic(BaseModel):
    id: str = Field(description="Unguessable; for anonymous readers it is the only credential")
    title: str | None = Field(default=None, description="The first question asked")
    created_at: datetime
    last_active_at: datetime
    expires_at: datetime = Field(description="When it expires unless used again")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def title_html(self) -> str | None:
        return escaped(self.title)


class SessionsPublic(BaseModel):
    data: list[SessionPublic]
    count: int = Field(description="All of the caller's live sessions, not just this page")
    limit: int
    offset: int


class MessageRequest(StrictInput):
    query: str = Field(description="The question; follow-ups may lean on earlier turns")
    top_k: int | None = Field(default=None, ge=1, le=50)


class MessagePublic(BaseModel):
    id: int
    question: str
    standalone_question: str = Field(description="The question as retrieved (follow-ups rewritten)")
    answer: str
    sources: list[SourceOut] = Field(default_factory=list)
    mode: str
    latency_ms: float
    created_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def question_html(self) -> str:
        return escaped(self.question) or ""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def standalone_question_html(self) -> str:
        return escaped(self.standalone_question) or ""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def answer_html(self) -> str:
        return escaped(self.answer) or ""


class SessionDetail(SessionPublic):
    messages: list[MessagePublic] = Field(default_factory=list)
