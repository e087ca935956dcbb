"""JWT access tokens (short-lived) and rotating refresh tokens with reuse detection.

Each login starts a refresh-token family. Refreshing marks the presented token used and issues
the next one in the family; presenting a used token again means it was stolen (or replayed),
so the whole family is revoked and the user must log in again.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from pydantic import BaseModel
from sqlmodel import Session, select

from app.core.errors import Unauthorized
from app.core.security import TokenError, decode_jwt, encode_jwt, make_claims
from app.core.settings import Settings
from app.db.models import RefreshToken, User, utcnow

log = logging.getLogger("folio.tokens")

ACCESS, REFRESH, MFA = "access", "refresh", "mfa"
MFA_TTL_S = 300  # time to type the code after the first factor


class MfaChallenge(BaseModel):
    """The first factor passed; POST this `mfa_token` with a code to /auth/mfa for tokens."""

    mfa_required: bool = True
    mfa_token: str
    expires_in: int = MFA_TTL_S


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int


def _secret(settings: Settings) -> str:
    return settings.auth.jwt_key()


def issue_tokens(
    *, db: Session, settings: Settings, user: User, family_id: str | None = None
) -> TokenPair:
    """An access token and a new refresh token (in `family_id`, or a new family)."""
    auth = settings.auth
    access_ttl = auth.access_token_minutes * 60
    refresh_ttl = auth.refresh_token_days * 86400
    common = {"issuer": auth.jwt_issuer, "audience": auth.jwt_audience, "subject": str(user.id)}
    access = encode_jwt(
        make_claims(token_type=ACCESS, ttl_s=access_ttl, **common), secret=_secret(settings)
    )
    claims = make_claims(token_type=REFRESH, ttl_s=refresh_ttl, **common)
    family_id = family_id or secrets.token_hex(16)
    db.add(
        RefreshToken(
            jti=claims["jti"],
            family_id=family_id,
            user_id=user.id,
            expires_at=utcnow() + timedelta(seconds=refresh_ttl),
        )
    )
    db.commit()
    refresh = encode_jwt({**claims, "fam": family_id}, secret=_secret(settings))
    return TokenPair(access_token=access, refresh_token=refresh, expires_in=int(access_ttl))


def _decode(settings: Settings, token: str, token_type: str) -> dict:
    auth = settings.auth
    try:
        return decode_jwt(
            token,
            secret=_secret(settings),
            issuer=auth.jwt_issuer,
            audience=auth.jwt_audience,
            token_type=token_type,
        )
    except TokenError as exc:
        raise Unauthorized(str(exc)) from None


def user_from_access_token(*, db: Session, settings: Settings, token: str) -> User:
    claims = _decode(settings, token, ACCESS)
    user = db.get(User, int(claims["sub"])) if str(claims["sub"]).isdigit() else None
    if user is None or not user.is_active:
        raise Unauthorized("Invalid or expired token")
    return user


def refresh_tokens(*, db: Session, settings: Settings, refresh_token: str) -> TokenPair:
    """Rotate: the presented token is spent; a spent token presented again revokes its family."""
    claims = _decode(settings, refresh_token, REFRESH)
    row = db.get(RefreshToken, claims["jti"])
    if row is None:
        raise Unauthorized("Invalid or expired token")
    if row.revoked_at is not None or row.used_at is not None:
        revoke_family(db=db, family_id=row.family_id)
        log.warning("refresh token reuse: family revoked user=%s", row.user_id)
        raise Unauthorized("Refresh token already used; all sessions of this login are revoked")
    # Conditional update: of two concurrent refreshes with one token, only one wins.
    spent = db.execute(
        RefreshToken.__table__.update()
        .where(RefreshToken.jti == row.jti, RefreshToken.used_at.is_(None))  # type: ignore[union-attr]
        .values(used_at=utcnow())
    )
    db.commit()
    if spent.rowcount != 1:
        revoke_family(db=db, family_id=row.family_id)
        raise Unauthorized("Refresh token already used; all sessions of this login are revoked")
    user = db.get(User, row.user_id)
    if user is None or not user.is_active:
        raise Unauthorized("Invalid or expired token")
    return issue_tokens(db=db, settings=settings, user=user, family_id=row.family_id)


def revoke_family(*, db: Session, family_id: str) -> None:
    now = utcnow()
    for token in db.exec(select(RefreshToken).where(RefreshToken.family_id == family_id)):
        if token.revoked_at is None:
            token.revoked_at = now
            db.add(token)
    db.commit()


def logout(*, db: Session, settings: Settings, refresh_token: str) -> None:
    """Revoke the login (refresh family) this token belongs to."""
    claims = _decode(settings, refresh_token, REFRESH)
    row = db.get(RefreshToken, claims["jti"])
    if row is not None:
        revoke_family(db=db, family_id=row.family_id)


def issue_mfa_challenge(*, settings: Settings, user: User) -> MfaChallenge:
    """A short-lived token that says 'first factor passed' and nothing more: it is not an
    access token (its `typ` is `mfa`), so it opens nothing but /auth/mfa."""
    auth = settings.auth
    claims = make_claims(
        subject=str(user.id),
        token_type=MFA,
        issuer=auth.jwt_issuer,
        audience=auth.jwt_audience,
        ttl_s=MFA_TTL_S,
    )
    return MfaChallenge(mfa_token=encode_jwt(claims, secret=_secret(settings)))


def user_from_mfa_token(*, db: Session, settings: Settings, token: str) -> User:
    claims = _decode(settings, token, MFA)
    user = db.get(User, int(claims["sub"])) if str(claims["sub"]).isdigit() else None
    if user is None or not user.is_active:
        raise Unauthorized("Invalid or expired token")
    return user
