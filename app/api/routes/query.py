"""Asking questions: the answer whole, or streamed as Server-Sent Events."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sse_starlette.sse import EventSourceResponse

from app.api.deps import AnswererDep, QueryAccess, QueryRateLimit
from app.api.schemas.errors import ERROR_RESPONSES
from app.api.schemas.query import QueryRequest, QueryResponse
from app.api.sse import SSE_RESPONSE, sse_response
from indexes.answers import Answer

router = APIRouter(tags=["query"], responses=ERROR_RESPONSES)


@router.post("/query", response_model=QueryResponse, dependencies=[QueryAccess, QueryRateLimit])
async def query(body: QueryRequest, answerer: AnswererDep) -> QueryResponse:
    """Answer a question with `[n]` citations pointing at the numbered `sources`.

    Anonymous (limited by IP), logged in (Bearer JWT) or API key with scope `query`.
    `answer_html` and `sources[].text_html` are HTML-escaped for direct display. A question
    close enough to one answered before (same index version and config) is answered from the
    FAQ cache, marked `cached: true`."""
    answer = await answerer.answer(question=body.query, top_k=body.top_k)
    return QueryResponse.of(answer)


def render_answer(answer: Answer) -> dict[str, Any]:
    """The `done` event of a stream: the body `POST /query` would have answered."""
    return QueryResponse.of(answer).model_dump(mode="json")


@router.post(
    "/query/stream",
    tags=["streaming"],
    responses=SSE_RESPONSE,
    response_class=EventSourceResponse,
    dependencies=[QueryAccess, QueryRateLimit],
)
async def query_stream(body: QueryRequest, answerer: AnswererDep) -> EventSourceResponse:
    """`POST /query` as Server-Sent Events: `delta` {text, text_html} pieces as the answer is
    produced, then one `done` with the body `/query` answers (or one `error` event)."""
    stream = await answerer.stream(question=body.query, top_k=body.top_k)
    return sse_response(stream, render_answer)
