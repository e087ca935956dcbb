"""Paraphrased question words: "fridge" in the question, "refrigerator" in the book.

The answerer's word signal counts the question's terms a sentence contains. A reader who says
"fridge" where the book says "refrigerator" gets no credit for it, and the answer falls under the
not-found threshold although the book covers the question. Here a question word that no
candidate sentence contains is compared, by the embedder's own vectors of single words, with the
content words of the candidates; a word at cosine >= `SYNONYM_COSINE` counts as the question's
word, at its cosine. MiniLM puts true synonyms well above that line (fridge/refrigerator 0.95,
largest/biggest 0.92, buy/purchase 0.85) and related words below it (fridge/freezer 0.67,
done/ready 0.60, salt/flour 0.40).

Word vectors are cached per process (a book's vocabulary is a few thousand words); a model call
happens only for words not seen before, and only when a question word is missing everywhere.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding

from indexes.text import STOPWORDS, WORD, stem

SYNONYM_COSINE = 0.8  # set from word pairs (module docstring), not fitted to an eval


def content_words(text: str) -> dict[str, str]:
    """stem → the word as written (lower case) for the content words of `text`."""
    out: dict[str, str] = {}
    for word in WORD.findall(text.lower()):
        word = word.replace("’", "'").split("'")[0]
        if word in STOPWORDS or len(word) < 3 or word.isdigit():
            continue
        out.setdefault(stem(word), word)
    return out


class TermMatcher:
    """Finds close synonyms of missing question words among candidate sentences' words."""

    def __init__(self, embed_model: BaseEmbedding, *, cache_size: int = 50_000) -> None:
        self._embed_model = embed_model
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def matches(self, missing: dict[str, str], sentences: Iterable[str]) -> list[dict[str, float]]:
        """For each sentence, {missing question stem: cosine} of its best synonym at or above
        `SYNONYM_COSINE`. `missing`: stem → word as the question wrote it."""
        per_sentence = [content_words(s) for s in sentences]
        if not missing:
            return [{} for _ in per_sentence]
        vocabulary = sorted({w for words in per_sentence for w in words.values()})
        asked = sorted(set(missing.values()))
        vectors = self._vectors(asked + vocabulary)
        index = {w: i for i, w in enumerate(asked + vocabulary)}
        out = []
        for words in per_sentence:
            found: dict[str, float] = {}
            if words:
                rows = vectors[[index[w] for w in words.values()]]
                for term, word in missing.items():
                    best = float(np.max(rows @ vectors[index[word]]))
                    if best >= SYNONYM_COSINE:
                        found[term] = best
            out.append(found)
        return out

    def _vectors(self, words: list[str]) -> np.ndarray:
        with self._lock:
            known = {w: self._cache[w] for w in words if w in self._cache}
            for w in known:
                self._cache.move_to_end(w)
        fresh = [w for w in dict.fromkeys(words) if w not in known]
        if fresh:
            rows = np.asarray(self._embed_model.get_text_embedding_batch(fresh), np.float32)
            rows /= np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
            known.update(zip(fresh, rows, strict=True))
            with self._lock:
                for w, v in zip(fresh, rows, strict=True):
                    self._cache[w] = v
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return np.stack([known[w] for w in words])
