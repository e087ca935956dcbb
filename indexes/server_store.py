"""`ServerVectorStore`: LlamaIndex's `QdrantVectorStore` for a Qdrant server or cluster, with
Folio's schema and hybrid search done inside Qdrant.

Same collection schema as the embedded `EdgeVectorStore`: named dense vector `dense` (unit
vectors, DOT), sparse `bm25` with `Modifier.IDF` (BM25 term weights from `indexes/sparse.py`
through LlamaIndex's own sparse-function hooks), the chunk in the payload. `shard_number` and
`replication_factor` come from config for a cluster. Searches are planned in `collection.py`, as
for the embedded store: hybrid RRF/DBSF is one batch (two prefetches fused, plus the dense-cutoff
gate); convex fusion is one batch of two id-only searches plus one `retrieve`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core.schema import BaseNode
from llama_index.core.vector_stores.types import (
    VectorStoreQuery,
    VectorStoreQueryResult,
)
from llama_index.vector_stores.qdrant import QdrantVectorStore
from pydantic import PrivateAttr
from qdrant_client import QdrantClient
from qdrant_client import models as rest

from indexes.collection import (
    DENSE,
    DOC_ID,
    SPARSE,
    Nearest,
    Request,
    SearchSpec,
    plan_search,
    run_plan,
    unit_vector,
)
from indexes.sparse import BM25Encoder


class SchemaMismatch(RuntimeError):
    """The collection exists with another layout (a collection from before this schema)."""


class ServerVectorStore(QdrantVectorStore):
    """QdrantVectorStore + Folio's schema, cluster settings and in-Qdrant hybrid fusion."""

    _encoder: BM25Encoder = PrivateAttr()

    def __init__(
        self,
        *,
        client: QdrantClient,
        collection_name: str,
        sparse: BM25Encoder,
        shard_number: int | None = None,
        replication_factor: int | None = None,
    ) -> None:
        super().__init__(
            collection_name=collection_name,
            client=client,
            enable_hybrid=True,
            sparse_doc_fn=sparse.encode_documents,
            sparse_query_fn=sparse.encode_queries,
            dense_vector_name=DENSE,
            sparse_vector_name=SPARSE,
            sparse_config=rest.SparseVectorParams(modifier=rest.Modifier.IDF),
            shard_number=shard_number,
            replication_factor=replication_factor,
            index_doc_id=True,
        )
        self._encoder = sparse

    @classmethod
    def class_name(cls) -> str:
        """LlamaIndex's name for this store class."""
        return "FolioServerVectorStore"

    def check_schema(self) -> None:
        """Raise SchemaMismatch if the collection exists without Folio's named vectors."""
        if not self._client.collection_exists(self.collection_name):
            return
        params = self._client.get_collection(self.collection_name).config.params
        dense = params.vectors if isinstance(params.vectors, dict) else {}
        sparse = params.sparse_vectors or {}
        if DENSE not in dense or SPARSE not in sparse:
            raise SchemaMismatch(
                f"Qdrant collection {self.collection_name!r} has another layout (made before "
                f"the hybrid schema); re-index into a new one: `folio index --rebuild`"
            )

    def _create_collection(self, collection_name: str, vector_size: int) -> None:
        self._dense_config = rest.VectorParams(size=vector_size, distance=rest.Distance.DOT)
        super()._create_collection(collection_name, vector_size)

    # -- writes ------------------------------------------------------------------------------

    def add(
        self,
        nodes: Sequence[BaseNode],
        shard_identifier: Any | None = None,
        **add_kwargs: Any,
    ) -> list[str]:
        """QdrantVectorStore's add, with unit dense vectors (DOT then ranks like cosine)."""
        for node in nodes:
            if node.embedding is not None:
                node.embedding = unit_vector(node.embedding)
        return super().add(list(nodes), shard_identifier, **add_kwargs)

    def delete(
        self, ref_doc_id: str, shard_identifier: Any | None = None, **delete_kwargs: Any
    ) -> None:
        """Every point of one document (nothing to do before the collection exists)."""
        if self._client.collection_exists(self.collection_name):
            super().delete(ref_doc_id, shard_identifier, **delete_kwargs)

    def delete_except(self, ref_doc_id: str, keep_ids: Sequence[str]) -> None:
        """Points of a document that are not in `keep_ids` (what an interrupted write left)."""
        if not self._client.collection_exists(self.collection_name):
            return
        must_not: list[Any] = [rest.HasIdCondition(has_id=list(keep_ids))] if keep_ids else []
        self._client.delete(
            self.collection_name,
            points_selector=rest.FilterSelector(
                filter=rest.Filter(must=[_doc_condition(ref_doc_id)], must_not=must_not)
            ),
        )

    def flush(self) -> None:
        """A server persists on its own."""

    def optimize(self) -> bool:
        """A server builds its indexes in the background."""
        return False

    def unindexed_points(self) -> int:
        """None: the server indexes in the background."""
        return 0

    def close(self) -> None:
        """Close the client's connections."""
        self._client.close()

    # -- reads -------------------------------------------------------------------------------

    def count(self) -> int:
        """Points in the collection (0 before it exists)."""
        if not self._client.collection_exists(self.collection_name):
            return 0
        return self._client.count(self.collection_name, exact=True).count

    def count_doc(self, doc_id: str) -> int:
        """Points of one document."""
        if not self._client.collection_exists(self.collection_name):
            return 0
        flt = rest.Filter(must=[_doc_condition(doc_id)])
        return self._client.count(self.collection_name, count_filter=flt, exact=True).count

    def point_ids(self) -> set[str]:
        """Every point id (checks and tests; a scroll over the whole collection)."""
        if not self._client.collection_exists(self.collection_name):
            return set()
        ids: set[str] = set()
        offset = None
        while True:
            records, offset = self._client.scroll(
                self.collection_name, offset=offset, limit=1000, with_payload=False
            )
            ids.update(str(r.id) for r in records)
            if offset is None:
                return ids

    def doc_nodes(self, doc_id: str) -> list[BaseNode]:
        """Every chunk of one document, from the payloads."""
        if not self._client.collection_exists(self.collection_name):
            return []
        flt = rest.Filter(must=[_doc_condition(doc_id)])
        nodes: list[BaseNode] = []
        offset = None
        while True:
            records, offset = self._client.scroll(
                self.collection_name, scroll_filter=flt, offset=offset, limit=500
            )
            nodes.extend(self.parse_to_query_result(records).nodes or [])
            if offset is None:
                return nodes

    def doc_counts(self) -> dict[str, int]:
        """Points per document id (to find points no ledger entry owns)."""
        if not self._client.collection_exists(self.collection_name):
            return {}
        limit = max(10, self.count())
        response = self._client.facet(self.collection_name, key=DOC_ID, limit=limit, exact=True)
        # an exact facet still lists values whose points were all deleted, with count 0
        return {str(hit.value): hit.count for hit in response.hits if hit.count > 0}

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """Dense (DEFAULT), SPARSE or HYBRID search, planned as for the embedded store
        (collection.py): one `query_batch_points` call, plus a `retrieve` for convex fusion."""
        spec: SearchSpec = kwargs.get("spec") or SearchSpec.from_query(query)
        if not self._client.collection_exists(self.collection_name):
            return VectorStoreQueryResult(nodes=[], similarities=[], ids=[])
        dense = unit_vector(query.query_embedding or [])
        indices, values = self._encoder.query(query.query_str or "")
        sparse = rest.SparseVector(indices=indices, values=values)
        plan = plan_search(query.mode, spec, has_terms=bool(indices))

        def run(requests: Sequence[Request]) -> list[list[rest.ScoredPoint]]:
            batch = [_request(r, dense, sparse) for r in requests]
            responses = self._client.query_batch_points(self.collection_name, requests=batch)
            return [response.points for response in responses]

        return self.parse_to_query_result(run_plan(plan, spec, run=run, fetch=self._fetch))

    def _fetch(self, top: list[tuple[str, float]]) -> list[rest.ScoredPoint]:
        records = self._client.retrieve(self.collection_name, [i for i, _ in top])
        by_id = {str(r.id): r for r in records}
        return [
            rest.ScoredPoint(id=r.id, version=0, score=s, payload=r.payload)
            for i, s in top
            if (r := by_id.get(i)) is not None
        ]


def _request(request: Request, dense: list[float], sparse: rest.SparseVector) -> rest.QueryRequest:
    """A planned request as Qdrant's QueryRequest."""
    if isinstance(request, Nearest):
        return rest.QueryRequest(
            query=_vector(request, dense, sparse),
            using=request.using,
            limit=request.limit,
            score_threshold=request.threshold,
            with_payload=request.with_payload,
        )
    prefetch = [
        rest.Prefetch(
            query=_vector(p, dense, sparse),
            using=p.using,
            limit=p.limit,
            score_threshold=p.threshold,
        )
        for p in request.prefetches
    ]
    fusion: rest.Query = (
        rest.FusionQuery(fusion=rest.Fusion.DBSF)
        if request.fusion == "dbsf"
        else rest.RrfQuery(rrf=rest.Rrf(k=request.rrf_k, weights=list(request.weights)))
    )
    return rest.QueryRequest(
        prefetch=prefetch, query=fusion, limit=request.limit, with_payload=True
    )


def _vector(
    request: Nearest, dense: list[float], sparse: rest.SparseVector
) -> list[float] | rest.SparseVector:
    return dense if request.using == DENSE else sparse


def _doc_condition(doc_id: str) -> rest.FieldCondition:
    return rest.FieldCondition(key=DOC_ID, match=rest.MatchValue(value=doc_id))
