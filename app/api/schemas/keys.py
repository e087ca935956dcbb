"""`/keys`: API keys (scope `admin`). The plaintext key appears only in `KeyCreated`."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from app.api.schemas.base import SafeStr, StrictInput


class KeyCreate(StrictInput):
    name: SafeStr = Field(min_length=1, max_length=100)
    scopes: list[SafeStr] = Field(min_length=1, max_length=3, examples=[["ingest", "query"]])
    rate_limit_per_minute: int | None = Field(default=None, ge=1, le=1_000_000)
    rate_limit_per_day: int | None = Field(default=None, ge=1, le=1_000_000_000)


class KeyRotate(StrictInput):
    grace: SafeStr = Field(default="24h", max_length=12, description="e.g. 30m, 24h, 7d")


class KeyPublic(BaseModel):
    id: int
    name: str
    prefix: str
    scopes: list[str]
    rate_limit_per_minute: int | None
    rate_limit_per_day: int | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    replaced_by_id: int | None

    @classmethod
    def of(cls, key: object) -> KeyPublic:
        """The public view of an `ApiKey` row: its scopes as a sorted list, never its hash."""
        data = {name: getattr(key, name) for name in cls.model_fields if name != "scopes"}
        return cls(scopes=sorted(key.scope_set), **data)  # type: ignore[attr-defined]


class KeyCreated(KeyPublic):
    key: str = Field(description="The API key. Shown only in this response; store it now.")


class KeysPublic(BaseModel):
    data: list[KeyPublic]
