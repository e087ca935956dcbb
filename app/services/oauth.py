"""OpenID Connect login through Authlib: authorization code + PKCE (S256), state and nonce.

The app keeps no server-side session: state, nonce and the PKCE verifier travel in a short-lived
HttpOnly cookie signed with JWT_SECRET, which also binds the callback to the browser that
started the login (that is what `state` is for). The ID token is verified against the
provider's JWKS: signature, issuer, audience (our client id), expiry and our nonce.

Accounts: a provider identity is never attached to an existing account by email. The first
login with a new identity creates a new account (with the address only if the provider
verified it and nobody holds it); if a Folio account already has that verified address, the
login is refused until the owner links the provider explicitly (`start_link`: logged in, and
the password again). An account with TOTP gets an MFA challenge, not tokens, after the
provider: the second factor applies however the first was passed.
"""

from __future__ import annotations

import logging
import secrets
from urllib.parse import quote

import anyio
from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry
from sqlmodel import Session, select

from app.core.errors import (
    Conflict,
    FolioError,
    InvalidInput,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
)
from app.core.security import TokenError, decode_jwt, encode_jwt, make_claims
from app.core.settings import OAuthProviderConfig, Settings
from app.db.models import OAuthIdentity, User
from app.services.tokens import MfaChallenge, TokenPair, issue_mfa_challenge, issue_tokens
from app.services.users import check_current_password, normalise_email

log = logging.getLogger("folio.oauth")

FLOW_COOKIE = "folio_oauth"
FLOW_TTL_S = 600
ID_TOKEN_ALGS = ["RS256", "ES256", "PS256", "EdDSA"]


def provider_config(settings: Settings, provider: str) -> OAuthProviderConfig:
    cfg = settings.auth.oauth_providers.get(provider)
    if cfg is None:
        raise NotFound(f"unknown OAuth provider {provider!r}")
    return cfg


class OAuthNotConfigured(FolioError):
    """OIDC login cannot be offered safely with this configuration."""

    code, status = "oauth_not_configured", 503


def redirect_uri(*, settings: Settings, provider: str, request_url: str) -> str:
    """The callback URL sent to the provider: from `api.public_url`, never from the request's
    Host header (`Host: evil.example` made it `http://evil.example/...`). Without a public URL,
    development and tests use the request's own URL (`request_url`); production refuses."""
    provider_config(settings, provider)
    base = settings.api.public_url
    if base is not None:
        return f"{base}/auth/oauth/{quote(provider, safe='')}/callback"
    if settings.environment == "production":
        raise OAuthNotConfigured(
            "OIDC login needs api.public_url (the URL readers reach this server at) in "
            "production; the callback is never built from the request's Host header"
        )
    return request_url


def _client(cfg: OAuthProviderConfig, redirect_uri: str) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        client_id=cfg.client_id,
        client_secret=cfg.client_secret.get_secret_value() if cfg.client_secret else None,
        scope=cfg.scope,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        timeout=10,
    )


async def _get_public(client: AsyncOAuth2Client, url: str):
    """GET a public provider document (metadata, JWKS) without a bearer token.

    Authlib's client is built on httpx2, whose get()/post() take only their own keyword
    arguments, so Authlib's `withhold_token` must go straight to the overridden request().
    """
    return await client.request("GET", url, withhold_token=True)


async def _metadata(client: AsyncOAuth2Client, cfg: OAuthProviderConfig) -> dict:
    try:
        response = await _get_public(client, cfg.server_metadata_url)
        response.raise_for_status()
        return response.json()
    except Exception as exc:
        log.error("oauth metadata unavailable type=%s", type(exc).__name__)
        raise ServiceUnavailable("The login provider is unavailable") from None


async def start_login(
    *, settings: Settings, provider: str, redirect_uri: str, link_user_id: int | None = None
) -> tuple[str, str]:
    """The provider's authorization URL and the signed flow cookie to set. With
    `link_user_id` the callback links the identity to that account instead of logging in."""
    cfg = provider_config(settings, provider)
    state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    verifier = secrets.token_urlsafe(48)
    async with _client(cfg, redirect_uri) as client:
        meta = await _metadata(client, cfg)
        url, _ = client.create_authorization_url(
            meta["authorization_endpoint"], state=state, code_verifier=verifier, nonce=nonce
        )
    extra = {"link": link_user_id} if link_user_id is not None else {}
    claims = make_claims(
        subject=provider,
        token_type="oauth_flow",
        issuer=settings.auth.jwt_issuer,
        audience=settings.auth.jwt_audience,
        ttl_s=FLOW_TTL_S,
        state=state,
        nonce=nonce,
        cv=verifier,
        **extra,
    )
    return url, encode_jwt(claims, secret=settings.auth.jwt_key())


async def start_link(
    *, settings: Settings, user: User, password: str, provider: str, redirect_uri: str
) -> tuple[str, str]:
    """Linking adds a way into the account, so it takes the password again, not just a
    (possibly stolen) access token."""
    provider_config(settings, provider)
    # bcrypt takes ~0.25 s: off the event loop
    await anyio.to_thread.run_sync(
        lambda: check_current_password(settings=settings, user=user, password=password)
    )
    return await start_login(
        settings=settings, provider=provider, redirect_uri=redirect_uri, link_user_id=user.id
    )


async def finish_login(
    *,
    db: Session,
    settings: Settings,
    provider: str,
    redirect_uri: str,
    code: str,
    state: str,
    flow_cookie: str | None,
) -> TokenPair | MfaChallenge:
    """Check state against the cookie, redeem the code with the PKCE verifier, verify the ID
    token (nonce included), then link (a link flow) or log in: tokens, or an MFA challenge
    for an account with TOTP."""
    cfg = provider_config(settings, provider)
    flow = _read_flow(settings, flow_cookie, provider)
    if not secrets.compare_digest(state.encode(), str(flow["state"]).encode()):
        raise Unauthorized("OAuth state mismatch; start the login again")
    async with _client(cfg, redirect_uri) as client:
        meta = await _metadata(client, cfg)
        try:
            token = await client.fetch_token(
                meta["token_endpoint"], code=code, code_verifier=flow["cv"]
            )
            jwks_response = await _get_public(client, meta["jwks_uri"])
            jwks_response.raise_for_status()
            jwks = jwks_response.json()
        except Exception as exc:
            log.info("oauth code exchange failed type=%s", type(exc).__name__)
            raise Unauthorized("The login provider refused the authorization code") from None
    claims = _verify_id_token(token.get("id_token"), jwks, meta["issuer"], cfg.client_id, flow)
    if flow.get("link") is not None:
        user = _link_account(db=db, provider=provider, claims=claims, user_id=int(flow["link"]))
        return issue_tokens(db=db, settings=settings, user=user)
    user = _login_user(db=db, provider=provider, claims=claims)
    if user.totp_enabled:
        return issue_mfa_challenge(settings=settings, user=user)
    return issue_tokens(db=db, settings=settings, user=user)


def _read_flow(settings: Settings, cookie: str | None, provider: str) -> dict:
    if not cookie:
        raise Unauthorized("OAuth login not started in this browser")
    try:
        flow = decode_jwt(
            cookie,
            secret=settings.auth.jwt_key(),
            issuer=settings.auth.jwt_issuer,
            audience=settings.auth.jwt_audience,
            token_type="oauth_flow",
        )
    except TokenError:
        raise Unauthorized("OAuth login expired; start again") from None
    if flow["sub"] != provider:
        raise Unauthorized("OAuth login was started for another provider")
    return flow


def _verify_id_token(
    id_token: str | None, jwks: dict, issuer: str, client_id: str, flow: dict
) -> dict:
    if not id_token:
        raise Unauthorized("The login provider sent no ID token")
    try:
        decoded = jwt.decode(id_token, KeySet.import_key_set(jwks), algorithms=ID_TOKEN_ALGS)
        JWTClaimsRegistry(
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": client_id},
            exp={"essential": True},
            sub={"essential": True},
            nonce={"essential": True, "value": flow["nonce"]},
        ).validate(decoded.claims)
    except (JoseError, ValueError, TypeError, KeyError):
        raise Unauthorized("Invalid ID token") from None
    return decoded.claims


def _linked_user(db: Session, provider: str, subject: str) -> User | None:
    link = db.exec(
        select(OAuthIdentity).where(
            OAuthIdentity.provider == provider, OAuthIdentity.subject == subject
        )
    ).first()
    return db.get(User, link.user_id) if link is not None else None


def _verified_email(claims: dict) -> str | None:
    if claims.get("email_verified") is not True:
        return None
    try:
        return normalise_email(str(claims.get("email") or ""))
    except InvalidInput:
        return None


def _login_user(*, db: Session, provider: str, claims: dict) -> User:
    """The account linked to this identity, or a new one; never someone else's by email."""
    subject = str(claims["sub"])
    user = _linked_user(db, provider, subject)
    if user is not None:
        if not user.is_active:
            raise Unauthorized("This account is disabled")
        return user
    email = _verified_email(claims)
    if email and db.exec(select(User).where(User.email == email)).first() is not None:
        log.info("oauth login refused: address belongs to an unlinked account")
        raise Conflict(
            "An account with this email already exists. Log in with its password, then link "
            f"this provider with POST /auth/oauth/{provider}/link"
        )
    user = User(email=email or f"{provider}.{subject}@oauth.invalid"[:320], password_hash=None)
    db.add(user)
    db.commit()
    db.refresh(user)
    db.add(OAuthIdentity(provider=provider, subject=subject, user_id=user.id))
    db.commit()
    log.info("oauth account created provider=%s user=%s", provider, user.id)
    return user


def _link_account(*, db: Session, provider: str, claims: dict, user_id: int) -> User:
    """Attach the identity to the account that asked for it (logged in, password checked)."""
    subject = str(claims["sub"])
    user = db.get(User, user_id)
    if user is None or not user.is_active:
        raise Unauthorized("This account is disabled")
    linked = _linked_user(db, provider, subject)
    if linked is not None and linked.id != user.id:
        raise Conflict("This provider account is already linked to another Folio account")
    if linked is None:
        db.add(OAuthIdentity(provider=provider, subject=subject, user_id=user.id))
        db.commit()
        log.info("oauth identity linked provider=%s user=%s", provider, user.id)
    return user
