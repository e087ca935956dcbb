"""Export and import of everything the index stores, for `folio backup` / `folio restore`.

This is the one module that knows the storage layout; callers go through
`FolioIndex.export_vectors` / `FolioIndex.import_vectors` and treat the folder they hand over as
opaque. Today's layout:

- vectors: Qdrant local mode (a folder with one SQLite file per collection), or a Qdrant
  server, exported as a collection snapshot through its HTTP API and uploaded back the same way;
- retrieval state beside them in `storage_dir`: the docstores (document hashes per origin and
  the chunk nodes, JSON) and the BM25 index folder.

The exported folder holds `vectors.json` (layout, collection, embedding, counts) plus the files.
`import_vectors` refuses a layout, collection or embedding it cannot use, and refuses to write
over a store that already holds points or documents.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from indexes.config import IndexConfig
from indexes.stores import StoreError, count_points, open_qdrant

if TYPE_CHECKING:
    from indexes.engine import FolioIndex

LOCAL_LAYOUT = "qdrant-local+docstores/1"
SERVER_LAYOUT = "qdrant-snapshot+docstores/1"
META = "vectors.json"
RETRIEVAL_FILES = ("docstore-config.json", "docstore-api.json", "nodes.json")
RETRIEVAL_DIRS = ("bm25",)


class BackupError(Exception):
    """The export or import cannot go ahead; the message is one line for an operator."""


def export_vectors(index: FolioIndex, target: Path) -> dict[str, Any]:
    """Write the index's vectors and retrieval state into `target` (created, must be empty);
    return the metadata written to `vectors.json` (layout, collection, embedding, counts).

    Consistent: the indexer's lock is held throughout, so no ingestion runs meanwhile; local
    mode's SQLite files are read with SQLite's online backup API."""
    cfg = index.cfg
    target.mkdir(parents=True, exist_ok=True)
    if any(target.iterdir()):
        raise BackupError(f"export folder {target} is not empty")
    # the indexer lock: no ingestion or delete can run while the files are copied
    with index.indexer._lock:
        if cfg.vector_store.is_server:
            layout = SERVER_LAYOUT
            _download_snapshot(index, target / "qdrant.snapshot")
        else:
            layout = LOCAL_LAYOUT
            assert cfg.vector_store.path is not None
            _copy_local_qdrant(cfg.vector_store.path, target / "qdrant")
        _copy_retrieval_state(cfg.storage_dir, target / "state")
        meta = {
            "layout": layout,
            "collection": cfg.vector_store.collection,
            "embedding": _embedding_identity(cfg),
            "counts": _counts(index),
        }
    (target / META).write_text(json.dumps(meta, indent=2))
    return meta


def import_vectors(cfg: IndexConfig, source: Path) -> dict[str, Any]:
    """Put an exported folder in place for `cfg`'s store, which must be empty; return the
    metadata of the export. Open a FolioIndex afterwards to use it."""
    meta = read_export_meta(source)
    check_compatible(cfg, meta)
    check_empty(cfg)
    if meta["layout"] == SERVER_LAYOUT:
        _upload_snapshot(cfg, source / "qdrant.snapshot")
    else:
        assert cfg.vector_store.path is not None
        _place_folder(source / "qdrant", cfg.vector_store.path)
    state = source / "state"
    cfg.storage_dir.mkdir(parents=True, exist_ok=True)
    for name in RETRIEVAL_FILES:
        if (state / name).is_file():
            shutil.copy2(state / name, cfg.storage_dir / name)
    for name in RETRIEVAL_DIRS:
        if (state / name).is_dir():
            _place_folder(state / name, cfg.storage_dir / name)
    return meta


def read_export_meta(source: Path) -> dict[str, Any]:
    try:
        meta = json.loads((source / META).read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"no readable {META} in the vectors export ({exc})") from None
    if meta.get("layout") not in (LOCAL_LAYOUT, SERVER_LAYOUT):
        raise BackupError(f"unknown vectors layout {meta.get('layout')!r}")
    return meta


def check_compatible(cfg: IndexConfig, meta: Mapping[str, Any]) -> None:
    """Raise BackupError when the export cannot serve this config: other store kind, other
    collection name, or vectors from another embedding model (they would answer nonsense)."""
    wanted = SERVER_LAYOUT if cfg.vector_store.is_server else LOCAL_LAYOUT
    if meta["layout"] != wanted:
        have = "a Qdrant server" if meta["layout"] == SERVER_LAYOUT else "Qdrant local mode"
        here = "a Qdrant server" if cfg.vector_store.is_server else "Qdrant local mode"
        raise BackupError(f"the archive's vectors come from {have}; this installation uses {here}")
    if meta["collection"] != cfg.vector_store.collection:
        raise BackupError(
            f"the archive's collection is {meta['collection']!r}; "
            f"vector_store.collection here is {cfg.vector_store.collection!r}"
        )
    if meta["embedding"] != _embedding_identity(cfg):
        raise BackupError(
            f"the archive's vectors were made by {meta['embedding']}; "
            f"this config embeds with {_embedding_identity(cfg)}"
        )


def check_empty(cfg: IndexConfig) -> None:
    """Raise BackupError unless the store holds no points and no indexed documents."""
    leftovers = [name for name in RETRIEVAL_FILES if (cfg.storage_dir / name).is_file()]
    if leftovers:
        raise BackupError(
            f"{cfg.storage_dir} already holds an index ({', '.join(leftovers)}); "
            "restore needs an empty installation"
        )
    if not cfg.vector_store.is_server:
        assert cfg.vector_store.path is not None
        if cfg.vector_store.path.exists():
            open_qdrant(cfg.vector_store).close()  # StoreLockedError while a server holds it
        if (cfg.vector_store.path / "collection").is_dir() and any(
            (cfg.vector_store.path / "collection").iterdir()
        ):
            raise BackupError(
                f"{cfg.vector_store.path} already holds a Qdrant collection; "
                "restore needs an empty installation"
            )
        return
    client = open_qdrant(cfg.vector_store)
    try:
        points = count_points(client, cfg.vector_store.collection)
    except Exception as exc:
        raise StoreError(f"Qdrant server {cfg.vector_store.url} is unreachable ({exc})") from None
    finally:
        client.close()
    if points:
        raise BackupError(
            f"collection {cfg.vector_store.collection!r} on {cfg.vector_store.url} already holds "
            f"{points} points; restore needs an empty installation"
        )


# -- internals ------------------------------------------------------------------------------


def _embedding_identity(cfg: IndexConfig) -> dict[str, Any]:
    return {
        "provider": cfg.embedding.provider,
        "model": cfg.embedding.model,
        "dimensions": cfg.embedding.dimensions,
    }


def _counts(index: FolioIndex) -> dict[str, int]:
    from indexes.readers import ORIGIN_API, ORIGIN_CONFIG

    return {
        "points": index.point_count(),
        "chunks": index.indexer.chunk_count(),
        "documents_config": len(index.indexer.document_ids(ORIGIN_CONFIG)),
        "documents_api": len(index.indexer.document_ids(ORIGIN_API)),
    }


def _copy_local_qdrant(source: Path, target: Path) -> None:
    """Copy a local-mode folder; its SQLite files through the online backup API."""
    target.mkdir(parents=True)
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        if path.is_dir():
            (target / rel).mkdir(parents=True, exist_ok=True)
        elif path.name == ".lock":
            continue  # the open client's lock file, not data
        elif path.suffix == ".sqlite":
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            dst = sqlite3.connect(target / rel)
            try:
                src.backup(dst)
            finally:
                dst.close()
                src.close()
        else:
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target / rel)


def _copy_retrieval_state(storage_dir: Path, target: Path) -> None:
    target.mkdir(parents=True)
    for name in RETRIEVAL_FILES:
        if (storage_dir / name).is_file():
            shutil.copy2(storage_dir / name, target / name)
    for name in RETRIEVAL_DIRS:
        if (storage_dir / name).is_dir():
            shutil.copytree(storage_dir / name, target / name)


def _place_folder(source: Path, target: Path) -> None:
    """Copy `source` to `target` through a sibling temporary folder and a rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(target.name + ".restoring")
    if staging.exists():
        shutil.rmtree(staging)
    shutil.copytree(source, staging)
    if target.exists():  # an empty folder left by a store that was opened but never written
        shutil.rmtree(target)
    staging.rename(target)


def _server_headers(cfg: IndexConfig) -> dict[str, str]:
    key = cfg.vector_store.api_key
    return {"api-key": key.get_secret_value()} if key else {}


def _download_snapshot(index: FolioIndex, target: Path) -> None:
    """Create a collection snapshot on the server, stream it into `target`, delete it there."""
    import httpx

    cfg = index.cfg
    name = cfg.vector_store.collection
    snapshot = index.client.create_snapshot(collection_name=name, wait=True)
    if snapshot is None:
        raise BackupError(f"Qdrant did not create a snapshot of {name!r}")
    url = f"{str(cfg.vector_store.url).rstrip('/')}/collections/{name}/snapshots/{snapshot.name}"
    try:
        with httpx.stream("GET", url, headers=_server_headers(cfg), timeout=600) as response:
            response.raise_for_status()
            with target.open("wb") as fh:
                for chunk in response.iter_bytes():
                    fh.write(chunk)
    finally:
        index.client.delete_snapshot(collection_name=name, snapshot_name=snapshot.name)


def _upload_snapshot(cfg: IndexConfig, snapshot: Path) -> None:
    """Recover the collection from a snapshot file by uploading it to the server."""
    import httpx

    name = cfg.vector_store.collection
    url = f"{str(cfg.vector_store.url).rstrip('/')}/collections/{name}/snapshots/upload"
    with snapshot.open("rb") as fh:
        response = httpx.post(
            url,
            params={"priority": "snapshot", "wait": "true"},
            files={"snapshot": (snapshot.name, fh, "application/octet-stream")},
            headers=_server_headers(cfg),
            timeout=3600,
        )
    if response.status_code >= 300:
        raise BackupError(f"Qdrant refused the snapshot upload: HTTP {response.status_code}")
