"""Token usage and cost, for admins."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from app.api.deps import AdminScope, DbDep
from app.core.errors import ERROR_RESPONSES
from app.services.usage import GroupBy, usage_report

router = APIRouter(tags=["usage"], responses=ERROR_RESPONSES, dependencies=[AdminScope])


class UsageRow(BaseModel):
    group: str = Field(description="A day (YYYY-MM-DD), key:<id> or user:<id> (else the caller)")
    requests: int
    cached: int = Field(description="Requests answered from the FAQ cache")
    prompt_tokens: int
    completion_tokens: int
    embedding_tokens: int
    cost_usd: float


class UsageReport(BaseModel):
    group_by: str
    rows: list[UsageRow]
    total: UsageRow


@router.get("/usage", response_model=UsageReport)
def get_usage(
    db: DbDep,
    start: Annotated[date | None, Query(alias="from", description="First day (UTC)")] = None,
    end: Annotated[date | None, Query(alias="to", description="Last day (UTC), inclusive")] = None,
    group_by: GroupBy = "day",
) -> UsageReport:
    """Tokens (prompt, completion, embedding), requests and cost per day, API key or user.
    Needs an API key with scope `admin`."""
    rows = [UsageRow(**r) for r in usage_report(db=db, start=start, end=end, group_by=group_by)]
    total = UsageRow(
        group="total",
        requests=sum(r.requests for r in rows),
        cached=sum(r.cached for r in rows),
        prompt_tokens=sum(r.prompt_tokens for r in rows),
        completion_tokens=sum(r.completion_tokens for r in rows),
        embedding_tokens=sum(r.embedding_tokens for r in rows),
        cost_usd=round(sum(r.cost_usd for r in rows), 6),
    )
    return UsageReport(group_by=group_by, rows=rows, total=total)
