"""The collection schema and the search request shared by both Qdrant stores.

Both stores (Qdrant Edge in process, Qdrant server) hold one point per chunk with a named dense
vector and a sparse BM25 vector, and answer one `SearchSpec`: which ranking (dense, bm25 or
hybrid), how many chunks, how many candidates each list contributes, how hybrid fuses them and
which cosine a dense hit must reach.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from llama_index.core.vector_stores.types import VectorStoreQuery

from indexes.fusion import convex_fusion

DENSE = "dense"  # named dense vector: unit vectors, DOT (ranks exactly like cosine)
SPARSE = "bm25"  # named sparse vector: BM25 term weights, IDF applied by Qdrant
DOC_ID = "doc_id"  # payload key LlamaIndex writes for the chunk's document

FusionMethod = Literal["rrf", "dbsf", "convex"]


@dataclass(frozen=True)
class SearchSpec:
    """One search: `k` results; in hybrid, `candidates` from each list fused by `fusion`.

    `cutoff` is the cosine floor for dense hits. In hybrid it filters the dense list before
    fusion, and when no chunk reaches it the search returns nothing: a question the content is
    not about must not be answered from incidental keyword matches.
    """

    k: int
    candidates: int = 100
    fusion: FusionMethod = "convex"
    dense_weight: float = 0.5
    bm25_weight: float = 0.5
    rrf_k: int = 60
    cutoff: float | None = None

    @classmethod
    def from_query(cls, query: VectorStoreQuery) -> SearchSpec:
        """Defaults for a plain LlamaIndex query (no Folio spec passed)."""
        return cls(
            k=query.hybrid_top_k or query.similarity_top_k,
            candidates=query.sparse_top_k or max(query.similarity_top_k, 100),
        )


def convex_top(
    dense: Sequence[tuple[str, float]], sparse: Sequence[tuple[str, float]], spec: SearchSpec
) -> list[tuple[str, float]]:
    """The best `spec.k` ids by weighted min-max-normalised scores (see fusion.convex_fusion)."""
    return convex_fusion([dense, sparse], [spec.dense_weight, spec.bm25_weight])[: spec.k]


def unit_vector(vector: Sequence[float]) -> list[float]:
    """`vector` scaled to length 1 (a zero vector is returned as is): with unit vectors, DOT
    ranks exactly like COSINE and the engine never re-normalises stored points."""
    norm = math.sqrt(sum(x * x for x in vector))
    if norm == 0.0 or abs(norm - 1.0) < 1e-6:
        return list(vector)
    return [x / norm for x in vector]
