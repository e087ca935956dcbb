"""What the reader sees when things do not go to plan: no answer in the book, the rate limit
(429 with its retry time), no connection, a stream cut mid-answer, and a server error event.
The server is real (uvicorn, mock embedder, nothing indexed, 2 questions a minute)."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ask, book_server, wait_answered
from tests.utils.apps import mock_index

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


@pytest.fixture(scope="module")
def server(browser, tmp_path_factory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("e2e-states")
    api = {"rate_limit_per_minute": 2}
    with book_server(root, None, mock_index, api=api) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_limits(server) -> None:  # type: ignore[no-untyped-def]
    server[1].state.limiter.reset()


def test_no_answer_found(server, open_page) -> None:
    page, watch = open_page(server[0] + "/")
    turn = wait_answered(ask(page, "What is the capital of Mongolia?"))
    state = turn.locator(".state")
    expect(state).to_have_class(re.compile("state-no-answer"))
    expect(state.locator(".state-title")).to_have_text("No answer found in the book.")
    expect(state).to_contain_text("could not find anything in the indexed content")
    expect(turn.locator(".cite-button")).to_have_count(0)
    expect(page.locator("#announcer")).to_have_text("No answer found.")
    watch.assert_clean()


def test_rate_limit_shows_when_to_ask_again(server, open_page) -> None:
    page, watch = open_page(server[0] + "/")
    for question in ("What is autolyse?", "What is a levain?"):
        wait_answered(ask(page, question))
    with page.expect_response(lambda r: r.url.endswith("/messages/stream")) as info:
        turn = ask(page, "What is a banneton?")
    response = info.value
    assert response.status == 429
    retry_after = int(response.headers["retry-after"])
    wait_answered(turn)
    state = turn.locator(".state")
    expect(state).to_have_class(re.compile("state-rate-limited"))
    expect(state.locator(".state-title")).to_have_text(
        "You have asked too many questions in a short time."
    )
    expect(state.locator(".wait")).to_have_text(re.compile(r"You can ask again in \d+ seconds\."))
    shown = int(re.search(r"\d+", state.locator(".wait").inner_text()).group())
    assert retry_after - 3 <= shown <= retry_after
    expect(page.locator("#ask-button")).to_be_disabled()
    expect(page.locator("#notice")).to_contain_text("Rate limit reached: you can ask again at")
    expect(page.locator("#question")).to_have_value("What is a banneton?")  # kept to resend
    watch.assert_clean()


def test_lost_connection_then_retry(server, open_page) -> None:
    page, watch = open_page(server[0] + "/")
    page.context.set_offline(True)
    expect(page.locator("#offline-banner")).to_be_visible()
    turn = wait_answered(ask(page, "What is autolyse?"))
    expect(turn.locator(".state-title")).to_have_text("Could not reach Folio.")
    expect(turn.locator(".state")).to_contain_text("Check your connection")
    page.context.set_offline(False)
    expect(page.locator("#offline-banner")).to_be_hidden()
    turn.get_by_role("button", name="Try again").click()
    retried = wait_answered(page.locator("article.turn").last)
    expect(retried.locator(".state-title")).to_have_text("No answer found in the book.")
    expect(page.locator("article.turn")).to_have_count(1)
    assert not watch.errors and not watch.dialogs


def _sse(*events: tuple[str, dict]) -> str:
    return "".join(f"event: {name}\r\ndata: {json.dumps(data)}\r\n\r\n" for name, data in events)


def test_stream_cut_mid_answer(server, open_page) -> None:
    """The connection drops after one piece and before `done`: the partial text stays, marked
    as incomplete, with a way to ask again."""
    page, watch = open_page(server[0] + "/")
    body = _sse(("delta", {"text": "Autolyse is a rest of flour and water [1]."}))
    page.route(
        "**/messages/stream",
        lambda route: route.fulfill(status=200, content_type="text/event-stream", body=body),
    )
    turn = wait_answered(ask(page, "What is autolyse?"))
    expect(turn.locator(".answer-text")).to_have_text("Autolyse is a rest of flour and water [1].")
    expect(turn.locator(".state-title")).to_have_text(
        "The connection was lost before the answer finished."
    )
    expect(turn.get_by_role("button", name="Try again")).to_be_visible()
    watch.assert_clean()


def test_error_event_mid_stream(server, open_page) -> None:
    page, watch = open_page(server[0] + "/")
    error = {
        "error": {
            "code": "unavailable",
            "message": "The answering backend is unavailable",
            "request_id": "abc123",
        }
    }
    body = _sse(("delta", {"text": "Autolyse is "}), ("error", error))
    page.route(
        "**/messages/stream",
        lambda route: route.fulfill(status=200, content_type="text/event-stream", body=body),
    )
    turn = wait_answered(ask(page, "What is autolyse?"))
    expect(turn.locator(".state-title")).to_have_text("Folio cannot answer right now.")
    expect(turn.locator(".state")).to_contain_text("(request id abc123)")
    watch.assert_clean()
