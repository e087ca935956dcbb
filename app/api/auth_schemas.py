"""Request/response models for /auth, /keys and /users. Strings refuse control characters
and lone surrogates."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.core.textcheck import text_problem


def _no_controls(value: str) -> str:
    if (problem := text_problem(value)) is not None:
        raise ValueError(problem)
    return value


SafeStr = Annotated[str, AfterValidator(_no_controls)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisterRequest(_Input):
    email: SafeStr = Field(max_length=320)
    password: SafeStr = Field(max_length=200)


class LoginRequest(_Input):
    email: SafeStr = Field(max_length=320)
    password: SafeStr = Field(max_length=200)
    totp_code: SafeStr | None = Field(default=None, max_length=12)
    recovery_code: SafeStr | None = Field(default=None, max_length=40)


class RefreshRequest(_Input):
    refresh_token: SafeStr = Field(max_length=4096)


class TotpEnrollRequest(_Input):
    password: SafeStr = Field(max_length=200, description="The account's password, again")


class TotpConfirmRequest(_Input):
    code: SafeStr = Field(max_length=12)


class MfaRequest(_Input):
    mfa_token: SafeStr = Field(max_length=4096, description="From an MFA challenge")
    totp_code: SafeStr | None = Field(default=None, max_length=12)
    recovery_code: SafeStr | None = Field(default=None, max_length=40)


class OAuthLinkRequest(_Input):
    password: SafeStr = Field(max_length=200, description="The account's password, again")


class OAuthLinkStart(BaseModel):
    authorization_url: str = Field(description="Send the browser here; the callback links")


class TotpEnrollment(BaseModel):
    secret: str
    otpauth_uri: str


class RecoveryCodes(BaseModel):
    recovery_codes: list[str] = Field(description="Shown once; each works one time")


class UserPublic(BaseModel):
    id: int
    email: str
    is_active: bool
    totp_enabled: bool
    created_at: datetime


class KeyCreate(_Input):
    name: SafeStr = Field(min_length=1, max_length=100)
    scopes: list[SafeStr] = Field(min_length=1, max_length=3, examples=[["ingest", "query"]])
    rate_limit_per_minute: int | None = Field(default=None, ge=1, le=1_000_000)
    rate_limit_per_day: int | None = Field(default=None, ge=1, le=1_000_000_000)


class KeyRotate(_Input):
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
        data = {name: getattr(key, name) for name in cls.model_fields if name != "scopes"}
        return cls(scopes=sorted(key.scope_set), **data)  # type: ignore[attr-defined]


class KeyCreated(KeyPublic):
    key: str = Field(description="The API key. Shown only in this response; store it now.")


class KeysPublic(BaseModel):
    data: list[KeyPublic]
