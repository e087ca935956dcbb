"""Headless Debian chromium for browser tests and benchmarks (Playwright's own browser
download cannot work here, so Playwright drives the system browser via executable_path)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

# Without the background-networking flags chromium keeps dialing Google's hosts, which this
# machine's closed network refuses.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    """FOLIO_CHROMIUM, else chromium on PATH, else /usr/bin/chromium; None when absent."""
    candidates = [os.environ.get("FOLIO_CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def missing_browser_reason() -> str | None:
    """Why browser tests cannot run here, or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    if chromium_path() is None:
        return "chromium is not installed (apt-get install -y chromium; .ci/run does this)"
    return None


def launch(playwright):  # type: ignore[no-untyped-def]
    """A headless chromium Browser from a sync_playwright() handle."""
    return playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
