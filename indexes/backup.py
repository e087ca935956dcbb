"""Export and import of the vector store, for `folio backup` / `folio restore`.

This is the one module that knows the storage layout; callers go through
`FolioIndex.export_vectors` / `FolioIndex.import_vectors` and treat the folder they hand over as
opaque. It is handed what it works on (config, store, ledger, the pause of writes) and knows
nothing of FolioIndex. The document ledger is a table in the database, so it travels with the
database dump.

- Embedded store (Qdrant Edge): every point (id, dense vector, BM25 sparse vector, payload)
  written to `points.jsonl` while writes are paused; import upserts them into a new shard and
  builds its HNSW index. A logical copy, so an archive does not depend on the engine's file
  format.
- Qdrant server: a collection snapshot through its HTTP API, uploaded back the same way.

The folder holds `vectors.json` (layout, collection, embedding, counts) plus the data.
`import_vectors` refuses a layout, collection or embedding it cannot use, and refuses to write
over a store that already holds points. After a restore, opening the index runs its recovery,
which reconciles the ledger (from the database dump) with the points (indexes/pipeline.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from indexes.config import IndexConfig
from indexes.ledger import SqlLedger
from indexes.readers import ORIGIN_API, ORIGIN_CONFIG
from indexes.store_protocol import FolioVectorStore
from indexes.stores import StoreError, legacy_paths

EDGE_LAYOUT = "qdrant-edge-points/1"
SERVER_LAYOUT = "qdrant-snapshot/2"
META = "vectors.json"
POINTS = "points.jsonl"


class BackupError(Exception):
    """The export or import cannot go ahead; the message is one line for an operator."""


def export_vectors(
    target: Path,
    *,
    cfg: IndexConfig,
    store: FolioVectorStore,
    ledger: SqlLedger,
    paused: AbstractContextManager[None],
) -> dict[str, Any]:
    """Write `store`'s points into `target` (created, must be empty); return the metadata
    written to `vectors.json`. Consistent: the export runs inside `paused` (the indexer's pause
    of writes), so no document is written or deleted meanwhile."""
    target.mkdir(parents=True, exist_ok=True)
    if any(target.iterdir()):
        raise BackupError(f"export folder {target} is not empty")
    with paused:
        if cfg.vector_store.is_server:
            layout = SERVER_LAYOUT
            _download_snapshot(cfg, store.client, target / "qdrant.snapshot")
        else:
            from indexes.edge_store import EdgeVectorStore

            assert isinstance(store, EdgeVectorStore), "the embedded layout needs the Edge store"
            layout = EDGE_LAYOUT
            with (target / POINTS).open("w") as fh:
                for record in store.export_points():
                    fh.write(json.dumps(record) + "\n")
        meta = {
            "layout": layout,
            "collection": cfg.vector_store.collection,
            "embedding": _embedding_identity(cfg),
            "counts": _counts(store, ledger),
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
        return meta
    from indexes.edge_store import EdgeVectorStore
    from indexes.sparse import BM25Encoder

    assert cfg.vector_store.path is not None
    store = EdgeVectorStore(path=cfg.vector_store.path, sparse=BM25Encoder(cfg.retrieval.bm25))
    try:
        store.import_points(_read_points(source / POINTS))
        store.optimize()
        if store.count() != meta["counts"]["points"]:
            raise BackupError(
                f"restored {store.count()} points, the archive lists {meta['counts']['points']}"
            )
    finally:
        store.close()
    return meta


def read_export_meta(source: Path) -> dict[str, Any]:
    """The export's `vectors.json`; BackupError when it is missing or of an unknown layout."""
    try:
        meta: dict[str, Any] = json.loads((source / META).read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"no readable {META} in the vectors export ({exc})") from None
    if meta.get("layout") not in (EDGE_LAYOUT, SERVER_LAYOUT):
        raise BackupError(f"unknown vectors layout {meta.get('layout')!r}")
    return meta


def check_compatible(cfg: IndexConfig, meta: Mapping[str, Any]) -> None:
    """Raise BackupError when the export cannot serve this config: other store kind, other
    collection name, or vectors from another embedding model (they would answer nonsense)."""
    wanted = SERVER_LAYOUT if cfg.vector_store.is_server else EDGE_LAYOUT
    if meta["layout"] != wanted:
        have = "a Qdrant server" if meta["layout"] == SERVER_LAYOUT else "the embedded store"
        here = "a Qdrant server" if cfg.vector_store.is_server else "the embedded store"
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
    """Raise BackupError unless the store holds no points (and no previous layout)."""
    if legacy_paths(cfg):
        raise BackupError(f"{cfg.storage_dir} holds an index; restore needs an empty installation")
    if cfg.vector_store.is_server:
        from indexes.sparse import BM25Encoder
        from indexes.stores import open_vector_store

        store = open_vector_store(cfg, BM25Encoder(cfg.retrieval.bm25))
        try:
            points = store.count()
        except Exception as exc:
            raise StoreError(
                f"Qdrant server {cfg.vector_store.url} is unreachable ({type(exc).__name__})"
            ) from None
        finally:
            store.close()
        if points:
            raise BackupError(
                f"collection {cfg.vector_store.collection!r} on {cfg.vector_store.url} already "
                f"holds {points} points; restore needs an empty installation"
            )
        return
    from indexes.edge_store import EdgeVectorStore, is_edge_folder
    from indexes.sparse import BM25Encoder

    assert cfg.vector_store.path is not None
    if not is_edge_folder(cfg.vector_store.path):
        return
    store = EdgeVectorStore(path=cfg.vector_store.path, sparse=BM25Encoder(cfg.retrieval.bm25))
    try:
        if store.count():
            raise BackupError(
                f"{cfg.vector_store.path} already holds {store.count()} points; "
                "restore needs an empty installation"
            )
    finally:
        store.close()


# -- internals ------------------------------------------------------------------------------


def _read_points(path: Path) -> Iterator[dict[str, Any]]:
    with path.open() as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def _embedding_identity(cfg: IndexConfig) -> dict[str, Any]:
    return {
        "provider": cfg.embedding.provider,
        "model": cfg.embedding.model,
        "dimensions": cfg.embedding.dimensions,
    }


def _counts(store: FolioVectorStore, ledger: SqlLedger) -> dict[str, int]:
    return {
        "points": store.count(),
        "chunks": ledger.chunk_total(),
        "documents_config": ledger.count(ORIGIN_CONFIG),
        "documents_api": ledger.count(ORIGIN_API),
    }


def _server_headers(cfg: IndexConfig) -> dict[str, str]:
    key = cfg.vector_store.api_key
    return {"api-key": key.get_secret_value()} if key else {}


def _download_snapshot(cfg: IndexConfig, client: Any, target: Path) -> None:
    """Create a collection snapshot on the server (`client`: the store's QdrantClient), stream
    it into `target`, delete it there."""
    import httpx

    name = cfg.vector_store.collection
    snapshot = client.create_snapshot(collection_name=name, wait=True)
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
        client.delete_snapshot(collection_name=name, snapshot_name=snapshot.name)


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
