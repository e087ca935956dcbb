"""Query engine: retrieve (dense | bm25 | hybrid fusion) → cutoff → synthesize with citations."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.response_synthesizers import BaseSynthesizer
from llama_index.core.schema import BaseNode, MetadataMode, NodeWithScore, QueryBundle
from llama_index.core.vector_stores.types import BasePydanticVectorStore, VectorStoreQuery
from llama_index.vector_stores.qdrant import QdrantVectorStore
from qdrant_client.http.exceptions import UnexpectedResponse

from indexes.bm25 import BM25Index
from indexes.citations import check_citations
from indexes.config import IndexConfig
from indexes.embeddings import build_tokenizer
from indexes.fusion import fuse
from indexes.models import Answer, Source
from indexes.stores import unit_vector
from indexes.synthesizer import ExtractiveSynthesizer, LLMCitationSynthesizer
from indexes.usage import Tokenizer, counting, install_router, new_counter, usage_of


@dataclass
class Hit:
    """One retrieved chunk: its ids, its score in the final ranking, the node when loaded."""

    node_id: str
    doc_id: str
    score: float
    node: BaseNode | None = None


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
        bm25: BM25Index | None = None,
        get_chunk: Callable[[str], BaseNode | None] | None = None,
        tokenizer: Tokenizer | None = None,
    ) -> None:
        self.cfg = cfg
        self.tokenizer = tokenizer
        self.mode = mode
        self.embed_model = embed_model
        self.synthesizer = synthesizer
        self.vector_store = vector_store
        self.bm25 = bm25
        self._get_chunk = get_chunk or (lambda _: None)
        # Used instead of the LLM when the caller says so (over the daily budget).
        self.fallback = ExtractiveSynthesizer.from_config(cfg.synthesis, embed_model)
        if cfg.retrieval.mode != "dense" and bm25 is None:
            raise ValueError(f"retrieval.mode {cfg.retrieval.mode!r} needs a BM25 index")

    @classmethod
    def from_config(
        cls,
        cfg: IndexConfig,
        *,
        vector_store: BasePydanticVectorStore,
        embed_model: BaseEmbedding,
        bm25: BM25Index | None = None,
        get_chunk: Callable[[str], BaseNode | None] | None = None,
    ) -> FolioQueryEngine:
        """Pick the synthesizer from `synthesis.mode` (auto → llm only when a key is set)."""
        mode = cfg.synthesis.effective_mode
        synthesizer: BaseSynthesizer
        install_router(embed_model)
        match mode:
            case "llm":
                from indexes.llms import build_llm

                llm = build_llm(cfg.synthesis)
                install_router(llm)
                synthesizer = LLMCitationSynthesizer(llm=llm, prompt=cfg.synthesis.prompt)
            case _:
                synthesizer = ExtractiveSynthesizer.from_config(cfg.synthesis, embed_model)
        return cls(
            cfg=cfg,
            vector_store=vector_store,
            embed_model=embed_model,
            synthesizer=synthesizer,
            mode=mode,
            bm25=bm25,
            get_chunk=get_chunk,
            tokenizer=build_tokenizer(embed_model),
        )

    # -- retrieval ---------------------------------------------------------------------------

    def search(
        self,
        question: str | QueryBundle,
        k: int,
        *,
        cutoff: float | None = None,
        timings: dict[str, float] | None = None,
    ) -> list[Hit]:
        """The best `k` chunks by `retrieval.mode`, best first; nodes may be unloaded.

        `cutoff` drops dense hits below that cosine. In hybrid it applies before fusion (a chunk
        found only by meaning must pass it, one BM25 also found still counts), and when no chunk
        passes it nothing is returned: a question the content is not about must not be answered
        from incidental keyword matches ("world cup final" → "final proof"). Evals call this
        without a cutoff to see the whole ranking, and pass `timings` to get `embed_ms`. A
        QueryBundle that already carries its embedding skips the embedder.
        """
        bundle = question if isinstance(question, QueryBundle) else QueryBundle(question)
        rcfg = self.cfg.retrieval
        match rcfg.mode:
            case "dense":
                return self._dense(bundle, k, cutoff, timings)
            case "bm25":
                return self._bm25(bundle.query_str, k)
        depth = max(k, rcfg.fusion.candidates)
        dense = self._dense(bundle, depth, cutoff, timings)
        if cutoff is not None and not dense:
            return []
        lexical = self._bm25(bundle.query_str, depth)
        by_id = {h.node_id: h for h in lexical}
        by_id.update({h.node_id: h for h in dense})  # dense hits carry the loaded node
        fused = fuse(
            [[(h.node_id, h.score) for h in dense], [(h.node_id, h.score) for h in lexical]],
            [rcfg.fusion.dense_weight, rcfg.fusion.bm25_weight],
            method=rcfg.fusion.method,
            rrf_k=rcfg.fusion.rrf_k,
        )
        return [
            Hit(node_id, by_id[node_id].doc_id, score, by_id[node_id].node)
            for node_id, score in fused[:k]
        ]

    def _dense(
        self,
        bundle: QueryBundle,
        k: int,
        cutoff: float | None,
        timings: dict[str, float] | None = None,
    ) -> list[Hit]:
        embedding = bundle.embedding
        if embedding is None:
            started = time.perf_counter()
            embedding = self.embed_model.get_query_embedding(bundle.query_str)
            bundle.embedding = embedding  # as LlamaIndex retrievers do: the answerer reuses it
            if timings is not None:
                timings["embed_ms"] = (time.perf_counter() - started) * 1000
        embedding = unit_vector(embedding)  # the stored vectors are unit vectors (DOT)
        try:
            if isinstance(self.vector_store, QdrantVectorStore):
                hits = self._qdrant_ids(embedding, k)
            else:
                result = self.vector_store.query(
                    VectorStoreQuery(query_embedding=embedding, similarity_top_k=k)
                )
                hits = [
                    Hit(node.node_id, str(node.ref_doc_id or ""), float(score), node)
                    for node, score in zip(
                        result.nodes or [], result.similarities or [], strict=True
                    )
                ]
        except (ValueError, UnexpectedResponse) as exc:
            if "not found" in str(exc).lower() or "collection" in str(exc).lower():
                return []  # nothing indexed yet
            raise
        if cutoff is not None:
            hits = [h for h in hits if h.score >= cutoff]
        return hits

    def _qdrant_ids(self, embedding: list[float], k: int) -> list[Hit]:
        """Ids, document ids and scores only: turning 100+ payloads into nodes cost more than
        the search itself (~20 ms); the few passages an answer needs come from the docstore."""
        store = self.vector_store
        assert isinstance(store, QdrantVectorStore)
        guard = getattr(store, "_guard", None) or nullcontext()
        with guard:
            points = store.client.query_points(
                store.collection_name, query=embedding, limit=k, with_payload=["doc_id"]
            ).points
        return [
            Hit(str(p.id), str((p.payload or {}).get("doc_id") or ""), float(p.score))
            for p in points
        ]

    def _bm25(self, question: str, k: int) -> list[Hit]:
        assert self.bm25 is not None
        return [Hit(nid, did, score) for nid, did, score in self.bm25.search(question, k)]

    def retrieve(
        self, question: str | QueryBundle, top_k: int | None = None
    ) -> list[NodeWithScore]:
        """Passages for an answer, best first, at most `max_citations` (dense hits must pass
        `similarity_cutoff`)."""
        k = min(top_k or self.cfg.retrieval.top_k, self.cfg.synthesis.max_citations)
        hits = self.search(question, k, cutoff=self.cfg.retrieval.similarity_cutoff)
        nodes = []
        for hit in hits:
            node = hit.node or self._get_chunk(hit.node_id)
            if node is not None:  # a chunk deleted since BM25 was built is skipped
                nodes.append(NodeWithScore(node=node, score=hit.score))
        return nodes

    def _synth(self, allow_llm: bool) -> tuple[BaseSynthesizer, str]:
        if allow_llm or isinstance(self.synthesizer, ExtractiveSynthesizer):
            return self.synthesizer, self.mode
        return self.fallback, "extractive"

    def query(
        self,
        question: str,
        top_k: int | None = None,
        *,
        allow_llm: bool = True,
        embedding: list[float] | None = None,
    ) -> Answer:
        """Retrieve and answer; an empty retrieval gives a plain 'not found' answer. `usage`
        holds the tokens it cost (embedding, LLM prompt and completion); `allow_llm=False`
        answers extractively even when an LLM is configured."""
        with counting(new_counter(self.tokenizer)) as counter:
            answer = self._query(QueryBundle(question, embedding=embedding), top_k, allow_llm)
        answer.usage = usage_of(counter)
        return answer

    def _query(self, bundle: QueryBundle, top_k: int | None, allow_llm: bool) -> Answer:
        """`bundle` may carry the question's embedding already (the FAQ cache computed it)."""
        started = time.perf_counter()
        synthesizer, mode = self._synth(allow_llm)
        nodes = with_evidence(self.retrieve(bundle, top_k))
        response = synthesizer.synthesize(bundle, nodes) if nodes else None
        if response is None or not (response.metadata or {}).get("found", True):
            return Answer(
                answer=self.cfg.synthesis.no_answer,
                mode=mode,
                found=False,
                latency_ms=(time.perf_counter() - started) * 1000,
            )
        invalid = (response.metadata or {}).get("invalid_citations", [])
        return Answer(
            answer=str(response.response or ""),
            sources=to_sources(nodes),
            mode=mode,
            invalid_citations=invalid,
            latency_ms=(time.perf_counter() - started) * 1000,
        )

    def stream(
        self, question: str, top_k: int | None = None, *, allow_llm: bool = True
    ) -> Iterator[str | Answer]:
        """Like `query`, but yields the answer text as it is produced (sentences in extractive
        mode, tokens from the LLM), then the final Answer. Stopping the iteration stops the
        work: nothing runs ahead of the consumer."""
        counter = new_counter(self.tokenizer)
        inner = self._stream(question, top_k, allow_llm)
        try:
            while True:
                # Each step may run in a different worker thread: count it on this request.
                with counting(counter):
                    try:
                        item = next(inner)
                    except StopIteration:
                        return
                if isinstance(item, Answer):
                    item.usage = usage_of(counter)
                yield item
        finally:
            inner.close()

    def _stream(self, question: str, top_k: int | None, allow_llm: bool) -> Iterator[str | Answer]:
        started = time.perf_counter()
        synth, mode = self._synth(allow_llm)
        bundle = QueryBundle(question)  # retrieval leaves the question's embedding on it
        nodes = with_evidence(self.retrieve(bundle, top_k))
        chosen = None
        if nodes and isinstance(synth, ExtractiveSynthesizer):
            texts = [n.node.get_content(metadata_mode=MetadataMode.NONE) for n in nodes]
            chosen = synth.select(bundle, texts)  # before the first piece: it may be "not found"
        if not nodes or chosen == []:
            yield self.cfg.synthesis.no_answer
            yield Answer(
                answer=self.cfg.synthesis.no_answer,
                mode=mode,
                found=False,
                latency_ms=(time.perf_counter() - started) * 1000,
            )
            return
        invalid: list[int] = []
        if isinstance(synth, LLMCitationSynthesizer):
            texts = [n.node.get_content(metadata_mode=MetadataMode.LLM) for n in nodes]
            raw = ""
            for chunk in synth.llm.stream_complete(synth.build_prompt(question, texts)):
                delta = chunk.delta or ""
                raw += delta
                if delta:
                    yield delta
            text, invalid = check_citations(raw, len(nodes))
        elif chosen is not None:
            pieces = [f"{s.text} [{s.source}]" for s in chosen]
            for i, piece in enumerate(pieces):
                yield piece if i == 0 else " " + piece
            text = " ".join(pieces)
        else:  # any other synthesizer: one piece
            response = synth.synthesize(bundle, nodes)
            text = str(response.response or "")
            yield text
        yield Answer(
            answer=text,
            sources=to_sources(nodes),
            mode=mode,
            invalid_citations=invalid,
            latency_ms=(time.perf_counter() - started) * 1000,
        )


def with_evidence(nodes: list[NodeWithScore]) -> list[NodeWithScore]:
    """Passages an answer may cite: not those whose retrieval score is 0 or below. Min-max
    fusion gives the weakest keyword-only candidate exactly 0, and bm25 scores 0 for no match;
    such a passage carries no evidence, and a source shown as "score 0.0" has no reason."""
    return [n for n in nodes if n.score is None or n.score > 0]


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
