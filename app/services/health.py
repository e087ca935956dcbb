"""Readiness: each dependency reports `ok` or a short reason, and the whole is one of
`ready` (200), `degraded` (200: Redis is away, limits count per replica, the FAQ cache is
skipped) or `not_ready` (503: the database, the index or the vector store cannot serve).

Why Redis does not fail readiness: every replica shares it, so a Redis outage would take all
replicas out of the load balancer at once, turning a degraded service into no service.

An empty index (0 points) is `degraded` too, with `content` saying so: the server answers,
but every answer is "not found" until something is indexed."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from app.db.database import database_problem
from app.services.index_holder import IndexHolder
from app.services.ratelimit import RateLimiter
from indexes.stores import StoreError

REQUIRED = ("database", "index", "vector_store")
EMPTY = "empty: 0 points indexed (run `folio index` or POST /ingest)"


@dataclass(frozen=True)
class Readiness:
    """Each dependency's state (`ok` or a short reason safe to show), the overall status and
    how many points the vector store holds."""

    status: str
    checks: dict[str, str]
    points: int

    @property
    def serving(self) -> bool:
        """Whether a load balancer should send requests here (`ready` or `degraded`)."""
        return self.status != "not_ready"


def readiness(*, holder: IndexHolder, db_engine: Engine, limiter: RateLimiter) -> Readiness:
    """Check the database, Redis, the index and the vector store, now."""
    checks: dict[str, str] = {"database": database_problem(db_engine) or "ok"}
    redis = limiter.check()
    checks["redis"] = redis
    points = 0
    try:
        index = holder.get()
        checks["index"] = "ok"
    except Exception:
        checks["index"] = "not loaded"
        checks["vector_store"] = holder.error or "unavailable"
        index = None
    if index is not None:
        try:
            index.check()
            points = index.point_count()
            checks["vector_store"] = "ok"
        except StoreError as exc:
            checks["vector_store"] = str(exc)
    if checks["vector_store"] == "ok":
        checks["content"] = "ok" if points > 0 else EMPTY
    if any(checks[name] != "ok" for name in REQUIRED):
        status = "not_ready"
    elif redis not in ("ok", "not configured") or checks.get("content") != "ok":
        status = "degraded"
    else:
        status = "ready"
    return Readiness(status=status, checks=checks, points=points)
