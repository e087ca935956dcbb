"""Token usage and cost, for admins."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BeforeValidator

from app.api.deps import AdminScope, DbDep
from app.api.schemas.errors import ERROR_RESPONSES
from app.api.schemas.usage import UsageReport, UsageRow
from app.services.usage import GroupBy, usage_report

router = APIRouter(tags=["usage"], responses=ERROR_RESPONSES, dependencies=[AdminScope])
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_day(value: object) -> object:
    """Only `YYYY-MM-DD`: pydantic alone reads `to=0` as a Unix time (1970-01-01)."""
    if isinstance(value, str) and not _ISO_DAY.fullmatch(value):
        raise ValueError("use a date as YYYY-MM-DD")
    return value


IsoDay = Annotated[date | None, BeforeValidator(_iso_day)]


@router.get("/usage", response_model=UsageReport)
def get_usage(
    db: DbDep,
    start: Annotated[IsoDay, Query(alias="from", description="First day (UTC), YYYY-MM-DD")] = None,
    end: Annotated[
        IsoDay, Query(alias="to", description="Last day (UTC), inclusive, YYYY-MM-DD")
    ] = None,
    group_by: GroupBy = "day",
) -> UsageReport:
    """Tokens (prompt, completion, embedding), requests and cost per day, API key or user.
    Needs an API key with scope `admin`."""
    rows = [UsageRow(**r) for r in usage_report(db=db, start=start, end=end, group_by=group_by)]
    total = UsageRow.total_of(rows)
    return UsageReport(group_by=group_by, rows=rows, total=total)
