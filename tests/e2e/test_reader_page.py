"""The reader's page in a real browser, against a real server over the indexed sample book
(local MiniLM, extractive answers): citations, the cited passage, follow-ups, feedback,
sign-in with TOTP, keyboard use, hostile content, accessibility and screenshots."""

from __future__ import annotations

import re
import time

import httpx
import pyotp
import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from app.db.models import Feedback
from indexes.folio_index import FolioIndex
from tests.e2e.book import section_of
from tests.e2e.conftest import ask, book_server, wait_answered
from tests.utils.apps import admin
from tests.utils.builders import REPO

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

SHOTS = REPO / "docs" / "screenshots"
# Questions whose extractive answer usually cites a second passage (answers lead with one
# sentence and add another only for another part of the question, so these ask two things);
# the test picks the first that does against the index it runs on, and checks the passage
# against the book's files.
CITING_TWO = [
    "What flour and water temperature should I use for the starter?",
    "How long and at what temperature should I bake?",
    "What are autolyse and stretch and folds?",
    "How long does bulk fermentation take?",
    "How do I score the loaf?",
    "What temperature should the dough be?",
]


@pytest.fixture(scope="module")
def server(browser, tmp_path_factory, indexed_template, minilm):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("e2e-page")
    factory = lambda cfg, **kw: FolioIndex(cfg, embed_model=minilm, **kw)  # noqa: E731
    with book_server(root, indexed_template / "storage", factory) as running:
        yield running


def _claim_before(answer: str, marker: str) -> str:
    """The sentence an extractive answer cites with `marker`: text since the previous marker."""
    before = answer.split(marker, 1)[0]
    return re.split(r"\[\d+\]", before)[-1].strip()


def test_ask_then_click_2_opens_the_cited_passage(server, open_page) -> None:
    base, _ = server
    with httpx.Client(base_url=base, timeout=60) as client:
        answers = {q: client.post("/query", json={"query": q}).json()["answer"] for q in CITING_TWO}
    question = next((q for q, answer in answers.items() if "[2]" in answer), None)
    assert question, "no candidate question cites [2] on this index"
    page, watch = open_page(base + "/")
    turn = wait_answered(ask(page, question))
    expect(turn.locator(".question")).to_contain_text(question)
    answer = turn.locator(".answer-text").inner_text()
    assert turn.locator(".cite-button[data-n='2']").count() >= 1
    expect(turn.locator(".sources summary")).to_contain_text("Sources")

    claim = _claim_before(answer, "[2]")
    truth = section_of(claim)  # where the book itself has the quoted sentence
    cite = turn.locator(".cite-button[data-n='2']").first
    cite.click()
    panel = page.locator("#passage")
    expect(panel).to_be_visible()
    expect(panel.locator("[data-passage-title]")).to_have_text("Source [2]")
    expect(panel.locator("[data-passage-chapter]")).to_have_text(truth.chapter)
    expect(panel.locator("[data-passage-section]")).to_have_text(" › ".join(truth.path))
    mark = panel.locator("mark")
    expect(mark).to_have_count(1)
    assert " ".join(mark.inner_text().split()) == " ".join(claim.split())
    expect(panel.locator("[data-passage-note]")).to_contain_text("the sentence the answer quotes")
    passage = " ".join(panel.locator("[data-passage-text]").inner_text().split())
    assert " ".join(claim.split()) in passage
    # Escape closes the panel and gives focus back to the [2] that opened it.
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(cite).to_be_focused()
    ttft = page.evaluate("performance.getEntriesByName('folio:ttft').length")
    assert ttft == 1
    watch.assert_clean()


def test_follow_up_in_the_same_session_with_feedback(server, open_page) -> None:
    base, app = server
    page, watch = open_page(base + "/")
    wait_answered(ask(page, "What is a levain?"))
    follow = wait_answered(ask(page, "How do I build it?"))
    expect(follow.locator(".rewritten")).to_have_text("Searched for: How do I build the levain?")
    expect(follow.locator(".source-link").first).to_contain_text("Chapter 3: Fermentation")
    sessions = page.locator("#session-list .session-link")
    expect(sessions).to_have_count(1)
    expect(sessions.first).to_have_text("What is a levain?")
    expect(sessions.first).to_have_attribute("aria-current", "true")

    follow.get_by_role("button", name="Not helpful").click()
    expect(follow.get_by_role("button", name="Not helpful")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(follow.locator(".feedback-status")).to_have_text("Thanks for the feedback.")
    session_id = page.evaluate("JSON.parse(localStorage.getItem('folio.sessions'))[0].id")
    with httpx.Client(base_url=base) as client:
        messages = client.get(f"/sessions/{session_id}").json()["messages"]
    assert [m["question"] for m in messages] == ["What is a levain?", "How do I build it?"]
    with Session(app.state.db_engine) as db:
        ratings = {f.message_id: f.rating for f in db.exec(select(Feedback)).all()}
    assert ratings.get(messages[1]["id"]) == -1

    page.reload()
    page.locator("#session-list .session-link").first.click()
    expect(page.locator("article.turn")).to_have_count(2)
    expect(page.locator("article.turn").nth(1).locator(".rewritten")).to_contain_text("the levain")
    third = wait_answered(ask(page, "How long does it take to peak?"))
    expect(third.locator(".rewritten")).to_contain_text("levain")
    with httpx.Client(base_url=base) as client:
        assert len(client.get(f"/sessions/{session_id}").json()["messages"]) == 3
    watch.assert_clean()


def test_hostile_chapter_renders_as_text(server, open_page) -> None:
    """An ingested chapter with an <img onerror> and a <script> shows them as text: no dialog,
    no element, no script run, in the answer, the source list or the passage panel."""
    base, _ = server
    img = "<img src=x onerror=alert(1)>"
    script = "<script>window.__folioPwned = 1; alert(2)</script>"
    doc = {
        "chapter": f"Zanzibar Crumb {img}",
        "source_id": "e2e-hostile",
        "content": (
            f"# Zanzibar Crumb {img}\n\n"
            f"Zanzibar crumb is an imaginary open crumb from the test kitchen. {img} "
            f"{script} Zanzibar crumb needs a very wet dough and a very hot oven."
        ),
    }
    with httpx.Client(base_url=base, timeout=60, headers=admin()) as client:
        assert client.post("/ingest", json=doc).status_code == 200
        try:
            page, watch = open_page(base + "/")
            turn = wait_answered(ask(page, f"What is Zanzibar crumb? {img}"))
            expect(turn.locator(".question")).to_contain_text(img)
            expect(turn.locator(".answer-text")).to_contain_text("Zanzibar crumb")
            turn.locator(".cite-button").first.click()
            panel = page.locator("#passage")
            expect(panel.locator("[data-passage-chapter]")).to_have_text(f"Zanzibar Crumb {img}")
            expect(panel.locator("[data-passage-text]")).to_contain_text(script)
            expect(panel.locator("[data-passage-text]")).to_contain_text(img)
            turn.locator(".sources summary").click()
            expect(turn.locator(".source-link").first).to_contain_text(img)
            page.wait_for_timeout(300)  # give a stray onerror / timer a chance to fire
            assert page.locator("#thread img, #passage img").count() == 0
            assert page.locator("#thread script, #passage script").count() == 0
            assert page.evaluate("typeof window.__folioPwned") == "undefined"
            watch.assert_clean()  # no alert() dialog, no CSP/Trusted Types violation
        finally:
            client.delete("/documents/api:e2e-hostile")


def test_sign_in_with_totp_then_sessions_are_the_accounts(server, open_page) -> None:
    base, _ = server
    email, password = f"reader{time.time_ns()}@example.com", "correct horse battery"
    with httpx.Client(base_url=base) as client:
        assert client.post("/auth/register", json={"email": email, "password": password}).is_success
        tokens = client.post("/auth/login", json={"email": email, "password": password}).json()
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        enroll = {"password": password}
        secret = client.post("/auth/totp/enroll", json=enroll, headers=bearer).json()["secret"]
        totp = pyotp.TOTP(secret)
        # Confirm with the previous step's code, so the current one is still unused for login.
        confirm = client.post(
            "/auth/totp/confirm", json={"code": totp.at(time.time() - 30)}, headers=bearer
        )
        assert confirm.is_success, confirm.text

    page, watch = open_page(base + "/")
    page.get_by_role("button", name="Sign in").click()
    dialog = page.locator("#login-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Email").fill(email)
    dialog.get_by_label("Password").fill(password)
    dialog.get_by_role("button", name="Sign in").click()
    expect(dialog.get_by_label("Authenticator code")).to_be_visible()
    expect(dialog.locator("[data-login='message']")).to_contain_text("6-digit code")
    dialog.get_by_label("Authenticator code").fill("000000")
    dialog.get_by_role("button", name="Sign in").click()
    expect(dialog.locator("[data-login='message']")).to_contain_text("Invalid")
    dialog.get_by_label("Authenticator code").fill(totp.now())
    dialog.get_by_role("button", name="Sign in").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#account-name")).to_have_text(f"Signed in as {email}")

    wait_answered(ask(page, "What is autolyse?"))
    expect(page.locator("#session-list .session-link")).to_have_text(["What is autolyse?"])
    assert page.evaluate("localStorage.getItem('folio.sessions')") is None  # server-side list
    page.reload()  # the tab's refresh token signs the reader back in
    expect(page.locator("#account-name")).to_have_text(f"Signed in as {email}")
    expect(page.locator("#session-list .session-link")).to_have_text(["What is autolyse?"])
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.locator("#session-list .session-link")).to_have_count(0)
    watch.assert_clean()


def test_keyboard_only(server, open_page) -> None:
    base, _ = server
    page, watch = open_page(base + "/")
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#question")).to_be_focused()
    page.keyboard.type("What is the windowpane test?")
    page.keyboard.press("Enter")
    turn = wait_answered(page.locator("article.turn").first)
    page.locator("#question").focus()
    for _ in range(30):  # Shift+Tab back from the question box to the first citation
        page.keyboard.press("Shift+Tab")
        if page.evaluate("document.activeElement.classList.contains('cite-button')"):
            break
    else:
        pytest.fail("no citation reachable with the keyboard")
    page.keyboard.press("Enter")
    expect(page.locator("#passage")).to_be_focused()
    expect(page.locator("#passage mark")).to_have_count(1)
    page.keyboard.press("Escape")
    expect(turn.locator(".cite-button").last).to_be_focused()
    watch.assert_clean()


VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_accessibility_and_screenshots(server, open_page, size: str, scheme: str) -> None:
    """axe-core finds no serious or critical violation on the empty page, an answered page with
    the passage open, and the sign-in dialog; the answered page is saved as a screenshot."""
    from axe_playwright_python.sync_playwright import Axe

    base, _ = server
    page, watch = open_page(
        base + "/", viewport=VIEWPORTS[size], color_scheme=scheme, is_mobile=size == "phone"
    )
    axe = Axe()
    problems: list[str] = []

    def check(state: str) -> None:
        for v in axe.run(page).response["violations"]:
            if v["impact"] in ("serious", "critical"):
                targets = [n["target"] for n in v["nodes"]][:3]
                problems.append(f"{state}: {v['id']} ({v['impact']}) {v['help']} at {targets}")

    check("empty")
    turn = wait_answered(ask(page, "How long and at what temperature should I bake?"))
    turn.locator(".sources summary").click()
    turn.locator(".cite-button").last.click()
    expect(page.locator("#passage mark")).to_be_visible()
    check("answered, passage open")
    # Readable at this width: nothing forces sideways scrolling.
    assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")
    if size == "phone":
        assert page.locator("#passage").bounding_box()["width"] <= VIEWPORTS[size]["width"]
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / f"{size}-{scheme}.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Sign in").click()
    check("sign-in dialog")
    assert not problems, "\n".join(problems)
    watch.assert_clean()


def test_phone_conversations_drawer(server, open_page) -> None:
    base, _ = server
    page, watch = open_page(base + "/", viewport=VIEWPORTS["phone"], is_mobile=True)
    drawer = page.locator("#sessions-panel")
    expect(drawer).to_be_hidden()
    wait_answered(ask(page, "What is autolyse?"))
    toggle = page.get_by_role("button", name="Conversations")
    toggle.click()
    expect(drawer).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(drawer.locator(".session-link")).to_have_text(["What is autolyse?"])
    page.keyboard.press("Escape")
    expect(drawer).to_be_hidden()
    expect(toggle).to_be_focused()
    toggle.click()
    drawer.get_by_role("button", name="New conversation").click()
    expect(drawer).to_be_hidden()
    expect(page.locator("article.turn")).to_have_count(0)
    expect(page.locator("#question")).to_be_focused()
    watch.assert_clean()


def test_passage_panel_shows_markdown_as_text_with_the_quote_highlighted(server, open_page):
    """Regression: the passage panel showed raw markdown ("### Oven Spring", **, `code`,
    [links](…)); it shows the text, and the quoted sentence is still the one highlighted."""
    base, _ = server
    page, watch = open_page(base + "/")
    turn = wait_answered(ask(page, "What is oven spring?"))
    answer = turn.locator(".answer-text").inner_text()
    claim = _claim_before(answer, "[1]")
    turn.locator(".cite-button[data-n='1']").first.click()
    panel = page.locator("#passage")
    expect(panel).to_be_visible()
    shown = panel.locator("[data-passage-text]").inner_text()
    assert "Oven Spring" in shown and "#" not in shown, shown
    mark = panel.locator("mark")
    expect(mark).to_have_count(1)
    assert " ".join(mark.inner_text().split()) == " ".join(claim.split())
    rendered = page.evaluate(
        """async () => {
            const { plainText } = await import('/static/js/citations.js');
            const md = '## Baking\\n\\nBake **hot** with [a lid](http://x.test) and `code` '
              + 'or *Leuconostoc*.\\n\\n- one\\n\\n```rust\\nlet y = *x * 2;\\n```\\n\\n> Quote';
            return plainText(md).text;
        }"""
    )
    assert rendered == (
        "Baking\n\nBake hot with a lid and code or Leuconostoc.\n\n• one\n\n"
        "let y = *x * 2;\n\nQuote"
    )
    watch.assert_clean()
