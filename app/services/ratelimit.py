"""Moving-window rate limits (the `limits` library), in memory or shared through Redis.

Identities are strings such as `key:12`, `user:3`, `ip:10.0.0.1`. With Redis, the moving window
is checked and counted by one Lua script per hit, so concurrent requests on any number of
replicas cannot overshoot the limit.

While Redis is unreachable the limiter does not fail open and does not turn every request into
an error: it counts in an in-process moving window with the same limits (bounded: each replica
enforces them, so N replicas allow at most N times the limit), logs one warning when it starts
and one line when Redis is back, counts each fallback hit in `folio_ratelimit_fallback_total`
and holds `folio_ratelimit_degraded` at 1. It retries Redis every `RETRY_S` seconds.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerDay, RateLimitItemPerMinute
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from prometheus_client import Counter, Gauge

from app.core.errors import RateLimited
from app.core.settings import Settings

log = logging.getLogger("folio.ratelimit")

RETRY_S = 5.0  # while degraded, how often one request tries Redis again
REDIS_TIMEOUT_S = 1.0  # a hung Redis must not hold requests for the TCP timeout

FALLBACK_HITS = Counter(
    "folio_ratelimit_fallback_total", "Rate-limit hits counted in process because Redis was down"
)
DEGRADED = Gauge("folio_ratelimit_degraded", "1 while Redis is unreachable (limits per replica)")


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
        self.shared = bool(uri)
        if uri:
            self.storage = storage_from_string(
                uri,
                key_prefix=key_prefix,
                wrap_exceptions=True,  # every Redis failure arrives as limits' StorageError
                socket_connect_timeout=REDIS_TIMEOUT_S,
                socket_timeout=REDIS_TIMEOUT_S,
            )
        else:
            self.storage = storage_from_string("memory://")
        self.strategy = MovingWindowRateLimiter(self.storage)
        self._local = MovingWindowRateLimiter(storage_from_string("memory://"))
        self._lock = threading.Lock()
        self._degraded_until = 0.0  # monotonic; > now: skip Redis, count in process

    @property
    def degraded(self) -> bool:
        return self._degraded_until > 0.0

    def hit(self, bucket: str, identity: str, *, per_minute: int, per_day: int) -> LimitState:
        """Count one request against both windows; RateLimited (429 + headers) when over."""
        if self.shared and time.monotonic() >= self._degraded_until:
            try:
                state = self._hit(self.strategy, bucket, identity, per_minute, per_day)
            except StorageError as exc:
                self._degrade(exc)
            else:
                self._recover()
                return state
        if self.shared:
            FALLBACK_HITS.inc()
        return self._hit(
            self._local if self.shared else self.strategy, bucket, identity, per_minute, per_day
        )

    def _hit(
        self,
        strategy: MovingWindowRateLimiter,
        bucket: str,
        identity: str,
        per_minute: int,
        per_day: int,
    ) -> LimitState:
        items: list[RateLimitItem] = [
            RateLimitItemPerMinute(per_minute),
            RateLimitItemPerDay(per_day),
        ]
        states: list[LimitState] = []
        for item in items:
            allowed = strategy.hit(item, bucket, identity)
            stats = strategy.get_window_stats(item, bucket, identity)
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

    def _degrade(self, exc: StorageError) -> None:
        with self._lock:
            first = not self.degraded
            self._degraded_until = time.monotonic() + RETRY_S
        if first:
            DEGRADED.set(1)
            cause = type(getattr(exc, "storage_error", exc)).__name__
            log.warning(
                "rate limits: Redis unreachable (%s); counting in process, per replica, "
                "until it answers again",
                cause,
            )

    def _recover(self) -> None:
        if not self.degraded:
            return
        with self._lock:
            self._degraded_until = 0.0
        DEGRADED.set(0)
        log.info("rate limits: Redis answers again; limits are shared by replicas again")

    def check(self) -> str:
        """`ok`, `not configured` (in memory) or why the shared store is not answering."""
        if not self.shared:
            return "not configured"
        try:
            return "ok" if self.storage.check() else "unreachable (limits counted in process)"
        except Exception as exc:
            return f"unreachable ({type(exc).__name__}; limits counted in process)"

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
