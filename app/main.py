"""The FastAPI façade: `create_app(settings)` builds one app with its own resources."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from sqlalchemy.exc import DBAPIError
from starlette.concurrency import run_in_threadpool

from app.api.routes import (
    auth,
    backup,
    feedback,
    health,
    ingest,
    keys,
    metrics,
    oauth,
    query,
    sessions,
    uploads,
    usage,
    users,
    web,
)
from app.api.routes import jobs as job_routes
from app.core.errors import (
    ServiceUnavailable,
    error_response,
    install_error_handlers,
    request_id_of,
    unexpected_error,
)
from app.core.file_modes import tighten_storage, use_private_umask
from app.core.head import HeadAsGetMiddleware
from app.core.logs import AccessLogMiddleware, configure_logging, valid_request_id
from app.core.metrics import MetricsMiddleware
from app.core.middleware import (
    DOCS_ASSETS,
    BodySizeLimitMiddleware,
    SecurityHeadersMiddleware,
    UnhandledErrorMiddleware,
)
from app.core.secrets import ensure_secrets
from app.core.settings import Settings
from app.core.timeouts import BodyTimeoutMiddleware
from app.db import migrate
from app.db.database import database_problem, make_engine
from app.services.answer_pool import AnswerPool
from app.services.faq_cache import make_faq_cache
from app.services.index_holder import IndexFactory, IndexHolder
from app.services.job_queue import start_jobs
from app.services.pepper import check_pepper_at_start
from app.services.ratelimit import RateLimiter
from indexes.folio_index import FolioIndex

BODY_OVERHEAD = 64 * 1024  # JSON envelope (or multipart fields) around the largest content

log = logging.getLogger("folio.errors")


def create_app(
    settings: Settings,
    *,
    handoff_token: str | None = None,
    index_factory: IndexFactory = FolioIndex,
    on_shutdown: Callable[[], None] | None = None,
    job_workers: int | None = None,
) -> FastAPI:
    """An app whose lifespan opens the index (model, Qdrant) once and closes it at shutdown.
    `job_workers`: upload-job threads (default `jobs.workers`; tests pass 0 to keep jobs
    queued)."""
    configure_logging(level=settings.log_level, fmt=settings.effective_log_format)
    use_private_umask()  # storage, database, vectors, backups: owner-only from here on
    ensure_secrets(settings)  # unset secrets: generated once into the storage folder
    tighten_storage(settings.storage_dir, settings.vector_store.path)  # trees made before

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.database.auto_migrate:
            migrate.upgrade(settings.database.url, key_pepper=settings.auth.pepper())
        app.state.db_engine = make_engine(settings.database.url, settings.database)
        # API keys and TOTP secrets only verify with the pepper they were made with
        check_pepper_at_start(app.state.db_engine, settings.auth.pepper())
        app.state.limiter = RateLimiter(
            settings.api.redis_url, key_prefix=settings.api.rate_limit_key_prefix
        )
        app.state.faq_cache = make_faq_cache(settings.cache, settings.api.redis_url)
        app.state.answer_pool = AnswerPool(
            workers=settings.api.answer_workers, max_pending=settings.api.max_pending
        )
        holder = IndexHolder(
            settings.index, factory=index_factory, ledger_url=settings.database.url
        )
        holder.start()
        app.state.index_holder = holder
        app.state.job_queue = start_jobs(
            settings, app.state.db_engine, index=holder.get, threads=job_workers
        )
        try:
            yield
        finally:
            app.state.job_queue.close()  # running jobs go back on the queue
            holder.close()
            app.state.answer_pool.close()
            app.state.limiter.close()
            if app.state.faq_cache is not None:
                app.state.faq_cache.close()
            app.state.db_engine.dispose()
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
    install_database_error_handler(app)
    app.include_router(health.router)
    app.include_router(query.router)
    app.include_router(ingest.router)
    app.include_router(uploads.router)
    app.include_router(job_routes.router)
    app.include_router(auth.router)
    app.include_router(oauth.router)
    app.include_router(keys.router)
    app.include_router(users.router)
    app.include_router(sessions.router)
    app.include_router(feedback.router)
    app.include_router(usage.router)
    app.include_router(metrics.router)
    app.include_router(backup.router)
    app.include_router(web.router)
    web.mount_static(app)

    app.add_middleware(UnhandledErrorMiddleware)  # innermost: 500s still get the headers below
    app.add_middleware(HeadAsGetMiddleware)  # HEAD on every GET route, without the body
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
        BodySizeLimitMiddleware,
        max_bytes=settings.api.max_ingest_bytes + BODY_OVERHEAD,
        path_limits={"/documents": settings.api.max_upload_bytes + BODY_OVERHEAD},
    )
    app.add_middleware(BodyTimeoutMiddleware, timeout_s=settings.api.body_timeout_s)
    app.add_middleware(SecurityHeadersMiddleware, embed_origins=settings.api.allowed_origins)
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(AccessLogMiddleware)
    # Outermost: every response carries X-Request-ID (an incoming one is kept when plain) and
    # every log line of the request names it.
    app.add_middleware(
        CorrelationIdMiddleware,
        header_name="X-Request-ID",
        validator=valid_request_id,
        generator=lambda: uuid.uuid4().hex,
    )
    return app


def install_database_error_handler(app: FastAPI) -> None:
    """A driver error is either the database being away (503 `unavailable` + Retry-After:
    retry later) or a bug (500). Ask the database itself rather than guess from the message."""

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        db_engine = getattr(request.app.state, "db_engine", None)
        problem = await run_in_threadpool(database_problem, db_engine) if db_engine else None
        if problem is None:
            return await unexpected_error(request, exc)
        log.error(
            "database unavailable request_id=%s type=%s problem=%s",
            request_id_of(request),
            type(exc.orig or exc).__name__,
            problem,
        )
        unavailable = ServiceUnavailable("The database is unavailable, try again later")
        return error_response(
            request, unavailable.status, unavailable.code, unavailable.message, unavailable.headers
        )
