"""Moving-window rate limits (the `limits` library), in memory or shared through Redis.

Identities are strings such as `key:12`, `user:3`, `ip:10.0.0.1`. With Redis, the moving window
is checked and counted by one Lua script per hit, so concurrent requests on any number of
replicas cannot overshoot the limit.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerDay, RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from app.core.errors import RateLimited
from app.core.settings import Settings


@dataclass(frozen=True)
class LimitState:
    limit: int
    remaining: int
    reset: int  # epoch seconds when the tightest window frees a slot

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }


class RateLimiter:
    """One per app (opened in the lifespan); `hit` counts a request or raises RateLimited."""

    def __init__(self, uri: str | None, *, key_prefix: str = "folio-rl") -> None:
        if uri:
            self.storage = storage_from_string(uri, key_prefix=key_prefix)
        else:
            self.storage = storage_from_string("memory://")
        self.strategy = MovingWindowRateLimiter(self.storage)

    def hit(self, bucket: str, identity: str, *, per_minute: int, per_day: int) -> LimitState:
        """Count one request against both windows; RateLimited (429 + headers) when over."""
        items: list[RateLimitItem] = [
            RateLimitItemPerMinute(per_minute),
            RateLimitItemPerDay(per_day),
        ]
        states: list[LimitState] = []
        for item in items:
            allowed = self.strategy.hit(item, bucket, identity)
            stats = self.strategy.get_window_stats(item, bucket, identity)
            state = LimitState(
                limit=item.amount,
                remaining=max(stats.remaining, 0),
                reset=math.ceil(stats.reset_time),
            )
            if not allowed:
                retry_after = max(1, math.ceil(stats.reset_time - time.time()))
                headers = {**state.headers(), "Retry-After": str(retry_after)}
                raise RateLimited(
                    f"Rate limit of {item.amount} per {item.GRANULARITY.name} exceeded; "
                    f"retry in {retry_after} s",
                    headers=headers,
                )
            states.append(state)
        minute = states[0]
        return LimitState(
            limit=minute.limit, remaining=min(s.remaining for s in states), reset=minute.reset
        )

    def reset(self) -> None:
        self.storage.reset()

    def close(self) -> None:
        close = getattr(getattr(self.storage, "storage", None), "close", None)
        if callable(close):
            close()


def account_subject(account: str) -> str:
    """Rate-limit identity of a target account; hashed, so Redis keys hold no email address."""
    return "account:" + hashlib.sha256(account.encode()).hexdigest()[:32]


def hit_account(limiter: RateLimiter, *, settings: Settings, account: str) -> LimitState:
    """Count a password/TOTP attempt against the account it targets, from whichever IP: a
    botnet spreading guesses over many addresses still gets only this many per account."""
    api = settings.api
    return limiter.hit(
        "auth-account",
        account_subject(account),
        per_minute=api.auth_account_rate_limit_per_minute,
        per_day=api.auth_account_rate_limit_per_day,
    )
