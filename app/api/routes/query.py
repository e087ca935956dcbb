"""Asking questions."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import IndexDep, SettingsDep
from app.api.schemas import QueryRequest, QueryResponse
from app.core.errors import ERROR_RESPONSES
from app.services.query import answer_question

router = APIRouter(tags=["query"], responses=ERROR_RESPONSES)


@router.post("/query", response_model=QueryResponse)
def query(body: QueryRequest, index: IndexDep, settings: SettingsDep) -> QueryResponse:
    """Answer a question with `[n]` citations pointing at the numbered `sources`."""
    answer = answer_question(index=index, settings=settings, question=body.query, top_k=body.top_k)
    return QueryResponse(**answer.model_dump())
