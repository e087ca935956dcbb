"""Chat sessions: conversations whose follow-up questions are answered in context."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.api.chat_schemas import (
    MessagePublic,
    MessageRequest,
    SessionDetail,
    SessionPublic,
    SessionsPublic,
)
from app.api.deps import (
    AnswerPoolDep,
    CurrentIdentity,
    DbDep,
    EngineDep,
    FaqCacheDep,
    IndexDep,
    QueryAccess,
    QueryRateLimit,
    SettingsDep,
    WriteRateLimit,
)
from app.core.errors import ERROR_RESPONSES
from app.core.settings import Settings
from app.db.models import ChatSession, Message
from app.services import chat
from app.services.query import in_session

MAX_OFFSET = 1_000_000  # beyond any real history; bigger numbers overflow the driver (422)

router = APIRouter(tags=["sessions"], responses=ERROR_RESPONSES, dependencies=[QueryAccess])


def session_public(session: ChatSession, settings: Settings) -> SessionPublic:
    return SessionPublic(
        id=session.id,
        title=session.title,
        created_at=chat.aware(session.created_at),
        last_active_at=chat.aware(session.last_active_at),
        expires_at=chat.expires_at(session, settings),
    )


def message_public(message: Message) -> MessagePublic:
    return MessagePublic.model_validate(
        {**message.model_dump(), "created_at": chat.aware(message.created_at)}
    )


@router.post(
    "/sessions", response_model=SessionPublic, status_code=201, dependencies=[WriteRateLimit]
)
def create_session(identity: CurrentIdentity, db: DbDep, settings: SettingsDep) -> SessionPublic:
    """Start a conversation. Anonymous readers keep the returned `id` to continue it."""
    return session_public(chat.create_session(db=db, identity=identity), settings)


@router.get("/sessions", response_model=SessionsPublic)
def list_sessions(
    identity: CurrentIdentity,
    db: DbDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> SessionsPublic:
    """The caller's own live sessions, most recently active first (logged in or API key)."""
    rows, total = chat.list_sessions(
        db=db, settings=settings, identity=identity, limit=limit, offset=offset
    )
    return SessionsPublic(
        data=[session_public(s, settings) for s in rows], count=total, limit=limit, offset=offset
    )


@router.get("/sessions/{session_id}", response_model=SessionDetail)
def get_session(
    session_id: str, identity: CurrentIdentity, db: DbDep, settings: SettingsDep
) -> SessionDetail:
    """One session with its messages and their sources. 404 `session_expired` once idle
    longer than `SESSION_TIMEOUT_HOURS`; 404 `not_found` for anyone else's session."""
    session = chat.get_session(db=db, settings=settings, identity=identity, session_id=session_id)
    messages = chat.session_messages(db=db, session=session)
    return SessionDetail(
        **session_public(session, settings).model_dump(),
        messages=[message_public(m) for m in messages],
    )


@router.delete("/sessions/{session_id}", status_code=204, dependencies=[WriteRateLimit])
def delete_session(
    session_id: str, identity: CurrentIdentity, db: DbDep, settings: SettingsDep
) -> Response:
    """Delete a session and its messages."""
    chat.delete_session(db=db, settings=settings, identity=identity, session_id=session_id)
    return Response(status_code=204)


@router.post(
    "/sessions/{session_id}/messages",
    response_model=MessagePublic,
    dependencies=[QueryRateLimit],
)
async def ask(
    session_id: str,
    body: MessageRequest,
    identity: CurrentIdentity,
    engine: EngineDep,
    settings: SettingsDep,
    index: IndexDep,
    cache: FaqCacheDep,
    pool: AnswerPoolDep,
) -> MessagePublic:
    """Ask in the session: a follow-up ("and why is that?") is rewritten into a standalone
    question from the history (`standalone_question`) before retrieval."""
    message = await pool.run(
        in_session,
        engine,
        chat.ask_in_session,
        settings=settings,
        index=index,
        identity=identity,
        session_id=session_id,
        question=body.query,
        top_k=body.top_k,
        cache=cache,
    )
    return message_public(message)
