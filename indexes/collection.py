"""The collection schema and the search planning shared by both Qdrant stores.

Both stores (Qdrant Edge in process, Qdrant server) hold one point per chunk with a named dense
vector and a sparse BM25 vector, and answer one `SearchSpec`: which ranking (dense, bm25 or
hybrid), how many chunks, how many candidates each list contributes, how hybrid fuses them and
which cosine a dense hit must reach.

`plan_search` turns a spec into one batch of engine-neutral requests (`Nearest`, `Fused`) and
`run_plan` reads the batch's results (the dense-cutoff gate, convex fusion done here). A store
only translates requests into its engine's types and runs them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

from llama_index.core.vector_stores.types import VectorStoreQuery, VectorStoreQueryMode

from indexes.fusion import convex_fusion

DENSE = "dense"  # named dense vector: unit vectors, DOT (ranks exactly like cosine)
SPARSE = "bm25"  # named sparse vector: BM25 term weights, IDF applied by Qdrant
DOC_ID = "doc_id"  # payload key LlamaIndex writes for the chunk's document

FusionMethod = Literal["rrf", "dbsf", "convex"]


@dataclass(frozen=True)
class SearchSpec:
    """One search: `k` results; in hybrid, `candidates` from each list fused by `fusion`.

    `cutoff` is the cosine floor for dense hits. In hybrid it filters the dense list before
    fusion, and when no chunk reaches it the search returns nothing: a question the content is
    not about must not be answered from incidental keyword matches.
    """

    k: int
    candidates: int = 100
    fusion: FusionMethod = "convex"
    dense_weight: float = 0.5
    bm25_weight: float = 0.5
    rrf_k: int = 60
    cutoff: float | None = None

    @classmethod
    def from_query(cls, query: VectorStoreQuery) -> SearchSpec:
        """Defaults for a plain LlamaIndex query (no Folio spec passed)."""
        return cls(
            k=query.hybrid_top_k or query.similarity_top_k,
            candidates=query.sparse_top_k or max(query.similarity_top_k, 100),
        )


@dataclass(frozen=True)
class Nearest:
    """A nearest-neighbour search in one named vector (`DENSE` or `SPARSE`)."""

    using: str
    limit: int
    threshold: float | None = None
    with_payload: bool = False


@dataclass(frozen=True)
class Fused:
    """Searches fused inside the engine (RRF with weights, or DBSF): `limit` points, payloads."""

    prefetches: tuple[Nearest, ...]
    fusion: Literal["rrf", "dbsf"]
    limit: int
    rrf_k: int = 60
    weights: tuple[float, ...] = ()


Request = Nearest | Fused


@dataclass(frozen=True)
class SearchPlan:
    """One batch of requests; the first one's results are the answer unless `convex` (fuse the
    dense list and, when there is one, the bm25 list here) or the `gate` request (the dense
    cutoff) found nothing, which means nothing is found."""

    requests: tuple[Request, ...] = ()
    gate: int | None = None
    convex: bool = False


def plan_search(mode: VectorStoreQueryMode, spec: SearchSpec, *, has_terms: bool) -> SearchPlan:
    """The requests for one search. `has_terms`: the question has a term the BM25 vocabulary
    knows (without one, a bm25 list can only be empty, so none is asked for)."""
    match mode:
        case VectorStoreQueryMode.SPARSE:
            if not has_terms:
                return SearchPlan()
            return SearchPlan((Nearest(SPARSE, spec.k, with_payload=True),))
        case VectorStoreQueryMode.HYBRID:
            return _plan_hybrid(spec, has_terms)
        case _:
            return SearchPlan((Nearest(DENSE, spec.k, spec.cutoff, with_payload=True),))


def _plan_hybrid(spec: SearchSpec, has_terms: bool) -> SearchPlan:
    lists = [Nearest(DENSE, spec.candidates, spec.cutoff)]
    if has_terms:
        lists.append(Nearest(SPARSE, spec.candidates))
    gate = 0 if spec.cutoff is not None else None
    if spec.fusion == "convex":  # id-only lists, fused here, payloads fetched for the top k
        return SearchPlan(tuple(lists), gate=gate, convex=True)
    fused = Fused(
        tuple(lists),
        spec.fusion,
        spec.k,
        rrf_k=spec.rrf_k,
        weights=(spec.dense_weight, spec.bm25_weight)[: len(lists)],
    )
    if spec.cutoff is None:
        return SearchPlan((fused,))
    # the gate: does any chunk pass the dense cutoff? (a prefetch's threshold cannot say)
    return SearchPlan((fused, Nearest(DENSE, 1, spec.cutoff)), gate=1)


class Scored(Protocol):
    """A point as an engine returns it from a search."""

    @property
    def id(self) -> Any:
        """The point's id."""
        ...

    @property
    def score(self) -> float:
        """Its score in this search."""
        ...


Hit = TypeVar("Hit", bound=Scored)


def run_plan(
    plan: SearchPlan,
    spec: SearchSpec,
    *,
    run: Callable[[Sequence[Request]], list[list[Hit]]],
    fetch: Callable[[list[tuple[str, float]]], list[Hit]],
) -> list[Hit]:
    """The hits of one search, best first. `run` executes a batch of requests in the store's
    engine (a list of hits per request); `fetch` returns the points of (id, fused score) pairs
    with payloads, in that order (convex fusion only)."""
    if not plan.requests:
        return []
    results = run(plan.requests)
    if plan.gate is not None and not results[plan.gate]:
        return []
    if not plan.convex:
        return results[0]
    dense = [(str(h.id), h.score) for h in results[0]]
    sparse = [(str(h.id), h.score) for h in results[1]] if len(results) > 1 else []
    return fetch(convex_top(dense, sparse, spec))


def convex_top(
    dense: Sequence[tuple[str, float]], sparse: Sequence[tuple[str, float]], spec: SearchSpec
) -> list[tuple[str, float]]:
    """The best `spec.k` ids by weighted min-max-normalised scores (see fusion.convex_fusion)."""
    return convex_fusion([dense, sparse], [spec.dense_weight, spec.bm25_weight])[: spec.k]


def unit_vector(vector: Sequence[float]) -> list[float]:
    """`vector` scaled to length 1 (a zero vector is returned as is): with unit vectors, DOT
    ranks exactly like COSINE and the engine never re-normalises stored points."""
    norm = math.sqrt(sum(x * x for x in vector))
    if norm == 0.0 or abs(norm - 1.0) < 1e-6:
        return list(vector)
    return [x / norm for x in vector]
