"""The LLM synthesizer: an (OpenAI-compatible) chat model answers from numbered passages.

Its prompt is a LlamaIndex `PromptTemplate` (`synthesis.prompt` in config, with `{sources}` and
`{question}`), visible through `get_prompts()` and replaceable with `update_prompts()`. The model
is asked to cite `[n]`; the markers are checked by whoever turns the response into an answer
(`indexes/query.py`, with `indexes/citations.py`), while streaming as for a whole text.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator, Sequence
from typing import Any

from llama_index.core.llms import LLM
from llama_index.core.prompts import BasePromptTemplate, PromptTemplate
from llama_index.core.prompts.mixin import PromptDictType
from llama_index.core.response_synthesizers import BaseSynthesizer
from llama_index.core.types import RESPONSE_TEXT_TYPE

from indexes.config import SynthesisConfig

PROMPT_KEY = "text_qa_template"  # LlamaIndex's name for a question-answering prompt
PROMPT_VARIABLES = frozenset({"sources", "question"})


class LLMCitationSynthesizer(BaseSynthesizer):
    """Asks an LLM to answer with `[n]` markers, passage n being the n-th retrieved node.

    `get_response` returns the model's text, or (`streaming=True`) its tokens as they arrive.
    """

    def __init__(
        self,
        llm: LLM,
        prompt: str | BasePromptTemplate,
        *,
        no_answer: str | None = None,
        streaming: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(llm=llm, streaming=streaming, empty_response=no_answer, **kwargs)
        self._prompt = _checked(PromptTemplate(prompt) if isinstance(prompt, str) else prompt)

    @classmethod
    def from_config(
        cls, cfg: SynthesisConfig, llm: LLM, *, streaming: bool = False
    ) -> LLMCitationSynthesizer:
        """The synthesizer `synthesis` in config describes, over `llm`."""
        return cls(llm=llm, prompt=cfg.prompt, no_answer=cfg.no_answer, streaming=streaming)

    @property
    def llm(self) -> LLM:
        """The chat model (the condense step of a conversation uses it too)."""
        return self._llm

    def _get_prompts(self) -> PromptDictType:
        return {PROMPT_KEY: self._prompt}

    def _update_prompts(self, prompts: PromptDictType) -> None:
        if PROMPT_KEY in prompts:
            self._prompt = _checked(prompts[PROMPT_KEY])

    def format_prompt(self, question: str, passages: Sequence[str]) -> str:
        """The prompt for one question: passages numbered `[1]`… in rank order."""
        sources = "\n\n".join(f"[{i}] {p}" for i, p in enumerate(passages, start=1))
        return self._prompt.format(sources=sources, question=question)

    def get_response(
        self, query_str: str, text_chunks: Sequence[str], **response_kwargs: Any
    ) -> RESPONSE_TEXT_TYPE:
        """The model's answer, or a generator of its tokens when streaming."""
        prompt = self.format_prompt(query_str, text_chunks)
        if self._streaming:
            return self._tokens(prompt)
        return self._llm.complete(prompt).text

    async def aget_response(
        self, query_str: str, text_chunks: Sequence[str], **response_kwargs: Any
    ) -> RESPONSE_TEXT_TYPE:
        """`get_response`, async."""
        prompt = self.format_prompt(query_str, text_chunks)
        if self._streaming:
            return self._atokens(prompt)
        return (await self._llm.acomplete(prompt)).text

    def _tokens(self, prompt: str) -> Generator[str, None, None]:
        stream = self._llm.stream_complete(prompt)
        try:
            for chunk in stream:
                if chunk.delta:
                    yield chunk.delta
        finally:
            stream.close()  # a reader who stops reading ends the request to the model

    async def _atokens(self, prompt: str) -> AsyncGenerator[str, None]:
        async for chunk in await self._llm.astream_complete(prompt):
            if chunk.delta:
                yield chunk.delta


def _checked(prompt: BasePromptTemplate) -> BasePromptTemplate:
    """A prompt without `{sources}` or `{question}` would answer without the passages."""
    missing = PROMPT_VARIABLES - set(prompt.template_vars)
    if missing:
        raise ValueError(f"the answer prompt lacks {', '.join(sorted(missing))}")
    return prompt
