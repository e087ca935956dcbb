"""LLM synthesizer on LlamaIndex's interfaces: a PromptTemplate that get_prompts/update_prompts
see and use, and one get_response that returns the text or streams it. MockLLM echoes its
prompt, so the prompt is the reply."""

from __future__ import annotations

import pytest
from llama_index.core.base.response.schema import (
    AsyncStreamingResponse,
    Response,
    StreamingResponse,
)
from llama_index.core.llms import MockLLM
from llama_index.core.prompts import PromptTemplate
from llama_index.core.schema import NodeWithScore, TextNode

from indexes.citations import CitationFilter, check_citations
from indexes.llm_synthesizer import PROMPT_KEY, LLMCitationSynthesizer

PROMPT = "Sources:\n{sources}\nQuestion: {question}\nAnswer:"
NODES = [
    NodeWithScore(node=TextNode(text="Autolyse rests flour and water [3]."), score=0.9),
    NodeWithScore(node=TextNode(text="Braces {question} stay as written."), score=0.5),
]


def test_prompt_is_a_template_that_get_prompts_shows():
    synth = LLMCitationSynthesizer(llm=MockLLM(), prompt=PROMPT)
    prompt = synth.get_prompts()[PROMPT_KEY]
    assert isinstance(prompt, PromptTemplate) and prompt.get_template() == PROMPT
    text = synth.format_prompt("What is autolyse?", ["one", "two {question}"])
    assert text == "Sources:\n[1] one\n\n[2] two {question}\nQuestion: What is autolyse?\nAnswer:"


def test_update_prompts_changes_what_the_llm_is_asked():
    synth = LLMCitationSynthesizer(llm=MockLLM(), prompt=PROMPT)
    synth.update_prompts({PROMPT_KEY: PromptTemplate("Q={question} S={sources}")})
    response = synth.synthesize("Why?", NODES[:1])
    assert isinstance(response, Response)
    assert str(response.response) == "Q=Why? S=[1] Autolyse rests flour and water [3]."


def test_a_prompt_without_the_sources_is_refused():
    with pytest.raises(ValueError, match="sources"):
        LLMCitationSynthesizer(llm=MockLLM(), prompt="Answer {question}")
    synth = LLMCitationSynthesizer(llm=MockLLM(), prompt=PROMPT)
    with pytest.raises(ValueError, match="question"):
        synth.update_prompts({PROMPT_KEY: PromptTemplate("{sources}")})


def test_streaming_get_response_yields_what_the_whole_response_says():
    whole = LLMCitationSynthesizer(llm=MockLLM(), prompt=PROMPT).synthesize("Why?", NODES)
    streamed = LLMCitationSynthesizer(llm=MockLLM(), prompt=PROMPT, streaming=True).synthesize(
        "Why?", NODES
    )
    assert isinstance(streamed, StreamingResponse)
    tokens = list(streamed.response_gen)
    assert len(tokens) > 10  # MockLLM streams the prompt character by character
    assert "".join(tokens) == str(whole.response)
    citations = CitationFilter(len(NODES))
    shown = "".join(citations.feed(t) for t in tokens) + citations.close()
    assert (shown, citations.invalid) == check_citations(str(whole.response), len(NODES))
    assert citations.invalid == [3]


async def test_async_streaming_yields_the_same_text():
    synth = LLMCitationSynthesizer(llm=MockLLM(), prompt=PROMPT, streaming=True)
    response = await synth.asynthesize("Why?", NODES)
    assert isinstance(response, AsyncStreamingResponse)
    text = "".join([t async for t in response.async_response_gen()])
    assert text == LLMCitationSynthesizer(llm=MockLLM(), prompt=PROMPT).format_prompt(
        "Why?", [n.node.get_content(metadata_mode="llm") for n in NODES]
    )


def test_no_passages_answers_no_answer_without_calling_the_llm():
    synth = LLMCitationSynthesizer(llm=MockLLM(max_tokens=3), prompt=PROMPT, no_answer="None.")
    assert str(synth.synthesize("Why?", []).response) == "None."
