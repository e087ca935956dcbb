"""Run a retrieval eval: index a dataset's corpus with a config (cached), run every query through
the configured retriever, collapse chunks to documents, score with ranx. `answer_eval` runs the
answer eval (half the corpus indexed, every query answered; judged by `evals/answering.py`).

The eval index lives in `<cache>/<key>/`, keyed by the corpus hash and the index-relevant config
(chunking + embedder). Re-running an eval reuses it through Folio's own incremental ingestion,
so nothing is re-embedded; configs that differ only in retrieval share one index.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.schema import QueryBundle

from evals.answering import PREFIX, judge, split_by_title, spread, summarise
from evals.datasets import Dataset
from evals.metrics import latency_summary, mean_metrics, per_query_metrics
from indexes.config import IndexConfig, VectorStoreConfig
from indexes.folio_index import FolioIndex
from indexes.fusion import best_per_group
from indexes.query import FolioQueryEngine
from indexes.retriever import FolioRetriever

DEFAULT_CACHE = Path(".folio-cache/evals")
DEFAULT_DEPTH = 300  # chunks per query: enough for 100 distinct documents on both datasets

Progress = Callable[[str, int, int], None]  # (phase, done, total)


@dataclass
class EvalResult:
    """Everything one (config, dataset, split) eval measured."""

    label: str
    dataset: str
    split: str
    retrieval: dict[str, Any]
    metrics: dict[str, float]
    latency: dict[str, float]
    per_query: dict[str, dict[str, float]] = field(repr=False)
    answers: dict[str, float] = field(default_factory=dict)
    n_queries: int = 0
    n_docs: int = 0
    n_chunks: int = 0
    index_key: str = ""

    def summary(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k != "per_query"}
        return data


def index_key(dataset: Dataset, cfg: IndexConfig) -> str:
    """Cache key: corpus content + everything that changes chunks or vectors (BM25's term
    weights are stored per chunk, so its parameters are part of the index)."""
    relevant = {
        "corpus": dataset.corpus_hash(),
        "chunking": cfg.chunking.model_dump(mode="json"),
        "embedding": cfg.embedding.model_dump(
            mode="json", include={"provider", "model", "max_length", "dimensions", "precision"}
        ),
        "bm25": cfg.retrieval.bm25.model_dump(mode="json"),
        "sentence_vectors": cfg.synthesis.sentence_vectors,
    }
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]


class EvalSession:
    """Holds loaded models and open eval indexes, so several configs share them in one run."""

    def __init__(self, cache_root: Path = DEFAULT_CACHE) -> None:
        self.cache_root = cache_root
        self._models: dict[str, BaseEmbedding] = {}
        # (embedder, query) → (embedding, ms): modes sharing an embedder embed each query once
        self._query_vectors: dict[tuple[str, str], tuple[list[float], float]] = {}
        self._indexes: dict[str, FolioIndex] = {}

    def close(self) -> None:
        for folio in self._indexes.values():
            folio.close()
        self._indexes.clear()

    def share_model(self, cfg: IndexConfig, model: BaseEmbedding) -> None:
        """Use an already-loaded embedder for configs with this embedding section."""
        self._models[cfg.embedding.model_dump_json()] = model

    def embed_model(self, cfg: IndexConfig) -> BaseEmbedding:
        from indexes.embeddings import build_embed_model

        key = cfg.embedding.model_dump_json()
        if key not in self._models:
            self._models[key] = build_embed_model(cfg.embedding, cfg.runtime)
        return self._models[key]

    def open_index(
        self, dataset: Dataset, cfg: IndexConfig, progress: Progress | None = None
    ) -> FolioIndex:
        """The eval index for this corpus + config, built (or brought up to date) on first use."""
        key = index_key(dataset, cfg)
        if key in self._indexes:
            return self._indexes[key]
        root = self.cache_root / key
        eval_cfg = cfg.model_copy(
            update={
                "storage_dir": root,
                "sources": [],
                "vector_store": VectorStoreConfig(path=root / "vectors", collection="eval"),
            }
        )
        folio = FolioIndex.from_config(eval_cfg, eager=False, embed_model=self.embed_model(cfg))
        on_progress = None
        if progress is not None:

            def on_progress(done: int, total: int, _doc: str) -> None:
                progress("indexing (characters)", done, total)

        folio.indexer.sync(
            dataset.documents(), origin="config", delete_missing=True, progress=on_progress
        )
        folio.maybe_optimize()
        self._indexes[key] = folio
        return folio

    def engine(self, folio: FolioIndex, cfg: IndexConfig) -> FolioQueryEngine:
        """A query engine with this config's retrieval over a (shared) eval index."""
        retriever = FolioRetriever(
            vector_store=folio.vector_store, embed_model=folio.embed_model, cfg=cfg.retrieval
        )
        return FolioQueryEngine.from_config(
            cfg.model_copy(update={"storage_dir": folio.cfg.storage_dir}), retriever=retriever
        )

    def evaluate(
        self,
        dataset: Dataset,
        cfg: IndexConfig,
        *,
        label: str = "config",
        depth: int = DEFAULT_DEPTH,
        answers: bool = True,
        progress: Progress | None = None,
    ) -> EvalResult:
        """Index (cached), query, score one config on one dataset split."""
        folio = self.open_index(dataset, cfg, progress)
        engine = self.engine(folio, cfg)
        bundles = self.query_bundles(cfg, dataset, engine, progress)
        run, latencies, search_only = run_queries(
            engine, dataset, bundles, depth=depth, progress=progress
        )
        per_query = per_query_metrics(dataset.qrels, run)
        result = EvalResult(
            label=label,
            dataset=dataset.name,
            split=dataset.split,
            retrieval=cfg.retrieval.model_dump(mode="json"),
            metrics=mean_metrics(per_query),
            latency={
                **latency_summary(latencies),
                **{f"search_{k}": v for k, v in latency_summary(search_only).items()},
            },
            per_query=per_query,
            n_queries=len(dataset.queries),
            n_docs=len(dataset.corpus),
            n_chunks=folio.indexer.chunk_count(),
            index_key=index_key(dataset, cfg),
        )
        if answers:  # on another index (half the corpus), hence after the retrieval run
            result.answers, answer_values = answer_eval(self, dataset, cfg, progress=progress)
            result.per_query.update({PREFIX + k: v for k, v in answer_values.items()})
        return result

    def query_bundles(
        self,
        cfg: IndexConfig,
        dataset: Dataset,
        engine: FolioQueryEngine,
        progress: Progress | None = None,
    ) -> dict[str, tuple[QueryBundle, float]]:
        """Each query with its embedding and the measured time to embed it (once per embedder:
        the cost is the same in every mode, so comparing modes re-embeds nothing)."""
        if cfg.retrieval.mode == "bm25":
            return {qid: (QueryBundle(text), 0.0) for qid, text in dataset.queries.items()}
        model_key = cfg.embedding.model_dump_json()
        engine.embed_model.get_query_embedding("warm up")
        out = {}
        total = len(dataset.queries)
        for n, (qid, text) in enumerate(dataset.queries.items(), start=1):
            key = (model_key, text)
            if key not in self._query_vectors:
                started = time.perf_counter()
                vector = engine.embed_model.get_query_embedding(text)
                self._query_vectors[key] = (vector, (time.perf_counter() - started) * 1000)
            vector, ms = self._query_vectors[key]
            out[qid] = (QueryBundle(text, embedding=vector), ms)
            if progress is not None and (n % 25 == 0 or n == total):
                progress("embedding queries", n, total)
        return out


def run_queries(
    engine: FolioQueryEngine,
    dataset: Dataset,
    bundles: dict[str, tuple[QueryBundle, float]],
    *,
    depth: int,
    progress: Progress | None = None,
) -> tuple[dict[str, dict[str, float]], list[float], list[float]]:
    """Document run (best chunk per document, rank-preserving scores), per-query latency, and
    per-query latency without the query embedding. Retrieves through the engine's own
    FolioRetriever, without the dense cutoff, `depth` chunks deep."""
    retriever = engine.retriever.with_k(depth)
    retriever.use_cutoff = False
    retriever.retrieve("warm up")  # first call pays lazy imports and allocations
    run: dict[str, dict[str, float]] = {}
    latencies: list[float] = []
    search_only: list[float] = []  # without the query embedding (the model, not the mode)
    total = len(dataset.queries)
    for n, qid in enumerate(dataset.queries, start=1):
        bundle, embed_ms = bundles[qid]
        started = time.perf_counter()
        nodes = retriever.retrieve(bundle)
        search_only.append((time.perf_counter() - started) * 1000)
        latencies.append(embed_ms + search_only[-1])
        docs = best_per_group(
            [(n.node.node_id, n.score or 0.0) for n in nodes],
            {n.node.node_id: str(n.node.ref_doc_id or "") for n in nodes},
        )
        # ranx sorts by score; rank-derived scores keep our order exactly (fused ties included)
        run[qid] = {doc: float(len(docs) - rank) for rank, (doc, _) in enumerate(docs)}
        if progress is not None and (n % 25 == 0 or n == total):
            progress("querying", n, total)
    return run, latencies, search_only


def answer_eval(
    session: EvalSession,
    dataset: Dataset,
    cfg: IndexConfig,
    *,
    limit: int | None = None,
    progress: Progress | None = None,
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Index half of `dataset` by title (cached), answer `limit` answerable and `limit`
    unanswerable queries (evenly spread; all by default); headline numbers and per-query
    values (series → query id → value)."""
    split = split_by_title(dataset)
    folio = session.open_index(split.indexed, cfg, progress)
    engine = session.engine(folio, cfg)
    asked = [(q, True) for q in spread(split.answerable, limit)]
    asked += [(q, False) for q in spread(split.unanswerable, limit)]
    corpus_ids = {doc.id for doc in split.indexed.corpus}
    bundles = session.query_bundles(
        cfg, split.indexed.subset(corpus_ids, [q for q, _ in asked]), engine
    )
    per_query: dict[str, dict[str, float]] = {}
    latencies = []
    for i, (qid, answerable) in enumerate(asked, start=1):
        bundle = bundles[qid][0]
        answer = engine.answer(QueryBundle(bundle.query_str, embedding=bundle.embedding))
        latencies.append(answer.latency_ms)
        values = judge(
            answer,
            answerable=answerable,
            relevant=dataset.qrels.get(qid, {}),
            golds=dataset.answers.get(qid, []),
        )
        for series, value in values.items():
            per_query.setdefault(series, {})[qid] = value
        if progress is not None and (i % 25 == 0 or i == len(asked)):
            progress("answering", i, len(asked))
    summary = summarise(per_query)
    summary.update({f"answer_{k}": v for k, v in latency_summary(latencies).items()})
    return summary, per_query
