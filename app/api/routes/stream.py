"""Streaming answers as Server-Sent Events (text/event-stream).

Events: `delta` `{"text", "text_html"}` (sentences in extractive mode, tokens from an LLM), then
one `done` with the full answer, `sources` and `usage`; a failure after the stream started ends it
with one `error` event whose data is the standard `{"error": {...}}` body. Errors found before
the stream starts (validation, auth, rate limit, expired session) are plain JSON responses.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sse_starlette.sse import EventSourceResponse

from app.api.chat_schemas import MessageRequest
from app.api.deps import CurrentIdentity, DbDep, IndexDep, QueryAccess, QueryRateLimit, SettingsDep
from app.api.schemas import QueryRequest, QueryResponse, escaped
from app.core.errors import ERROR_RESPONSES, request_id_of
from app.core.textcheck import clean_text
from app.services import chat, usage
from app.services.streaming import answer_events
from indexes.answers import Answer

router = APIRouter(
    tags=["streaming"], responses=ERROR_RESPONSES, dependencies=[QueryAccess, QueryRateLimit]
)

SSE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "delta… then done (or error)"}
}


def render(answer: Answer) -> dict[str, Any]:
    return QueryResponse.model_validate(answer.model_dump()).model_dump(mode="json")


@router.post("/query/stream", responses=SSE_RESPONSE, response_class=EventSourceResponse)
def query_stream(
    body: QueryRequest,
    request: Request,
    identity: CurrentIdentity,
    db: DbDep,
    index: IndexDep,
    settings: SettingsDep,
) -> EventSourceResponse:
    """`POST /query` as Server-Sent Events: the answer as it is produced, then the sources."""
    question = clean_text(body.query, field="query", max_chars=settings.api.max_query_chars)
    allow_llm = usage.llm_allowed(db=db, settings=settings)
    engine = request.app.state.engine

    def store(answer: Answer) -> dict[str, Any]:
        usage.record_usage_on(
            engine, settings=settings, identity=identity, endpoint="query.stream", answer=answer
        )
        return {}

    events = answer_events(
        pieces=index.stream(question, top_k=body.top_k, allow_llm=allow_llm),
        request_id=request_id_of(request),
        render=render,
        on_done=store,
    )
    return EventSourceResponse(events)


@router.post(
    "/sessions/{session_id}/messages/stream",
    responses=SSE_RESPONSE,
    response_class=EventSourceResponse,
)
def session_message_stream(
    session_id: str,
    body: MessageRequest,
    request: Request,
    identity: CurrentIdentity,
    db: DbDep,
    settings: SettingsDep,
    index: IndexDep,
) -> EventSourceResponse:
    """`POST /sessions/{id}/messages` as Server-Sent Events; the message is stored when the
    answer is complete (`done` carries its `message_id`), not when the client went away."""
    turn = chat.prepare_turn(
        db=db,
        settings=settings,
        index=index,
        identity=identity,
        session_id=session_id,
        question=body.query,
    )
    engine = request.app.state.engine
    allow_llm = usage.llm_allowed(db=db, settings=settings)

    def store(answer: Answer) -> dict[str, Any]:
        usage.record_usage_on(
            engine,
            settings=settings,
            identity=identity,
            endpoint="sessions.messages.stream",
            answer=answer,
        )
        message = chat.record_turn_on(engine, turn=turn, answer=answer)
        return {
            "message_id": message.id,
            "session_id": turn.session_id,
            "standalone_question": turn.standalone,
            "standalone_question_html": escaped(turn.standalone),
        }

    events = answer_events(
        pieces=index.stream(turn.standalone, top_k=body.top_k, allow_llm=allow_llm),
        request_id=request_id_of(request),
        render=render,
        on_done=store,
    )
    return EventSourceResponse(events)
