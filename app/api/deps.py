"""FastAPI dependencies: settings, the DB session, the index, identity and scope checks."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlmodel import Session

from app.core.errors import Unauthorized
from app.core.settings import Settings
from app.services.handoff import HANDOFF_HEADER
from app.services.index_holder import IndexHolder
from indexes.engine import FolioIndex


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_db(request: Request) -> Iterator[Session]:
    """One session per request on the engine the lifespan opened."""
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        yield session


def get_holder(request: Request) -> IndexHolder:
    return request.app.state.index_holder


def get_index(holder: Annotated[IndexHolder, Depends(get_holder)]) -> FolioIndex:
    return holder.get()


SettingsDep = Annotated[Settings, Depends(get_settings)]
DbDep = Annotated[Session, Depends(get_db)]
HolderDep = Annotated[IndexHolder, Depends(get_holder)]
IndexDep = Annotated[FolioIndex, Depends(get_index)]


def _matches(given: str | None, expected: str | None) -> bool:
    # compare_digest: the time taken must not reveal how much of the key was right.
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def require_admin_key(
    settings: SettingsDep,
    x_api_key: Annotated[str | None, Header(alias="X-API-Key")] = None,
) -> None:
    """Bootstrap protection for write routes: the FOLIO_ADMIN_API_KEY in X-API-Key."""
    expected = settings.auth.admin_api_key
    if not _matches(x_api_key, expected.get_secret_value() if expected else None):
        raise Unauthorized("A valid X-API-Key is required")


def require_admin_or_handoff(
    request: Request,
    settings: SettingsDep,
    x_api_key: Annotated[str | None, Header(alias="X-API-Key")] = None,
    handoff: Annotated[str | None, Header(alias=HANDOFF_HEADER)] = None,
) -> None:
    """Re-index is allowed to the admin key, or to the local CLI holding the handoff token."""
    if _matches(handoff, getattr(request.app.state, "handoff_token", None)):
        return
    require_admin_key(settings, x_api_key)


AdminKey = Depends(require_admin_key)
AdminOrHandoff = Depends(require_admin_or_handoff)
