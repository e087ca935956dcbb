"""kill -9 at every step of the write protocol (indexes/pipeline.py), during `folio index` and
during `POST /ingest`: after a restart, points equal the ledger's chunks, with no duplicates and
no orphaned points, and an interrupted update leaves the previous version answering.

The crashing processes use the mock embedder (the protocol does not depend on the model), except
the HTTP test, which runs the real `folio serve`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.utils.builders import REPO, write_config

pytestmark = pytest.mark.integration

# Runs in a child process: index the book with the mock embedder, then crash at `step`.
CRASH_SCRIPT = """
import os, signal, sys
from llama_index.core.embeddings import MockEmbedding
from app.core.settings import load_settings
from indexes.folio_index import FolioIndex

config, step, action = sys.argv[1], sys.argv[2], sys.argv[3]
folio = FolioIndex(load_settings(config, environ={}).index, embed_model=MockEmbedding(embed_dim=8))
if action != "first":
    folio.index_sources()

def die(*_args, **_kwargs):
    print("dying", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)

def after(obj, name):
    original = getattr(obj, name)
    def wrapped(*args, **kwargs):
        result = original(*args, **kwargs)
        die()
        return result
    object.__setattr__(obj, name, wrapped)

if step == "after_points":
    after(folio.vector_store, "add")
elif step == "after_commit":
    after(folio.ledger, "commit")
elif step == "after_delete_points":
    after(folio.vector_store, "delete")

if action == "first":
    folio.index_sources()
elif action == "update":
    path = sys.argv[4]
    with open(path, "a") as fh:
        fh.write("\\n\\n## Notes\\n\\nQuokkaflour ferments oddly.\\n")
    folio.index_sources()
elif action == "delete":
    folio.delete_document("sourdough:ch01-starter.md")
print("survived", flush=True)
"""


def _run_crash(config: Path, step: str, action: str, *extra: str) -> str:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-c", CRASH_SCRIPT, str(config), step, action, *extra],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr[-2000:]
    return proc.stdout


def _reopen(config: Path):
    from llama_index.core.embeddings import MockEmbedding

    from app.core.settings import load_settings
    from indexes.folio_index import FolioIndex

    return FolioIndex(
        load_settings(config, environ={}).index, embed_model=MockEmbedding(embed_dim=8)
    )


def _assert_consistent(folio) -> None:
    ledger_ids = [cid for entry in folio.documents() for cid in entry.chunk_ids]
    assert len(ledger_ids) == len(set(ledger_ids))
    assert folio.vector_store.point_ids() == set(ledger_ids)
    assert all(entry.state == "indexed" for entry in folio.documents())
    assert set(folio.vector_store.doc_counts()) == {e.id for e in folio.documents()}


@pytest.fixture
def config(tmp_path, book_dir) -> Path:
    return write_config(tmp_path, book_dir, retrieval={"similarity_cutoff": 0.0})


def test_killed_after_points_before_commit_leaves_no_orphans(config):
    _run_crash(config, "after_points", "first")
    folio = _reopen(config)
    try:
        assert folio.recover().__class__.__name__ == "RecoveryReport"
        _assert_consistent(folio)
        report = folio.index_sources()  # the interrupted document is simply added again
        assert report.added
        _assert_consistent(folio)
        assert len(folio.documents()) == 5
    finally:
        folio.close()


def test_killed_mid_update_keeps_the_previous_version(config, book_dir):
    """Crash after the new chunks are written but before the ledger switches: the old version
    is still the one indexed, and its points are all there."""
    _run_crash(config, "after_points", "update", str(book_dir / "ch03-fermentation.md"))
    folio = _reopen(config)
    try:
        _assert_consistent(folio)
        entry = folio.document("sourdough:ch03-fermentation.md")
        assert entry is not None and entry.chunk_count > 0
        report = folio.index_sources()  # the file changed: now the update goes through
        assert report.updated == ["sourdough:ch03-fermentation.md"]
        _assert_consistent(folio)
    finally:
        folio.close()


def test_killed_after_commit_before_old_points_go(config, book_dir):
    _run_crash(config, "after_commit", "update", str(book_dir / "ch03-fermentation.md"))
    folio = _reopen(config)
    try:
        _assert_consistent(folio)  # recovery removed the previous version's points
        report = folio.index_sources()
        assert not report.updated and len(report.unchanged) == 5  # the new version is in
    finally:
        folio.close()


def test_killed_mid_delete_finishes_the_delete(config):
    _run_crash(config, "after_delete_points", "delete")
    folio = _reopen(config)
    try:
        _assert_consistent(folio)
        assert folio.document("sourdough:ch01-starter.md") is None
    finally:
        folio.close()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_killed_during_http_ingest_leaves_a_consistent_index(tmp_path, book_dir):
    """The real server (model included), killed with SIGKILL while it embeds a large chapter."""
    admin = "crash-test-admin-key-0123456789abcdef"
    config = write_config(tmp_path, book_dir, auth={"admin_api_key": admin, "bcrypt_rounds": 4})
    port = _free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "app.cli", "serve", "--config", str(config), "--port", str(port)]
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        headers = {"X-API-Key": admin}
        first = {"chapter": "Rye", "content": "# Rye\n\nRye levain is fast.", "source_id": "rye"}
        assert httpx.post(f"{url}/ingest", json=first, headers=headers, timeout=120).is_success
        paragraph = "Rye levain ferments quickly and smells of fruit and vinegar. " * 40
        content = "\n\n".join(f"## Part {i}\n\n{paragraph}" for i in range(60))
        body = {"chapter": "Rye", "content": content, "source_id": "rye"}

        def post() -> None:
            try:
                httpx.post(f"{url}/ingest", json=body, headers=headers, timeout=120)
            except httpx.HTTPError:
                pass  # the server dies under it

        import threading

        worker = threading.Thread(target=post)
        worker.start()
        time.sleep(1.5)  # the request is embedding or writing
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
        worker.join(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()

    from app.core.settings import load_settings
    from indexes.folio_index import FolioIndex

    settings = load_settings(config, environ={})
    folio = FolioIndex(settings.index, ledger_url=settings.database.url, create_schema=False)
    try:
        ledger_ids = [cid for entry in folio.documents() for cid in entry.chunk_ids]
        assert folio.vector_store.point_ids() == set(ledger_ids)
        assert all(entry.state == "indexed" for entry in folio.documents())
        entry = folio.document("api:rye")  # nothing lost: the first version (or the second)
        assert entry is not None and entry.chunk_count >= 1
    finally:
        folio.close()


def test_points_without_ledger_rows_are_adopted_not_deleted(config, tmp_path):
    """A vector store whose ledger is gone (a database swapped under it) keeps every point:
    recovery rebuilds the rows from the payloads, and re-indexing then finds nothing changed."""
    from llama_index.core.embeddings import MockEmbedding

    from app.core.settings import load_settings
    from indexes.folio_index import FolioIndex

    first = _reopen(config)
    first.index_sources()
    points = first.vector_store.point_ids()
    first.close()
    fresh_ledger = f"sqlite:///{tmp_path / 'other.db'}"
    folio = FolioIndex(
        load_settings(config, environ={}).index,
        embed_model=MockEmbedding(embed_dim=8),
        ledger_url=fresh_ledger,
        create_schema=True,
    )
    try:
        assert folio.vector_store.point_ids() == points
        _assert_consistent(folio)
        assert len(folio.documents()) == 5
        report = folio.index_sources()
        assert len(report.unchanged) == 5 and report.chunks_embedded == 0
    finally:
        folio.close()
