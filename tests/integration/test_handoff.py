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


def test_source_added_to_config_is_indexed_by_the_running_server(served, tmp_path):
    """Regression: the server indexed with the config it started with, so a source added to
    config.yaml was silently ignored ("0 added, 5 unchanged"). It re-reads the file now."""
    import yaml

    url, config, env, _ = served
    original = config.read_text()
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "crackers.md").write_text(
        "# Discard Crackers\n\n## Baking\n\nRoll the discard dough thin, brush it with olive "
        "oil and sprinkle it with flaky salt. Bake at 175 °C for about 25 minutes, until the "
        "crackers are golden and crisp.\n"
    )
    data = yaml.safe_load(original)
    data["sources"].append(
        {"name": "extra", "path": str(extra), "globs": ["*.md"], "book": "Extras"}
    )
    try:
        config.write_text(yaml.safe_dump(data, sort_keys=False))
        result = run_folio("index", "--config", str(config), env=env)
        assert result.returncode == 0, result.stderr
        assert "sources +extra" in result.stdout
        assert "│     1 │       0 │         5 │       0 │" in result.stdout
        body = httpx.post(
            f"{url}/query", json={"query": "At what temperature do I bake discard crackers?"}
        ).json()
        assert "175 °C" in body["answer"]
        assert body["sources"][0]["document_id"] == "extra:crackers.md"

        # A change only a restart applies is named, not silently ignored.
        data["chunking"] = {"chunk_size": 120, "chunk_overlap": 20}
        config.write_text(yaml.safe_dump(data, sort_keys=False))
        result = run_folio("index", "--config", str(config), env=env)
        assert result.returncode == 0, result.stderr
        assert "changed chunking since the server started" in result.stdout
    finally:
        config.write_text(original)
    result = run_folio("index", "--config", str(config), env=env)
    assert "sources -extra" in result.stdout
    assert "│     0 │       0 │         5 │       1 │" in result.stdout


def test_cli_says_when_the_server_reads_another_config(served, tmp_path):
    """`folio index -c other.yaml` while the server runs from config.yaml: the CLI says that the
    server indexes the sources of its own file."""
    _, config, env, _ = served
    other = tmp_path / "other.yaml"
    other.write_text(config.read_text())
    result = run_folio("index", "--config", str(other), env=env)
    assert result.returncode == 0, result.stderr
    assert f"the running server reads {config}, not {other}" in result.stdout


def test_broken_config_stops_the_reindex_with_one_line(served):
    _, config, env, _ = served
    original = config.read_text()
    try:
        config.write_text(original + "\nchunking: [oops\n")
        result = run_folio("index", "--config", str(config), env=env)
    finally:
        config.write_text(original)
    assert result.returncode != 0
    assert "YAML syntax error" in result.stderr and "Traceback" not in result.stderr


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
