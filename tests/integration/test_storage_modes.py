"""Owner-only storage (issue 25, item 3): after `folio index`, `folio serve` (ingest, accounts,
answers) and `folio backup`, every folder Folio made is 0700 and every file 0600, whatever the
umask the commands were started with. Before, `storage/`, `storage/vectors` and its files were
0755 / 0644, and they hold the documents' text."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.utils.builders import REPO, write_config
from tests.utils.http import free_port

pytestmark = pytest.mark.integration

ADMIN = "storage-modes-admin-key-0123456789abcdef"
MOCK = {"embedding": {"provider": "mock", "dimensions": 8}, "auth": {"admin_api_key": ADMIN}}


def _open_umask() -> None:
    os.umask(0o022)  # what a shell usually has: 0755 folders, 0644 files unless Folio acts


def _folio(*args: str, **kwargs) -> subprocess.Popen:  # type: ignore[no-untyped-def]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        cwd=REPO,
        preexec_fn=_open_umask,
        **kwargs,
    )


def _run(*args: str) -> None:
    proc = _folio(*args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err


def _not_private(root: Path) -> list[str]:
    wrong = []
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        want = 0o700 if path.is_dir() else 0o600
        if not stat.S_ISLNK(path.lstat().st_mode) and mode != want:
            wrong.append(f"{path.relative_to(root.parent)} {mode:o}")
    return wrong


def test_everything_folio_writes_is_owner_only(tmp_path: Path, book_dir: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    config = str(write_config(site, book_dir, **MOCK))
    _run("index", "--config", config)
    port = free_port()
    server = _folio(
        "serve",
        "--config",
        config,
        "--port",
        str(port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 120
        while True:
            assert server.poll() is None and time.time() < deadline, "server did not start"
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        key = {"X-API-Key": ADMIN}
        doc = {"chapter": "Altitude", "content": "At altitude dough rises faster."}
        assert httpx.post(f"{url}/ingest", json=doc, headers=key, timeout=60).status_code == 200
        account = {"email": "reader@example.com", "password": "a long enough passphrase"}
        assert httpx.post(f"{url}/auth/register", json=account, timeout=30).status_code == 201
        assert httpx.post(f"{url}/query", json={"query": "altitude?"}, timeout=60).is_success
        _run("backup", "--config", config, "--out", str(site / "backups"))  # via the server
    finally:
        server.terminate()
        server.wait(timeout=30)
    _run("backup", "--config", config, "--out", str(site / "backups"))  # on its own
    storage = site / "storage"
    assert (storage / "vectors").is_dir() and (storage / "folio.db").is_file()
    assert (storage / "secrets" / "key_pepper").is_file()
    assert len(list((site / "backups").glob("*.tar.gz"))) == 2
    assert _not_private(storage) == []
    assert _not_private(site / "backups") == []


async def test_a_tree_made_before_is_tightened_at_start(tmp_path: Path) -> None:
    """Storage from an older release (0755 / 0644) becomes owner-only when the app starts."""
    from tests.utils.apps import make_settings, running

    settings = make_settings(tmp_path)
    vectors = settings.vector_store.path
    assert vectors is not None
    (vectors / "segments").mkdir(parents=True)
    (vectors / "segments" / "data.bin").write_bytes(b"the documents' text")
    for path in (settings.storage_dir, vectors, vectors / "segments"):
        os.chmod(path, 0o755)
    os.chmod(vectors / "segments" / "data.bin", 0o644)
    async with running(settings) as client:
        assert (await client.get("/health")).status_code == 200
    assert stat.S_IMODE(settings.storage_dir.stat().st_mode) == 0o700
    assert _not_private(vectors) == []
