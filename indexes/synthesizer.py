"""Synthesizers that answer from numbered passages: extractive (offline) and LLM-backed.

Both take the retrieved nodes in rank order; passage i is cited as `[i]`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from llama_index.core.base.response.schema import Response
from llama_index.core.llms import LLM
from llama_index.core.prompts.mixin import PromptDictType
from llama_index.core.response_synthesizers import BaseSynthesizer
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle

from indexes.citations import check_citations

_WORD = re.compile(r"[A-Za-z0-9]+(?:['’][a-z]+)?")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\n\s*\n")
_STOPWORDS = frozenset(
    """a about above after again all am an and any are as at be because been before being
    between both but by can could did do does doing down during each few for from further had
    has have having he her here hers how i if in into is it its itself just me more most my no
    nor not now of off on once only or other our out over own same she should so some such than
    that the their them then there these they this those through to too under until up very was
    we were what when where which while who whom why will with would you your yours tell
    explain describe much many one""".split()
)


def terms(text: str) -> list[str]:
    """Lower-cased content words, lightly stemmed (plural and -ing/-ed endings)."""
    out = []
    for word in _WORD.findall(text.lower()):
        word = word.replace("’", "'").split("'")[0]
        if word in _STOPWORDS or len(word) < 2:
            continue
        out.append(_stem(word))
    return out


@lru_cache(maxsize=1)
def _porter() -> Any:
    """nltk ships with llama-index-core; its Porter stemmer is pure Python and needs no data,
    but importing nltk takes ~2 s, so it happens on first use (servers warm it at start-up)."""
    from nltk.stem.porter import PorterStemmer

    return PorterStemmer()


@lru_cache(maxsize=50_000)
def _stem(word: str) -> str:
    return _porter().stem(word)


@dataclass
class Sentence:
    source: int  # 1-based passage number
    position: int  # order inside the passage
    text: str  # verbatim substring of the passage
    score: float = 0.0


def split_sentences(text: str) -> list[str]:
    """Verbatim sentences of a passage, skipping headings, code fences and list bullets."""
    sentences = []
    in_code = False
    for block in re.split(r"\n\s*\n", text):
        stripped = block.strip()
        if stripped.startswith("```"):
            in_code = not in_code if stripped.count("```") % 2 else in_code
            continue
        if in_code or not stripped:
            continue
        lines = [ln for ln in stripped.split("\n") if not ln.lstrip().startswith("#")]
        body = "\n".join(lines).strip()
        for piece in _SENTENCE_END.split(body):
            piece = re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "", piece).strip()
            if len(_WORD.findall(piece)) >= 3:
                sentences.append(piece)
    return sentences


class ExtractiveSynthesizer(BaseSynthesizer):
    """Offline answerer: the sentences of the passages that best match the question, cited.

    Scoring is lexical (idf-weighted overlap of content words, a small bonus for higher-ranked
    passages) so an answer costs no model call; every sentence is copied verbatim from its
    passage, so a citation can always be checked by string search.
    """

    def __init__(self, max_sentences: int = 4, no_answer: str = "", **kwargs: Any) -> None:
        super().__init__(llm=_NoLLM(), streaming=False, **kwargs)
        self._max_sentences = max_sentences
        self._no_answer = no_answer or "I could not find an answer in the indexed content."

    def _get_prompts(self) -> PromptDictType:
        return {}

    def _update_prompts(self, prompts: PromptDictType) -> None:
        return None

    def get_response(self, query_str: str, text_chunks: Sequence[str], **kwargs: Any) -> str:
        return self.answer(query_str, list(text_chunks))

    async def aget_response(self, query_str: str, text_chunks: Sequence[str], **kwargs: Any) -> str:
        return self.answer(query_str, list(text_chunks))

    def synthesize(
        self, query: QueryBundle | str, nodes: list[NodeWithScore], **kwargs: Any
    ) -> Response:
        query_str = query.query_str if isinstance(query, QueryBundle) else query
        texts = [n.node.get_content(metadata_mode=MetadataMode.NONE) for n in nodes]
        return Response(response=self.answer(query_str, texts), source_nodes=nodes)

    async def asynthesize(
        self, query: QueryBundle | str, nodes: list[NodeWithScore], **kwargs: Any
    ) -> Response:
        return self.synthesize(query, nodes, **kwargs)

    def select(self, question: str, passages: list[str]) -> list[Sentence]:
        """Chosen sentences in answer order: by passage rank, then position in the passage."""
        sentences: list[Sentence] = []
        seen: set[str] = set()
        for i, passage in enumerate(passages):
            for j, text in enumerate(split_sentences(passage)):
                if text not in seen:  # overlapping chunks repeat sentences; cite the first
                    seen.add(text)
                    sentences.append(Sentence(source=i + 1, position=j, text=text))
        if not sentences:
            return []
        query_terms = set(terms(question))
        doc_freq: dict[str, int] = {}
        sentence_terms = [set(terms(s.text)) for s in sentences]
        for ts in sentence_terms:
            for t in ts:
                doc_freq[t] = doc_freq.get(t, 0) + 1
        n = len(sentences)
        for s, ts in zip(sentences, sentence_terms, strict=True):
            overlap = query_terms & ts
            idf = sum(math.log(1 + n / doc_freq[t]) for t in overlap)
            s.score = idf / math.sqrt(max(len(ts), 4)) + 0.05 / s.source
        ranked = sorted(sentences, key=lambda s: -s.score)
        best = ranked[0].score
        chosen = [s for s in ranked[: self._max_sentences] if s.score >= best * 0.35]
        if not any(query_terms & ts for ts in sentence_terms):
            # The retriever found the passage by meaning, not words: lead with its opening.
            chosen = [s for s in sentences if s.source == 1][:2]
        return sorted(chosen, key=lambda s: (s.source, s.position))

    def answer(self, question: str, passages: list[str]) -> str:
        chosen = self.select(question, passages)
        if not chosen:
            return self._no_answer
        return " ".join(f"{s.text} [{s.source}]" for s in chosen)


class LLMCitationSynthesizer(BaseSynthesizer):
    """Asks an (OpenAI-compatible) LLM to answer with `[n]` markers, then checks every marker."""

    def __init__(self, llm: LLM, prompt: str, **kwargs: Any) -> None:
        super().__init__(llm=llm, streaming=False, **kwargs)
        self._prompt = prompt

    @property
    def llm(self) -> LLM:
        return self._llm

    def _get_prompts(self) -> PromptDictType:
        return {}

    def _update_prompts(self, prompts: PromptDictType) -> None:
        return None

    def get_response(self, query_str: str, text_chunks: Sequence[str], **kwargs: Any) -> str:
        return self._llm.complete(self.build_prompt(query_str, list(text_chunks))).text

    async def aget_response(self, query_str: str, text_chunks: Sequence[str], **kwargs: Any) -> str:
        return (await self._llm.acomplete(self.build_prompt(query_str, list(text_chunks)))).text

    def build_prompt(self, question: str, passages: list[str]) -> str:
        sources = "\n\n".join(f"[{i}] {p}" for i, p in enumerate(passages, start=1))
        return self._prompt.replace("{sources}", sources).replace("{question}", question)

    def synthesize(
        self, query: QueryBundle | str, nodes: list[NodeWithScore], **kwargs: Any
    ) -> Response:
        query_str = query.query_str if isinstance(query, QueryBundle) else query
        texts = [n.node.get_content(metadata_mode=MetadataMode.LLM) for n in nodes]
        raw = self.get_response(query_str, texts)
        cleaned, invalid = check_citations(raw, len(nodes))
        return Response(
            response=cleaned, source_nodes=nodes, metadata={"invalid_citations": invalid}
        )

    async def asynthesize(
        self, query: QueryBundle | str, nodes: list[NodeWithScore], **kwargs: Any
    ) -> Response:
        query_str = query.query_str if isinstance(query, QueryBundle) else query
        texts = [n.node.get_content(metadata_mode=MetadataMode.LLM) for n in nodes]
        raw = await self.aget_response(query_str, texts)
        cleaned, invalid = check_citations(raw, len(nodes))
        return Response(
            response=cleaned, source_nodes=nodes, metadata={"invalid_citations": invalid}
        )


def _NoLLM() -> LLM:  # noqa: N802 - factory reads like a class at the call site
    """The extractive synthesizer never calls an LLM; a MockLLM keeps BaseSynthesizer happy."""
    from llama_index.core.llms import MockLLM

    return MockLLM()
