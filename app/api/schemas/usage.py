"""`GET /usage`: tokens, requests and cost per group, with a total row."""

from __future__ import annotations

from pydantic import BaseModel, Field


class UsageRow(BaseModel):
    group: str = Field(description="A day (YYYY-MM-DD), key:<id> or user:<id> (else the caller)")
    requests: int
    cached: int = Field(description="Requests answered from the FAQ cache")
    prompt_tokens: int
    completion_tokens: int
    embedding_tokens: int
    cost_usd: float

    @classmethod
    def total_of(cls, rows: list[UsageRow]) -> UsageRow:
        """The `total` row: every column summed over `rows`."""
        return cls(
            group="total",
            requests=sum(r.requests for r in rows),
            cached=sum(r.cached for r in rows),
            prompt_tokens=sum(r.prompt_tokens for r in rows),
            completion_tokens=sum(r.completion_tokens for r in rows),
            embedding_tokens=sum(r.embedding_tokens for r in rows),
            cost_usd=round(sum(r.cost_usd for r in rows), 6),
        )


class UsageReport(BaseModel):
    group_by: str
    rows: list[UsageRow]
    total: UsageRow
