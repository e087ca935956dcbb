"""The extractive synthesizer: answers offline with the passage sentences that answer best.

It takes the retrieved nodes in rank order; passage i is cited as `[i]`. The LLM-backed
synthesizer is in `indexes/llm_synthesizer.py`.
"""

from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from collections.abc import AsyncGenerator, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.base.response.schema import RESPONSE_TYPE
from llama_index.core.llms import MockLLM
from llama_index.core.prompts.mixin import PromptDictType
from llama_index.core.response_synthesizers import BaseSynthesizer
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle, QueryType
from llama_index.core.types import RESPONSE_TEXT_TYPE
from pydantic import BaseModel

from indexes.answer_signals import (
    holds_kind,
    is_meta,
    missing_concepts,
    question_body,
    question_kind,
    restates,
)
from indexes.config import SynthesisConfig
from indexes.sentence_vectors import sentence_key, stored_vectors
from indexes.term_match import TermMatcher, content_words
from indexes.text import WORD, split_sentences, stem, terms

DEFAULT_NO_ANSWER = "I could not find an answer in the indexed content."

_NEGATION = re.compile(r"\b(?:without|not|no|never|cannot|nor)\b|\b\w+n't\b", re.IGNORECASE)
# A sentence that refers back has a pronoun as a subject or possessive ("It usually takes 4 to
# 6 hours", "at 24 °C it usually takes …", "These acids …"); a pronoun as an object ("some
# bakers extend it to several hours") refers inside the sentence.
_REFERS_BACK = re.compile(
    r"\b(?:its|their|these|those|such)\b|\b(?:it|they|this|there)\b"
    r"(?!\s*(?:to|for|with|in|on|into|from|at|by|off|out|up|over|[,.;:!?)]|$))",
    re.IGNORECASE,
)
# A sentence that refers back counts the previous sentence's terms at this share.
CONTEXT_SHARE = 0.8
# Weights of (meaning, words, rank, answer kind, negation, meta, restatement) and the margin
# for a further sentence. Words, rank, kind and negation are fitted on half of SQuAD DEV's
# articles by benchmarks/answer_calibration.py (with the not-found threshold, config:
# synthesis.answer_threshold); meaning is the unit; meta and restatement are set by rule,
# since SQuAD has almost no such sentences. Kind is at least 0.4 so that the sample book's
# "who" and "what is X" questions lead with the name and the definition (SQuAD alone would
# take 0.0, within 0.0012 of 0.4 on the fit half).
WEIGHTS = np.array([1.0, 1.0, 0.2, 0.4, -0.2, -0.5, -1.0])
MARGIN = 0.3


@dataclass
class Sentence:
    source: int  # 1-based passage number
    position: int  # order inside the passage
    text: str  # verbatim substring of the passage
    score: float = 0.0
    terms: frozenset[str] = frozenset()  # its content terms (see `terms`)
    context: frozenset[str] = frozenset()  # the previous sentence's, when this one refers back
    previous: str = ""  # the sentence it refers back to


def _unit_rows(vectors: Sequence[Sequence[float]]) -> np.ndarray:
    matrix = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


class ExtractiveSynthesizer(BaseSynthesizer):
    """Offline answerer: the passage sentence that best answers the question, cited, and a
    further sentence only when it adds to the answer.

    Every candidate sentence of the retrieved passages is scored against the question, with
    weights calibrated on SQuAD DEV (`benchmarks/answer_calibration.py`):

    - meaning: cosine of the question's and the sentence's embeddings (the index's own embedder,
      one batched call through LlamaIndex's `BaseEmbedding`, so any runtime behind it works;
      vectors are cached per process, and only the `max_candidates` best sentences by the
      signals below are embedded);
    - words: the idf-weighted share of the question's content terms the sentence contains
      (BM25 idf over the candidate sentences, so a term found nowhere weighs most: a question
      about something the content never names scores low). A sentence that refers back ("it
      usually takes 4 to 6 hours") also counts the previous sentence's terms, at 0.8;
    - rank: 1 / the rank of the passage the sentence comes from;
    - answer kind: the sentence holds the kind of thing asked for (a duration for "how long",
      a date for "when", a name for "who", a definition for "what is X";
      `indexes/answer_signals.py`), times its words share, so a kind alone lifts no unrelated
      sentence over the threshold;
    - negation: the sentence negates a question term ("without forming an ear"), a penalty;
    - meta: the sentence is about the text ("In this chapter, we'll talk about …"), a penalty;
    - restatement: for "how do I know when P?", a sentence taking P as its premise ("Once P,
      …"), a penalty; a sentence referring back to it does not inherit its words either.

    Question words are those after the question's frame ("long" in "how long" asks for a
    duration, it is no topic), and a word no candidate contains counts where a sentence holds a
    close synonym ("fridge" / "refrigerator", `indexes/term_match.py`). A question whose
    privative concept ("gluten-free") no passage names is not answered.

    The best sentence leads. When even it scores below `threshold`, the content does not answer
    the question and `select` returns nothing ("not found"). Another sentence is added only when
    it scores within `MARGIN` of the lead *and* contains a question term that no chosen sentence
    covers: a second sentence that says the same thing is padding. Sentences are copied
    verbatim, so every citation can be checked by string search.

    As a LlamaIndex synthesizer it implements `get_response` / `aget_response`: the answer as
    one string, or (`streaming=True`) sentence by sentence; the Response's `metadata["found"]`
    says whether the passages answered at all.
    """

    def __init__(
        self,
        *,
        embed_model: BaseEmbedding,
        max_sentences: int = 3,
        no_answer: str = "",
        threshold: float = -1.0,
        max_candidates: int = 12,
        cache_size: int = 20_000,
        streaming: bool = False,
        **kwargs: Any,
    ) -> None:
        # BaseSynthesizer needs an LLM object: without one it resolves `Settings.llm` (OpenAI,
        # which fails without a key, or is built and pinned globally with one) and reads its
        # metadata to size prompts. MockLLM is LlamaIndex's own "no LLM" (`resolve_llm(None)`);
        # this synthesizer never calls it.
        super().__init__(
            llm=MockLLM(),
            streaming=streaming,
            empty_response=no_answer or DEFAULT_NO_ANSWER,
            **kwargs,
        )
        self._embed_model = embed_model
        self._max_sentences = max_sentences
        self._no_answer = no_answer or DEFAULT_NO_ANSWER
        self.threshold = threshold
        self._max_candidates = max_candidates
        # Sentence vectors, rebuilt from the passages on demand: popular passages are embedded
        # once per process, not once per question.
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._matcher = TermMatcher(embed_model)

    @classmethod
    def from_config(
        cls, cfg: SynthesisConfig, embed_model: BaseEmbedding, *, streaming: bool = False
    ) -> ExtractiveSynthesizer:
        """The synthesizer `synthesis` in config describes, over the index's embedder."""
        return cls(
            embed_model=embed_model,
            max_sentences=cfg.max_sentences,
            no_answer=cfg.no_answer,
            threshold=cfg.answer_threshold,
            max_candidates=cfg.candidate_sentences,
            streaming=streaming,
        )

    def _get_prompts(self) -> PromptDictType:
        return {}  # it writes no prompt

    def _update_prompts(self, prompts: PromptDictType) -> None:
        return None

    def synthesize(
        self,
        query: QueryType,
        nodes: list[NodeWithScore],
        additional_source_nodes: Sequence[NodeWithScore] | None = None,
        **response_kwargs: Any,
    ) -> RESPONSE_TYPE:
        """LlamaIndex's `synthesize`, handing `get_response` what the nodes hold besides their
        LLM text (see `evidence`). `metadata["found"]` is False when no sentence reached the
        threshold; the text is then `no_answer`."""
        evidence = {**self.evidence(query, nodes), **response_kwargs}
        return super().synthesize(query, nodes, additional_source_nodes, **evidence)

    async def asynthesize(
        self,
        query: QueryType,
        nodes: list[NodeWithScore],
        additional_source_nodes: Sequence[NodeWithScore] | None = None,
        **response_kwargs: Any,
    ) -> RESPONSE_TYPE:
        """`synthesize`, async."""
        evidence = {**self.evidence(query, nodes), **response_kwargs}
        return await super().asynthesize(query, nodes, additional_source_nodes, **evidence)

    @staticmethod
    def evidence(query: QueryType, nodes: Sequence[NodeWithScore]) -> dict[str, Any]:
        """`get_response`'s keyword arguments for these nodes: the passages without their
        metadata header (sentences are quoted from the text itself), the sentence vectors the
        chunks carry, and the question's embedding the retriever left on the bundle."""
        return {
            "passages": [n.node.get_content(metadata_mode=MetadataMode.NONE) for n in nodes],
            "sentence_vectors": stored_vectors(list(nodes)),
            "query_embedding": query.embedding if isinstance(query, QueryBundle) else None,
        }

    def get_response(
        self, query_str: str, text_chunks: Sequence[str], **response_kwargs: Any
    ) -> RESPONSE_TEXT_TYPE:
        """The answer: a string, or its sentences one by one when streaming; a `Refusal` when
        no sentence reaches the threshold. `response_kwargs` may carry `passages` (used
        instead of `text_chunks`), `sentence_vectors` and `query_embedding` (see `evidence`)."""
        pieces = self._pieces(query_str, text_chunks, response_kwargs)
        if not pieces:
            return Refusal()
        return _iterate(pieces) if self._streaming else "".join(pieces)

    async def aget_response(
        self, query_str: str, text_chunks: Sequence[str], **response_kwargs: Any
    ) -> RESPONSE_TEXT_TYPE:
        """`get_response`, async (the work itself is synchronous)."""
        pieces = self._pieces(query_str, text_chunks, response_kwargs)
        if not pieces:
            return Refusal(asynchronous=True)
        return _aiterate(pieces) if self._streaming else "".join(pieces)

    def _pieces(
        self, query_str: str, text_chunks: Sequence[str], hints: Mapping[str, Any]
    ) -> list[str]:
        bundle = QueryBundle(query_str, embedding=hints.get("query_embedding"))
        passages = hints.get("passages")
        chosen = self.select(
            bundle,
            list(text_chunks if passages is None else passages),
            stored=hints.get("sentence_vectors"),
        )
        return self.pieces(chosen)

    def _prepare_response_output(
        self, response_str: RESPONSE_TEXT_TYPE | None, source_nodes: list[NodeWithScore]
    ) -> RESPONSE_TYPE:
        """LlamaIndex's step from `get_response`'s value to a Response, plus
        `metadata["found"]`: a `Refusal` becomes the `no_answer` text (streamed when
        streaming) with `found: False`."""
        found = not isinstance(response_str, Refusal)
        if isinstance(response_str, Refusal):
            response_str = self._refusal(response_str)
        response = super()._prepare_response_output(response_str, source_nodes)
        response.metadata = {**(response.metadata or {}), "found": found}
        return response

    def _refusal(self, refusal: Refusal) -> RESPONSE_TEXT_TYPE:
        if not self._streaming:
            return self._no_answer
        if refusal.asynchronous:
            return self._empty_response_agenerator()
        return self._empty_response_generator()

    def candidates(self, passages: list[str]) -> list[Sentence]:
        """Sentences of the passages in rank order, each once. A sentence that refers back
        ("it usually takes 4 to 6 hours") carries the terms of the one before it as context."""
        sentences: list[Sentence] = []
        seen: set[str] = set()
        for i, passage in enumerate(passages):
            previous: frozenset[str] = frozenset()
            before = ""
            for j, text in enumerate(split_sentences(passage)):
                own = frozenset(terms(text))
                if text not in seen:  # overlapping chunks repeat sentences; cite the first
                    seen.add(text)
                    refers = bool(_REFERS_BACK.search(text))
                    sentences.append(
                        Sentence(
                            source=i + 1,
                            position=j,
                            text=text,
                            terms=own,
                            context=previous if refers else frozenset(),
                            previous=before if refers else "",
                        )
                    )
                previous, before = own, text
        return sentences

    def shortlist(self, query: QueryBundle | str, sentences: list[Sentence]) -> list[Sentence]:
        """At most `max_candidates` sentences, the best by the signals that need no model
        (words, rank, answer kind, negation, meta, restatement): they alone are embedded."""
        if len(sentences) <= self._max_candidates:
            return sentences
        rows, _ = self._lexical(_question(query), sentences)
        best = np.argsort(-(rows @ WEIGHTS[1:]), kind="stable")[: self._max_candidates]
        return [sentences[i] for i in sorted(best)]

    def features(
        self,
        query: QueryBundle | str,
        sentences: list[Sentence],
        stored: Mapping[str, np.ndarray] | None = None,
    ) -> tuple[np.ndarray, dict[str, float]]:
        """One row per sentence: (meaning, words, rank, answer kind, negation, meta,
        restatement) as described in the class docstring, and the idf of each question term."""
        bundle = query if isinstance(query, QueryBundle) else QueryBundle(query)
        question = bundle.embedding or self._embed_model.get_query_embedding(bundle.query_str)
        meaning = self._vectors([s.text for s in sentences], stored) @ _unit_rows([question])[0]
        rows, idf = self._lexical(bundle.query_str, sentences, synonyms=True)
        return np.column_stack([meaning, rows]), idf

    def _lexical(
        self, question: str, sentences: list[Sentence], *, synonyms: bool = False
    ) -> tuple[np.ndarray, dict[str, float]]:
        """The columns that need no sentence vector: words, rank, answer kind, negation, meta,
        restatement. With `synonyms`, a question word no sentence contains counts where a
        sentence holds a close synonym (`indexes.term_match`); that may call the embedder."""
        body = question_body(question)
        asked = set(terms(body))
        idf = term_idf(asked, [s.terms for s in sentences])
        total = sum(idf.values()) or 1.0
        soft: list[dict[str, float]] = [{} for _ in sentences]
        if synonyms:
            missing = {
                t: w
                for t, w in content_words(body).items()
                if t in idf and not any(t in s.terms or t in s.context for s in sentences)
            }
            soft = self._matcher.matches(missing, [s.text for s in sentences])

        def share(found: frozenset[str], near: dict[str, float]) -> float:
            exact = sum(w for t, w in idf.items() if t in found)
            return (exact + sum(idf[t] * c for t, c in near.items() if t not in found)) / total

        kind = question_kind(question)
        # what a sentence refers back to counts, unless that only restated the question
        context = [
            s.context if not (s.previous and restates(question, s.previous, kind)) else frozenset()
            for s in sentences
        ]
        words = [
            max(share(s.terms, near), CONTEXT_SHARE * share(s.terms | c, near))
            for s, c, near in zip(sentences, context, soft, strict=True)
        ]
        texts = [s.text for s in sentences]
        return np.column_stack(
            [
                words,
                [1.0 / s.source for s in sentences],
                np.asarray(answer_kind_match(question, texts)) * np.asarray(words),
                negates(question, texts, asked),
                [float(is_meta(t)) for t in texts],
                [float(restates(question, t, kind)) for t in texts],
            ]
        ).astype(float), idf

    def _vectors(
        self, texts: list[str], stored: Mapping[str, np.ndarray] | None = None
    ) -> np.ndarray:
        """Unit vectors of the sentences: those the chunks carry (computed at ingest, see
        indexes/sentence_vectors.py), cached ones from memory, the rest in one batch."""
        known: dict[str, np.ndarray] = {}
        if stored:
            for t in texts:
                vector = stored.get(sentence_key(t))
                if vector is not None:
                    known[t] = vector
        with self._lock:
            for t in texts:
                if t not in known and t in self._cache:
                    known[t] = self._cache[t]
                    self._cache.move_to_end(t)
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            fresh = _unit_rows(self._embed_model.get_text_embedding_batch(missing))
            known.update(zip(missing, fresh, strict=True))
            with self._lock:
                for t, v in zip(missing, fresh, strict=True):
                    self._cache[t] = v
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return np.stack([known[t] for t in texts])

    def select(
        self,
        query: QueryBundle | str,
        passages: list[str],
        stored: Mapping[str, np.ndarray] | None = None,
    ) -> list[Sentence]:
        """The chosen sentences, best first; empty when none reaches the threshold. `stored`:
        sentence vectors the chunks carry (`stored_vectors(nodes)`)."""
        if missing_concepts(_question(query), passages):
            return []  # "gluten-free": the passages never name what the question is about
        sentences = self.shortlist(query, self.candidates(passages))
        if not sentences:
            return []
        rows, idf = self.features(query, sentences, stored)
        for sentence, score in zip(sentences, rows @ WEIGHTS, strict=True):
            sentence.score = round(float(score), 4)
        ranked = sorted(sentences, key=lambda s: -s.score)
        lead = ranked[0]
        if lead.score < self.threshold:
            return []
        chosen = [lead]
        covered = (lead.terms | lead.context) & idf.keys()  # what it refers back to counts
        for sentence in ranked[1:]:
            if len(chosen) >= self._max_sentences or sentence.score < lead.score - MARGIN:
                break
            new = (sentence.terms & idf.keys()) - covered
            if new:  # it answers a part of the question the chosen ones do not touch
                chosen.append(sentence)
                covered |= new
        return chosen

    @staticmethod
    def pieces(chosen: list[Sentence]) -> list[str]:
        """The answer's text as streamed: each sentence with its citation, space-joined."""
        return [f"{' ' if i else ''}{s.text} [{s.source}]" for i, s in enumerate(chosen)]

    def render(self, chosen: list[Sentence]) -> str:
        """The answer's text, or `no_answer` when nothing was chosen."""
        return "".join(self.pieces(chosen)) or self._no_answer

    def answer(self, query: QueryBundle | str, passages: list[str]) -> str:
        """The answer's text for plain passages (no nodes, no stored vectors)."""
        return self.render(self.select(query, passages))


class Refusal(BaseModel):
    """`ExtractiveSynthesizer.get_response`'s value when the passages do not answer the
    question; `asynchronous` when it came from `aget_response` (its stream must be async)."""

    asynchronous: bool = False


def _iterate(pieces: list[str]) -> Generator[str, None, None]:
    yield from pieces


async def _aiterate(pieces: list[str]) -> AsyncGenerator[str, None]:
    for piece in pieces:
        yield piece


def answer_kind_match(question: str, sentences: list[str]) -> list[float]:
    """1 for a sentence holding the kind of answer the question asks for, beyond the
    question's own words (`indexes.answer_signals.holds_kind`): a duration for "how long", a
    date for "when", a name for "who", a definition of X for "what is X", else 0."""
    kind = question_kind(question)
    return [float(holds_kind(kind, text, question)) for text in sentences]


def negates(question: str, sentences: list[str], asked: set[str]) -> list[float]:
    """1 for a sentence that negates something the question asks for ("without forming an
    ear" for "how do I get an ear?"): it says the opposite. 0 when the question negates too."""
    if _NEGATION.search(question):
        return [0.0] * len(sentences)
    out = []
    for text in sentences:
        words = WORD.findall(text.lower())
        hit = any(
            _NEGATION.fullmatch(w) and any(stem(x) in asked for x in words[i + 1 : i + 4])
            for i, w in enumerate(words)
        )
        out.append(float(hit))
    return out


def _question(query: QueryBundle | str) -> str:
    return query.query_str if isinstance(query, QueryBundle) else query


def term_idf(query_terms: set[str], sentence_terms: list[frozenset[str]]) -> dict[str, float]:
    """BM25's idf of each question term over the candidate sentences; a term no sentence
    contains gets the highest weight, so leaving it out costs the most."""
    n = len(sentence_terms)
    return {
        t: math.log(1 + (n + 0.5) / (sum(t in ts for ts in sentence_terms) + 0.5))
        for t in query_terms
    }
