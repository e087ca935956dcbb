"""LLM synthesis against a fake OpenAI-compatible server: prompts, citations, checks."""

from __future__ import annotations

import pytest

from app.core.settings import load_settings
from indexes.folio_index import FolioIndex
from tests.utils.builders import write_config
from tests.utils.fake_openai import make_fake_openai_app
from tests.utils.http import serve_in_thread

pytestmark = pytest.mark.integration

REPLY = (
    "Autolyse is a rest of flour and water [1]. It lasts 30 to 60 minutes [1][7]. "
    "Salt waits [2, 9]."
)


@pytest.fixture
def fake_openai():
    app = make_fake_openai_app(REPLY)
    with serve_in_thread(app) as url:
        yield app, url


def _llm_index(tmp_path, book_dir, indexed_template, minilm, url):
    import shutil

    shutil.copytree(indexed_template / "storage", tmp_path / "storage")
    config = write_config(tmp_path, book_dir)
    settings = load_settings(
        config, environ={"OPENAI_API_KEY": "sk-fake-test", "OPENAI_BASE_URL": f"{url}/v1"}
    )
    assert settings.synthesis.effective_mode == "llm"
    return FolioIndex.from_config(settings.index, embed_model=minilm)


def test_llm_answer_keeps_valid_citations_and_lists_invalid_ones(
    tmp_path, book_dir, indexed_template, minilm, fake_openai
):
    app, url = fake_openai
    folio = _llm_index(tmp_path, book_dir, indexed_template, minilm, url)
    try:
        answer = folio.query("What is autolyse?")
    finally:
        folio.close()
    assert answer.mode == "llm"
    assert answer.answer == (
        "Autolyse is a rest of flour and water [1]. It lasts 30 to 60 minutes [1]. Salt waits [2]."
    )
    assert answer.invalid_citations == [7, 9]
    assert len(answer.sources) >= 2
    request = app.state.requests[-1]
    assert request["auth"] == "Bearer sk-fake-test"
    prompt = request["body"]["messages"][-1]["content"]
    assert "[1] " in prompt and "Question: What is autolyse?" in prompt
    assert answer.sources[0].text.split("\n")[-1][:40] in prompt


def test_llm_is_not_called_when_nothing_is_retrieved(
    tmp_path, book_dir, indexed_template, minilm, fake_openai
):
    app, url = fake_openai
    folio = _llm_index(tmp_path, book_dir, indexed_template, minilm, url)
    try:
        answer = folio.query("Who won the 1998 world cup final?")
    finally:
        folio.close()
    assert answer.found is False and app.state.requests == []
