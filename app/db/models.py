"""SQLModel tables. Change a table → add an Alembic revision (`alembic revision --autogenerate`).

Secrets are never stored in clear: API keys and recovery codes as HMAC-SHA-256 digests,
passwords as bcrypt hashes, refresh tokens by their id only (the token is a signed JWT), TOTP
secrets AES-GCM encrypted (`app.core.security.encrypt_totp_secret`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True, index=True)
    password_hash: str | None = Field(default=None, max_length=100)  # None: OAuth-only account
    is_active: bool = True
    totp_secret: str | None = Field(default=None, max_length=255)  # "v1:" + AES-GCM, base64
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


class ChatSession(SQLModel, table=True):
    """A conversation. `id` is unguessable (it is the only credential of an anonymous reader);
    `owner` is the identity subject (user:<id>, key:<id>, bootstrap) or `anonymous`."""

    __tablename__ = "chat_sessions"

    id: str = Field(primary_key=True, max_length=64)
    owner: str = Field(max_length=100, index=True)
    title: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    last_active_at: datetime = Field(default_factory=utcnow, index=True)


class Message(SQLModel, table=True):
    """One question and its answer inside a session, with the sources it cited."""

    __tablename__ = "messages"

    id: int | None = Field(default=None, primary_key=True)
    session_id: str = Field(
        foreign_key="chat_sessions.id", index=True, ondelete="CASCADE", max_length=64
    )
    question: str
    standalone_question: str  # what was actually retrieved with (follow-ups rewritten)
    answer: str
    sources: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    mode: str = Field(max_length=32)
    latency_ms: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    embedding_tokens: int = 0
    created_at: datetime = Field(default_factory=utcnow)


class Feedback(SQLModel, table=True):
    """A reader's rating of one answer; one per message per identity (the last one wins)."""

    __tablename__ = "feedback"
    __table_args__ = (UniqueConstraint("message_id", "subject"),)

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="messages.id", index=True, ondelete="CASCADE")
    subject: str = Field(max_length=100)
    rating: int
    comment: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(default_factory=utcnow)


class UsageRecord(SQLModel, table=True):
    """Tokens and cost of one answering request, with who made it."""

    __tablename__ = "usage_records"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    subject: str = Field(max_length=100, index=True)
    key_id: int | None = None
    user_id: int | None = None
    endpoint: str = Field(max_length=64)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    embedding_tokens: int = 0
    cost_usd: float = 0.0
    cached: bool = False


class SecretFingerprint(SQLModel, table=True):
    """Which server secret the stored data was made with: HMAC-SHA-256 of a fixed label under
    the secret (never the secret). `key_pepper`: API keys, recovery codes, TOTP secrets."""

    __tablename__ = "secret_fingerprints"

    name: str = Field(primary_key=True, max_length=32)
    fingerprint: str = Field(max_length=64)
    recorded_at: datetime = Field(default_factory=utcnow)


class Job(SQLModel, table=True):
    """One upload indexed in the background (app/services/jobs.py). `worker` and
    `lease_until` are the claim: a job runs only under a claim taken by one atomic UPDATE, and
    a claim whose worker stopped renewing it expires, so a crashed run is resumed, not lost."""

    __tablename__ = "jobs"

    id: str = Field(primary_key=True, max_length=32)
    kind: str = Field(default="upload", max_length=32)
    owner: str = Field(max_length=100, index=True)  # identity subject: key:<id>, bootstrap
    owner_admin: bool = False  # the submitter had `admin`: it may replace any API document
    state: str = Field(default="queued", max_length=16, index=True)
    stage: str = Field(default="queued", max_length=32)
    progress: float = 0.0
    filename: str = Field(max_length=255)
    media_type: str = Field(max_length=32)  # as sniffed: pdf | html | markdown | text
    size_bytes: int
    document_id: str = Field(max_length=512)
    book: str | None = Field(default=None, max_length=300)
    chapter: str | None = Field(default=None, max_length=300)
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    error_code: str | None = Field(default=None, max_length=64)
    error_message: str | None = Field(default=None, max_length=1000)
    attempts: int = 0
    worker: str | None = Field(default=None, max_length=100)  # the claim's (or last) holder
    lease_until: datetime | None = None
    enqueued_at: datetime = Field(default_factory=utcnow)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    started_at: datetime | None = None
    finished_at: datetime | None = None


class JobInput(SQLModel, table=True):
    """The uploaded bytes of a job that has not finished: in the database, so any replica or
    worker can run it after a restart. Deleted when the job succeeds or fails."""

    __tablename__ = "job_inputs"

    job_id: str = Field(foreign_key="jobs.id", primary_key=True, ondelete="CASCADE", max_length=32)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
