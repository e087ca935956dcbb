"""The second step of a login that passed its first factor elsewhere (OpenID Connect)."""

from __future__ import annotations

from sqlmodel import Session

from app.core.settings import Settings
from app.services.ratelimit import RateLimiter, hit_account
from app.services.tokens import TokenPair, issue_tokens, user_from_mfa_token
from app.services.users import verify_second_factor


def complete_mfa(
    *,
    db: Session,
    settings: Settings,
    limiter: RateLimiter,
    mfa_token: str,
    totp_code: str | None,
    recovery_code: str | None,
) -> TokenPair:
    """Tokens for the user of `mfa_token` once a TOTP or recovery code checks out; each try
    counts against the account's rate limit, as a password login does."""
    user = user_from_mfa_token(db=db, settings=settings, token=mfa_token)
    hit_account(limiter, settings=settings, account=user.email)
    verify_second_factor(
        db=db, settings=settings, user=user, totp_code=totp_code, recovery_code=recovery_code
    )
    return issue_tokens(db=db, settings=settings, user=user)
