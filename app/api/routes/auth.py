"""Accounts: register, login (password + TOTP), MFA step, refresh, logout, TOTP enrollment.

Every route here is limited per client IP (`AuthRateLimit`); the ones that check a password
or a code also count against the target account (`hit_account`), from whichever IP."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from app.api.deps import AuthRateLimit, CurrentUser, DbDep, LimiterDep, SettingsDep
from app.api.schemas.auth import (
    LoginRequest,
    MfaRequest,
    RecoveryCodes,
    RefreshRequest,
    RegisterRequest,
    TotpConfirmRequest,
    TotpEnrollment,
    TotpEnrollRequest,
)
from app.api.schemas.errors import ERROR_RESPONSES
from app.api.schemas.users import UserPublic
from app.services import tokens, users
from app.services.mfa import complete_mfa
from app.services.ratelimit import hit_account
from app.services.tokens import TokenPair

router = APIRouter(prefix="/auth", tags=["auth"], responses=ERROR_RESPONSES)


@router.post(
    "/register",
    response_model=UserPublic,
    status_code=status.HTTP_201_CREATED,
    dependencies=[AuthRateLimit],
)
def register(body: RegisterRequest, db: DbDep, settings: SettingsDep) -> UserPublic:
    """Create an account (password: length policy, bcrypt-hashed)."""
    user = users.register_user(db=db, settings=settings, email=body.email, password=body.password)
    return UserPublic.model_validate(user, from_attributes=True)


@router.post("/login", response_model=TokenPair, dependencies=[AuthRateLimit])
def login(body: LoginRequest, db: DbDep, settings: SettingsDep, limiter: LimiterDep) -> TokenPair:
    """Password login; accounts with TOTP also send `totp_code` (or a `recovery_code`)."""
    hit_account(limiter, settings=settings, account=users.account_of(body.email))
    user = users.authenticate_password(
        db=db,
        settings=settings,
        email=body.email,
        password=body.password,
        totp_code=body.totp_code,
        recovery_code=body.recovery_code,
    )
    return tokens.issue_tokens(db=db, settings=settings, user=user)


@router.post("/refresh", response_model=TokenPair, dependencies=[AuthRateLimit])
def refresh(body: RefreshRequest, db: DbDep, settings: SettingsDep) -> TokenPair:
    """Trade a refresh token for a new pair; reusing a spent one revokes the whole login."""
    return tokens.refresh_tokens(db=db, settings=settings, refresh_token=body.refresh_token)


@router.post("/mfa", response_model=TokenPair, dependencies=[AuthRateLimit])
def mfa(body: MfaRequest, db: DbDep, settings: SettingsDep, limiter: LimiterDep) -> TokenPair:
    """Finish a login that answered with `{"mfa_required": true, "mfa_token": ...}` (OpenID
    Connect for an account with TOTP): the token plus a `totp_code` or `recovery_code`."""
    return complete_mfa(
        db=db,
        settings=settings,
        limiter=limiter,
        mfa_token=body.mfa_token,
        totp_code=body.totp_code,
        recovery_code=body.recovery_code,
    )


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, dependencies=[AuthRateLimit])
def logout(body: RefreshRequest, db: DbDep, settings: SettingsDep) -> Response:
    """Revoke this login's refresh tokens."""
    tokens.logout(db=db, settings=settings, refresh_token=body.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=UserPublic)
def me(user: CurrentUser) -> UserPublic:
    """The logged-in account."""
    return UserPublic.model_validate(user, from_attributes=True)


@router.post("/totp/enroll", response_model=TotpEnrollment, dependencies=[AuthRateLimit])
def totp_enroll(
    body: TotpEnrollRequest,
    user: CurrentUser,
    db: DbDep,
    settings: SettingsDep,
    limiter: LimiterDep,
) -> TotpEnrollment:
    """A new TOTP secret and otpauth:// URI, for the account's password (an access token
    alone cannot put an authenticator on the account); codes are needed at login only after
    confirmation."""
    hit_account(limiter, settings=settings, account=user.email)
    secret, uri = users.start_totp_enrollment(
        db=db, settings=settings, user=user, password=body.password
    )
    return TotpEnrollment(secret=secret, otpauth_uri=uri)


@router.post("/totp/confirm", response_model=RecoveryCodes, dependencies=[AuthRateLimit])
def totp_confirm(
    body: TotpConfirmRequest,
    user: CurrentUser,
    db: DbDep,
    settings: SettingsDep,
    limiter: LimiterDep,
) -> RecoveryCodes:
    """Turn TOTP on with a first valid code; returns one-time recovery codes (shown once)."""
    hit_account(limiter, settings=settings, account=user.email)
    codes = users.confirm_totp(db=db, settings=settings, user=user, code=body.code)
    return RecoveryCodes(recovery_codes=codes)
