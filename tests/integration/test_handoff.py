"""`folio index` and `folio ask` while `folio serve` holds the local Qdrant folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.utils.builders import REPO, write_config
from tests.utils.cli import run_folio
from tests.utils.http import free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def served(tmp_path_factory, indexed_template: Path):
    """One `folio serve` subprocess for the module (the model loads once)."""
    tmp_path = tmp_path_factory.mktemp("served")
    book_dir = tmp_path / "book"
    shutil.copytree(indexed_template / "book", book_dir)
    shutil.copytree(indexed_template / "storage", tmp_path / "storage")
    config = write_config(tmp_path, book_dir)
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--config", str(config), "--port", str(port)],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while True:
        try:
            if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise RuntimeError(f"server did not start: {proc.stderr.read()[-2000:]}")
        time.sleep(0.3)
    yield url, config, env, book_dir
    proc.terminate()
    proc.wait(timeout=30)
    assert not (tmp_path / "storage" / "server.json").exists(), "handoff file left behind"


def test_index_while_serving_hands_off_and_server_answers_from_new_index(served):
    url, config, env, book_dir = served
    (book_dir / "ch06-rye.md").write_text(
        "# Chapter 6: Rye\n\n## Rye Sours\n\nA rye sour is kept at 30°C and fed with whole "
        "rye flour; rye loaves are baked in a tin because rye has weak gluten.\n"
    )
    result = run_folio("index", "--config", str(config), env=env)
    assert result.returncode == 0, result.stderr
    assert "via http://127.0.0.1" in result.stdout
    assert "lock" not in (result.stdout + result.stderr).lower()
    body = httpx.post(
        f"{url}/query", json={"query": "Why are rye loaves baked in a tin?"}, timeout=30
    ).json()
    assert body["sources"][0]["document_id"] == "sourdough:ch06-rye.md"

    again = run_folio("index", "--config", str(config), env=env)
    assert again.returncode == 0
    assert "│     0 │       0 │         6 │       0 │               0 │" in again.stdout
    (book_dir / "ch06-rye.md").unlink()
    assert run_folio("index", "--config", str(config), env=env).returncode == 0


def test_ask_while_serving_goes_through_the_server(served):
    _, config, env, _ = served
    result = run_folio("ask", "What is the windowpane test?", "--config", str(config), env=env)
    assert result.returncode == 0, result.stderr
    assert "[1]" in result.stdout and "Windowpane" in result.stdout


def test_reindex_route_refuses_strangers(served):
    url, _, _, _ = served
    response = httpx.post(f"{url}/admin/reindex", headers={"X-Folio-Handoff": "guess"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
