"""Usage and cost: one record per answering request, priced from `usage.prices`, summed
per day / key / user for admins, and a daily budget that warns (and optionally stops LLM use).
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from time import monotonic
from typing import Any, Literal

from prometheus_client import Gauge
from sqlalchemy import func
from sqlmodel import Session, col, select

from app.core.errors import InvalidInput
from app.core.metrics import COST, TOKENS
from app.core.settings import Settings
from app.db.models import UsageRecord, utcnow
from app.services.identity import Identity
from indexes.answers import Answer, Usage

log = logging.getLogger("folio.usage")

GroupBy = Literal["day", "key", "user"]

DAILY_COST = Gauge("folio_cost_today_usd", "Priced token usage since 00:00 UTC")
OVER_BUDGET = Gauge("folio_daily_budget_exceeded", "1 when today's cost crossed the budget")
DAILY_BUDGET = Gauge("folio_daily_budget_usd", "usage.daily_budget_usd (0: no budget set)")


def price(*, settings: Settings, usage: Usage, mode: str) -> float:
    """USD for `usage`: LLM tokens at the synthesis model's price, embedding tokens at the
    embedding model's; models missing from `usage.prices` cost nothing."""
    prices = settings.usage.prices
    cost = 0.0
    if mode == "llm" and (llm := prices.get(settings.synthesis.model)):
        cost += usage.prompt_tokens * llm.prompt / 1000
        cost += usage.completion_tokens * llm.completion / 1000
    if emb := prices.get(settings.embedding.model):
        cost += usage.embedding_tokens * emb.embedding / 1000
    return round(cost, 8)


def _day_start(now: datetime) -> datetime:
    return datetime.combine(now.date(), time.min, tzinfo=UTC)


def cost_today(*, db: Session, now: datetime | None = None) -> float:
    """Priced usage since 00:00 UTC, summed in the database."""
    start = _day_start(now or utcnow())
    total = db.exec(
        select(func.coalesce(func.sum(UsageRecord.cost_usd), 0.0)).where(
            col(UsageRecord.created_at) >= start
        )
    ).one()
    return float(total)


class TodayCost:
    """Today's priced usage, summed in the database at most once per `refresh_s` per database
    (and per process); in between, the last sum plus what this process recorded since.

    Summing every usage row of the day on every request made each answer cost more as the day
    went on (the sum was 15 % of a loaded server's time after a few thousand requests). Other
    replicas' costs arrive with the next sum, so a budget is noticed at most `refresh_s` late.
    """

    def __init__(self, refresh_s: float = 1.0) -> None:
        self.refresh_s = refresh_s
        self._lock = threading.Lock()
        self._cached: dict[str, tuple[date, float, float]] = {}  # db url -> (day, total, read at)

    def get(self, db: Session, now: datetime | None = None) -> float:
        """Today's cost on `db`'s database (summed again when the last sum is stale)."""
        now = now or utcnow()
        key = str(db.get_bind().url)
        with self._lock:
            fresh = self._fresh(key, now)
        if fresh is not None:
            return fresh
        total = cost_today(db=db, now=now)
        with self._lock:
            self._cached[key] = (now.date(), total, monotonic())
        return total

    def add(self, db: Session, cost: float, now: datetime | None = None) -> float:
        """Count a cost this process just recorded; returns today's total."""
        now = now or utcnow()
        key = str(db.get_bind().url)
        with self._lock:
            fresh = self._fresh(key, now)
            if fresh is not None:
                day, _, read_at = self._cached[key]
                self._cached[key] = (day, fresh + cost, read_at)
                return fresh + cost
        return self.get(db, now)  # stale or a new day: the sum already holds this record

    def _fresh(self, key: str, now: datetime) -> float | None:
        """The cached total when it is today's and younger than `refresh_s` (lock held)."""
        hit = self._cached.get(key)
        if hit and hit[0] == now.date() and monotonic() - hit[2] < self.refresh_s:
            return hit[1]
        return None


TODAY = TodayCost()


def over_budget(*, db: Session, settings: Settings) -> bool:
    """True when a daily budget is set and today's priced usage has crossed it."""
    budget = settings.usage.daily_budget_usd
    return budget is not None and TODAY.get(db) >= budget


def llm_allowed(*, db: Session, settings: Settings) -> bool:
    """False when over budget and `usage.over_budget: extractive` says to stop calling the LLM."""
    return settings.usage.over_budget != "extractive" or not over_budget(db=db, settings=settings)


def usage_record(
    *, settings: Settings, identity: Identity, endpoint: str, answer: Answer
) -> UsageRecord:
    """What one request cost, priced, as a row to add (the caller commits it, then calls
    `count_usage`)."""
    return UsageRecord(
        subject=identity.subject,
        key_id=identity.key.id if identity.key else None,
        user_id=identity.user.id if identity.user else None,
        endpoint=endpoint,
        prompt_tokens=answer.usage.prompt_tokens,
        completion_tokens=answer.usage.completion_tokens,
        embedding_tokens=answer.usage.embedding_tokens,
        cost_usd=price(settings=settings, usage=answer.usage, mode=answer.mode),
        cached=answer.cached,
    )


def count_usage(*, db: Session, settings: Settings, record: UsageRecord) -> None:
    """After `record` is committed: token and cost metrics, today's cost, and a warning (log +
    metric) when this request crossed the daily budget."""
    for kind in ("prompt", "completion", "embedding"):
        TOKENS.labels(kind).inc(getattr(record, f"{kind}_tokens"))
    COST.inc(record.cost_usd)
    budget = settings.usage.daily_budget_usd
    DAILY_BUDGET.set(budget or 0)
    today = TODAY.add(db, record.cost_usd)
    DAILY_COST.set(today)
    if budget is not None:
        crossed = today >= budget
        OVER_BUDGET.set(1 if crossed else 0)
        if crossed and today - record.cost_usd < budget:  # this request crossed it
            log.warning("daily budget crossed cost_today=%.4f budget=%.4f", today, budget)


def usage_report(
    *, db: Session, start: date | None, end: date | None, group_by: GroupBy
) -> list[dict[str, Any]]:
    """Sums of tokens, cost and requests per group between `start` and `end` (inclusive days,
    UTC). Grouped in Python so the same code runs on SQLite and PostgreSQL."""
    if start and end and end < start:
        raise InvalidInput("'to' is before 'from'")
    query = select(UsageRecord)
    if start:
        query = query.where(col(UsageRecord.created_at) >= _day_start(_as_dt(start)))
    if end and end < date.max:  # `to=9999-12-31` means no upper bound (the day after overflows)
        query = query.where(
            col(UsageRecord.created_at) < _day_start(_as_dt(end + timedelta(days=1)))
        )
    groups: dict[str, dict[str, Any]] = defaultdict(
        lambda: {
            "requests": 0,
            "cached": 0,
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "embedding_tokens": 0,
            "cost_usd": 0.0,
        }
    )
    for r in db.exec(query).all():
        match group_by:
            case "day":
                name = r.created_at if r.created_at.tzinfo else r.created_at.replace(tzinfo=UTC)
                group = name.date().isoformat()
            case "key":
                group = f"key:{r.key_id}" if r.key_id else r.subject
            case _:
                group = f"user:{r.user_id}" if r.user_id else r.subject
        g = groups[group]
        g["requests"] += 1
        g["cached"] += int(r.cached)
        g["prompt_tokens"] += r.prompt_tokens
        g["completion_tokens"] += r.completion_tokens
        g["embedding_tokens"] += r.embedding_tokens
        g["cost_usd"] += r.cost_usd
    return [
        {"group": name, **{**g, "cost_usd": round(g["cost_usd"], 6)}}
        for name, g in sorted(groups.items())
    ]


def _as_dt(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)
