"""Browser tests: Playwright for Python driving Debian's chromium against real uvicorn servers.

One browser and one app server per module; a fresh browser context (cookies, storage) per page.
Every page is watched: dialogs (an XSS would open one), uncaught errors, console errors and CSP
violations are recorded so tests can assert there were none.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.utils.apps import ADMIN_KEY
from tests.utils.browser import launch, missing_browser_reason
from tests.utils.builders import SAMPLE_BOOK, write_config
from tests.utils.http import serve_in_thread

REASON = missing_browser_reason()
TIMEOUT_MS = 30_000  # two shared cores: be patient, assertions still wait for real states


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Module-scoped so Playwright's own event loop is gone before async tests run."""
    if REASON:
        pytest.skip(REASON)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = launch(pw)
        yield chromium
        chromium.close()


@dataclass
class Watch:
    """What happened on a page that a reader would not see in the DOM."""

    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    console: list[tuple[str, str]] = field(default_factory=list)

    def csp_violations(self) -> list[str]:
        markers = ("Content Security Policy", "Trusted Type", "TrustedHTML")
        return [text for _, text in self.console if any(m in text for m in markers)]

    def assert_clean(self) -> None:
        assert not self.dialogs, f"dialogs opened: {self.dialogs}"
        assert not self.errors, f"uncaught page errors: {self.errors}"
        assert not self.csp_violations(), f"CSP violations: {self.csp_violations()}"


OpenPage = Callable[..., tuple[Any, Watch]]


@pytest.fixture
def open_page(browser) -> Iterator[OpenPage]:  # type: ignore[no-untyped-def]
    """open_page(url=None, **context_options) -> (page, watch)."""
    contexts = []

    def _open(url: str | None = None, **options: Any) -> tuple[Any, Watch]:
        context = browser.new_context(**options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        watch = Watch()

        def on_dialog(dialog: Any) -> None:
            watch.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.on("pageerror", lambda exc: watch.errors.append(str(exc)))
        page.on("console", lambda msg: watch.console.append((msg.type, msg.text)))
        if url:
            page.goto(url)
        return page, watch

    yield _open
    for context in contexts:
        context.close()


@contextmanager
def book_server(
    root: Path,
    storage: Path | None,
    index_factory: Callable[[Any], Any],
    *,
    index_first: bool = False,
    port: int | None = None,
    **sections: Any,
) -> Iterator[tuple[str, Any]]:
    """A real uvicorn server over a copy of the sample book. `storage`: an already indexed
    storage folder to start from; `index_first`: index the book with `index_factory`'s index
    before serving (else nothing is indexed); `environ`: env overrides."""
    from app.core.settings import load_settings
    from app.main import create_app

    shutil.copytree(SAMPLE_BOOK, root / "book")
    if storage is not None:
        shutil.copytree(storage, root / "storage")
    environ = sections.pop("environ", None) or {}
    api = {"rate_limit_per_minute": 1000, "rate_limit_per_day": 100_000, **sections.pop("api", {})}
    auth = {"bcrypt_rounds": 4, "admin_api_key": ADMIN_KEY, **sections.pop("auth", {})}
    config = write_config(root, root / "book", api=api, auth=auth, **sections)
    settings = load_settings(config, environ=environ)
    if index_first:
        index = index_factory(settings.index)
        index.index_sources()
        index.close()
    app = create_app(settings, index_factory=index_factory)
    with serve_in_thread(app, port=port) as base:
        yield base, app


def ask(page: Any, question: str) -> Any:
    """Type a question and press Enter; returns the new turn (the last article)."""
    before = page.locator("article.turn").count()
    page.fill("#question", question)
    page.press("#question", "Enter")
    turn = page.locator("article.turn").nth(before)
    turn.wait_for()
    return turn


def wait_answered(turn: Any) -> Any:
    """Wait until the turn's answer is final (its busy state is gone)."""
    turn.locator(".turn-foot > *, .state:not([hidden])").first.wait_for()
    turn.page.wait_for_function("el => !el.hasAttribute('aria-busy')", arg=turn.element_handle())
    return turn
