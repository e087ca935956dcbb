"""`EdgeVectorStore`: a LlamaIndex vector store over Qdrant Edge, Qdrant's engine in process.

The embedded default. It keeps the collection schema of server mode (`indexes/server_store.py`):
a named dense vector `dense` (unit vectors, DOT), a sparse `bm25` vector with `Modifier.IDF`,
and the chunk (text, metadata, character span) in the payload in LlamaIndex's own layout, so an
answer needs nothing but this store. Hybrid search is one call: dense and BM25 prefetches fused
inside the engine (RRF or DBSF), or both ranked lists fused here (convex), as planned by
`collection.py` for both stores.

A shard folder can be opened by one process; within it, every store over the same folder shares
one `EdgeShard` (`open_shard`), so two index objects see each other's writes at once. Writes go
through Qdrant's write-ahead log: an update is durable when `update` returns.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from llama_index.core.schema import BaseNode, MetadataMode
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    VectorStoreQuery,
    VectorStoreQueryResult,
)
from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict
from pydantic import PrivateAttr

from indexes.collection import (
    DENSE,
    DOC_ID,
    SPARSE,
    Fused,
    Nearest,
    Request,
    SearchSpec,
    plan_search,
    run_plan,
    unit_vector,
)
from indexes.sentence_vectors import KEY as SENTENCE_VECTORS
from indexes.sparse import BM25Encoder

log = logging.getLogger("folio.store")

_MARKER = "folio-store.json"
SCHEMA_VERSION = 1


class StoreLockedError(RuntimeError):
    """Another process holds this shard folder."""


class _Registry:
    """One EdgeShard per folder per process, shared by every store that opens it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[Path, list[Any]] = {}  # path -> [shard, refcount]

    def acquire(self, path: Path, create: Any) -> Any:
        key = path.resolve()
        with self._lock:
            entry = self._open.get(key)
            if entry is None:
                entry = self._open[key] = [create(), 0]
            entry[1] += 1
            return entry[0]

    def peek(self, path: Path) -> Any | None:
        entry = self._open.get(path.resolve())
        return entry[0] if entry else None

    def release(self, path: Path) -> None:
        key = path.resolve()
        with self._lock:
            entry = self._open.get(key)
            if entry is None:
                return
            entry[1] -= 1
            if entry[1] <= 0:
                del self._open[key]
                entry[0].flush()
                entry[0].close()


SHARDS = _Registry()


def _edge_config(dim: int) -> Any:
    from qdrant_edge import (
        Distance,
        EdgeConfig,
        EdgeSparseVectorParams,
        EdgeVectorParams,
        Modifier,
    )

    return EdgeConfig(
        vectors={DENSE: EdgeVectorParams(size=dim, distance=Distance.Dot)},
        sparse_vectors={SPARSE: EdgeSparseVectorParams(modifier=Modifier.Idf)},
    )


def is_edge_folder(path: Path) -> bool:
    """Whether `path` holds a shard this store made (its marker file)."""
    return (path / _MARKER).is_file()


class EdgeVectorStore(BasePydanticVectorStore):
    """Qdrant Edge shard on disk; see the module docstring."""

    stores_text: bool = True
    flat_metadata: bool = False
    path: str
    batch_size: int = 256

    _encoder: BM25Encoder = PrivateAttr()
    _shard: Any = PrivateAttr(default=None)
    _open_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def __init__(self, *, path: Path | str, sparse: BM25Encoder, **kwargs: Any) -> None:
        super().__init__(path=str(path), **kwargs)
        self._encoder = sparse
        folder = Path(self.path)
        if is_edge_folder(folder):
            self._shard = self._acquire(lambda: self._load(folder))

    @classmethod
    def class_name(cls) -> str:
        """LlamaIndex's name for this store class."""
        return "EdgeVectorStore"

    # -- shard lifecycle ---------------------------------------------------------------------

    def _acquire(self, create: Any) -> Any:
        return SHARDS.acquire(Path(self.path), create)

    @staticmethod
    def _load(folder: Path) -> Any:
        from qdrant_edge import EdgeShard

        try:
            return EdgeShard.load(str(folder))
        except Exception as exc:
            if "WouldBlock" in str(exc) or "lock" in str(exc).lower():
                raise StoreLockedError(
                    f"the vector store {folder} is in use by another Folio process"
                ) from None
            raise

    def _ensure_shard(self, dim: int) -> Any:
        """The shard, created on the first write (its vector size is the first vector's)."""
        if self._shard is not None:
            return self._shard
        with self._open_lock:
            if self._shard is None:
                folder = Path(self.path)

                def create() -> Any:
                    from qdrant_edge import EdgeShard, PayloadSchemaType, UpdateOperation

                    if is_edge_folder(folder):
                        return self._load(folder)
                    # owner-only: the payloads hold the documents' text
                    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
                    shard = EdgeShard.create(str(folder), _edge_config(dim))
                    shard.update(
                        UpdateOperation.create_field_index(DOC_ID, PayloadSchemaType.Keyword)
                    )
                    shard.flush()
                    marker = {
                        "schema": SCHEMA_VERSION,
                        "dim": dim,
                        "dense": DENSE,
                        "sparse": SPARSE,
                    }
                    (folder / _MARKER).write_text(json.dumps(marker))
                    return shard

                self._shard = self._acquire(create)
        return self._shard

    def _attach(self) -> Any:
        """The shard if one exists by now: another store over this folder (or an earlier run)
        may have created it after this one was opened."""
        if self._shard is None and is_edge_folder(Path(self.path)):
            with self._open_lock:
                if self._shard is None:
                    self._shard = self._acquire(lambda: self._load(Path(self.path)))
        return self._shard

    @property
    def client(self) -> Any:
        """The EdgeShard (None until a first write created it)."""
        return self._attach()

    def close(self) -> None:
        """Release this store's hold on the shared shard (the last one closes it)."""
        if self._shard is not None:
            self._shard = None
            SHARDS.release(Path(self.path))

    def flush(self) -> None:
        """Write the shard's pending changes to disk."""
        if self._shard is not None:
            self._shard.flush()

    def optimize(self) -> bool:
        """Build HNSW / merge segments now. Holds the GIL for its whole run (qdrant-edge 0.9),
        so callers choose when (after a bulk index, never per request)."""
        return bool(self._shard.optimize()) if self._shard is not None else False

    def unindexed_points(self) -> int:
        """Points not yet covered by an HNSW index (searched by brute force until optimised)."""
        if self._shard is None:
            return 0
        info = self._shard.info()
        # indexed_vectors_count counts every named vector; dense is one of two per point
        return max(0, int(info.points_count) - int(info.indexed_vectors_count) // 2)

    # -- writes ------------------------------------------------------------------------------

    def add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[str]:
        """Upsert chunks (dense vector made unit length, BM25 vector, payload); their ids."""
        from qdrant_edge import Point, SparseVector, UpdateOperation

        if not nodes:
            return []
        shard = self._ensure_shard(len(nodes[0].get_embedding()))
        ids: list[str] = []
        for start in range(0, len(nodes), self.batch_size):
            batch = nodes[start : start + self.batch_size]
            points = []
            for node in batch:
                indices, values = self._encoder.document(
                    node.get_content(metadata_mode=MetadataMode.EMBED)
                )
                vectors: dict[str, list[float] | SparseVector | list[list[float]]] = {
                    DENSE: unit_vector(node.get_embedding()),
                    SPARSE: SparseVector(indices, values),
                }
                payload = node_to_metadata_dict(node, remove_text=False, flat_metadata=False)
                payload.pop(SENTENCE_VECTORS, None)  # kept once, inside _node_content
                points.append(Point(node.node_id, vectors, payload))
                ids.append(node.node_id)
            shard.update(UpdateOperation.upsert_points(points))
        return ids

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Every point of one document."""
        from qdrant_edge import UpdateOperation

        if self._attach() is not None:
            self._shard.update(UpdateOperation.delete_points_by_filter(_doc_filter(ref_doc_id)))

    def delete_nodes(
        self, node_ids: list[str] | None = None, filters: Any = None, **delete_kwargs: Any
    ) -> None:
        """Delete points by id (`filters` are not supported and ignored)."""
        from qdrant_edge import UpdateOperation

        if self._attach() is not None and node_ids:
            self._shard.update(UpdateOperation.delete_points(list(node_ids)))

    def delete_except(self, ref_doc_id: str, keep_ids: Sequence[str]) -> None:
        """Points of a document that are not in `keep_ids` (what an interrupted write left)."""
        from qdrant_edge import Filter, HasIdCondition, UpdateOperation

        if self._attach() is None:
            return
        flt = _doc_filter(ref_doc_id)
        if keep_ids:
            flt = Filter(must=flt.must, must_not=[HasIdCondition(set(keep_ids))])
        self._shard.update(UpdateOperation.delete_points_by_filter(flt))

    def export_points(self) -> Iterator[dict[str, Any]]:
        """Every point as plain data (id, both vectors, payload): a backup that does not depend
        on the engine's file format."""
        from qdrant_edge import ScrollRequest

        if self._attach() is None:
            return
        offset = None
        while True:
            records, offset = self._shard.scroll(
                ScrollRequest(offset=offset, limit=500, with_payload=True, with_vector=True)
            )
            for r in records:
                sparse = r.vector[SPARSE]
                yield {
                    "id": str(r.id),
                    "dense": list(r.vector[DENSE]),
                    "sparse": [list(sparse.indices), list(sparse.values)],
                    "payload": r.payload,
                }
            if offset is None:
                return

    def import_points(self, records: Iterable[dict[str, Any]]) -> int:
        """Upsert points exported by `export_points` (a restore into an empty store)."""
        from qdrant_edge import Point, SparseVector, UpdateOperation

        batch: list[Any] = []
        count = 0
        for record in records:
            shard = self._ensure_shard(len(record["dense"]))
            indices, values = record["sparse"]
            vectors = {DENSE: record["dense"], SPARSE: SparseVector(indices, values)}
            batch.append(Point(record["id"], vectors, record["payload"]))
            if len(batch) >= self.batch_size:
                shard.update(UpdateOperation.upsert_points(batch))
                count += len(batch)
                batch = []
        if batch:
            self._shard.update(UpdateOperation.upsert_points(batch))
            count += len(batch)
        self.flush()
        return count

    def clear(self) -> None:
        """Delete every point."""
        from qdrant_edge import Filter, UpdateOperation

        if self._attach() is not None:
            self._shard.update(UpdateOperation.delete_points_by_filter(Filter(must=[])))

    # -- reads -------------------------------------------------------------------------------

    def count(self) -> int:
        """Points in the shard."""
        from qdrant_edge import CountRequest

        return self._shard.count(CountRequest(exact=True)) if self._attach() is not None else 0

    def count_doc(self, doc_id: str) -> int:
        """Points of one document."""
        from qdrant_edge import CountRequest

        if self._attach() is None:
            return 0
        return int(self._shard.count(CountRequest(exact=True, filter=_doc_filter(doc_id))))

    def point_ids(self) -> set[str]:
        """Every point id (checks and tests; a scroll over the whole shard)."""
        from qdrant_edge import ScrollRequest

        if self._attach() is None:
            return set()
        ids: set[str] = set()
        offset = None
        while True:
            records, offset = self._shard.scroll(
                ScrollRequest(offset=offset, limit=1000, with_payload=False, with_vector=False)
            )
            ids.update(str(r.id) for r in records)
            if offset is None:
                return ids

    def doc_nodes(self, doc_id: str) -> list[BaseNode]:
        """Every chunk of one document, from the payloads."""
        from qdrant_edge import ScrollRequest

        if self._attach() is None:
            return []
        nodes: list[BaseNode] = []
        offset = None
        while True:
            records, offset = self._shard.scroll(
                ScrollRequest(
                    offset=offset, limit=500, filter=_doc_filter(doc_id), with_payload=True
                )
            )
            nodes.extend(metadata_dict_to_node(r.payload) for r in records)
            if offset is None:
                return nodes

    def doc_counts(self) -> dict[str, int]:
        """Points per document id (to find points no ledger entry owns)."""
        from qdrant_edge import FacetRequest

        if self._attach() is None:
            return {}
        limit = max(10, self.count())
        response = self._shard.facet(FacetRequest(key=DOC_ID, limit=limit, exact=True))
        # an exact facet still lists values whose points were all deleted, with count 0
        return {str(hit.value): hit.count for hit in response.hits if hit.count > 0}

    def get_nodes(self, node_ids: list[str] | None = None, filters: Any = None) -> list[BaseNode]:
        """The chunks of these ids that exist, in the order asked."""
        if self._attach() is None or not node_ids:
            return []
        records = self._shard.retrieve(list(node_ids), True, False)
        by_id = {str(r.id): metadata_dict_to_node(r.payload) for r in records}
        return [by_id[i] for i in node_ids if i in by_id]

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """Dense (DEFAULT), SPARSE or HYBRID search; `spec` (a SearchSpec) carries the fusion
        method, candidates per list and the dense cutoff (the plan: collection.py)."""
        spec: SearchSpec = kwargs.get("spec") or SearchSpec.from_query(query)
        if self._attach() is None:
            return VectorStoreQueryResult(nodes=[], similarities=[], ids=[])
        dense = unit_vector(query.query_embedding or [])
        sparse = self._sparse(query)
        plan = plan_search(query.mode, spec, has_terms=bool(sparse.indices))

        def run(requests: Sequence[Request]) -> list[list[Any]]:
            from qdrant_edge import QueryBatchRequest

            batch = [self._request(r, dense, sparse) for r in requests]
            results: list[list[Any]] = self._shard.query_batch(QueryBatchRequest(batch))
            return results

        return _result(run_plan(plan, spec, run=run, fetch=self._fetch))

    # -- search internals --------------------------------------------------------------------

    def _sparse(self, query: VectorStoreQuery) -> Any:
        from qdrant_edge import SparseVector

        indices, values = self._encoder.query(query.query_str or "")
        return SparseVector(indices, values)

    @staticmethod
    def _request(request: Request, dense: list[float], sparse: Any) -> Any:
        """A planned request as Qdrant Edge's QueryRequest."""
        from qdrant_edge import QueryRequest

        if isinstance(request, Nearest):
            return QueryRequest(
                limit=request.limit,
                query=_nearest(request, dense, sparse),
                score_threshold=request.threshold,
                with_payload=request.with_payload,
                with_vector=False,
            )
        return QueryRequest(
            limit=request.limit,
            prefetches=[_prefetch(p, dense, sparse) for p in request.prefetches],
            query=_fusion(request),
            with_payload=True,
        )

    def _fetch(self, top: list[tuple[str, float]]) -> list[Any]:
        records = self._shard.retrieve([i for i, _ in top], True, False)
        by_id = {str(r.id): r for r in records}
        return [_Scored(by_id[i], s) for i, s in top if i in by_id]


def _nearest(request: Nearest, dense: list[float], sparse: Any) -> Any:
    from qdrant_edge import Query

    return Query.Nearest(dense if request.using == DENSE else sparse, using=request.using)


def _prefetch(request: Nearest, dense: list[float], sparse: Any) -> Any:
    from qdrant_edge import Prefetch

    return Prefetch(
        limit=request.limit,
        query=_nearest(request, dense, sparse),
        score_threshold=request.threshold,
    )


def _fusion(request: Fused) -> Any:
    from qdrant_edge import Fusion

    if request.fusion == "dbsf":
        return Fusion.Dbsf()
    return Fusion.Rrf(k=request.rrf_k, weights=list(request.weights))


class _Scored:
    """A retrieved record with the fused score computed here."""

    def __init__(self, record: Any, score: float) -> None:
        self.id, self.payload, self.score = record.id, record.payload, score


def _doc_filter(doc_id: str) -> Any:
    from qdrant_edge import FieldCondition, Filter, MatchValue

    return Filter(must=[FieldCondition(DOC_ID, match=MatchValue(doc_id))])


def _result(hits: list[Any]) -> VectorStoreQueryResult:
    nodes, scores, ids = [], [], []
    for hit in hits:
        nodes.append(metadata_dict_to_node(hit.payload))
        scores.append(float(hit.score))
        ids.append(str(hit.id))
    return VectorStoreQueryResult(nodes=nodes, similarities=scores, ids=ids)
