"""The query engine: retrieve (FolioRetriever: dense | bm25 | hybrid inside Qdrant), synthesize
with citations, and turn the synthesizer's response into an `Answer`.

`FolioQueryEngine` is a LlamaIndex query engine (`BaseQueryEngine`): `query()` gives a LlamaIndex
`Response`. Folio's callers use `stream()` (answer text as it is produced, then the `Answer`) or
`answer()`, which drains `stream()`; LlamaIndex's `query()` drains it too. There is one path per
answer: a synthesizer always streams, and the pieces an LLM writes pass through the same citation
check as a whole text would (`CitationFilter`), so what a reader saw streaming is the answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Generator, Iterator, Sequence

from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.response.schema import (
    RESPONSE_TYPE,
    AsyncStreamingResponse,
    Response,
    StreamingResponse,
)
from llama_index.core.callbacks import CallbackManager
from llama_index.core.prompts.mixin import PromptMixinType
from llama_index.core.response_synthesizers import BaseSynthesizer
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from indexes.answers import Answer, Source
from indexes.citations import CitationFilter
from indexes.config import IndexConfig
from indexes.embeddings import build_tokenizer
from indexes.retriever import FolioRetriever
from indexes.synthesizer import ExtractiveSynthesizer
from indexes.token_counting import Tokenizer, counting, install_router, new_counter, usage_of


class FolioQueryEngine(BaseQueryEngine):
    """Answers one question; holds no per-request state, so one instance serves all requests.

    `synthesizer` answers (built streaming, see `from_config`); `fallback` answers instead
    when the caller forbids the LLM (over the daily budget). Any LlamaIndex synthesizer works;
    the markers of any but the extractive one (which cites by construction) are checked.
    """

    def __init__(
        self,
        *,
        cfg: IndexConfig,
        retriever: FolioRetriever,
        synthesizer: BaseSynthesizer,
        mode: str,
        tokenizer: Tokenizer | None = None,
        fallback: BaseSynthesizer | None = None,
        callback_manager: CallbackManager | None = None,
    ) -> None:
        super().__init__(callback_manager)
        self.cfg = cfg
        self.tokenizer = tokenizer
        self.mode = mode
        self.retriever = retriever
        self.embed_model = retriever.embed_model
        self.synthesizer = synthesizer
        self.fallback = fallback or ExtractiveSynthesizer.from_config(
            cfg.synthesis, retriever.embed_model, streaming=True
        )

    @classmethod
    def from_config(cls, cfg: IndexConfig, *, retriever: FolioRetriever) -> FolioQueryEngine:
        """Pick the synthesizer from `synthesis.mode` (auto → llm only when a key is set)."""
        mode = cfg.synthesis.effective_mode
        synthesizer: BaseSynthesizer
        install_router(retriever.embed_model)
        match mode:
            case "llm":
                from indexes.llm_synthesizer import LLMCitationSynthesizer
                from indexes.llms import build_llm

                llm = build_llm(cfg.synthesis)
                install_router(llm)
                synthesizer = LLMCitationSynthesizer.from_config(cfg.synthesis, llm, streaming=True)
            case _:
                synthesizer = ExtractiveSynthesizer.from_config(
                    cfg.synthesis, retriever.embed_model, streaming=True
                )
        return cls(
            cfg=cfg,
            retriever=retriever,
            synthesizer=synthesizer,
            mode=mode,
            tokenizer=build_tokenizer(retriever.embed_model),
        )

    def _get_prompt_modules(self) -> PromptMixinType:
        """`get_prompts()` / `update_prompts()` reach the synthesizer's prompt through here."""
        return {"synthesizer": self.synthesizer}

    # -- LlamaIndex's query engine interface ---------------------------------------------------

    def retrieve(
        self, query_bundle: QueryBundle | str, top_k: int | None = None
    ) -> list[NodeWithScore]:
        """Passages for an answer, best first, at most `max_citations` (dense hits must pass
        `similarity_cutoff`)."""
        k = min(top_k or self.cfg.retrieval.top_k, self.cfg.synthesis.max_citations)
        retriever = self.retriever if k == self.retriever.k else self.retriever.with_k(k)
        return retriever.retrieve(query_bundle)

    def synthesize(
        self,
        query_bundle: QueryBundle,
        nodes: list[NodeWithScore],
        additional_source_nodes: Sequence[NodeWithScore] | None = None,
    ) -> RESPONSE_TYPE:
        """The synthesizer's response for these passages (streaming, markers unchecked)."""
        return self.synthesizer.synthesize(query_bundle, nodes, additional_source_nodes)

    def _query(self, query_bundle: QueryBundle) -> RESPONSE_TYPE:
        return as_response(self.answer(query_bundle))

    async def _aquery(self, query_bundle: QueryBundle) -> RESPONSE_TYPE:
        return await asyncio.to_thread(self._query, query_bundle)

    # -- Folio's interface -------------------------------------------------------------------

    def answer(
        self, question: str | QueryBundle, top_k: int | None = None, *, allow_llm: bool = True
    ) -> Answer:
        """Retrieve and answer: `stream` drained. An empty retrieval gives a plain "not found"
        answer; `usage` holds the tokens it cost (embedding, LLM prompt and completion);
        `allow_llm=False` answers extractively even when an LLM is configured. A bundle may
        carry the question's embedding already (the FAQ cache computed it)."""
        final: Answer | None = None
        for item in self.stream(question, top_k, allow_llm=allow_llm):
            if isinstance(item, Answer):
                final = item
        assert final is not None  # `stream` always ends with the Answer
        return final

    def stream(
        self, question: str | QueryBundle, top_k: int | None = None, *, allow_llm: bool = True
    ) -> Iterator[str | Answer]:
        """The answer text as it is produced (sentences in extractive mode, tokens from the
        LLM, citation markers checked), then the final Answer, whose text is the pieces joined.
        Stopping the iteration stops the work: nothing runs ahead of the consumer."""
        counter = new_counter(self.tokenizer)
        bundle = question if isinstance(question, QueryBundle) else QueryBundle(question)
        inner = self._run(bundle, top_k, allow_llm)
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

    def _run(
        self, bundle: QueryBundle, top_k: int | None, allow_llm: bool
    ) -> Generator[str | Answer, None, None]:
        """The one answer path. Retrieval leaves the question's embedding on `bundle`."""
        started = time.perf_counter()
        synthesizer, mode = self._synthesizer(allow_llm)
        nodes = with_evidence(self.retrieve(bundle, top_k))
        response = synthesizer.synthesize(bundle, nodes)
        # No passages: LlamaIndex's synthesizers answer `empty_response` (our `no_answer`).
        found = bool(nodes) and bool((response.metadata or {}).get("found", True))
        checked = found and not isinstance(synthesizer, ExtractiveSynthesizer)
        citations = CitationFilter(len(nodes)) if checked else None
        text: list[str] = []
        pieces = _pieces(response)
        try:
            for raw in pieces:
                piece = citations.feed(raw) if citations else raw
                if piece:
                    text.append(piece)
                    yield piece
        finally:
            pieces.close()
        rest = citations.close() if citations else ""
        if rest:
            text.append(rest)
            yield rest
        yield Answer(
            answer="".join(text),
            sources=to_sources(nodes) if found else [],
            mode=mode,
            found=found,
            invalid_citations=citations.invalid if citations else [],
            latency_ms=(time.perf_counter() - started) * 1000,
        )

    def _synthesizer(self, allow_llm: bool) -> tuple[BaseSynthesizer, str]:
        if allow_llm or isinstance(self.synthesizer, ExtractiveSynthesizer):
            return self.synthesizer, self.mode
        return self.fallback, "extractive"


def _pieces(response: RESPONSE_TYPE) -> Generator[str, None, None]:
    """The text of any synthesizer's response, as it comes (closing this closes the stream)."""
    if isinstance(response, StreamingResponse):
        stream = response.response_gen
        try:
            yield from (piece for piece in stream if piece)
        finally:
            stream.close()
    elif isinstance(response, AsyncStreamingResponse):
        raise TypeError("the query engine streams synchronously; use a synchronous synthesizer")
    else:
        yield str(response.response or "")


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


def as_response(answer: Answer) -> Response:
    """An Answer as LlamaIndex's Response: the text, one node per source (its passage and
    metadata), and the rest (found, invalid_citations, mode, usage, latency) as metadata."""
    nodes = [
        NodeWithScore(
            node=TextNode(
                id_=s.node_id,
                text=s.text,
                metadata=s.model_dump(exclude={"n", "node_id", "text", "score"}, exclude_none=True),
            ),
            score=s.score,
        )
        for s in answer.sources
    ]
    return Response(
        answer.answer,
        source_nodes=nodes,
        metadata=answer.model_dump(mode="json", exclude={"answer", "sources"}),
    )
