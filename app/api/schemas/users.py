"""An account as `/auth/me` and `/users` show it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class UserPublic(BaseModel):
    id: int
    email: str
    is_active: bool
    totp_enabled: bool
    created_at: datetime
