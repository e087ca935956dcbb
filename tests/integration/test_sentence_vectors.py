"""Sentence vectors embedded at ingest (the default): answers are the same as when the answerer
embeds sentences itself, and answering then embeds only the question."""

from __future__ import annotations

import pytest

from tests.utils.builders import write_config
from tests.utils.counting import count_embedded_chunks

pytestmark = pytest.mark.integration

QUESTIONS = [
    "How long does bulk fermentation take?",
    "What is a levain and how do I build it?",
    "How do I score a loaf to get an ear?",
    "Why is my crumb dense?",
    "Gluten-free pizza dough?",
]


def _index(root, book_dir, minilm, mode: str):
    from app.core.settings import load_settings
    from indexes.folio_index import FolioIndex

    root.mkdir()
    config = write_config(root, book_dir, synthesis={"sentence_vectors": mode})
    folio = FolioIndex.from_config(load_settings(config, environ={}).index, embed_model=minilm)
    folio.index_sources()
    return folio


def test_stored_sentence_vectors_give_the_same_answers_without_model_calls(
    tmp_path, book_dir, minilm
):
    from indexes.sentence_vectors import KEY

    stored = _index(tmp_path / "ingest", book_dir, minilm, "ingest")
    computed = _index(tmp_path / "query", book_dir, minilm, "query")
    try:
        some = stored.vector_store.get_nodes(list(stored.vector_store.point_ids())[:3])
        assert all(n.metadata.get(KEY) for n in some)
        assert KEY not in some[0].get_content(metadata_mode="llm")  # never shown to an LLM
        for question in QUESTIONS:
            with count_embedded_chunks() as counter:
                a = stored.query(question)
            assert counter.count == 1, question  # the question only
            b = computed.query(question)
            assert (a.answer, a.found) == (b.answer, b.found), question
    finally:
        stored.close()
        computed.close()
