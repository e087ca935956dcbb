"""Synonyms for question words no candidate contains: found by word vectors, at or above the
line only, and each word embedded once per process."""

from __future__ import annotations

from llama_index.core.base.embeddings.base import BaseEmbedding

from indexes.term_match import SYNONYM_COSINE, TermMatcher, content_words

# Hand-made 3-d vectors: fridge ~ refrigerator (cosine 0.99), fridge vs counter 0.0.
VECTORS = {
    "fridge": [1.0, 0.0, 0.0],
    "refrigerator": [0.99, 0.14, 0.0],
    "counter": [0.0, 1.0, 0.0],
    "keep": [0.0, 0.0, 1.0],
    "starter": [0.0, 0.7, 0.7],
}


class WordVectors(BaseEmbedding):
    """Fixed word vectors; records every batch it embeds."""

    batches: list[list[str]] = []

    @classmethod
    def class_name(cls) -> str:
        return "WordVectors"

    def _get_query_embedding(self, query: str) -> list[float]:
        return VECTORS.get(query, [0.3, 0.3, 0.3])

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return VECTORS.get(text, [0.3, 0.3, 0.3])

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        self.batches.append(list(texts))
        return [self._get_text_embedding(t) for t in texts]


def test_a_close_synonym_counts_and_a_related_word_does_not():
    model = WordVectors()
    matcher = TermMatcher(model)
    sentences = ["Keep the starter in the refrigerator.", "Keep the starter on the counter."]
    found = matcher.matches({"fridg": "fridge"}, sentences)
    assert list(found[0]) == ["fridg"] and found[0]["fridg"] >= SYNONYM_COSINE
    assert found[1] == {}


def test_each_word_is_embedded_once_per_process():
    model = WordVectors()
    model.batches = []
    matcher = TermMatcher(model)
    sentences = ["Keep the starter in the refrigerator."]
    matcher.matches({"fridg": "fridge"}, sentences)
    matcher.matches({"fridg": "fridge"}, sentences)
    assert len(model.batches) == 1
    assert matcher.matches({}, sentences) == [{}]  # nothing missing: no model call
    assert len(model.batches) == 1


def test_content_words_keep_the_written_form():
    assert content_words("Store the starters in a fridge") == {
        "store": "store",
        "starter": "starters",
        "fridg": "fridge",
    }
