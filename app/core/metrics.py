"""Prometheus metrics served at /metrics: requests and latency per route template, FAQ-cache
lookups, ingested documents and chunks, tokens and cost, the database connection pool.

Labels use the route template (`/sessions/{session_id}`), never the raw path, and methods
from a fixed set (anything else is `other`), so neither ids, unknown paths nor made-up methods
can blow up the label cardinality. Multi-replica deployments scrape each replica. The Grafana
dashboard and the alert rules in deploy/ are written against exactly these names (a test
checks that every name they use is exported).
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterable, Mapping

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine
from sqlalchemy.pool import QueuePool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.asgi import ResponseWatch

REQUESTS = Counter(
    "folio_http_requests_total", "HTTP requests by route and status", ["method", "route", "status"]
)
LATENCY = Histogram(
    "folio_http_request_seconds",
    "HTTP request latency by route (until the response starts)",
    ["method", "route"],
    # 8 s is the p95 alert threshold (deploy/prometheus/alerts.yml): a bucket edge there
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 8, 10, 30),
)
FAQ_CACHE = Counter(
    "folio_faq_cache_lookups_total",
    "FAQ-cache lookups by result: exact_hit, semantic_hit, miss",
    ["result"],
)
INGESTED_DOCUMENTS = Counter(
    "folio_ingest_documents_total",
    "Documents seen by ingestion runs in this process, by origin and outcome",
    ["origin", "outcome"],
)
INGESTED_CHUNKS = Counter(
    "folio_ingest_chunks_embedded_total", "Chunks embedded by ingestion, by origin", ["origin"]
)
TOKENS = Counter(
    "folio_tokens_total", "Tokens used by answers, by kind: prompt, completion, embedding", ["kind"]
)
COST = Counter("folio_cost_usd_total", "Priced token usage in USD (see usage.prices)")


def observe_ingest(origin: str, counts: Mapping[str, int | float]) -> None:
    """Count one ingestion run (IndexReport.counts()): documents by outcome, chunks embedded."""
    for outcome in ("added", "updated", "unchanged", "deleted"):
        if counts.get(outcome):
            INGESTED_DOCUMENTS.labels(origin, outcome).inc(counts[outcome])
    if counts.get("chunks_embedded"):
        INGESTED_CHUNKS.labels(origin).inc(counts["chunks_embedded"])


class DbPoolCollector(Collector):
    """Connections checked out of each SQLAlchemy pool, and what the pool allows at most
    (size + max_overflow): the "DB pool > 90 %" alert divides the two."""

    def __init__(self) -> None:
        self._engines: weakref.WeakSet[Engine] = weakref.WeakSet()

    def track(self, engine: Engine) -> None:
        self._engines.add(engine)

    def collect(self) -> Iterable[GaugeMetricFamily]:
        checked_out = GaugeMetricFamily(
            "folio_db_pool_checked_out", "Database connections in use", labels=["database"]
        )
        capacity = GaugeMetricFamily(
            "folio_db_pool_capacity",
            "Database connections the pool allows (size + max_overflow)",
            labels=["database"],
        )
        used: dict[str, float] = {}
        allowed: dict[str, float] = {}
        for engine in list(self._engines):  # one per app; summed per backend so labels stay unique
            pool = engine.pool
            if not isinstance(pool, QueuePool):
                continue
            name = engine.url.get_backend_name()
            used[name] = used.get(name, 0) + pool.checkedout()
            # QueuePool keeps max_overflow private; -1 (unlimited) counts as no overflow
            allowed[name] = allowed.get(name, 0) + pool.size() + max(pool._max_overflow, 0)
        for name in used:
            checked_out.add_metric([name], used[name])
            capacity.add_metric([name], allowed[name])
        yield checked_out
        yield capacity


DB_POOLS = DbPoolCollector()
REGISTRY.register(DB_POOLS)


class MetricsMiddleware:
    """Counts every HTTP request and times it until the response headers are sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        def on_start(_: Message) -> None:
            LATENCY.labels(method_of(scope), route_of(scope)).observe(time.perf_counter() - started)

        watch = ResponseWatch(send, on_start)
        try:
            await self.app(scope, receive, watch)
        finally:
            REQUESTS.labels(method_of(scope), route_of(scope), str(watch.status)).inc()


# A client may send any token as the method (`XFOO /x`); each new one used to add a label value.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_of(scope: Scope) -> str:
    """The request method for metric labels: one of METHODS, else `other`."""
    method = scope.get("method", "")
    return method if method in METHODS else "other"


def route_of(scope: Scope) -> str:
    """The matched route's template (`/sessions/{session_id}`), or `unmatched`: bounded
    cardinality for metric labels and log fields."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path or "unmatched"
