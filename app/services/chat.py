"""Chat sessions: create, list, read, delete, ask with history, expire and purge.

Ownership: a session belongs to the identity subject that created it (`user:<id>`,
`key:<id>`, `bootstrap`); anonymous readers share the owner `anonymous`, so for them the
unguessable session id is the only credential. Any other owner's id is a plain 404.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, delete, select

from app.core.errors import NotFound, ServiceUnavailable, SessionExpired, Unauthorized, where
from app.core.settings import Settings
from app.core.textcheck import clean_text
from app.db.models import ChatSession, Message, utcnow
from app.services.faq_cache import FaqCache
from app.services.identity import Identity
from app.services.query import answer_and_record
from app.services.usage import llm_allowed
from indexes.answers import Answer
from indexes.folio_index import FolioIndex

log = logging.getLogger("folio.chat")

ANONYMOUS_OWNER = "anonymous"
HISTORY_TURNS = 4  # turns handed to the condenser; older ones rarely matter to a follow-up


def owner_of(identity: Identity) -> str:
    return ANONYMOUS_OWNER if identity.kind == "anonymous" else identity.subject


def aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def expires_at(session: ChatSession, settings: Settings) -> datetime:
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
    return list(
        db.exec(
            select(Message).where(Message.session_id == session.id).order_by(col(Message.id))
        ).all()
    )


def delete_session(*, db: Session, settings: Settings, identity: Identity, session_id: str) -> None:
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
    """A question in a session, ready to answer: the cleaned and the standalone question."""

    session_id: str
    question: str
    standalone: str


def prepare_turn(
    *,
    db: Session,
    settings: Settings,
    index: FolioIndex,
    identity: Identity,
    session_id: str,
    question: str,
) -> Turn:
    """Check the session, then rewrite a follow-up into a standalone question from history."""
    session = get_session(db=db, settings=settings, identity=identity, session_id=session_id)
    question = clean_text(question, field="query", max_chars=settings.api.max_query_chars)
    history = session_messages(db=db, session=session)[-HISTORY_TURNS:]
    turns = [(m.standalone_question, m.answer) for m in history]
    allow_llm = llm_allowed(db=db, settings=settings)
    db.commit()  # no connection held while an LLM condenses the question
    try:
        standalone = index.condense(turns, question, allow_llm=allow_llm)
    except Exception as exc:  # the LLM failed while condensing
        log.error("condense failed type=%s at=%s", type(exc).__name__, where(exc))
        raise ServiceUnavailable("The answering backend is unavailable, try again later") from None
    return Turn(session_id=session.id, question=question, standalone=standalone)


def record_turn(*, db: Session, turn: Turn, answer: Answer) -> Message:
    """Store the answered turn and keep its session alive."""
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
    session = db.get(ChatSession, turn.session_id)
    if session is not None:
        session.last_active_at = utcnow()
        session.title = session.title or turn.question[:200]
        db.add(session)
    db.commit()
    db.refresh(message)
    return message


def record_turn_on(engine: Engine, *, turn: Turn, answer: Answer) -> Message:
    """`record_turn` in its own DB session (a stream outlives the request's session)."""
    with Session(engine, expire_on_commit=False) as db:
        return record_turn(db=db, turn=turn, answer=answer)


def ask_in_session(
    *,
    db: Session,
    settings: Settings,
    index: FolioIndex,
    identity: Identity,
    session_id: str,
    question: str,
    top_k: int | None = None,
    cache: FaqCache | None = None,
) -> Message:
    """Answer `question` in the session's context and store it as a message."""
    turn = prepare_turn(
        db=db,
        settings=settings,
        index=index,
        identity=identity,
        session_id=session_id,
        question=question,
    )
    answer = answer_and_record(
        db=db,
        index=index,
        settings=settings,
        identity=identity,
        question=turn.standalone,
        top_k=top_k,
        endpoint="sessions.messages",
        cache=cache,
    )
    return record_turn(db=db, turn=turn, answer=answer)
