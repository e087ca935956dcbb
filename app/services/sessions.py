"""Chat sessions: create, list, read, delete, expire and purge; and storing an answered turn
(asking in a session is app/services/answering.py).

Ownership: a session belongs to the identity subject that created it (`user:<id>`,
`key:<id>`, `bootstrap`); anonymous readers share the owner `anonymous`, so for them the
unguessable session id is the only credential. Any other owner's id is a plain 404.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, delete, select

from app.core.errors import NotFound, SessionExpired, Unauthorized
from app.core.settings import Settings
from app.db.models import ChatSession, Message, utcnow
from app.services.identity import Identity
from indexes.answers import Answer

ANONYMOUS_OWNER = "anonymous"
HISTORY_TURNS = 4  # turns handed to the condenser; older ones rarely matter to a follow-up


def owner_of(identity: Identity) -> str:
    """The owner a session of this caller gets (and must have to be theirs)."""
    return ANONYMOUS_OWNER if identity.kind == "anonymous" else identity.subject


def aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def expires_at(session: ChatSession, settings: Settings) -> datetime:
    """When the session expires unless it is used again."""
    return aware(session.last_active_at) + timedelta(hours=settings.api.session_timeout_hours)


def create_session(*, db: Session, identity: Identity) -> ChatSession:
    """A new, empty session owned by the caller, under an unguessable id."""
    session = ChatSession(id=secrets.token_urlsafe(24), owner=owner_of(identity))
    db.add(session)
    db.commit()
    return session


def list_sessions(
    *, db: Session, settings: Settings, identity: Identity, limit: int, offset: int
) -> tuple[list[ChatSession], int]:
    """The caller's live sessions, most recently active first, and how many there are."""
    if identity.kind == "anonymous":
        raise Unauthorized("Log in or use an API key to list sessions")
    cutoff = utcnow() - timedelta(hours=settings.api.session_timeout_hours)
    where_ = (col(ChatSession.owner) == identity.subject) & (
        col(ChatSession.last_active_at) >= cutoff
    )
    total = db.exec(select(func.count()).select_from(ChatSession).where(where_)).one()
    rows = db.exec(
        select(ChatSession)
        .where(where_)
        .order_by(col(ChatSession.last_active_at).desc(), col(ChatSession.created_at).desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return list(rows), int(total)


def get_session(
    *, db: Session, settings: Settings, identity: Identity, session_id: str
) -> ChatSession:
    """The caller's session; NotFound for unknown or someone else's, SessionExpired when idle
    longer than `api.session_timeout_hours`."""
    session = db.get(ChatSession, session_id)
    if session is None or session.owner != owner_of(identity):
        raise NotFound("No such session")
    if expires_at(session, settings) <= utcnow():
        raise SessionExpired("This session expired; start a new one")
    return session


def session_messages(*, db: Session, session: ChatSession) -> list[Message]:
    """The session's messages, oldest first."""
    return list(
        db.exec(
            select(Message).where(Message.session_id == session.id).order_by(col(Message.id))
        ).all()
    )


def delete_session(*, db: Session, settings: Settings, identity: Identity, session_id: str) -> None:
    """Delete the caller's session and its messages (NotFound / SessionExpired as get_session)."""
    session = get_session(db=db, settings=settings, identity=identity, session_id=session_id)
    db.exec(delete(Message).where(col(Message.session_id) == session.id))  # type: ignore[call-overload]
    db.delete(session)
    db.commit()


def purge_expired(*, db: Session, settings: Settings, now: datetime | None = None) -> int:
    """Delete sessions idle longer than the timeout (and their messages); returns how many."""
    cutoff = (now or utcnow()) - timedelta(hours=settings.api.session_timeout_hours)
    ids = list(
        db.exec(select(ChatSession.id).where(col(ChatSession.last_active_at) < cutoff)).all()
    )
    if ids:
        db.exec(delete(Message).where(col(Message.session_id).in_(ids)))  # type: ignore[call-overload]
        db.exec(delete(ChatSession).where(col(ChatSession.id).in_(ids)))  # type: ignore[call-overload]
        db.commit()
    return len(ids)


@dataclass
class Turn:
    """A question asked in a session: as asked (cleaned) and as retrieved (a follow-up
    rewritten into a standalone question from the history)."""

    session_id: str
    question: str
    standalone: str


def history_of(*, db: Session, session: ChatSession) -> list[tuple[str, str]]:
    """The last `HISTORY_TURNS` turns as (standalone question, answer), for the condenser."""
    return [
        (m.standalone_question, m.answer)
        for m in session_messages(db=db, session=session)[-HISTORY_TURNS:]
    ]


def add_message(*, db: Session, turn: Turn, answer: Answer) -> Message | None:
    """Add the answered turn as a message and keep its session alive; the caller commits.
    None when the session was deleted while the question was being answered."""
    session = db.get(ChatSession, turn.session_id)
    if session is None:
        return None
    message = Message(
        session_id=turn.session_id,
        question=turn.question,
        standalone_question=turn.standalone,
        answer=answer.answer,
        sources=[s.model_dump() for s in answer.sources],
        mode=answer.mode,
        latency_ms=answer.latency_ms,
        prompt_tokens=answer.usage.prompt_tokens,
        completion_tokens=answer.usage.completion_tokens,
        embedding_tokens=answer.usage.embedding_tokens,
    )
    db.add(message)
    session.last_active_at = utcnow()
    session.title = session.title or turn.question[:200]
    db.add(session)
    return message
