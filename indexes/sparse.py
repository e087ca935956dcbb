"""BM25 as sparse vectors: term weights per chunk, IDF applied by Qdrant at query time.

A chunk's vector holds BM25's saturated term frequency, tf·(k+1) / (tf + k·(1 − b + b·len/avg_len));
a question's vector holds 1 per term; the collection's sparse vector has `Modifier.IDF`, so Qdrant
multiplies by each term's IDF over the points it holds now. Nothing corpus-wide lives in Folio:
adding a chunk never rewrites the others, and every replica scores the same way.

The tokenizer, stemmer and stopwords are Qdrant's own (`qdrant_edge.Bm25`, whose config has the
shape of the Qdrant server's BM25), used for documents and questions alike in both the embedded
engine and server mode.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from indexes.config import BM25Config

SparseBatch = tuple[list[list[int]], list[list[float]]]


class BM25Encoder:
    """Text → (indices, values) with one BM25 config; the LlamaIndex `SparseEncoderCallable`
    shape is `encode_documents` / `encode_queries`."""

    def __init__(self, cfg: BM25Config) -> None:
        self.cfg = cfg

    @cached_property
    def _model(self) -> Any:
        from qdrant_edge import Bm25, Bm25Config

        return Bm25(
            Bm25Config(
                k=self.cfg.k1,
                b=self.cfg.b,
                avg_len=self.cfg.avg_len,
                language=self.cfg.language,
            )
        )

    def document(self, text: str) -> tuple[list[int], list[float]]:
        vector = self._model.embed_document(text)
        return list(vector.indices), list(vector.values)

    def query(self, text: str) -> tuple[list[int], list[float]]:
        vector = self._model.embed_query(text)
        return list(vector.indices), list(vector.values)

    def encode_documents(self, texts: list[str]) -> SparseBatch:
        pairs = [self.document(t) for t in texts]
        return [p[0] for p in pairs], [p[1] for p in pairs]

    def encode_queries(self, texts: list[str]) -> SparseBatch:
        pairs = [self.query(t) for t in texts]
        return [p[0] for p in pairs], [p[1] for p in pairs]
