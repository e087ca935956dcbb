"""Answers as Server-Sent Events (text/event-stream).

Events: `delta` `{"text", "text_html"}` (sentences in extractive mode, tokens from an LLM, the
whole answer when the FAQ cache knows it), then one `done` with the full answer, `sources` and
`usage`; a failure after the stream started ends it with one `error` event whose data is the
standard `{"error": {...}}` body. Errors found before the stream starts (validation, auth, rate
limit, overload, an expired session) are plain JSON responses: the routes raise them before
they return `sse_response(...)`.
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from sse_starlette.sse import EventSourceResponse
from starlette.background import BackgroundTask

from app.core.errors import FolioError, error_body, where
from app.services.answering import AnswerStream
from indexes.answers import Answer

log = logging.getLogger("folio.stream")

SSE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "delta… then done (or error)"}
}
"""The OpenAPI `responses` entry of a streaming route."""

Render = Callable[[Answer], dict[str, Any]]


def sse_response(stream: AnswerStream, render: Render) -> EventSourceResponse:
    """The stream as SSE; `render` makes the `done` payload from the final answer. The stream
    is closed when the response ends, even if it was never read (a client gone at once)."""
    return EventSourceResponse(
        answer_events(stream, render), background=BackgroundTask(stream.close)
    )


async def answer_events(stream: AnswerStream, render: Render) -> AsyncIterator[dict[str, str]]:
    """`delta` events, then `done` (or one `error`)."""
    try:
        async for piece in stream:
            if isinstance(piece, Answer):
                yield _event("done", render(piece))
                return
            yield _event("delta", {"text": piece, "text_html": html.escape(piece)})
    except FolioError as exc:  # the answering service has mapped the backend's failures
        yield _event("error", error_body(exc.code, exc.message))
    except Exception as exc:
        log.error("stream failed type=%s at=%s", type(exc).__name__, where(exc))
        yield _event("error", error_body("internal", "Internal error"))
    finally:
        stream.close()


def _event(name: str, payload: dict[str, Any]) -> dict[str, str]:
    return {"event": name, "data": json.dumps(payload, ensure_ascii=False)}
