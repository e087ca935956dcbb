"""Bulk ingest parses the next batch on a thread while the current one is embedded."""

from __future__ import annotations

import threading

from llama_index.core.schema import Document

from indexes.pipeline import _ahead


def test_each_batch_comes_with_its_own_parse_in_order() -> None:
    batches = [[Document(text=f"doc {b}.{i}") for i in range(b + 1)] for b in range(5)]
    parsed_on: list[str] = []

    def parse(batch: list[Document]) -> list[str]:
        parsed_on.append(threading.current_thread().name)
        return [d.text.upper() for d in batch]

    got = list(_ahead(iter(batches), parse))
    assert [batch for batch, _ in got] == batches
    assert [nodes for _, nodes in got] == [[d.text.upper() for d in b] for b in batches]
    assert all(name.startswith("folio-parse") for name in parsed_on)


def test_the_next_batch_is_parsed_while_the_caller_works() -> None:
    second_started = threading.Event()

    def parse(batch: list[Document]) -> list[str]:
        if batch[0].text == "second":
            second_started.set()
        return [batch[0].text]

    stream = _ahead(iter([[Document(text="first")], [Document(text="second")]]), parse)
    _, first = next(stream)
    assert first == ["first"]
    assert second_started.wait(timeout=10)  # started before the caller asked for it
    assert next(stream)[1] == ["second"]
    assert list(stream) == []


def test_no_batches_parse_nothing() -> None:
    assert list(_ahead(iter([]), lambda batch: [])) == []
