"""Accounts: register and log in with bcrypt passwords, TOTP second factor, recovery codes.

Passwords and codes are never logged; log lines name the user id only.
"""

from __future__ import annotations

import logging
import re
import unicodedata

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from app.core.errors import Conflict, InvalidInput, MfaRequired, NotFound, Unauthorized
from app.core.security import (
    BCRYPT_MAX_BYTES,
    SecretDecryptError,
    decrypt_totp_secret,
    encrypt_totp_secret,
    hash_password,
    hmac_digest,
    match_totp_step,
    new_recovery_codes,
    new_totp_secret,
    totp_data_key,
    totp_uri,
    verify_password,
)
from app.core.settings import Settings
from app.core.textcheck import text_problem
from app.db.models import RecoveryCode, User, utcnow

log = logging.getLogger("folio.users")

_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")
BAD_LOGIN = "Wrong email or password"


# Format (Cf: zero-width space/joiner, soft hyphen, bidi marks), controls, surrogates,
# private-use, unassigned, line/paragraph separators: nothing a person can see or type.
_INVISIBLE = frozenset({"Cf", "Cc", "Cs", "Co", "Cn", "Zl", "Zp"})


def normalise_email(email: str) -> str:
    """The one spelling an address is stored and looked up by.

    NFKC folds compatibility forms (full-width `ｅ`, the Kelvin sign) into plain letters, so
    they find the existing account; invisible characters are refused; and the result must be
    ASCII, because letters such as dotless `ı` or Cyrillic `е` survive NFKC yet look like `i`
    and `e`: accepting them would let a look-alike of someone's address register separately.
    """
    if any(unicodedata.category(ch) in _INVISIBLE for ch in email):
        raise InvalidInput("email: contains invisible characters")
    email = unicodedata.normalize("NFKC", email).strip().lower()
    if not email.isascii():
        raise InvalidInput("email: use the plain ASCII spelling of the address")
    if not _EMAIL.match(email):
        raise InvalidInput("email: not a valid address")
    return email


def account_of(email: str) -> str:
    """What a login attempt targets, for the per-account rate limit (even if malformed)."""
    try:
        return normalise_email(email)
    except InvalidInput:
        return email.strip().lower()


def check_password_policy(password: str, settings: Settings) -> None:
    minimum = settings.auth.password_min_length
    if (problem := text_problem(password)) is not None:
        raise InvalidInput(f"password: {problem}")
    if len(password) < minimum:
        raise InvalidInput(f"password: at least {minimum} characters")
    if len(password.encode()) > BCRYPT_MAX_BYTES:
        raise InvalidInput(f"password: at most {BCRYPT_MAX_BYTES} bytes")


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
    if totp_code and _accept_totp(db=db, settings=settings, user=user, code=totp_code.strip()):
        return
    if recovery_code and _use_recovery_code(
        db=db, settings=settings, user=user, code=recovery_code.strip()
    ):
        return
    log.info("second factor failed user=%s", user.id)
    raise Unauthorized("Invalid or already used code")


def _totp_key(settings: Settings) -> bytes:
    return totp_data_key(settings.auth.pepper())


def _totp_secret(*, settings: Settings, user: User) -> str | None:
    """The user's TOTP secret in clear, or None (none stored, or it does not decrypt)."""
    if not user.totp_secret or user.id is None:
        return None
    try:
        return decrypt_totp_secret(user.totp_secret, key=_totp_key(settings), user_id=user.id)
    except SecretDecryptError:
        # Logged, never shown: the operator changed FOLIO_KEY_PEPPER or the row was tampered.
        log.error("totp secret does not decrypt user=%s (FOLIO_KEY_PEPPER changed?)", user.id)
        return None


def _accept_totp(*, db: Session, settings: Settings, user: User, code: str) -> bool:
    secret = _totp_secret(settings=settings, user=user)
    if secret is None:
        return False
    step = match_totp_step(secret, code)
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


def check_current_password(*, settings: Settings, user: User, password: str) -> None:
    """Re-authentication for account changes: an access token alone is not enough."""
    if user.password_hash is None:
        raise Conflict(
            "This account signs in through an identity provider and has no password here; "
            "use the provider's own second factor"
        )
    if not verify_password(password, user.password_hash):
        log.info("re-authentication failed user=%s", user.id)
        raise Unauthorized("Wrong password")


def start_totp_enrollment(
    *, db: Session, settings: Settings, user: User, password: str
) -> tuple[str, str]:
    """A new secret and its otpauth:// URI, after checking the account's password (a stolen
    access token must not be able to put its own authenticator on the account). Not required
    at login until confirmed. Stored encrypted; returned in clear this once."""
    if user.totp_enabled:
        raise Conflict("TOTP is already enabled")
    check_current_password(settings=settings, user=user, password=password)
    assert user.id is not None
    secret = new_totp_secret()
    user.totp_secret = encrypt_totp_secret(secret, key=_totp_key(settings), user_id=user.id)
    db.add(user)
    db.commit()
    db.refresh(user)
    return secret, totp_uri(secret, account=user.email, issuer=settings.auth.totp_issuer)


def confirm_totp(*, db: Session, settings: Settings, user: User, code: str) -> list[str]:
    """Enable TOTP once the user proves the authenticator works; return recovery codes (once)."""
    if user.totp_enabled:
        raise Conflict("TOTP is already enabled")
    if not user.totp_secret:
        raise InvalidInput("Start TOTP enrollment first")
    if not _accept_totp(db=db, settings=settings, user=user, code=code.strip()):
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
