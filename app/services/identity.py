"""Who is calling: an API key (DB or the bootstrap admin key), a logged-in user, or an IP.

Credentials that are presented but wrong are an error (401), never a silent fall-back to
anonymous: a client with a revoked key must notice.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Literal

from sqlmodel import Session

from app.core.errors import Forbidden, Unauthorized
from app.core.security import api_key_prefix
from app.core.settings import Settings
from app.db.models import ApiKey, User
from app.services.keys import SCOPES, authenticate_key
from app.services.tokens import user_from_access_token

READER_SCOPES = frozenset({"query"})


def effective_scopes(granted: frozenset[str]) -> frozenset[str]:
    """What a valid key may do. `admin` implies every scope (an admin can mint any key anyway),
    and every key may do what an anonymous reader may (ask): a valid key is never refused
    what dropping it would allow."""
    if "admin" in granted:
        return frozenset(SCOPES)
    return granted | READER_SCOPES


@dataclass(frozen=True)
class Identity:
    kind: Literal["api_key", "bootstrap", "user", "anonymous"]
    subject: str  # rate-limit identity: key:<id>, user:<id>, ip:<addr>
    scopes: frozenset[str]
    key: ApiKey | None = field(default=None, compare=False)
    user: User | None = field(default=None, compare=False)

    def require(self, scope: str) -> None:
        if scope in self.scopes:
            return
        if self.kind in ("anonymous", "user"):
            raise Unauthorized(f"An API key with scope '{scope}' is required")
        raise Forbidden(f"This API key lacks the '{scope}' scope")


def resolve_identity(
    *,
    db: Session,
    settings: Settings,
    api_key: str | None,
    authorization: str | None,
    client_ip: str,
) -> Identity:
    """X-API-Key, else `Authorization: Bearer <api key | access JWT>`, else the client IP."""
    bearer = None
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthorized("Use 'Authorization: Bearer <token>'")
        bearer = value.strip()
    if api_key is None and bearer is not None and api_key_prefix(bearer) is not None:
        api_key, bearer = bearer, None
    if api_key is not None:
        return _key_identity(db=db, settings=settings, raw=api_key)
    if bearer is not None:
        user = user_from_access_token(db=db, settings=settings, token=bearer)
        return Identity(kind="user", subject=f"user:{user.id}", scopes=READER_SCOPES, user=user)
    return anonymous_identity(client_ip)


def anonymous_identity(client_ip: str) -> Identity:
    """A reader without credentials, counted by client IP."""
    return Identity(kind="anonymous", subject=f"ip:{client_ip}", scopes=READER_SCOPES)


def _key_identity(*, db: Session, settings: Settings, raw: str) -> Identity:
    bootstrap = settings.auth.admin_api_key
    if bootstrap is not None and hmac.compare_digest(
        raw.encode(), bootstrap.get_secret_value().encode()
    ):
        return Identity(kind="bootstrap", subject="bootstrap", scopes=frozenset(SCOPES))
    key = authenticate_key(db=db, settings=settings, raw=raw)
    return Identity(
        kind="api_key", subject=f"key:{key.id}", scopes=effective_scopes(key.scope_set), key=key
    )
