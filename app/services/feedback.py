"""Readers rate answers; the content team exports the ratings to find weak answers."""

from __future__ import annotations

import csv
import hmac
import io
import json
from typing import Any

from sqlmodel import Session, col, select

from app.core.errors import NotFound
from app.core.textcheck import clean_text
from app.db.models import ChatSession, Feedback, Message, utcnow
from app.services.identity import Identity
from app.services.sessions import ANONYMOUS_OWNER, owner_of

EXPORT_FIELDS = (
    "feedback_id",
    "created_at",
    "rating",
    "comment",
    "subject",
    "message_id",
    "session_id",
    "question",
    "standalone_question",
    "answer",
    "mode",
    "chapters",
)


def may_rate(session: ChatSession, identity: Identity, session_id: str | None) -> bool:
    """The caller owns the session; for an anonymous session (all share one owner) the caller
    must also present its id, the session's own unguessable capability: message ids are
    sequential, so the id in the URL proves nothing."""
    if session.owner != owner_of(identity):
        return False
    if session.owner != ANONYMOUS_OWNER:
        return True
    return session_id is not None and hmac.compare_digest(session_id.encode(), session.id.encode())


def give_feedback(
    *,
    db: Session,
    identity: Identity,
    message_id: int,
    rating: int,
    comment: str | None,
    session_id: str | None = None,
) -> Feedback:
    """Rate a message of one of the caller's sessions; a second rating replaces the first."""
    message = db.get(Message, message_id)
    session = db.get(ChatSession, message.session_id) if message else None
    if session is None or not may_rate(session, identity, session_id):
        raise NotFound("No such message")
    if comment is not None:
        comment = clean_text(comment, field="comment", max_chars=2000) if comment.strip() else None
    existing = db.exec(
        select(Feedback).where(
            Feedback.message_id == message_id, Feedback.subject == identity.subject
        )
    ).first()
    feedback = existing or Feedback(message_id=message_id, subject=identity.subject, rating=rating)
    feedback.rating, feedback.comment, feedback.created_at = rating, comment, utcnow()
    db.add(feedback)
    db.commit()
    db.refresh(feedback)
    return feedback


def feedback_rows(*, db: Session) -> list[dict[str, Any]]:
    """Every rating with the question and answer it rates, worst first, then newest."""
    rows = db.exec(
        select(Feedback, Message)
        .join(Message, col(Message.id) == col(Feedback.message_id))
        .order_by(col(Feedback.rating), col(Feedback.created_at).desc())
    ).all()
    out = []
    for fb, msg in rows:
        chapters = sorted({s.get("chapter") or "" for s in msg.sources or []} - {""})
        out.append(
            {
                "feedback_id": fb.id,
                "created_at": fb.created_at.isoformat(),
                "rating": fb.rating,
                "comment": fb.comment or "",
                "subject": fb.subject,
                "message_id": msg.id,
                "session_id": msg.session_id,
                "question": msg.question,
                "standalone_question": msg.standalone_question,
                "answer": msg.answer,
                "mode": msg.mode,
                "chapters": "; ".join(chapters),
            }
        )
    return out


def export_feedback(*, db: Session, fmt: str) -> str:
    """The ratings as CSV (one row each) or a JSON array."""
    rows = feedback_rows(db=db)
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False, indent=2)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_FIELDS)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
