"""A fake embedder for unit tests whose vectors depend on the words (unlike MockEmbedding's
constant vectors), so similarity-based choices can be tested without loading a model."""

from __future__ import annotations

import hashlib
import re

from llama_index.core.base.embeddings.base import BaseEmbedding

DIM = 64


def _vector(text: str) -> list[float]:
    vector = [0.0] * DIM
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        vector[int(hashlib.md5(word.encode()).hexdigest(), 16) % DIM] += 1.0
    return vector


class BagOfWordsEmbedding(BaseEmbedding):
    """Hashed bag of words; records the size of every batch and every question it embeds."""

    batches: list[int] = []
    questions: list[str] = []

    @classmethod
    def class_name(cls) -> str:
        return "BagOfWordsEmbedding"

    def _get_query_embedding(self, query: str) -> list[float]:
        self.questions.append(query)
        return _vector(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return _vector(text)

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        self.batches.append(len(texts))
        return [_vector(t) for t in texts]
