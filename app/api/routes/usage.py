"""Token usage and cost, for admins."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from app.api.deps import AdminScope, DbDep
from app.api.schemas.errors import ERROR_RESPONSES
from app.api.schemas.usage import UsageReport, UsageRow
from app.services.usage import GroupBy, usage_report

router = APIRouter(tags=["usage"], responses=ERROR_RESPONSES, dependencies=[AdminScope])


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
    total = UsageRow.total_of(rows)
    return UsageReport(group_by=group_by, rows=rows, total=total)
