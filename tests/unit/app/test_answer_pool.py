"""The answer pool's admission: a place is held until the work ends, not until the caller
stops waiting, and a stream's iterator is closed before its place is given back."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from app.services.answer_pool import AnswerPool, Overloaded


async def test_a_slot_is_given_back_when_its_running_piece_ends() -> None:
    pool = AnswerPool(workers=1, max_pending=1)
    gate = threading.Event()
    try:
        slot = pool.slot()
        with pytest.raises(Overloaded):
            pool.slot()
        waiting = asyncio.ensure_future(slot.run(gate.wait, 5))
        await asyncio.sleep(0.05)
        waiting.cancel()  # the client went away; the piece keeps its thread
        seen: list[int] = []
        slot.close(then=lambda: seen.append(pool.pending))
        slot.close()  # idempotent: released once
        assert pool.pending == 1 and seen == []
        gate.set()
        deadline = time.monotonic() + 5
        while pool.pending and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert seen == [1] and pool.pending == 0  # `then` ran before the place was given back
        pool.slot().close()  # the place is free again
    finally:
        gate.set()
        pool.close()


async def test_run_admits_and_releases() -> None:
    pool = AnswerPool(workers=1, max_pending=1)
    try:
        assert await pool.run(lambda x: x * 2, 21) == 42
        assert pool.pending == 0
    finally:
        pool.close()
