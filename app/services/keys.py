"""API keys: create (plaintext shown once), list, rotate with a grace period, revoke, check."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from app.core.errors import Conflict, InvalidInput, NotFound, Unauthorized
from app.core.security import api_key_prefix, digests_equal, generate_api_key, hmac_digest
from app.core.settings import Settings
from app.core.textcheck import clean_text
from app.db.models import ApiKey, utcnow

SCOPES = ("ingest", "query", "admin")
LAST_USED_RESOLUTION = timedelta(seconds=60)  # one write per key per minute, not per request
_DURATION = re.compile(r"^(\d{1,9})\s*([smhd])$")
MAX_GRACE = timedelta(days=365)  # a rotated key lives on at most a year
# Stored in 32-bit integer columns (PostgreSQL); far above any sensible limit.
MAX_PER_MINUTE = 1_000_000
MAX_PER_DAY = 1_000_000_000
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_scopes(scopes: str | list[str]) -> str:
    """Validate and normalise scopes to the stored comma-separated form."""
    items = scopes.split(",") if isinstance(scopes, str) else scopes
    cleaned = sorted({s.strip() for s in items if s.strip()})
    unknown = [s for s in cleaned if s not in SCOPES]
    if not cleaned or unknown:
        raise InvalidInput(f"scopes: choose from {', '.join(SCOPES)}")
    return ",".join(cleaned)


def parse_duration(text: str) -> timedelta:
    """'24h', '30m', '7d', '90s' → timedelta, at most MAX_GRACE (bigger ones overflowed the
    expiry date: a 500, after the successor key was already stored)."""
    match = _DURATION.match(text.strip())
    if not match:
        raise InvalidInput("grace: use a number with s, m, h or d (e.g. 24h)")
    grace = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    if grace > MAX_GRACE:
        raise InvalidInput(f"grace: at most {MAX_GRACE.days}d")
    return grace


def check_limits(per_minute: int | None, per_day: int | None) -> None:
    for name, value, top in (
        ("rate_limit_per_minute", per_minute, MAX_PER_MINUTE),
        ("rate_limit_per_day", per_day, MAX_PER_DAY),
    ):
        if value is not None and not 1 <= value <= top:
            raise InvalidInput(f"{name}: between 1 and {top}")


def is_active(key: ApiKey, now: datetime | None = None) -> bool:
    now = now or utcnow()
    if key.revoked_at is not None:
        return False
    return key.expires_at is None or _aware(key.expires_at) > now


def create_key(
    *,
    db: Session,
    settings: Settings,
    name: str,
    scopes: str | list[str],
    rate_limit_per_minute: int | None = None,
    rate_limit_per_day: int | None = None,
) -> tuple[ApiKey, str]:
    """Store a new key's prefix and HMAC digest; return the row and the plaintext (once)."""
    key, plaintext = _new_key(
        settings=settings,
        name=name,
        scopes=scopes,
        rate_limit_per_minute=rate_limit_per_minute,
        rate_limit_per_day=rate_limit_per_day,
    )
    db.add(key)
    db.commit()
    db.refresh(key)
    return key, plaintext


def _new_key(
    *,
    settings: Settings,
    name: str,
    scopes: str | list[str],
    rate_limit_per_minute: int | None,
    rate_limit_per_day: int | None,
) -> tuple[ApiKey, str]:
    """A validated, unsaved key row and its plaintext."""
    name = clean_text(name, field="name", max_chars=100)
    check_limits(rate_limit_per_minute, rate_limit_per_day)
    new = generate_api_key(pepper=settings.auth.pepper())
    key = ApiKey(
        name=name,
        prefix=new.prefix,
        key_hash=new.digest,
        scopes=parse_scopes(scopes),
        rate_limit_per_minute=rate_limit_per_minute,
        rate_limit_per_day=rate_limit_per_day,
    )
    return key, new.plaintext


def list_keys(*, db: Session) -> list[ApiKey]:
    return list(db.exec(select(ApiKey).order_by(ApiKey.id)))


def get_key(*, db: Session, key_id: int) -> ApiKey:
    key = db.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"API key {key_id} not found")
    return key


def rotate_key(
    *, db: Session, settings: Settings, key_id: int, grace: timedelta
) -> tuple[ApiKey, str]:
    """Issue a successor with the same name/scopes/limits; the old key expires after `grace`.
    One transaction: either both the successor and the old key's expiry are stored, or
    neither is."""
    if grace > MAX_GRACE:
        raise InvalidInput(f"grace: at most {MAX_GRACE.days}d")
    old = get_key(db=db, key_id=key_id)
    if not is_active(old) or old.replaced_by_id is not None:
        raise Conflict(f"API key {key_id} is revoked, expired or already rotated")
    expires = utcnow() + grace  # computed before anything is written
    new, plaintext = _new_key(
        settings=settings,
        name=old.name,
        scopes=old.scopes,
        rate_limit_per_minute=old.rate_limit_per_minute,
        rate_limit_per_day=old.rate_limit_per_day,
    )
    try:
        db.add(new)
        db.flush()  # the successor's id, still inside the transaction
        old.replaced_by_id = new.id
        old.expires_at = expires
        db.add(old)
        db.commit()
    except Exception:
        db.rollback()
        raise
    db.refresh(new)
    db.refresh(old)
    return new, plaintext


def revoke_key(*, db: Session, key_id: int) -> ApiKey:
    """Revocation is immediate: the next request with this key gets 401."""
    key = get_key(db=db, key_id=key_id)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        db.add(key)
        db.commit()
        db.refresh(key)
    return key


def authenticate_key(*, db: Session, settings: Settings, raw: str) -> ApiKey:
    """The active key for `raw` (found by prefix, compared in constant time) or Unauthorized."""
    prefix = api_key_prefix(raw)
    key = db.exec(select(ApiKey).where(ApiKey.prefix == prefix)).first() if prefix else None
    digest = hmac_digest(raw, pepper=settings.auth.pepper())
    if key is None or not digests_equal(digest, key.key_hash) or not is_active(key):
        raise Unauthorized("Invalid, expired or revoked API key")
    now = utcnow()
    if key.last_used_at is None or now - _aware(key.last_used_at) >= LAST_USED_RESOLUTION:
        key.last_used_at = now
        db.add(key)
        db.commit()
        db.refresh(key)
    return key


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
