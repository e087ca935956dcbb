"""Serving without the `export` and `evals` extras (as the container image runs), and the
message each command gives when the extra it needs is absent. The extras' modules are hidden
from a fresh interpreter by a meta path finder, so they import exactly as if not installed."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from indexes.extras import EXTRAS
from tests.utils.builders import REPO, write_config

pytestmark = pytest.mark.integration

HIDE = """
import sys

class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if any(name == h or name.startswith(h + ".") for h in HIDDEN):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _NotInstalled())
"""


def _run_hidden(hidden: list[str], body: str) -> subprocess.CompletedProcess:
    script = f"HIDDEN = {hidden!r}\n{HIDE}\n{textwrap.dedent(body)}"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=REPO,
    )


def _folio(hidden: list[str], *args: str) -> subprocess.CompletedProcess:
    return _run_hidden(
        hidden, f"sys.argv = ['folio', *{list(args)!r}]\nimport app.cli\napp.cli.main()"
    )


def test_server_indexes_and_answers_without_export_and_evals(tmp_path, book_dir):
    """The serving venv has neither extra: indexing and POST /query must not need them."""
    config = write_config(tmp_path, book_dir)
    hidden = [*EXTRAS["export"], *EXTRAS["evals"]]
    out = _run_hidden(
        hidden,
        f"""
        import asyncio, json
        import httpx
        from app.core.settings import load_settings
        from app.main import create_app
        from indexes.folio_index import FolioIndex

        settings = load_settings({str(config)!r}, environ={{}})
        index = FolioIndex(settings.index)
        index.index_sources()
        index.close()

        async def ask():
            app = create_app(settings)
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                    r = await c.post("/query", json={{"query": "What is a levain?"}})
                    return r.status_code, r.json()

        status, body = asyncio.run(ask())
        hidden_loaded = sorted(m for m in sys.modules if m.split(".")[0] in HIDDEN)
        print(json.dumps({{"status": status, "sources": len(body.get("sources", [])),
                          "answer": body.get("answer", ""), "loaded": hidden_loaded}}))
        """,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    import json

    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["status"] == 200 and result["sources"] > 0 and "[1]" in result["answer"]
    assert result["loaded"] == []


def test_models_export_without_the_export_extra_names_it(tmp_path, book_dir):
    """A fresh export needs torch: the CLI says which extra to install, in one line."""
    config = write_config(tmp_path, book_dir, embedding={"onnx_cache": str(tmp_path / "onnx")})
    result = _folio(list(EXTRAS["export"]), "models", "export", "-c", str(config))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "needs the 'export' extra" in result.stderr
    assert "pip install 'folio[export]'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list((tmp_path / "onnx").glob("*.onnx"))


def test_models_export_without_torch_is_fine_when_the_files_exist(tmp_path, book_dir):
    """The serving image runs `folio models export` as a check: exported files need no torch."""
    config = write_config(tmp_path, book_dir)  # the venv's own export (scripts/setup.sh)
    result = _folio(list(EXTRAS["export"]), "models", "export", "-c", str(config))
    assert result.returncode == 0, result.stderr
    assert "int8: " in result.stdout and ".onnx" in result.stdout


def test_eval_without_the_evals_extra_names_it_before_any_work(tmp_path, book_dir):
    """Checked first: a missing dataset would otherwise be reported (or minutes of indexing
    run) before the metrics failed to import."""
    config = write_config(tmp_path, book_dir)
    result = _folio(
        list(EXTRAS["evals"]), "eval", "no-such-dataset", "-c", str(config), "--limit", "1"
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "folio eval needs the 'evals' extra" in result.stderr
    assert "pip install 'folio[evals]'" in result.stderr and "Traceback" not in result.stderr


def test_torch_runtime_without_the_export_extra_names_it(tmp_path):
    out = _run_hidden(
        list(EXTRAS["export"]),
        """
        from indexes.config import EmbeddingConfig
        from indexes.embeddings import build_embed_model
        from indexes.extras import MissingExtra
        try:
            build_embed_model(EmbeddingConfig(runtime="torch"))
        except MissingExtra as exc:
            print(exc)
        """,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "embedding.runtime: torch needs the 'export' extra" in out.stdout
