"""Feedback on answers."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import CurrentIdentity, DbDep, IdPath, QueryAccess, WriteRateLimit
from app.api.schemas.errors import ERROR_RESPONSES
from app.api.schemas.feedback import FeedbackCreate, FeedbackPublic
from app.services.feedback import give_feedback
from app.services.sessions import aware

router = APIRouter(tags=["feedback"], responses=ERROR_RESPONSES, dependencies=[QueryAccess])


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
