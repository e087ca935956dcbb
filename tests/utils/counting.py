"""Counts chunks sent to the embedder, through LlamaIndex's own instrumentation events."""

from __future__ import annotations

from contextlib import contextmanager

from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.embedding import EmbeddingEndEvent


class EmbeddedChunkCounter(BaseEventHandler):
    count: int = 0

    @classmethod
    def class_name(cls) -> str:
        return "EmbeddedChunkCounter"

    def handle(self, event: BaseEvent, **kwargs) -> None:
        if isinstance(event, EmbeddingEndEvent):
            self.count += len(event.chunks)


@contextmanager
def count_embedded_chunks():
    """`with count_embedded_chunks() as c: ...; c.count` = texts embedded meanwhile."""
    dispatcher = get_dispatcher()
    counter = EmbeddedChunkCounter()
    dispatcher.add_event_handler(counter)
    try:
        yield counter
    finally:
        dispatcher.event_handlers.remove(counter)
