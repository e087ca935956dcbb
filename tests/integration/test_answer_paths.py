"""One answer path: what streams is the answer, in extractive mode and in LLM mode (against the
fake OpenAI server, tests/utils/fake_openai.py), with a reply citing passages that do not exist.

Each question is answered three ways and the Answers must agree on text, sources, found and
invalid citations: `FolioIndex.query`, `FolioIndex.stream` (deltas joined = final text), and a
query engine whose synthesizer does not stream (a whole Response: `complete` instead of
`stream_complete`, a joined string instead of sentence by sentence)."""

from __future__ import annotations

import shutil

import pytest

from app.core.settings import load_settings
from indexes.answers import Answer
from indexes.folio_index import FolioIndex
from indexes.llm_synthesizer import LLMCitationSynthesizer
from indexes.query import FolioQueryEngine
from indexes.synthesizer import ExtractiveSynthesizer
from tests.utils.builders import write_config
from tests.utils.fake_openai import make_fake_openai_app
from tests.utils.http import serve_in_thread

pytestmark = pytest.mark.integration

# "[2," and "9]." arrive as two tokens: the open marker must wait for its end, then go.
REPLY = (
    "Autolyse is a rest of flour and water [1]. It lasts 30 to 60 minutes [1][7]. "
    "Salt waits [2, 9] ."
)
CLEAN = "Autolyse is a rest of flour and water [1]. It lasts 30 to 60 minutes [1]. Salt waits [2]."
EXTRACTIVE_QUESTIONS = ("What is the windowpane test?", "How do I make gluten-free pizza dough?")


def _index(tmp_path, book_dir, indexed_template, minilm, environ) -> FolioIndex:
    shutil.copytree(indexed_template / "storage", tmp_path / "storage")
    settings = load_settings(write_config(tmp_path, book_dir), environ=environ)
    return FolioIndex.from_config(settings.index, embed_model=minilm)


def _whole(folio: FolioIndex, synthesizer) -> FolioQueryEngine:  # type: ignore[no-untyped-def]
    """The same engine with a synthesizer that answers in one piece."""
    engine = folio.engine
    return FolioQueryEngine(
        cfg=engine.cfg,
        retriever=engine.retriever,
        synthesizer=synthesizer,
        mode=engine.mode,
        tokenizer=engine.tokenizer,
    )


def _streamed(folio: FolioIndex, question: str) -> tuple[list[str], Answer]:
    items = list(folio.stream(question))
    final = items[-1]
    assert isinstance(final, Answer)
    deltas = [i for i in items[:-1] if isinstance(i, str)]
    assert len(deltas) == len(items) - 1 and all(deltas)
    assert "".join(deltas) == final.answer
    return deltas, final


def _same(a: Answer, b: Answer) -> None:
    assert a.answer == b.answer
    assert a.found is b.found
    assert a.invalid_citations == b.invalid_citations
    assert [s.model_dump() for s in a.sources] == [s.model_dump() for s in b.sources]
    assert a.mode == b.mode


def test_extractive_plain_and_streamed_answers_are_equal(
    tmp_path, book_dir, indexed_template, minilm
):
    folio = _index(tmp_path, book_dir, indexed_template, minilm, environ={})
    try:
        whole = _whole(
            folio, ExtractiveSynthesizer.from_config(folio.cfg.synthesis, folio.embed_model)
        )
        found = []
        for question in EXTRACTIVE_QUESTIONS:
            deltas, streamed = _streamed(folio, question)
            plain = folio.query(question)
            _same(plain, streamed)
            _same(plain, whole.answer(question))
            found.append(plain.found)
            if plain.found:
                assert all(d.rstrip().endswith("]") for d in deltas)  # a sentence per piece
            else:
                assert deltas == [folio.cfg.synthesis.no_answer] and plain.sources == []
        assert found == [True, False]
        # LlamaIndex's own query(): the same answer as a Response
        response = folio.engine.query(EXTRACTIVE_QUESTIONS[0])
        plain = folio.query(EXTRACTIVE_QUESTIONS[0])
        assert str(response) == plain.answer and response.metadata is not None
        assert response.metadata["found"] is True and response.metadata["mode"] == "extractive"
        assert [n.node.node_id for n in response.source_nodes] == [s.node_id for s in plain.sources]
    finally:
        folio.close()


def test_llm_plain_and_streamed_answers_are_equal_with_invalid_citations(
    tmp_path, book_dir, indexed_template, minilm
):
    fake = make_fake_openai_app(REPLY)
    with serve_in_thread(fake) as url:
        environ = {"OPENAI_API_KEY": "sk-fake", "OPENAI_BASE_URL": f"{url}/v1"}
        folio = _index(tmp_path, book_dir, indexed_template, minilm, environ)
        try:
            deltas, streamed = _streamed(folio, "What is autolyse?")
            plain = folio.query("What is autolyse?")
            llm = folio.engine.synthesizer
            assert isinstance(llm, LLMCitationSynthesizer)
            whole_engine = _whole(
                folio, LLMCitationSynthesizer.from_config(folio.cfg.synthesis, llm.llm)
            )
            whole = whole_engine.answer("What is autolyse?")
        finally:
            folio.close()
    assert [r["body"].get("stream", False) for r in fake.state.requests] == [True, True, False]
    for answer in (streamed, plain, whole):
        assert answer.mode == "llm" and answer.found
        assert answer.answer == CLEAN
        assert answer.invalid_citations == [7, 9]
        assert len(answer.sources) >= 2
    _same(plain, streamed)
    _same(plain, whole)
    # No delta ever showed a marker (or a piece of one) that the answer drops.
    assert not any("7" in d or "9" in d or d.endswith("[2,") for d in deltas), deltas
    assert plain.usage.prompt_tokens == whole.usage.prompt_tokens == 100  # the server's counts
    assert plain.usage.completion_tokens == 20


def test_llm_prompt_is_a_prompt_template_that_update_prompts_replaces(
    tmp_path, book_dir, indexed_template, minilm
):
    """`get_prompts()` shows the configured prompt; `update_prompts()` changes what is sent."""
    from llama_index.core.prompts import PromptTemplate

    fake = make_fake_openai_app("It is a rest [1].")
    with serve_in_thread(fake) as url:
        environ = {"OPENAI_API_KEY": "sk-fake", "OPENAI_BASE_URL": f"{url}/v1"}
        folio = _index(tmp_path, book_dir, indexed_template, minilm, environ)
        try:
            prompts = folio.engine.get_prompts()
            shown = prompts["synthesizer:text_qa_template"]
            assert isinstance(shown, PromptTemplate)
            assert shown.get_template() == folio.cfg.synthesis.prompt
            folio.engine.update_prompts(
                {"synthesizer:text_qa_template": PromptTemplate("Q={question}\nS={sources}")}
            )
            folio.query("What is autolyse?")
            with pytest.raises(ValueError, match="sources"):
                folio.engine.update_prompts(
                    {"synthesizer:text_qa_template": PromptTemplate("Only {question}")}
                )
        finally:
            folio.close()
    sent = fake.state.requests[-1]["body"]["messages"][-1]["content"]
    assert sent.startswith("Q=What is autolyse?\nS=[1] ")
