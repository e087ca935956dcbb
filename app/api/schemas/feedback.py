"""`POST /messages/{id}/feedback`: a rating of an answer."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, computed_field

from app.api.schemas.base import SafeStr, StrictInput, escaped


class FeedbackCreate(StrictInput):
    rating: Literal[1, -1] = Field(description="1: helpful, -1: not helpful")
    comment: str | None = Field(default=None, max_length=2000)
    session_id: SafeStr | None = Field(
        default=None,
        max_length=64,
        description="The message's session id; required for anonymous sessions",
    )


class FeedbackPublic(BaseModel):
    id: int
    message_id: int
    rating: int
    comment: str | None
    created_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def comment_html(self) -> str | None:
        return escaped(self.comment)
