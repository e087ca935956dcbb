"""Where answering work runs: a few threads sized to the cores, behind an admission limit.

The model and Qdrant release the GIL, so a handful of threads keep both cores busy; more threads
only queue on the same cores while holding memory (and, before, database connections). Requests
beyond `max_pending` (running + waiting, streams included until they end) are refused at once
with 503 and `Retry-After`, so an overload shows up as a clear, retryable answer instead of a
30 s wait or a 500.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from prometheus_client import Counter, Gauge

from app.core.errors import FolioError

T = TypeVar("T")

PENDING = Gauge("folio_answer_pending", "Answering requests running or waiting for a thread")
REFUSED = Counter("folio_answer_refused_total", "Answering requests refused by the admission limit")


class Overloaded(FolioError):
    """Every answering slot is taken: 503 `overloaded` with Retry-After."""

    code, status = "overloaded", 503


def default_workers() -> int:
    """Two threads per core: while one waits on Qdrant or the model, the other computes."""
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
        """Requests admitted and not yet finished."""
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
        """Count one admitted request out."""
        with self._lock:
            self._pending -= 1
            PENDING.set(self._pending)

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        """`fn(*args, **kwargs)` on a pool thread, with this request's context (request id,
        token counters) carried over; no admission (see `run` and `Slot`)."""
        context = contextvars.copy_context()
        return self._executor.submit(context.run, fn, *args, **kwargs)

    async def run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Admit one request and run `fn(*args, **kwargs)` for it on a pool thread."""
        slot = self.slot()
        try:
            return await slot.run(fn, *args, **kwargs)
        finally:
            slot.close()

    def slot(self) -> Slot:
        """Admit one request (503 when full) that may run several pieces of work (a stream)."""
        return Slot(self)

    def close(self) -> None:
        """Stop taking work; queued work is cancelled (the lifespan is ending)."""
        self._executor.shutdown(wait=False, cancel_futures=True)


class Slot:
    """One admitted request. Its work runs on the pool one piece at a time, and its place is
    given back when it is closed and no piece is running: released when the work ends, not
    when the caller stops waiting (a client that hangs up does not free the thread its
    question is running on)."""

    def __init__(self, pool: AnswerPool) -> None:
        pool.admit()
        self._pool = pool
        self._running: Future[Any] | None = None
        self._closed = False
        self._lock = threading.Lock()  # a response's background task may close it too

    async def run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """`fn(*args, **kwargs)` on a pool thread, for this request."""
        if self._closed:
            raise RuntimeError("this answering slot is closed")
        self._running = self._pool.submit(fn, *args, **kwargs)
        return await asyncio.wrap_future(self._running)

    def close(self, then: Callable[[], object] | None = None) -> None:
        """Give the place back once the running piece (if any) has ended; `then` runs first,
        at that moment (e.g. closing the iterator the pieces came from). Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True

        def finish(_: object = None) -> None:
            try:
                if then is not None:
                    then()
            finally:
                self._pool.release()

        running = self._running
        if running is None or running.done():
            finish()
        else:
            running.add_done_callback(finish)
