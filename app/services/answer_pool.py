"""Where answering work runs: a few threads sized to the cores, behind an admission limit.

The model and Qdrant release the GIL, so a handful of threads keep both cores busy; more threads
only queue on the same cores while holding memory (and, before, database connections). Requests
beyond `max_pending` (running + waiting) are refused at once with 503 and `Retry-After`, so an
overload shows up as a clear, retryable answer instead of a 30 s wait or a 500.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from prometheus_client import Counter, Gauge

from app.core.errors import FolioError

T = TypeVar("T")

PENDING = Gauge("folio_answer_pending", "Answering requests running or waiting for a thread")
REFUSED = Counter("folio_answer_refused_total", "Answering requests refused by the admission limit")


class Overloaded(FolioError):
    code, status = "overloaded", 503


def default_workers() -> int:
    return max(2, 2 * (os.cpu_count() or 1))


class AnswerPool:
    """Runs blocking answering functions off the event loop, at most `workers` at a time."""

    def __init__(self, *, workers: int | None = None, max_pending: int = 256) -> None:
        self.workers = workers or default_workers()
        self.max_pending = max_pending
        self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="folio-answer")
        self._pending = 0
        self._lock = threading.Lock()

    @property
    def pending(self) -> int:
        return self._pending

    def admit(self) -> None:
        """Count one more request in, or refuse it (503) when the limit is reached."""
        with self._lock:
            if self._pending >= self.max_pending:
                REFUSED.inc()
                raise Overloaded(
                    "The server is answering as many questions as it can; retry in a second",
                    headers={"Retry-After": "1"},
                )
            self._pending += 1
            PENDING.set(self._pending)

    def release(self) -> None:
        with self._lock:
            self._pending -= 1
            PENDING.set(self._pending)

    async def run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """`fn(*args, **kwargs)` on a pool thread, with this request's context (request id,
        token counters) carried over."""
        self.admit()
        try:
            context = contextvars.copy_context()
            future = self._executor.submit(context.run, fn, *args, **kwargs)
        except BaseException:
            self.release()
            raise
        # released when the work ends, not when the caller stops waiting (a client that hangs
        # up does not free the thread its question is running on)
        future.add_done_callback(lambda _: self.release())
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
