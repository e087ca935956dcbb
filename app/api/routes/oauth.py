"""OAuth 2.0 / OpenID Connect login with the providers in config.yaml (`auth.oauth_providers`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Cookie, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from app.api.deps import AuthRateLimit, CurrentUser, DbDep, LimiterDep, SettingsDep
from app.api.schemas.auth import OAuthLinkRequest, OAuthLinkStart
from app.api.schemas.errors import ERROR_RESPONSES
from app.core.settings import Settings
from app.services import oauth
from app.services.ratelimit import hit_account
from app.services.tokens import MfaChallenge, TokenPair

router = APIRouter(prefix="/auth/oauth", tags=["auth"], responses=ERROR_RESPONSES)
COOKIE_PATH = "/auth/oauth"


@router.get("/{provider}/login", dependencies=[AuthRateLimit])
async def oauth_login(provider: str, request: Request, settings: SettingsDep) -> RedirectResponse:
    """Redirect to the provider (authorization code + PKCE S256, with state and nonce). The
    callback URL comes from `api.public_url` (required in production)."""
    url, cookie = await oauth.start_login(
        settings=settings,
        provider=provider,
        redirect_uri=_redirect_uri(request, settings, provider),
    )
    response = RedirectResponse(url, status_code=302)
    _set_flow_cookie(response, cookie, request, settings)
    return response


def _redirect_uri(request: Request, settings: Settings, provider: str) -> str:
    return oauth.redirect_uri(
        settings=settings,
        provider=provider,
        request_url=str(request.url_for("oauth_callback", provider=provider)),
    )


@router.post("/{provider}/link", response_model=OAuthLinkStart, dependencies=[AuthRateLimit])
async def oauth_link(
    provider: str,
    body: OAuthLinkRequest,
    request: Request,
    user: CurrentUser,
    settings: SettingsDep,
    limiter: LimiterDep,
) -> JSONResponse:
    """Link a provider identity to the logged-in account (Bearer token and the password
    again). Send the browser to `authorization_url`; the callback then links and answers
    with a token pair. The only way a provider identity joins an existing account."""
    hit_account(limiter, settings=settings, account=user.email)
    url, cookie = await oauth.start_link(
        settings=settings,
        user=user,
        password=body.password,
        provider=provider,
        redirect_uri=_redirect_uri(request, settings, provider),
    )
    response = JSONResponse(OAuthLinkStart(authorization_url=url).model_dump())
    _set_flow_cookie(response, cookie, request, settings)
    return response


def _set_flow_cookie(response: Response, cookie: str, request: Request, settings: Settings) -> None:
    public = settings.api.public_url
    response.set_cookie(
        oauth.FLOW_COOKIE,
        cookie,
        max_age=oauth.FLOW_TTL_S,
        path=COOKIE_PATH,
        httponly=True,
        secure=public.startswith("https:") if public else request.url.scheme == "https",
        samesite="lax",
    )


@router.get("/{provider}/callback", name="oauth_callback", response_model=TokenPair | MfaChallenge)
async def oauth_callback(
    provider: str,
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    code: Annotated[str, Query(max_length=2048)],
    state: Annotated[str, Query(max_length=256)],
    flow: Annotated[str | None, Cookie(alias=oauth.FLOW_COOKIE)] = None,
) -> JSONResponse:
    """The provider sends the browser back here; answers with Folio's own token pair, or, for
    an account with TOTP, `{"mfa_required": true, "mfa_token"}` to finish at /auth/mfa.
    409 when an unlinked account already has the provider's verified email."""
    tokens = await oauth.finish_login(
        db=db,
        settings=settings,
        provider=provider,
        redirect_uri=_redirect_uri(request, settings, provider),
        code=code,
        state=state,
        flow_cookie=flow,
    )
    response = JSONResponse(tokens.model_dump())
    response.delete_cookie(oauth.FLOW_COOKIE, path=COOKIE_PATH)
    return response
