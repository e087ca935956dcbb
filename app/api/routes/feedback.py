"""Feedback on answers."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, computed_field

from app.api.auth_schemas import SafeStr
from app.api.deps import CurrentIdentity, DbDep, IdPath, QueryAccess, WriteRateLimit
from app.api.schemas import escaped
from app.core.errors import ERROR_RESPONSES
from app.services.chat import aware
from app.services.feedback import give_feedback

router = APIRouter(tags=["feedback"], responses=ERROR_RESPONSES, dependencies=[QueryAccess])


class FeedbackCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

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


@router.post(
    "/messages/{message_id}/feedback",
    response_model=FeedbackPublic,
    dependencies=[WriteRateLimit],
)
def rate_message(
    message_id: IdPath, body: FeedbackCreate, identity: CurrentIdentity, db: DbDep
) -> FeedbackPublic:
    """Rate an answer of one of your sessions; rating again replaces your earlier rating.
    Anonymous readers also send the message's `session_id`."""
    fb = give_feedback(
        db=db,
        identity=identity,
        message_id=message_id,
        rating=body.rating,
        comment=body.comment,
        session_id=body.session_id,
    )
    assert fb.id is not None
    return FeedbackPublic(
        id=fb.id,
        message_id=fb.message_id,
        rating=fb.rating,
        comment=fb.comment,
        created_at=aware(fb.created_at),
    )
