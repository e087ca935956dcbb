"""Query engine: retrieve (dense, top-k) → similarity cutoff → synthesize with citations."""

from __future__ import annotations

import time

from llama_index.core import VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.postprocessor import SimilarityPostprocessor
from llama_index.core.response_synthesizers import BaseSynthesizer
from llama_index.core.schema import NodeWithScore, QueryBundle
from llama_index.core.vector_stores.types import BasePydanticVectorStore

from indexes.config import IndexConfig
from indexes.models import Answer, Source
from indexes.synthesizer import ExtractiveSynthesizer, LLMCitationSynthesizer


class FolioQueryEngine:
    """Answers one question; holds no per-request state, so one instance serves all requests."""

    def __init__(
        self,
        *,
        cfg: IndexConfig,
        vector_store: BasePydanticVectorStore,
        embed_model: BaseEmbedding,
        synthesizer: BaseSynthesizer,
        mode: str,
    ) -> None:
        self.cfg = cfg
        self.mode = mode
        self.embed_model = embed_model
        self.synthesizer = synthesizer
        self._index = VectorStoreIndex.from_vector_store(vector_store, embed_model=embed_model)
        self._cutoff = SimilarityPostprocessor(similarity_cutoff=cfg.retrieval.similarity_cutoff)

    @classmethod
    def from_config(
        cls,
        cfg: IndexConfig,
        *,
        vector_store: BasePydanticVectorStore,
        embed_model: BaseEmbedding,
    ) -> FolioQueryEngine:
        """Pick the synthesizer from `synthesis.mode` (auto → llm only when a key is set)."""
        mode = cfg.synthesis.effective_mode
        synthesizer: BaseSynthesizer
        match mode:
            case "llm":
                from indexes.llms import build_llm

                synthesizer = LLMCitationSynthesizer(
                    llm=build_llm(cfg.synthesis), prompt=cfg.synthesis.prompt
                )
            case _:
                synthesizer = ExtractiveSynthesizer(
                    max_sentences=cfg.synthesis.max_sentences,
                    no_answer=cfg.synthesis.no_answer,
                )
        return cls(
            cfg=cfg,
            vector_store=vector_store,
            embed_model=embed_model,
            synthesizer=synthesizer,
            mode=mode,
        )

    def retrieve(self, question: str, top_k: int | None = None) -> list[NodeWithScore]:
        """Passages above the similarity cutoff, best first, at most `max_citations`."""
        k = top_k or self.cfg.retrieval.top_k
        retriever = self._index.as_retriever(similarity_top_k=k)
        bundle = QueryBundle(question)
        try:
            nodes = retriever.retrieve(bundle)
        except ValueError as exc:
            if "not found" in str(exc).lower() or "collection" in str(exc).lower():
                return []  # nothing indexed yet
            raise
        nodes = self._cutoff.postprocess_nodes(nodes, query_bundle=bundle)
        return nodes[: self.cfg.synthesis.max_citations]

    def query(self, question: str, top_k: int | None = None) -> Answer:
        """Retrieve and answer; an empty retrieval gives a plain 'not found' answer."""
        started = time.perf_counter()
        nodes = self.retrieve(question, top_k)
        if not nodes:
            return Answer(
                answer=self.cfg.synthesis.no_answer,
                mode=self.mode,
                found=False,
                latency_ms=(time.perf_counter() - started) * 1000,
            )
        response = self.synthesizer.synthesize(QueryBundle(question), nodes)
        invalid = (response.metadata or {}).get("invalid_citations", [])
        return Answer(
            answer=str(response.response or ""),
            sources=to_sources(nodes),
            mode=self.mode,
            invalid_citations=invalid,
            latency_ms=(time.perf_counter() - started) * 1000,
        )


def to_sources(nodes: list[NodeWithScore]) -> list[Source]:
    """Number passages 1..n in rank order, as the synthesizers cite them."""
    sources = []
    for n, item in enumerate(nodes, start=1):
        meta = item.node.metadata
        sources.append(
            Source(
                n=n,
                node_id=item.node.node_id,
                document_id=str(meta.get("source_id") or item.node.ref_doc_id or ""),
                book=meta.get("book"),
                chapter=meta.get("chapter"),
                section=meta.get("section"),
                text=item.node.get_content(),
                score=round(float(item.score), 4) if item.score is not None else None,
                char_start=meta.get("char_start"),
                char_end=meta.get("char_end"),
            )
        )
    return sources
