"""Query engine: retrieve (FolioRetriever: dense | bm25 | hybrid inside Qdrant) → synthesize
with citations."""

from __future__ import annotations

import time
from collections.abc import Iterator

from llama_index.core.response_synthesizers import BaseSynthesizer
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle

from indexes.answers import Answer, Source
from indexes.citations import check_citations
from indexes.config import IndexConfig
from indexes.embeddings import build_tokenizer
from indexes.retriever import FolioRetriever
from indexes.sentence_vectors import stored_vectors
from indexes.synthesizer import ExtractiveSynthesizer, LLMCitationSynthesizer
from indexes.token_counting import Tokenizer, counting, install_router, new_counter, usage_of


class FolioQueryEngine:
    """Answers one question; holds no per-request state, so one instance serves all requests."""

    def __init__(
        self,
        *,
        cfg: IndexConfig,
        retriever: FolioRetriever,
        synthesizer: BaseSynthesizer,
        mode: str,
        tokenizer: Tokenizer | None = None,
    ) -> None:
        self.cfg = cfg
        self.tokenizer = tokenizer
        self.mode = mode
        self.retriever = retriever
        self.embed_model = retriever.embed_model
        self.synthesizer = synthesizer
        # Used instead of the LLM when the caller says so (over the daily budget).
        self.fallback = ExtractiveSynthesizer.from_config(cfg.synthesis, retriever.embed_model)

    @classmethod
    def from_config(cls, cfg: IndexConfig, *, retriever: FolioRetriever) -> FolioQueryEngine:
        """Pick the synthesizer from `synthesis.mode` (auto → llm only when a key is set)."""
        mode = cfg.synthesis.effective_mode
        synthesizer: BaseSynthesizer
        install_router(retriever.embed_model)
        match mode:
            case "llm":
                from indexes.llms import build_llm

                llm = build_llm(cfg.synthesis)
                install_router(llm)
                synthesizer = LLMCitationSynthesizer(llm=llm, prompt=cfg.synthesis.prompt)
            case _:
                synthesizer = ExtractiveSynthesizer.from_config(
                    cfg.synthesis, retriever.embed_model
                )
        return cls(
            cfg=cfg,
            retriever=retriever,
            synthesizer=synthesizer,
            mode=mode,
            tokenizer=build_tokenizer(retriever.embed_model),
        )

    def retrieve(
        self, question: str | QueryBundle, top_k: int | None = None
    ) -> list[NodeWithScore]:
        """Passages for an answer, best first, at most `max_citations` (dense hits must pass
        `similarity_cutoff`)."""
        k = min(top_k or self.cfg.retrieval.top_k, self.cfg.synthesis.max_citations)
        retriever = self.retriever if k == self.retriever.k else self.retriever.with_k(k)
        return retriever.retrieve(question)

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
            # before the first piece: it may be "not found"
            chosen = synth.select(bundle, texts, stored=stored_vectors(nodes))
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
