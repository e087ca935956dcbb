"""The FastAPI façade: `create_app(settings)` builds one app with its own resources."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline

from app.api.routes import (
    auth,
    feedback,
    health,
    ingest,
    keys,
    metrics,
    oauth,
    query,
    sessions,
    stream,
    usage,
)
from app.core.errors import install_error_handlers
from app.core.metrics import MetricsMiddleware
from app.core.middleware import (
    DOCS_ASSETS,
    BodySizeLimitMiddleware,
    RequestIdMiddleware,
    SecurityHeadersMiddleware,
)
from app.core.settings import Settings
from app.db import migrate
from app.db.engine import make_engine
from app.services.faq_cache import make_faq_cache
from app.services.index_holder import IndexHolder
from app.services.ratelimit import RateLimiter
from indexes.config import IndexConfig
from indexes.engine import FolioIndex

BODY_OVERHEAD = 64 * 1024  # JSON envelope around the largest allowed content


def create_app(
    settings: Settings,
    *,
    handoff_token: str | None = None,
    index_factory: Callable[[IndexConfig], FolioIndex] = FolioIndex,
    on_shutdown: Callable[[], None] | None = None,
) -> FastAPI:
    """An app whose lifespan opens the index (model, Qdrant) once and closes it at shutdown."""
    logging.basicConfig(level=settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.database.auto_migrate:
            migrate.upgrade(settings.database.url)
        app.state.engine = make_engine(settings.database.url)
        app.state.limiter = RateLimiter(
            settings.api.redis_url, key_prefix=settings.api.rate_limit_key_prefix
        )
        app.state.faq_cache = make_faq_cache(settings.cache, settings.api.redis_url)
        holder = IndexHolder(settings.index, factory=index_factory)
        holder.start()
        app.state.index_holder = holder
        try:
            yield
        finally:
            holder.close()
            app.state.limiter.close()
            if app.state.faq_cache is not None:
                app.state.faq_cache.close()
            app.state.engine.dispose()
            if on_shutdown is not None:  # runs before uvicorn re-raises SIGTERM
                on_shutdown()

    # /docs and /redoc with Swagger UI / ReDoc assets from the installed fastapi-offline
    # package, not a CDN: the docs work offline, and their CSP can allow this origin only.
    app = FastAPIOffline(
        title="Folio",
        version="0.1.0",
        description="Answers questions about a body of content with numbered citations.",
        lifespan=lifespan,
        static_url=DOCS_ASSETS,
        swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from swagger.io
    )
    app.state.settings = settings
    app.state.handoff_token = handoff_token
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(query.router)
    app.include_router(ingest.router)
    app.include_router(auth.router)
    app.include_router(oauth.router)
    app.include_router(keys.router)
    app.include_router(sessions.router)
    app.include_router(stream.router)
    app.include_router(feedback.router)
    app.include_router(usage.router)
    app.include_router(metrics.router)

    if settings.api.allowed_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api.allowed_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Content-Type", "Authorization", "X-API-Key"],
            expose_headers=[
                "X-Request-ID",
                "Retry-After",
                "X-RateLimit-Limit",
                "X-RateLimit-Remaining",
                "X-RateLimit-Reset",
            ],
        )
    app.add_middleware(
        BodySizeLimitMiddleware, max_bytes=settings.api.max_ingest_bytes + BODY_OVERHEAD
    )
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(RequestIdMiddleware)  # outermost: every response carries the id
    return app
