"""Storage: the Qdrant client (local mode on disk or a server) and the persisted docstores.

Qdrant local mode allows one process per folder; opening it twice raises StoreLockedError so
callers can hand the work to the process that holds it (see app/services/handoff.py).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

from llama_index.core.storage.docstore import SimpleDocumentStore
from llama_index.vector_stores.qdrant import QdrantVectorStore
from qdrant_client import QdrantClient

from indexes.config import VectorStoreConfig


class StoreError(Exception):
    """The vector store cannot be used; the message is safe to show to an operator."""


class StoreLockedError(StoreError):
    """Another process holds the local Qdrant folder."""


def open_qdrant(cfg: VectorStoreConfig) -> QdrantClient:
    """A client for local mode (`path`) or a server (`url`); one per process."""
    if cfg.url is not None:
        api_key = cfg.api_key.get_secret_value() if cfg.api_key else None
        return QdrantClient(
            url=str(cfg.url),
            api_key=api_key,
            timeout=max(1, int(cfg.timeout_s)),
            check_compatibility=False,  # its probe is one more round trip at start-up
        )
    assert cfg.path is not None
    cfg.path.mkdir(parents=True, exist_ok=True)
    try:
        return QdrantClient(path=str(cfg.path))
    except RuntimeError as exc:
        if "already accessed" in str(exc):
            raise StoreLockedError(
                f"the local Qdrant store {cfg.path} is in use by another Folio process"
            ) from None
        raise


def build_vector_store(client: QdrantClient, cfg: VectorStoreConfig) -> QdrantVectorStore:
    """LlamaIndex's Qdrant store over an existing client (the collection is made on first add)."""
    return QdrantVectorStore(client=client, collection_name=cfg.collection)


def unit_vector(vector: Sequence[float]) -> list[float]:
    """`vector` scaled to length 1 (a zero vector is returned as is): with unit vectors, DOT
    ranks exactly like COSINE."""
    norm = math.sqrt(sum(x * x for x in vector))
    if norm == 0.0 or abs(norm - 1.0) < 1e-6:
        return list(vector)
    return [x / norm for x in vector]


def describe_store(cfg: VectorStoreConfig) -> str:
    """Where the vectors live, without secrets."""
    return f"Qdrant server {cfg.url}" if cfg.url else f"Qdrant local mode at {cfg.path}"


def check_store(client: QdrantClient, cfg: VectorStoreConfig) -> None:
    """Raise StoreError with a clear line when the store cannot be reached."""
    try:
        client.get_collections()
    except Exception as exc:  # qdrant raises transport-specific errors; all mean "unreachable"
        raise StoreError(f"{describe_store(cfg)} is unreachable ({type(exc).__name__})") from None


def count_points(client: QdrantClient, collection: str) -> int:
    """Exact number of points in a collection (0 when it does not exist yet)."""
    if not client.collection_exists(collection):
        return 0
    return client.count(collection, exact=True).count


class PersistedDocstore:
    """A SimpleDocumentStore saved atomically to one JSON file.

    Written to a temporary file and renamed, so a process killed mid-write leaves the previous
    version intact and the next run converges from it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        if path.is_file():
            self.store = SimpleDocumentStore.from_persist_path(str(path))
        else:
            self.store = SimpleDocumentStore()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        self.store.persist(persist_path=str(tmp))
        os.replace(tmp, self.path)
