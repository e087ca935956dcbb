"""`/auth` and `/auth/oauth`: accounts, logins, TOTP. Strings refuse control characters and
lone surrogates."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.api.schemas.base import SafeStr, StrictInput


class RegisterRequest(StrictInput):
    email: SafeStr = Field(max_length=320)
    password: SafeStr = Field(max_length=200)


class LoginRequest(StrictInput):
    email: SafeStr = Field(max_length=320)
    password: SafeStr = Field(max_length=200)
    totp_code: SafeStr | None = Field(default=None, max_length=12)
    recovery_code: SafeStr | None = Field(default=None, max_length=40)


class RefreshRequest(StrictInput):
    refresh_token: SafeStr = Field(max_length=4096)


class TotpEnrollRequest(StrictInput):
    password: SafeStr = Field(max_length=200, description="The account's password, again")


class TotpConfirmRequest(StrictInput):
    code: SafeStr = Field(max_length=12)


class MfaRequest(StrictInput):
    mfa_token: SafeStr = Field(max_length=4096, description="From an MFA challenge")
    totp_code: SafeStr | None = Field(default=None, max_length=12)
    recovery_code: SafeStr | None = Field(default=None, max_length=40)


class OAuthLinkRequest(StrictInput):
    password: SafeStr = Field(max_length=200, description="The account's password, again")


class OAuthLinkStart(BaseModel):
    authorization_url: str = Field(description="Send the browser here; the callback links")


class TotpEnrollment(BaseModel):
    secret: str
    otpauth_uri: str


class RecoveryCodes(BaseModel):
    recovery_codes: list[str] = Field(description="Shown once; each works one time")
