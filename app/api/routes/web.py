"""The reader's page at `/`, the widget page at `/widget` and the widget loader `/widget.js`.

Plain HTML/CSS/JS files from `app/web/static` (no build step, no Node at run time); `/static`
serves the CSS and the JS modules. Their security headers (CSP, framing) are set by
`SecurityHeadersMiddleware` by path.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from app.web import STATIC_DIR

router = APIRouter(include_in_schema=False)

PAGE_HEADERS = {"Cache-Control": "no-cache"}
# The loader runs on other sites: let pages that require CORP for subresources load it too.
LOADER_HEADERS = {
    "Cache-Control": "public, max-age=300",
    "Cross-Origin-Resource-Policy": "cross-origin",
}


@router.get("/")
def reader_page() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", headers=PAGE_HEADERS)


@router.get("/widget")
def widget_page() -> FileResponse:
    return FileResponse(STATIC_DIR / "widget.html", headers=PAGE_HEADERS)


@router.get("/widget.js")
def widget_loader() -> FileResponse:
    return FileResponse(
        STATIC_DIR / "widget.js", media_type="text/javascript", headers=LOADER_HEADERS
    )


def mount_static(app: FastAPI) -> None:
    """Serve `app/web/static` under `/static` (styles, scripts, icon)."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
