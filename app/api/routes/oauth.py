"""OAuth 2.0 / OpenID Connect login with the providers in config.yaml (`auth.oauth_providers`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Cookie, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse

from app.api.deps import AuthRateLimit, DbDep, SettingsDep
from app.core.errors import ERROR_RESPONSES
from app.services import oauth
from app.services.tokens import TokenPair

router = APIRouter(prefix="/auth/oauth", tags=["auth"], responses=ERROR_RESPONSES)
COOKIE_PATH = "/auth/oauth"


@router.get("/{provider}/login", dependencies=[AuthRateLimit])
async def oauth_login(provider: str, request: Request, settings: SettingsDep) -> RedirectResponse:
    """Redirect to the provider (authorization code + PKCE S256, with state and nonce)."""
    redirect_uri = str(request.url_for("oauth_callback", provider=provider))
    url, cookie = await oauth.start_login(
        settings=settings, provider=provider, redirect_uri=redirect_uri
    )
    response = RedirectResponse(url, status_code=302)
    response.set_cookie(
        oauth.FLOW_COOKIE,
        cookie,
        max_age=oauth.FLOW_TTL_S,
        path=COOKIE_PATH,
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="lax",
    )
    return response


@router.get("/{provider}/callback", name="oauth_callback", response_model=TokenPair)
async def oauth_callback(
    provider: str,
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    code: Annotated[str, Query(max_length=2048)],
    state: Annotated[str, Query(max_length=256)],
    flow: Annotated[str | None, Cookie(alias=oauth.FLOW_COOKIE)] = None,
) -> JSONResponse:
    """The provider sends the browser back here; answers with Folio's own token pair."""
    tokens = await oauth.finish_login(
        db=db,
        settings=settings,
        provider=provider,
        redirect_uri=str(request.url_for("oauth_callback", provider=provider)),
        code=code,
        state=state,
        flow_cookie=flow,
    )
    response = JSONResponse(tokens.model_dump())
    response.delete_cookie(oauth.FLOW_COOKIE, path=COOKIE_PATH)
    return response
