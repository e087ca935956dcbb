"""Chat sessions: conversations whose follow-up questions are answered in context."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from sse_starlette.sse import EventSourceResponse

from app.api.deps import (
    AnswererDep,
    CurrentIdentity,
    DbDep,
    QueryAccess,
    QueryRateLimit,
    SettingsDep,
    WriteRateLimit,
)
from app.api.routes.query import render_answer
from app.api.schemas.base import escaped
from app.api.schemas.errors import ERROR_RESPONSES
from app.api.schemas.sessions import (
    MessagePublic,
    MessageRequest,
    SessionDetail,
    SessionPublic,
    SessionsPublic,
)
from app.api.sse import SSE_RESPONSE, sse_response
from app.core.settings import Settings
from app.db.models import ChatSession, Message
from app.services import sessions as session_service
from app.services.answering import AnswerStream
from app.services.sessions import aware, expires_at
from indexes.answers import Answer

MAX_OFFSET = 1_000_000  # beyond any real history; bigger numbers overflow the driver (422)

router = APIRouter(tags=["sessions"], responses=ERROR_RESPONSES, dependencies=[QueryAccess])


def session_public(session: ChatSession, settings: Settings) -> SessionPublic:
    """A session as the API shows it (times in UTC, with when it expires)."""
    return SessionPublic(
        id=session.id,
        title=session.title,
        created_at=aware(session.created_at),
        last_active_at=aware(session.last_active_at),
        expires_at=expires_at(session, settings),
    )


def message_public(message: Message) -> MessagePublic:
    """A stored message as the API shows it."""
    return MessagePublic.model_validate(
        {**message.model_dump(), "created_at": aware(message.created_at)}
    )


@router.post(
    "/sessions", response_model=SessionPublic, status_code=201, dependencies=[WriteRateLimit]
)
def create_session(identity: CurrentIdentity, db: DbDep, settings: SettingsDep) -> SessionPublic:
    """Start a conversation. Anonymous readers keep the returned `id` to continue it."""
    return session_public(session_service.create_session(db=db, identity=identity), settings)


@router.get("/sessions", response_model=SessionsPublic)
def list_sessions(
    identity: CurrentIdentity,
    db: DbDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> SessionsPublic:
    """The caller's own live sessions, most recently active first (logged in or API key)."""
    rows, total = session_service.list_sessions(
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
    session = session_service.get_session(
        db=db, settings=settings, identity=identity, session_id=session_id
    )
    messages = session_service.session_messages(db=db, session=session)
    return SessionDetail(
        **session_public(session, settings).model_dump(),
        messages=[message_public(m) for m in messages],
    )


@router.delete("/sessions/{session_id}", status_code=204, dependencies=[WriteRateLimit])
def delete_session(
    session_id: str, identity: CurrentIdentity, db: DbDep, settings: SettingsDep
) -> Response:
    """Delete a session and its messages."""
    session_service.delete_session(
        db=db, settings=settings, identity=identity, session_id=session_id
    )
    return Response(status_code=204)


@router.post(
    "/sessions/{session_id}/messages",
    response_model=MessagePublic,
    dependencies=[QueryRateLimit],
)
async def ask(session_id: str, body: MessageRequest, answerer: AnswererDep) -> MessagePublic:
    """Ask in the session: a follow-up ("and why is that?") is rewritten into a standalone
    question from the history (`standalone_question`) before retrieval."""
    message = await answerer.answer_in_session(
        session_id=session_id, question=body.query, top_k=body.top_k
    )
    return message_public(message)


@router.post(
    "/sessions/{session_id}/messages/stream",
    tags=["streaming"],
    responses=SSE_RESPONSE,
    response_class=EventSourceResponse,
    dependencies=[QueryRateLimit],
)
async def session_message_stream(
    session_id: str, body: MessageRequest, answerer: AnswererDep
) -> EventSourceResponse:
    """`POST /sessions/{id}/messages` as Server-Sent Events; the message is stored when the
    answer is complete (`done` also carries `message_id`, `session_id` and the
    `standalone_question`), not when the client went away."""
    stream = await answerer.stream_in_session(
        session_id=session_id, question=body.query, top_k=body.top_k
    )
    return sse_response(stream, lambda answer: _render_turn(stream, answer))


def _render_turn(stream: AnswerStream, answer: Answer) -> dict[str, Any]:
    assert stream.turn is not None and stream.message is not None
    standalone = stream.turn.standalone
    return {
        **render_answer(answer),
        "message_id": stream.message.id,
        "session_id": stream.turn.session_id,
        "standalone_question": standalone,
        "standalone_question_html": escaped(standalone),
    }
