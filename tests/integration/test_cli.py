"""The `folio` CLI on the sample book: index summary, no-op re-index, ask with sources."""

from __future__ import annotations

import pytest

from tests.utils.builders import write_config
from tests.utils.cli import run_folio

pytestmark = pytest.mark.integration


def test_index_then_noop_then_ask(tmp_path, book_dir):
    config = str(write_config(tmp_path, book_dir))
    first = run_folio("index", "--config", config)
    assert first.returncode == 0, first.stderr
    assert "│     5 │       0 │         0 │       0 │" in first.stdout
    # the longest silent wait is named while it happens (the model loads only when needed)
    assert "loading the embedding model (all-MiniLM-L6-v2)" in first.stdout
    assert "model loaded in" in first.stdout
    second = run_folio("index", "--config", config)
    assert "│     0 │       0 │         5 │       0 │               0 │" in second.stdout
    assert "loading the embedding model" not in second.stdout
    ask = run_folio("ask", "What is the float test?", "--config", config)
    assert ask.returncode == 0, ask.stderr
    assert "[1]" in ask.stdout and "Knowing When Your Starter Is Ready" in ask.stdout


def test_bad_config_is_one_line_without_traceback(tmp_path, book_dir):
    config = write_config(tmp_path, book_dir, retrieval={"top_kk": 3})
    result = run_folio("index", "--config", str(config))
    assert result.returncode == 2
    assert "retrieval.top_kk" in result.stderr and "unknown key" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["index", "serve"])
def test_yaml_syntax_error_is_one_line_from_index_and_serve(tmp_path, command):
    """Regression: a YAML typo printed a 275-line traceback; now one line with file:line:col."""
    config = tmp_path / "config.yaml"
    config.write_text("sources:\n  - name: x\n    path: [open\nchunking: {}\n")
    result = run_folio(command, "--config", str(config))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"{config}:4:9: YAML syntax error" in lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""
