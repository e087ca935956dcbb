"""SQLModel tables. Change a table → add an Alembic revision (`alembic revision --autogenerate`).

Secrets are never stored in clear: API keys and recovery codes as HMAC-SHA-256 digests,
passwords as bcrypt hashes, refresh tokens by their id only (the token is a signed JWT).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True, index=True)
    password_hash: str | None = Field(default=None, max_length=100)  # None: OAuth-only account
    is_active: bool = True
    totp_secret: str | None = Field(default=None, max_length=64)
    totp_enabled: bool = False
    totp_last_step: int = 0  # last accepted 30 s step: a code is never accepted twice
    created_at: datetime = Field(default_factory=utcnow)


class RecoveryCode(SQLModel, table=True):
    __tablename__ = "recovery_codes"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    code_hash: str = Field(max_length=64)
    used_at: datetime | None = None


class OAuthIdentity(SQLModel, table=True):
    __tablename__ = "oauth_identities"
    __table_args__ = (UniqueConstraint("provider", "subject"),)

    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=64)
    subject: str = Field(max_length=255)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow)


class RefreshToken(SQLModel, table=True):
    """One row per issued refresh token; `family_id` ties a login's rotations together."""

    __tablename__ = "refresh_tokens"

    jti: str = Field(primary_key=True, max_length=64)
    family_id: str = Field(max_length=64, index=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    expires_at: datetime
    used_at: datetime | None = None  # set when rotated; a second use revokes the family
    revoked_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class ApiKey(SQLModel, table=True):
    """An API key: public `prefix` to find the row, HMAC digest to check the secret."""

    __tablename__ = "api_keys"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    prefix: str = Field(max_length=32, unique=True, index=True)
    key_hash: str = Field(max_length=64)
    scopes: str = Field(max_length=200)  # comma-separated: ingest,query,admin
    rate_limit_per_minute: int | None = None  # None: the configured default
    rate_limit_per_day: int | None = None
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime | None = None  # set by rotation: valid until the grace period ends
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None
    replaced_by_id: int | None = Field(default=None, foreign_key="api_keys.id")

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(s for s in self.scopes.split(",") if s)
