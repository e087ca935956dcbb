"""The embeddable widget on other sites: a textbook page on an allowed origin gets the chat
panel and answers; a page on a disallowed origin gets nothing, and cannot frame the chat or
call the API itself. Three real servers: Folio, and two sites serving a page with the tag."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from playwright.sync_api import expect

from tests.e2e.conftest import book_server
from tests.utils.apps import mock_index
from tests.utils.http import free_port, serve_in_thread

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

FRAME = "iframe[title='Folio: ask the book']"


def textbook_site(folio: str) -> FastAPI:
    """A publisher's page that embeds the widget with the documented one-line tag."""
    app = FastAPI()
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>The Sourdough Handbook, chapter 3</title></head>
<body><main><h1>Chapter 3: Fermentation</h1><p>Fermentation is where flour and water come
alive.</p></main>
<script src="{folio}/widget.js" data-folio-url="{folio}" async></script></body></html>"""

    @app.get("/", response_class=HTMLResponse)
    def home() -> str:
        return page

    return app


@pytest.fixture(scope="module")
def sites(browser, tmp_path_factory):  # type: ignore[no-untyped-def]
    folio_port, good_port, bad_port = free_port(), free_port(), free_port()
    folio = f"http://127.0.0.1:{folio_port}"
    good, bad = f"http://localhost:{good_port}", f"http://localhost:{bad_port}"
    root = tmp_path_factory.mktemp("e2e-widget")
    api = {"allowed_origins": [good]}
    with book_server(root, None, mock_index, index_first=True, port=folio_port, api=api):
        with serve_in_thread(textbook_site(folio), port=good_port):
            with serve_in_thread(textbook_site(folio), port=bad_port):
                yield {"folio": folio, "good": good, "bad": bad}


def test_widget_on_an_allowed_site_answers(sites, open_page) -> None:
    page, watch = open_page()
    sent = []
    page.on("request", lambda r: sent.append(r) if r.url.startswith(sites["folio"]) else None)
    page.goto(sites["good"] + "/")
    launcher = page.get_by_role("button", name="Ask the book")
    expect(launcher).to_have_attribute("aria-expanded", "false")
    launcher.click()
    expect(launcher).to_have_attribute("aria-expanded", "true")
    chat = page.frame_locator(FRAME)
    expect(chat.locator("#question")).to_be_focused()
    chat.locator("#question").fill("How long does bulk fermentation take?")
    chat.locator("#question").press("Enter")
    turn = chat.locator("article.turn").first
    expect(turn.locator(".cite-button").first).to_be_visible()
    turn.locator(".cite-button").first.click()
    expect(chat.locator("#passage mark")).to_be_visible()
    follow = chat.locator("article.turn").nth(1)
    chat.locator("#question").fill("And why is that?")
    chat.locator("#question").press("Enter")
    expect(follow.locator(".rewritten")).to_contain_text("bulk fermentation")

    # The host page's scripts cannot reach into the chat: it is another origin's document.
    reach = page.evaluate(
        """() => {
          const frame = document.querySelector('[data-folio-widget]').shadowRoot
            .querySelector('iframe');
          try { return frame.contentDocument === null ? 'no access' : 'access'; }
          catch (e) { return 'no access'; }
        }"""
    )
    assert reach == "no access"
    # The widget holds no key: nothing it sends carries one.
    assert any(r.url.endswith("/messages/stream") for r in sent)
    for request in sent:
        headers = {k.lower() for k in request.headers}
        assert not headers & {"x-api-key", "authorization"}, request.url

    chat.get_by_role("button", name="Close the chat").click()
    expect(launcher).to_have_attribute("aria-expanded", "false")
    expect(launcher).to_be_focused()
    expect(page.locator(FRAME)).to_be_hidden()
    # Reopened, the conversation is still there for follow-ups.
    launcher.click()
    expect(chat.locator("article.turn")).to_have_count(2)
    expect(chat.locator("#question")).to_be_focused()
    watch.assert_clean()


def test_widget_on_a_disallowed_site_is_refused(sites, open_page) -> None:
    page, watch = open_page()
    with page.expect_console_message(lambda m: "may not embed" in m.text):
        page.goto(sites["bad"] + "/")
    assert page.locator("[data-folio-widget]").count() == 0
    expect(page.get_by_role("button", name="Ask the book")).to_have_count(0)
    # Framing the chat by hand: Folio's CSP frame-ancestors makes the browser refuse it.
    with page.expect_console_message(lambda m: "frame-ancestors" in m.text):
        page.evaluate(
            """folio => {
              const frame = document.createElement('iframe');
              frame.src = folio + '/widget';
              document.body.append(frame);
            }""",
            sites["folio"],
        )
    page.wait_for_timeout(500)
    assert not any(
        f.url.startswith(sites["folio"]) and f.locator("#ask-form").count() for f in page.frames
    )
    # Calling the API from the page's own script: CORS refuses it too.
    outcome = page.evaluate(
        """folio => fetch(folio + '/query', {method: 'POST',
              headers: {'Content-Type': 'application/json'},
              body: JSON.stringify({query: 'What is autolyse?'})})
            .then(() => 'answered', () => 'blocked')""",
        sites["folio"],
    )
    assert outcome == "blocked"
    assert not watch.dialogs and not watch.errors


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_widget_page_accessibility(sites, open_page, scheme: str) -> None:
    """axe-core on the chat inside the frame (opened directly), empty and answered."""
    from axe_playwright_python.sync_playwright import Axe

    page, watch = open_page(
        sites["folio"] + "/widget", viewport={"width": 380, "height": 600}, color_scheme=scheme
    )
    page.fill("#question", "What is autolyse?")
    page.press("#question", "Enter")
    page.locator("article.turn .cite-button").first.click()
    expect(page.locator("#passage")).to_be_visible()
    violations = [
        f"{v['id']} ({v['impact']}): {v['help']}"
        for v in Axe().run(page).response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not violations, violations
    watch.assert_clean()
