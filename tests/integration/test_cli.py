"""The `folio` CLI on the sample book: index summary, no-op re-index, ask with sources."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.utils.builders import REPO, write_config

pytestmark = pytest.mark.integration


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=REPO,
    )


def test_index_then_noop_then_ask(tmp_path, book_dir):
    config = str(write_config(tmp_path, book_dir))
    first = _cli("index", "--config", config)
    assert first.returncode == 0, first.stderr
    assert "│     5 │       0 │         0 │       0 │" in first.stdout
    second = _cli("index", "--config", config)
    assert "│     0 │       0 │         5 │       0 │               0 │" in second.stdout
    ask = _cli("ask", "What is the float test?", "--config", config)
    assert ask.returncode == 0, ask.stderr
    assert "[1]" in ask.stdout and "Knowing When Your Starter Is Ready" in ask.stdout


def test_bad_config_is_one_line_without_traceback(tmp_path, book_dir):
    config = write_config(tmp_path, book_dir, retrieval={"top_kk": 3})
    result = _cli("index", "--config", str(config))
    assert result.returncode == 2
    assert "retrieval.top_kk" in result.stderr and "unknown key" in result.stderr
    assert "Traceback" not in result.stderr
