"""A fake OpenAI-compatible chat server for tests: replies with a scripted completion.

It records the requests it got, so tests can check the prompt carried numbered sources.
"""

from __future__ import annotations

import time

from fastapi import FastAPI, Request


def make_fake_openai_app(reply: str) -> FastAPI:
    app = FastAPI()
    app.state.requests = []

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> dict:
        body = await request.json()
        app.state.requests.append({"body": body, "auth": request.headers.get("authorization")})
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
            "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
        }

    return app
