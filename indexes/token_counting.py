"""Token usage per request, counted by LlamaIndex's TokenCountingHandler.

The embedder and the LLM are shared by all requests, so one routing handler is installed on
their callback managers once; it forwards events to the TokenCountingHandler of the request
that is running in the current context (a ContextVar), so concurrent requests never mix counts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from llama_index.core.callbacks import CallbackManager, CBEventType, TokenCountingHandler
from llama_index.core.callbacks.base_handler import BaseCallbackHandler

from indexes.answers import Usage

Tokenizer = Callable[[str], list[Any]]

_current: ContextVar[TokenCountingHandler | None] = ContextVar("folio_tokens", default=None)
_WORDS = re.compile(r"\w+|[^\w\s]")


def simple_tokenizer(text: str) -> list[str]:
    """Words and punctuation: the fallback when the model's own tokenizer is unknown."""
    return _WORDS.findall(text)


class RequestTokenRouter(BaseCallbackHandler):
    """Forwards events to the current request's TokenCountingHandler, if any."""

    def __init__(self) -> None:
        super().__init__(event_starts_to_ignore=[], event_ends_to_ignore=[])

    def on_event_start(
        self,
        event_type: CBEventType,
        payload: dict[str, Any] | None = None,
        event_id: str = "",
        parent_id: str = "",
        **kwargs: Any,
    ) -> str:
        return event_id

    def on_event_end(
        self,
        event_type: CBEventType,
        payload: dict[str, Any] | None = None,
        event_id: str = "",
        **kwargs: Any,
    ) -> None:
        handler = _current.get()
        if handler is not None:
            handler.on_event_end(event_type, payload, event_id=event_id, **kwargs)

    def start_trace(self, trace_id: str | None = None) -> None:
        return None

    def end_trace(
        self, trace_id: str | None = None, trace_map: dict[str, list[str]] | None = None
    ) -> None:
        return None


def install_router(*components: Any) -> None:
    """Put one RequestTokenRouter on each component's callback manager (idempotent)."""
    for component in components:
        manager = getattr(component, "callback_manager", None)
        if manager is None:
            manager = CallbackManager([])
            component.callback_manager = manager
        if not any(isinstance(h, RequestTokenRouter) for h in manager.handlers):
            manager.add_handler(RequestTokenRouter())


def new_counter(tokenizer: Tokenizer | None) -> TokenCountingHandler:
    return TokenCountingHandler(tokenizer=tokenizer or simple_tokenizer)


@contextmanager
def counting(counter: TokenCountingHandler) -> Iterator[TokenCountingHandler]:
    """Events raised in this block (this thread/context) are counted on `counter`."""
    token = _current.set(counter)
    try:
        yield counter
    finally:
        _current.reset(token)


def usage_of(counter: TokenCountingHandler) -> Usage:
    return Usage(
        prompt_tokens=counter.prompt_llm_token_count,
        completion_tokens=counter.completion_llm_token_count,
        embedding_tokens=counter.total_embedding_token_count,
    )
