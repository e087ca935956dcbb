"""`FolioRetriever`: the one search path (dense | bm25 | hybrid) as a LlamaIndex `BaseRetriever`.

The query engine, the evals and the benchmarks all retrieve through it. It embeds the question
(unless the bundle already carries its embedding, e.g. from the FAQ cache), then asks the vector
store for one `SearchSpec`; the store does the rest inside Qdrant (see collection.py).
"""

from __future__ import annotations

import time
from typing import Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.schema import NodeWithScore, QueryBundle
from llama_index.core.vector_stores.types import VectorStoreQuery, VectorStoreQueryMode

from indexes.collection import SearchSpec
from indexes.config import RetrievalConfig
from indexes.store_protocol import FolioVectorStore

_MODES = {
    "dense": VectorStoreQueryMode.DEFAULT,
    "bm25": VectorStoreQueryMode.SPARSE,
    "hybrid": VectorStoreQueryMode.HYBRID,
}


class FolioRetriever(BaseRetriever):
    """Top `k` chunks for a question by `retrieval.mode`, best first.

    `cutoff` (default: `retrieval.similarity_cutoff`) is the cosine floor for dense hits; pass
    `use_cutoff=False` to see the whole ranking (evals). `last_timings` holds the embedding and
    search times of the last call made from this thread's caller (benchmarks read it).
    """

    def __init__(
        self,
        *,
        vector_store: FolioVectorStore,
        embed_model: BaseEmbedding,
        cfg: RetrievalConfig,
        k: int | None = None,
        use_cutoff: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.vector_store = vector_store
        self.embed_model = embed_model
        self.cfg = cfg
        self.k = k or cfg.top_k
        self.use_cutoff = use_cutoff
        self.last_timings: dict[str, float] = {}

    def spec(self, k: int | None = None) -> SearchSpec:
        """The SearchSpec of one search returning `k` chunks (default: this retriever's)."""
        fusion = self.cfg.fusion
        return SearchSpec(
            k=k or self.k,
            candidates=max(k or self.k, fusion.candidates),
            fusion=fusion.method,
            dense_weight=fusion.dense_weight,
            bm25_weight=fusion.bm25_weight,
            rrf_k=fusion.rrf_k,
            cutoff=self.cfg.similarity_cutoff if self.use_cutoff else None,
        )

    def with_k(self, k: int) -> FolioRetriever:
        """The same retriever returning `k` chunks (shares the store and the model)."""
        return FolioRetriever(
            vector_store=self.vector_store,
            embed_model=self.embed_model,
            cfg=self.cfg,
            k=k,
            use_cutoff=self.use_cutoff,
            callback_manager=self.callback_manager,
        )

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        mode = _MODES[self.cfg.mode]
        embedding = query_bundle.embedding
        embed_ms = 0.0
        if embedding is None and mode != VectorStoreQueryMode.SPARSE:
            started = time.perf_counter()
            embedding = self.embed_model.get_query_embedding(query_bundle.query_str)
            embed_ms = (time.perf_counter() - started) * 1000
            query_bundle.embedding = (
                embedding  # as LlamaIndex retrievers do: the answerer reuses it
            )
        started = time.perf_counter()
        spec = self.spec()
        result = self.vector_store.query(
            VectorStoreQuery(
                query_embedding=embedding,
                query_str=query_bundle.query_str,
                similarity_top_k=spec.k,
                sparse_top_k=spec.candidates,
                mode=mode,
            ),
            spec=spec,
        )
        self.last_timings = {
            "embed_ms": embed_ms,
            "search_ms": (time.perf_counter() - started) * 1000,
        }
        return [
            NodeWithScore(node=node, score=score)
            for node, score in zip(result.nodes or [], result.similarities or [], strict=True)
        ]
