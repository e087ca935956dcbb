"""Accounts: register and log in with bcrypt passwords, TOTP second factor, recovery codes.

Passwords and codes are never logged; log lines name the user id only.
"""

from __future__ import annotations

import logging
import re

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from app.core.errors import Conflict, InvalidInput, MfaRequired, NotFound, Unauthorized
from app.core.security import (
    BCRYPT_MAX_BYTES,
    hash_password,
    hmac_digest,
    match_totp_step,
    new_recovery_codes,
    new_totp_secret,
    totp_uri,
    verify_password,
)
from app.core.settings import Settings
from app.core.textcheck import has_control_chars
from app.db.models import RecoveryCode, User, utcnow

log = logging.getLogger("folio.users")

_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")
BAD_LOGIN = "Wrong email or password"


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if not _EMAIL.match(email) or has_control_chars(email):
        raise InvalidInput("email: not a valid address")
    return email


def check_password_policy(password: str, settings: Settings) -> None:
    minimum = settings.auth.password_min_length
    if len(password) < minimum:
        raise InvalidInput(f"password: at least {minimum} characters")
    if len(password.encode()) > BCRYPT_MAX_BYTES:
        raise InvalidInput(f"password: at most {BCRYPT_MAX_BYTES} bytes")
    if has_control_chars(password):
        raise InvalidInput("password: contains control characters")


def register_user(*, db: Session, settings: Settings, email: str, password: str) -> User:
    """Create an account; Conflict if the email is taken."""
    email = normalise_email(email)
    check_password_policy(password, settings)
    user = User(
        email=email, password_hash=hash_password(password, rounds=settings.auth.bcrypt_rounds)
    )
    db.add(user)
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise Conflict("An account with this email already exists") from None
    db.refresh(user)
    log.info("user registered id=%s", user.id)
    return user


def get_user(*, db: Session, user_id: int) -> User:
    user = db.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user


def list_users(*, db: Session) -> list[User]:
    return list(db.exec(select(User).order_by(User.id)))


def set_user_active(*, db: Session, user_id: int, active: bool) -> User:
    user = get_user(db=db, user_id=user_id)
    user.is_active = active
    db.add(user)
    db.commit()
    db.refresh(user)
    return user


def authenticate_password(
    *,
    db: Session,
    settings: Settings,
    email: str,
    password: str,
    totp_code: str | None = None,
    recovery_code: str | None = None,
) -> User:
    """The user for these credentials; with TOTP enabled a code (or recovery code) is required."""
    try:
        email = normalise_email(email)
    except InvalidInput:
        raise Unauthorized(BAD_LOGIN) from None
    user = db.exec(select(User).where(User.email == email)).first()
    ok = verify_password(password, user.password_hash if user else None)
    if user is None or not ok or not user.is_active:
        log.info("login failed")
        raise Unauthorized(BAD_LOGIN)
    if user.totp_enabled:
        verify_second_factor(
            db=db, settings=settings, user=user, totp_code=totp_code, recovery_code=recovery_code
        )
    return user


def verify_second_factor(
    *,
    db: Session,
    settings: Settings,
    user: User,
    totp_code: str | None,
    recovery_code: str | None,
) -> None:
    if not totp_code and not recovery_code:
        raise MfaRequired("This account needs a TOTP code (totp_code) or a recovery_code")
    if totp_code and _accept_totp(db=db, user=user, code=totp_code.strip()):
        return
    if recovery_code and _use_recovery_code(
        db=db, settings=settings, user=user, code=recovery_code.strip()
    ):
        return
    log.info("second factor failed user=%s", user.id)
    raise Unauthorized("Invalid or already used code")


def _accept_totp(*, db: Session, user: User, code: str) -> bool:
    if not user.totp_secret:
        return False
    step = match_totp_step(user.totp_secret, code)
    if step is None or step <= user.totp_last_step:  # <=: a used code (or older) is a replay
        return False
    # Conditional update: two concurrent logins with the same code cannot both win.
    result = db.execute(
        User.__table__.update()
        .where(User.id == user.id, User.totp_last_step < step)
        .values(totp_last_step=step)
    )
    db.commit()
    db.refresh(user)
    return result.rowcount == 1


def _use_recovery_code(*, db: Session, settings: Settings, user: User, code: str) -> bool:
    digest = hmac_digest(code, pepper=settings.auth.pepper())
    row = db.exec(
        select(RecoveryCode).where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == digest,
            RecoveryCode.used_at.is_(None),  # type: ignore[union-attr]
        )
    ).first()
    if row is None:
        return False
    result = db.execute(
        RecoveryCode.__table__.update()
        .where(RecoveryCode.id == row.id, RecoveryCode.used_at.is_(None))  # type: ignore[union-attr]
        .values(used_at=utcnow())
    )
    db.commit()
    return result.rowcount == 1


def start_totp_enrollment(*, db: Session, settings: Settings, user: User) -> tuple[str, str]:
    """A new secret and its otpauth:// URI; not required at login until confirmed."""
    if user.totp_enabled:
        raise Conflict("TOTP is already enabled")
    user.totp_secret = new_totp_secret()
    db.add(user)
    db.commit()
    db.refresh(user)
    return user.totp_secret, totp_uri(
        user.totp_secret, account=user.email, issuer=settings.auth.totp_issuer
    )


def confirm_totp(*, db: Session, settings: Settings, user: User, code: str) -> list[str]:
    """Enable TOTP once the user proves the authenticator works; return recovery codes (once)."""
    if user.totp_enabled:
        raise Conflict("TOTP is already enabled")
    if not user.totp_secret:
        raise InvalidInput("Start TOTP enrollment first")
    if not _accept_totp(db=db, user=user, code=code.strip()):
        raise Unauthorized("Invalid or already used code")
    codes = new_recovery_codes()
    pepper = settings.auth.pepper()
    for code_ in codes:
        db.add(RecoveryCode(user_id=user.id, code_hash=hmac_digest(code_, pepper=pepper)))
    user.totp_enabled = True
    db.add(user)
    db.commit()
    db.refresh(user)
    log.info("totp enabled user=%s", user.id)
    return codes
