"""Build a Folio app per test (mock embedder, fast bcrypt, SQLite in tmp) and talk to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.utils.builders import write_config

ADMIN_KEY = "bootstrap-admin-key-for-tests-0123456789"


def make_settings(tmp_path: Path, **sections: Any):
    """Settings for a test app; `sections` update config.yaml sections (auth, api, database...)."""
    from app.core.settings import load_settings

    book = tmp_path / "book"
    book.mkdir(parents=True, exist_ok=True)
    auth = {"bcrypt_rounds": 4, "admin_api_key": ADMIN_KEY, **sections.pop("auth", {})}
    embedding = sections.pop("embedding", {"provider": "mock", "dimensions": 8})
    retrieval = sections.pop("retrieval", {"similarity_cutoff": 0.0})
    config = write_config(
        tmp_path, book, embedding=embedding, retrieval=retrieval, auth=auth, **sections
    )
    return load_settings(config, environ={})


def mock_index(cfg, **kwargs):  # type: ignore[no-untyped-def]
    from llama_index.core.embeddings import MockEmbedding

    from indexes.folio_index import FolioIndex

    return FolioIndex(cfg, embed_model=MockEmbedding(embed_dim=8), **kwargs)


@asynccontextmanager
async def running(settings, **kwargs: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan running, behind an httpx client on ASGITransport."""
    from app.main import create_app

    app = create_app(settings, **{"index_factory": mock_index, **kwargs})
    async with app.router.lifespan_context(app):
        # raise_app_exceptions=False: a 500 reaches the test as the client would see it.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://folio.test") as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


def admin() -> dict[str, str]:
    return {"X-API-Key": ADMIN_KEY}
