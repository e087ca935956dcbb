"""FastAPI dependencies: settings, the database session, the index, identity, scopes, rate
limits, and the answering service of a request.

They are `async def` unless they must block: FastAPI runs every sync dependency on a worker
thread, and a thread hop per dependency (a dozen per `/query`) was a fifth of a loaded server's
time. Work that blocks (a database read for a key or a token, Redis for a shared rate limit,
opening the index) still goes to the threadpool, only when it is needed.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header, Path, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.core.errors import RateLimited, Unauthorized
from app.core.settings import Settings
from app.db.database import session_scope
from app.db.models import User
from app.ops.handoff import HANDOFF_HEADER
from app.services.answer_pool import AnswerPool
from app.services.answering import Answerer
from app.services.faq_cache import FaqCache
from app.services.identity import Identity, anonymous_identity, resolve_identity
from app.services.index_holder import IndexHolder
from app.services.job_queue import JobQueue
from app.services.ratelimit import LimitState, RateLimiter
from indexes.folio_index import FolioIndex


async def get_settings(request: Request) -> Settings:
    """The app's one Settings object."""
    return request.app.state.settings


async def get_db(request: Request) -> AsyncIterator[Session]:
    """One database session per request (`session_scope` on the app's database engine): an
    anonymous question never uses it, and so never connects."""
    async with session_scope(request.app.state.db_engine) as session:
        yield session


async def get_db_engine(request: Request) -> Engine:
    """The database engine the lifespan opened (for work that opens its own sessions)."""
    return request.app.state.db_engine


async def get_holder(request: Request) -> IndexHolder:
    """What holds the FolioIndex (and why it is not loaded, when it is not)."""
    return request.app.state.index_holder


async def get_index(holder: Annotated[IndexHolder, Depends(get_holder)]) -> FolioIndex:
    """The FolioIndex; 503 while its store cannot be opened."""
    if (index := holder.loaded) is not None:
        return index
    return await run_in_threadpool(holder.get)  # may try to open the store again: blocks


async def get_limiter(request: Request) -> RateLimiter:
    """The rate limiter (Redis when configured, else in memory)."""
    return request.app.state.limiter


async def get_faq_cache(request: Request) -> FaqCache | None:
    """The FAQ cache, or None when `cache.enabled` is false."""
    return getattr(request.app.state, "faq_cache", None)


async def get_answer_pool(request: Request) -> AnswerPool:
    """Where answering work runs, behind the admission limit."""
    return request.app.state.answer_pool


async def get_job_queue(request: Request) -> JobQueue:
    """Where upload jobs are announced: Redis (dramatiq) or the jobs table."""
    return request.app.state.job_queue


# Integer ids in paths fit the database's integer columns (PostgreSQL: 32 bits); a bigger
# number is a 422, not an overflow deep in the driver.
MAX_ID = 2**31 - 1
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]

SettingsDep = Annotated[Settings, Depends(get_settings)]
DbDep = Annotated[Session, Depends(get_db)]
DbEngineDep = Annotated[Engine, Depends(get_db_engine)]
HolderDep = Annotated[IndexHolder, Depends(get_holder)]
IndexDep = Annotated[FolioIndex, Depends(get_index)]
LimiterDep = Annotated[RateLimiter, Depends(get_limiter)]
FaqCacheDep = Annotated[FaqCache | None, Depends(get_faq_cache)]
AnswerPoolDep = Annotated[AnswerPool, Depends(get_answer_pool)]
JobQueueDep = Annotated[JobQueue, Depends(get_job_queue)]


async def get_identity(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    x_api_key: Annotated[str | None, Header(alias="X-API-Key")] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> Identity:
    """API key (X-API-Key or Bearer), else JWT user (Bearer), else anonymous by client IP.
    Only credentials need the database (on a worker thread); an anonymous reader needs none."""
    if x_api_key is None and authorization is None:
        identity = anonymous_identity(client_ip(request))
    else:
        identity = await run_in_threadpool(
            _resolve_and_release,
            db=db,
            settings=settings,
            api_key=x_api_key,
            authorization=authorization,
            client_ip=client_ip(request),
        )
    request.state.identity_kind = identity.kind  # for the access log line; never the secret
    return identity


def _resolve_and_release(*, db: Session, **kwargs: object) -> Identity:
    identity = resolve_identity(db=db, **kwargs)  # type: ignore[arg-type]
    db.commit()  # ends the read transaction: no connection held for the rest of the request
    return identity


CurrentIdentity = Annotated[Identity, Depends(get_identity)]


async def get_current_user(identity: CurrentIdentity) -> User:
    """The logged-in account (401 for API keys and anonymous callers)."""
    if identity.user is None:
        raise Unauthorized("Log in first (Authorization: Bearer <access token>)")
    return identity.user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_answerer(
    identity: CurrentIdentity,
    db_engine: DbEngineDep,
    index: IndexDep,
    settings: SettingsDep,
    cache: FaqCacheDep,
    pool: AnswerPoolDep,
) -> Answerer:
    """The answering service for this request's caller."""
    return Answerer(
        db_engine=db_engine,
        index=index,
        settings=settings,
        pool=pool,
        cache=cache,
        identity=identity,
    )


AnswererDep = Annotated[Answerer, Depends(get_answerer)]


def require_scope(scope: str) -> Callable[[Identity], Awaitable[Identity]]:
    """A dependency that lets the request through only with `scope`."""

    async def check(identity: CurrentIdentity) -> Identity:
        identity.require(scope)
        return identity

    check.__name__ = f"require_{scope}_scope"
    return check


def _matches(given: str | None, expected: str | None) -> bool:
    # compare_digest: the time taken must not reveal how much of the token was right.
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


async def require_ingest_or_handoff(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    x_api_key: Annotated[str | None, Header(alias="X-API-Key")] = None,
    authorization: Annotated[str | None, Header()] = None,
    handoff: Annotated[str | None, Header(alias=HANDOFF_HEADER)] = None,
) -> None:
    """Re-index: an `ingest` key, or the local CLI holding the server's handoff token."""
    if _matches(handoff, getattr(request.app.state, "handoff_token", None)):
        return
    (await get_identity(request, db, settings, x_api_key, authorization)).require("ingest")


def client_ip(request: Request) -> str:
    """The socket peer (or, behind `api.trusted_proxies`, what uvicorn took from the proxy)."""
    return request.client.host if request.client else "unknown"


DEV_LIMIT_HINT = (
    ". This is environment: development: for local use raise api.rate_limit_per_minute / "
    "rate_limit_per_day in config.yaml (or set RATE_LIMIT_QUERIES_PER_MINUTE / _PER_DAY); "
    "production keeps the configured limit"
)


def rate_limit(bucket: str) -> Callable[..., Awaitable[Identity]]:
    """Count the request against `bucket` for the caller; 429 with Retry-After when over.

    `query`, `writes` and `ingest` count per identity (key, user or IP); per-key overrides
    apply to `query` only."""

    async def check(
        identity: CurrentIdentity, limiter: LimiterDep, settings: SettingsDep, response: Response
    ) -> Identity:
        api, key = settings.api, identity.key
        if bucket == "writes":
            per_minute, per_day = api.write_rate_limit_per_minute, api.write_rate_limit_per_day
        elif bucket == "ingest":
            per_minute, per_day = api.ingest_rate_limit_per_minute, api.ingest_rate_limit_per_day
        else:
            per_minute = (key.rate_limit_per_minute if key else None) or api.rate_limit_per_minute
            per_day = (key.rate_limit_per_day if key else None) or api.rate_limit_per_day
        try:
            state = await hit(
                limiter, bucket, identity.subject, per_minute=per_minute, per_day=per_day
            )
        except RateLimited as exc:
            if settings.environment == "development" and bucket == "query":
                exc.message += DEV_LIMIT_HINT  # a newcomer trying things trips 10/minute fast
            raise
        response.headers.update(state.headers())
        return identity

    check.__name__ = f"rate_limit_{bucket}"
    return check


async def hit(limiter: RateLimiter, bucket: str, subject: str, **limits: int) -> LimitState:
    """`limiter.hit`, on a worker thread only when it talks to Redis (in memory it does not
    block)."""
    if limiter.shared:
        return await run_in_threadpool(limiter.hit, bucket, subject, **limits)
    return limiter.hit(bucket, subject, **limits)


async def auth_rate_limit(
    request: Request, limiter: LimiterDep, settings: SettingsDep, response: Response
) -> None:
    """Login, register, refresh, logout, MFA and OAuth: per client IP, whatever credentials the
    request carries (a caller's own token must not open a fresh bucket for guessing)."""
    api = settings.api
    state = await hit(
        limiter,
        "auth",
        f"ip:{client_ip(request)}",
        per_minute=api.auth_rate_limit_per_minute,
        per_day=api.auth_rate_limit_per_day,
    )
    response.headers.update(state.headers())


IngestScope = Depends(require_scope("ingest"))
AdminScope = Depends(require_scope("admin"))
IngestOrHandoff = Depends(require_ingest_or_handoff)
QueryAccess = Depends(require_scope("query"))
QueryRateLimit = Depends(rate_limit("query"))  # shared by /query and chat
WriteRateLimit = Depends(rate_limit("writes"))  # new sessions, deletions, feedback
IngestRateLimit = Depends(rate_limit("ingest"))  # POST /ingest: parsing and embedding cost
AuthRateLimit = Depends(auth_rate_limit)  # login/register/refresh/logout/MFA/OAuth, per IP
