"""The reader's page and the widget files: served by the app, under a strict CSP; only the
widget page may be framed, and only by ALLOWED_ORIGINS_STR. (Browser behaviour: tests/e2e.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.web import STATIC_DIR
from tests.utils.apps import make_settings, running

pytestmark = pytest.mark.integration

SITE = "https://textbook.example"


def _directives(csp: str) -> dict[str, str]:
    return {
        part.strip().split(" ", 1)[0]: part.strip().partition(" ")[2]
        for part in csp.split(";")
        if part.strip()
    }


async def test_page_is_served_under_a_strict_csp(tmp_path: Path) -> None:
    async with running(make_settings(tmp_path, api={"allowed_origins": [SITE]})) as client:
        page = await client.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        csp = _directives(page.headers["content-security-policy"])
        assert csp["default-src"] == "'none'"
        assert csp["script-src"] == "'self'" and csp["style-src"] == "'self'"
        assert csp["connect-src"] == "'self'" and csp["frame-ancestors"] == "'none'"
        assert csp["require-trusted-types-for"] == "'script'" and csp["trusted-types"] == "'none'"
        assert "unsafe" not in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY"
        for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text):
            r = await client.get(asset)
            assert r.status_code == 200, asset
        js = await client.get("/static/js/page.js")
        assert js.headers["content-type"].startswith("text/javascript")
        assert (await client.get("/static/%2e%2e/core/settings.py")).status_code == 404


async def test_only_the_widget_page_may_be_framed_by_allowed_origins(tmp_path: Path) -> None:
    async with running(make_settings(tmp_path, api={"allowed_origins": [SITE]})) as client:
        widget = await client.get("/widget")
        assert widget.status_code == 200
        csp = _directives(widget.headers["content-security-policy"])
        assert csp["frame-ancestors"] == SITE and csp["script-src"] == "'self'"
        assert "x-frame-options" not in widget.headers
        loader = await client.get("/widget.js")
        assert loader.headers["content-type"].startswith("text/javascript")
        assert loader.headers["cross-origin-resource-policy"] == "cross-origin"
        for path in ("/", "/health", "/docs"):
            assert (await client.get(path)).headers["x-frame-options"] == "DENY"
    async with running(make_settings(tmp_path / "none")) as client:
        widget = await client.get("/widget")
        assert _directives(widget.headers["content-security-policy"])["frame-ancestors"] == (
            "'none'"
        )


@pytest.mark.parametrize("path", sorted(p.name for p in STATIC_DIR.rglob("*.js")))
def test_scripts_never_parse_strings_as_html(path: str) -> None:
    """Server text must reach the page through textContent: no HTML sinks in our scripts."""
    source = next(STATIC_DIR.rglob(path)).read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in source, f"{path} uses {sink}"
    assert "new Function" not in source


def test_html_has_no_inline_script_or_style() -> None:
    for page in STATIC_DIR.glob("*.html"):
        html = page.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), page.name
        assert "<style" not in html and " style=" not in html, page.name
        assert not re.search(r"\son[a-z]+=", html), page.name
