"""Server-mode Qdrant: same code path; an unreachable QDRANT_URL is reported clearly."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from app.core.settings import load_settings
from app.main import create_app
from tests.utils.builders import write_config
from tests.utils.http import assert_error_shape, free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def unreachable_settings(tmp_path, book_dir):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    config = write_config(tmp_path, book_dir, vector_store={"timeout_s": 1})
    return load_settings(config, environ={"QDRANT_URL": url}), url, config


async def test_ready_says_the_store_is_unreachable(unreachable_settings):
    settings, url, _ = unreachable_settings
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://folio") as client:
            assert (await client.get("/health")).status_code == 200
            ready = await client.get("/ready")
            assert ready.status_code == 503
            reason = ready.json()["checks"]["vector_store"]
            assert f"Qdrant server {url}" in reason and "unreachable" in reason
            query = await client.post("/query", json={"query": "What is autolyse?"})
            error = assert_error_shape(query, 503, "unavailable")
            assert "unreachable" in error["message"]


def test_cli_index_names_the_unreachable_server(unreachable_settings):
    _, url, config = unreachable_settings
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "index", "--config", str(config)],
        capture_output=True,
        text=True,
        env={"QDRANT_URL": url, "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"Qdrant server {url}" in result.stderr and "unreachable" in result.stderr


def test_server_mode_uses_url_and_key_from_env(tmp_path, book_dir):
    config = write_config(tmp_path, book_dir)
    settings = load_settings(
        config,
        environ={"QDRANT_URL": "https://qdrant.example:6333", "QDRANT_API_KEY": "qk-secret-123"},
    )
    assert settings.vector_store.is_server
    assert settings.vector_store.api_key.get_secret_value() == "qk-secret-123"
    assert "qk-secret-123" not in repr(settings.vector_store)
