"""Answers as Server-Sent Events: `delta` pieces as produced, one `done`, or one `error`.

The blocking index work runs one piece at a time in a worker thread, and only when the consumer
asks for the next event, so a client that disconnects (the SSE response cancels this generator)
stops retrieval/synthesis after the piece in flight; the index iterator is closed at once.
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio

from app.core.errors import FolioError, where
from indexes.answers import Answer

log = logging.getLogger("folio.stream")

_END = object()

DoneHook = Callable[[Answer], dict[str, Any]]


def _event(name: str, payload: dict[str, Any]) -> dict[str, str]:
    return {"event": name, "data": json.dumps(payload, ensure_ascii=False)}


def error_event(exc: BaseException, request_id: str) -> dict[str, str]:
    """The standard error shape, as the data of an `error` event."""
    if isinstance(exc, FolioError):
        code, message = exc.code, exc.message
    else:
        code, message = "unavailable", "The answering backend is unavailable, try again later"
    return _event("error", {"error": {"code": code, "message": message, "request_id": request_id}})


async def answer_events(
    *,
    pieces: Iterator[str | Answer],
    request_id: str,
    render: Callable[[Answer], dict[str, Any]],
    on_done: DoneHook | None = None,
) -> AsyncIterator[dict[str, str]]:
    """`delta` {text} events, then `done` {answer, sources, usage, ...} from `render` and
    `on_done` (which runs in a thread: it may write to the database)."""
    try:
        while True:
            item = await anyio.to_thread.run_sync(next, pieces, _END)
            if item is _END:
                return
            if isinstance(item, Answer):
                extra = await anyio.to_thread.run_sync(on_done, item) if on_done else {}
                yield _event("done", {**render(item), **extra})
                return
            yield _event("delta", {"text": item, "text_html": html.escape(item)})
    except Exception as exc:
        log.error(
            "stream failed request_id=%s type=%s at=%s", request_id, type(exc).__name__, where(exc)
        )
        yield error_event(exc, request_id)
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()
