"""A fake OpenAI-compatible chat server for tests: replies with a scripted completion.

It records the requests it got, so tests can check the prompt carried numbered sources.
"""

from __future__ import annotations

import json
import time

from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

USAGE = {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}


def make_fake_openai_app(reply: str, *, token_delay_s: float = 0.0) -> FastAPI:
    """`token_delay_s`: pause between streamed words, so a client can watch the text grow."""
    app = FastAPI()
    app.state.requests = []

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> dict:
        body = await request.json()
        app.state.requests.append({"body": body, "auth": request.headers.get("authorization")})
        if body.get("stream"):
            return StreamingResponse(
                _chunks(reply, body, token_delay_s), media_type="text/event-stream"
            )
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply},
                    "finish_reason": "stop",
                }
            ],
            "usage": USAGE,
        }

    return app


def _chunks(reply: str, body: dict, delay: float = 0.0):  # type: ignore[no-untyped-def]
    """The reply as OpenAI streaming chunks, one word (with its trailing space) each, then (when
    `stream_options.include_usage` asks for it, as OpenAI does) a chunk with the usage only."""
    words = reply.split(" ")
    for i, word in enumerate(words):
        if delay and i:
            time.sleep(delay)
        delta = {"role": "assistant", "content": word + (" " if i < len(words) - 1 else "")}
        chunk = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
        }
        yield f"data: {json.dumps(chunk)}\n\n"
    if (body.get("stream_options") or {}).get("include_usage"):
        usage = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [],
            "usage": USAGE,
        }
        yield f"data: {json.dumps(usage)}\n\n"
    yield "data: [DONE]\n\n"
