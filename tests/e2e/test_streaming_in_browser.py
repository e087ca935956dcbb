"""The answer grows on screen while it streams: a fake OpenAI-compatible server (named so)
sends one word every 80 ms; retrieval is real (local MiniLM over the indexed sample book)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from indexes.folio_index import FolioIndex
from tests.e2e.conftest import ask, book_server, wait_answered
from tests.utils.fake_openai import make_fake_openai_app
from tests.utils.http import serve_in_thread

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

REPLY = (
    "A levain is a portion of starter mixed for one bake and used up in the dough [1]. "
    "Many bakers build it in the morning and use it in the afternoon, when it peaks [2]."
)


@pytest.fixture(scope="module")
def server(browser, tmp_path_factory, indexed_template, minilm):  # type: ignore[no-untyped-def]
    fake = make_fake_openai_app(REPLY, token_delay_s=0.08)
    with serve_in_thread(fake) as llm:
        root = tmp_path_factory.mktemp("e2e-stream")
        factory = lambda cfg, **kw: FolioIndex(cfg, embed_model=minilm, **kw)  # noqa: E731
        environ = {"OPENAI_API_KEY": "sk-fake", "OPENAI_BASE_URL": f"{llm}/v1"}
        with book_server(root, indexed_template / "storage", factory, environ=environ) as running:
            yield running


# Records the answer's text length at every DOM change, with whether the turn was still busy.
RECORDER = """() => {
  window.__lengths = [];
  new MutationObserver(() => {
    const turn = document.querySelector('article.turn');
    const text = turn && turn.querySelector('.answer-text');
    if (text) window.__lengths.push([text.textContent.length, turn.hasAttribute('aria-busy')]);
  }).observe(document.getElementById('thread'), {subtree: true, childList: true,
                                                 characterData: true});
}"""


def test_streamed_text_grows_then_citations_appear(server, open_page) -> None:
    base, _ = server
    page, watch = open_page(base + "/")
    page.evaluate(RECORDER)
    turn = ask(page, "What is a levain?")
    # Mid-stream: some words are on screen, the turn is busy, no citation button yet.
    expect(turn.locator(".answer-text")).to_contain_text("A levain is")
    assert turn.get_attribute("aria-busy") == "true"
    assert turn.locator(".cite-button").count() == 0
    wait_answered(turn)
    busy = [n for n, is_busy in page.evaluate("window.__lengths") if is_busy]
    growth = sorted(set(busy))
    assert len(growth) >= 10, f"text seen at only {len(growth)} lengths while streaming"
    assert busy == sorted(busy), "the streamed text shrank"
    assert growth[-1] == len(REPLY)
    # Done: the same text, its [1] and [2] now buttons over the real retrieved sources.
    expect(turn.locator(".answer-text")).to_have_text(REPLY)
    expect(turn.locator(".cite-button")).to_have_text(["[1]", "[2]"])
    expect(turn.locator(".cite-button").first).to_have_attribute(
        "aria-label", "Source 1: Chapter 3: Fermentation › Building the Levain"
    )
    # The model paraphrased: [1] highlights the passage sentence closest to its claim.
    turn.locator(".cite-button[data-n='1']").click()
    expect(page.locator("#passage [data-passage-title]")).to_have_text("Source [1]")
    expect(page.locator("#passage mark")).to_have_text(
        "A levain is a portion of starter that is mixed specifically for one bake and used up "
        "entirely in the dough."
    )
    expect(page.locator("#passage [data-passage-note]")).to_contain_text("closest")
    watch.assert_clean()
