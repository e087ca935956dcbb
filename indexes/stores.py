"""Opening the vector store of a config: Qdrant Edge on disk (embedded default) or a Qdrant
server/cluster, plus the checks around it (reachability, previous storage layouts).

Qdrant Edge allows one process per shard folder; opening it from a second process raises
StoreLockedError so callers can hand the work to the process that holds it (app/services/
handoff.py).
"""

from __future__ import annotations

from pathlib import Path

from indexes.config import IndexConfig, VectorStoreConfig
from indexes.edge_store import EdgeVectorStore
from indexes.edge_store import StoreLockedError as EdgeLocked
from indexes.sparse import BM25Encoder
from indexes.store_protocol import FolioVectorStore


class StoreError(Exception):
    """The vector store cannot be used; the message is safe to show to an operator."""


class StoreLockedError(StoreError):
    """Another process holds the embedded store's folder."""


class LegacyLayoutError(StoreError):
    """`storage/` holds the layout of an earlier Folio (Qdrant local mode + JSON docstores)."""


LEGACY_FILES = ("nodes.json", "docstore-config.json", "docstore-api.json", "bm25")


def legacy_paths(cfg: IndexConfig) -> list[Path]:
    """Files and folders of the pre-Edge layout that are still in the storage folder."""
    found = [cfg.storage_dir / name for name in LEGACY_FILES if (cfg.storage_dir / name).exists()]
    old_qdrant = cfg.storage_dir / "qdrant"
    if (old_qdrant / "meta.json").is_file() or (old_qdrant / "collection").is_dir():
        found.append(old_qdrant)
    return found


def check_layout(cfg: IndexConfig) -> None:
    """Refuse to mix a previous layout with the current one (never a silent mix)."""
    if cfg.vector_store.is_server:
        return
    old = legacy_paths(cfg)
    if old:
        names = ", ".join(p.name for p in old)
        raise LegacyLayoutError(
            f"{cfg.storage_dir} holds an index in the previous layout ({names}); "
            "rebuild it into the current one with: .venv/bin/folio index --rebuild"
        )


def open_vector_store(cfg: IndexConfig, sparse: BM25Encoder) -> FolioVectorStore:
    """The configured store (both are LlamaIndex vector stores with Folio's schema)."""
    vs = cfg.vector_store
    if vs.is_server:
        from qdrant_client import QdrantClient

        from indexes.server_store import SchemaMismatch, ServerVectorStore

        client = QdrantClient(
            url=str(vs.url),
            api_key=vs.api_key.get_secret_value() if vs.api_key else None,
            timeout=max(1, int(vs.timeout_s)),
            check_compatibility=False,  # its probe is one more round trip at start-up
        )
        store = ServerVectorStore(
            client=client,
            collection_name=vs.collection,
            sparse=sparse,
            shard_number=vs.shard_number,
            replication_factor=vs.replication_factor,
        )
        try:
            store.check_schema()
        except SchemaMismatch as exc:
            raise StoreError(str(exc)) from None
        return store
    assert vs.path is not None
    try:
        return EdgeVectorStore(path=vs.path, sparse=sparse)
    except EdgeLocked as exc:
        raise StoreLockedError(str(exc)) from None


def describe_store(cfg: VectorStoreConfig) -> str:
    """Where the vectors live, without secrets."""
    return f"Qdrant server {cfg.url}" if cfg.url else f"embedded Qdrant (Edge) at {cfg.path}"


def check_store(store: FolioVectorStore, cfg: VectorStoreConfig) -> None:
    """Raise StoreError with a clear line when the store cannot be reached."""
    try:
        store.count()
    except Exception as exc:  # qdrant raises transport-specific errors; all mean "unreachable"
        raise StoreError(f"{describe_store(cfg)} is unreachable ({type(exc).__name__})") from None
