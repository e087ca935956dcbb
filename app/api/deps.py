"""FastAPI dependencies: settings, the DB session, the index, identity, scopes, rate limits."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Header, Path, Request, Response
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.core.errors import RateLimited, Unauthorized
from app.core.settings import Settings
from app.db.models import User
from app.services.answer_pool import AnswerPool
from app.services.faq_cache import FaqCache
from app.services.handoff import HANDOFF_HEADER
from app.services.identity import Identity, resolve_identity
from app.services.index_holder import IndexHolder
from app.services.ratelimit import RateLimiter
from indexes.engine import FolioIndex


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_db(request: Request) -> Iterator[Session]:
    """One session per request on the engine the lifespan opened."""
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        yield session


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


def get_holder(request: Request) -> IndexHolder:
    return request.app.state.index_holder


def get_index(holder: Annotated[IndexHolder, Depends(get_holder)]) -> FolioIndex:
    return holder.get()


def get_limiter(request: Request) -> RateLimiter:
    return request.app.state.limiter


def get_faq_cache(request: Request) -> FaqCache | None:
    return getattr(request.app.state, "faq_cache", None)


def get_answer_pool(request: Request) -> AnswerPool:
    return request.app.state.answer_pool


# Integer ids in paths fit the database's integer columns (PostgreSQL: 32 bits); a bigger
# number is a 422, not an overflow deep in the driver.
MAX_ID = 2**31 - 1
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]

SettingsDep = Annotated[Settings, Depends(get_settings)]
DbDep = Annotated[Session, Depends(get_db)]
EngineDep = Annotated[Engine, Depends(get_engine)]
HolderDep = Annotated[IndexHolder, Depends(get_holder)]
IndexDep = Annotated[FolioIndex, Depends(get_index)]
LimiterDep = Annotated[RateLimiter, Depends(get_limiter)]
FaqCacheDep = Annotated[FaqCache | None, Depends(get_faq_cache)]
AnswerPoolDep = Annotated[AnswerPool, Depends(get_answer_pool)]


def get_identity(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    x_api_key: Annotated[str | None, Header(alias="X-API-Key")] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> Identity:
    """API key (X-API-Key or Bearer), else JWT user (Bearer), else anonymous by client IP."""
    identity = resolve_identity(
        db=db,
        settings=settings,
        api_key=x_api_key,
        authorization=authorization,
        client_ip=client_ip(request),
    )
    db.commit()  # ends the read transaction: no connection held for the rest of the request
    request.state.identity_kind = identity.kind  # for the access log line; never the secret
    return identity


CurrentIdentity = Annotated[Identity, Depends(get_identity)]


def get_current_user(identity: CurrentIdentity) -> User:
    if identity.user is None:
        raise Unauthorized("Log in first (Authorization: Bearer <access token>)")
    return identity.user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_scope(scope: str) -> Callable[[Identity], Identity]:
    """A dependency that lets the request through only with `scope`."""

    def check(identity: CurrentIdentity) -> Identity:
        identity.require(scope)
        return identity

    check.__name__ = f"require_{scope}_scope"
    return check


def _matches(given: str | None, expected: str | None) -> bool:
    # compare_digest: the time taken must not reveal how much of the token was right.
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def require_ingest_or_handoff(
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
    get_identity(request, db, settings, x_api_key, authorization).require("ingest")


def client_ip(request: Request) -> str:
    """The socket peer (or, behind `api.trusted_proxies`, what uvicorn took from the proxy)."""
    return request.client.host if request.client else "unknown"


DEV_LIMIT_HINT = (
    ". This is environment: development: for local use raise api.rate_limit_per_minute / "
    "rate_limit_per_day in config.yaml (or set RATE_LIMIT_QUERIES_PER_MINUTE / _PER_DAY); "
    "production keeps the configured limit"
)


def rate_limit(bucket: str) -> Callable[..., Identity]:
    """Count the request against `bucket` for the caller; 429 with Retry-After when over.

    `query` and `writes` count per identity (key, user or IP); per-key overrides apply to
    `query` only."""

    def check(
        identity: CurrentIdentity, limiter: LimiterDep, settings: SettingsDep, response: Response
    ) -> Identity:
        api, key = settings.api, identity.key
        if bucket == "writes":
            per_minute, per_day = api.write_rate_limit_per_minute, api.write_rate_limit_per_day
        else:
            per_minute = (key.rate_limit_per_minute if key else None) or api.rate_limit_per_minute
            per_day = (key.rate_limit_per_day if key else None) or api.rate_limit_per_day
        try:
            state = limiter.hit(bucket, identity.subject, per_minute=per_minute, per_day=per_day)
        except RateLimited as exc:
            if settings.environment == "development" and bucket == "query":
                exc.message += DEV_LIMIT_HINT  # a newcomer trying things trips 10/minute fast
            raise
        response.headers.update(state.headers())
        return identity

    check.__name__ = f"rate_limit_{bucket}"
    return check


def auth_rate_limit(
    request: Request, limiter: LimiterDep, settings: SettingsDep, response: Response
) -> None:
    """Login, register, refresh, logout, MFA and OAuth: per client IP, whatever credentials the
    request carries (a caller's own token must not open a fresh bucket for guessing)."""
    api = settings.api
    state = limiter.hit(
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
AuthRateLimit = Depends(auth_rate_limit)  # login/register/refresh/logout/MFA/OAuth, per IP
