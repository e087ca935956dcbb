"""Asking questions."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import (
    AnswerPoolDep,
    CurrentIdentity,
    EngineDep,
    FaqCacheDep,
    IndexDep,
    QueryAccess,
    QueryRateLimit,
    SettingsDep,
)
from app.api.schemas import QueryRequest, QueryResponse
from app.core.errors import ERROR_RESPONSES
from app.services.query import answer_and_record, in_session

router = APIRouter(tags=["query"], responses=ERROR_RESPONSES)


@router.post("/query", response_model=QueryResponse, dependencies=[QueryAccess, QueryRateLimit])
async def query(
    body: QueryRequest,
    index: IndexDep,
    settings: SettingsDep,
    identity: CurrentIdentity,
    engine: EngineDep,
    cache: FaqCacheDep,
    pool: AnswerPoolDep,
) -> QueryResponse:
    """Answer a question with `[n]` citations pointing at the numbered `sources`.

    Anonymous (limited by IP), logged in (Bearer JWT) or API key with scope `query`.
    `answer_html` and `sources[].text_html` are HTML-escaped for direct display. A question
    close enough to one answered before (same index version and config) is answered from the
    FAQ cache, marked `cached: true`."""
    answer = await pool.run(
        in_session,
        engine,
        answer_and_record,
        index=index,
        settings=settings,
        identity=identity,
        question=body.query,
        top_k=body.top_k,
        cache=cache,
    )
    return QueryResponse.model_validate(answer.model_dump())
