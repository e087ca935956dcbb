"""`FolioVectorStore`: what Folio needs from a vector store, as a typed protocol.

Both stores implement it: `EdgeVectorStore` (Qdrant Edge in process, the embedded default) and
`ServerVectorStore` (a Qdrant server or cluster). Beyond LlamaIndex's vector-store writes and
query (whose `spec` keyword carries a `SearchSpec`, see collection.py), the ingestion ledger
reconciles against the points (counts per document, every chunk of a document), and the
embedded engine has a lifecycle (flush, optimise, close).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from llama_index.core.schema import BaseNode
from llama_index.core.vector_stores.types import VectorStoreQuery, VectorStoreQueryResult


@runtime_checkable
class FolioVectorStore(Protocol):
    """A LlamaIndex vector store over Folio's collection schema (indexes/collection.py)."""

    @property
    def client(self) -> Any:
        """The engine's own client (Qdrant Edge shard or QdrantClient), for backups and tools."""
        ...

    def add(self, nodes: Sequence[BaseNode], **add_kwargs: Any) -> list[str]:
        """Upsert chunks (with embeddings); their ids."""
        ...

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Every point of one document."""
        ...

    def delete_except(self, ref_doc_id: str, keep_ids: Sequence[str]) -> None:
        """Points of a document that are not in `keep_ids` (what an interrupted write left)."""
        ...

    def get_nodes(self, node_ids: list[str] | None = None, filters: Any = None) -> list[BaseNode]:
        """The chunks of these ids that exist (in no promised order)."""
        ...

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """Dense, sparse (BM25) or hybrid search, as `kwargs["spec"]` says."""
        ...

    def count(self) -> int:
        """Points in the store."""
        ...

    def count_doc(self, doc_id: str) -> int:
        """Points of one document."""
        ...

    def point_ids(self) -> set[str]:
        """Every point id (a scroll over the whole store: checks and tests)."""
        ...

    def doc_nodes(self, doc_id: str) -> list[BaseNode]:
        """Every chunk of one document, from the payloads."""
        ...

    def doc_counts(self) -> dict[str, int]:
        """Points per document id (to find points no ledger entry owns)."""
        ...

    def flush(self) -> None:
        """Make writes durable now (a server persists on its own)."""
        ...

    def optimize(self) -> bool:
        """Build the vector index now; whether anything was done."""
        ...

    def unindexed_points(self) -> int:
        """Points searched by brute force until the next `optimize`."""
        ...

    def close(self) -> None:
        """Release the engine (the shard's folder lock, or the client's connections)."""
        ...
