"""Skeleton benchmarks: indexing throughput, no-op re-index, retrieval and /query latency.

Prints one JSON object. Folio runs with config.yaml's retrieval and embedding sections (the
default users get); at 10k points dense is measured too. Compares retrieval against plain
LlamaIndex (SentenceSplitter defaults, HuggingFaceEmbedding, local Qdrant, default thread pools)
built in the same run.

    .venv/bin/python -m benchmarks.bench_skeleton [--questions 60] [--skip-textbook]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
TEXTBOOK = REPO.parent / "shared" / "textbooks" / "rust-book" / "chapters"

QUESTIONS = [
    "What is autolyse?",
    "At what temperature should I bake?",
    "How do I know my starter is ready?",
    "Why is my crumb dense?",
    "What is the float test?",
    "How do I calculate hydration?",
    "What is a levain?",
    "How long does bulk fermentation take?",
    "How do I do coil folds?",
    "What is the windowpane test?",
    "What is a banneton?",
    "How long to cold retard?",
    "At what angle should I score?",
    "What is oven spring?",
    "When can I cut the loaf?",
    "How often should I feed my starter?",
    "What flour is best for a starter?",
    "Why does my starter smell like acetone?",
    "What does salt do to dough?",
    "How warm should the dough be?",
    "How do I pre-shape?",
    "Why did my loaf spread?",
    "Should I use a Dutch oven?",
    "How do I store bread?",
    "What is a bench rest?",
]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def summary(values: list[float]) -> dict:
    return {
        "n": len(values),
        "p50_ms": pct(values, 0.5),
        "p95_ms": pct(values, 0.95),
        "mean_ms": round(statistics.mean(values), 2),
    }


def write_config(root: Path, source: Path, name: str) -> Path:
    import yaml

    shipped = yaml.safe_load((REPO / "config.yaml").read_text())
    cfg = {
        "retrieval": shipped["retrieval"],  # the default users get (hybrid since 2026-11-28)
        "embedding": shipped["embedding"],
        "storage_dir": str(root / "storage"),
        "sources": [{"name": name, "path": str(source), "globs": ["*.md"], "book": name}],
        "vector_store": {"path": str(root / "storage" / "qdrant"), "collection": name},
    }
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def bench_index(source: Path, name: str, embed_model) -> tuple[dict, object, Path]:
    from app.core.settings import load_settings
    from indexes.engine import FolioIndex

    root = Path(tempfile.mkdtemp(prefix=f"folio-bench-{name}-"))
    settings = load_settings(write_config(root, source, name), environ={})
    folio = FolioIndex.from_config(settings.index, embed_model=embed_model)
    started = time.perf_counter()
    report = folio.index_sources()
    elapsed = time.perf_counter() - started
    started = time.perf_counter()
    noop = folio.index_sources()
    noop_s = time.perf_counter() - started
    return (
        {
            "documents": len(report.added),
            "chunks": report.chunks_embedded,
            "index_s": round(elapsed, 2),
            "chunks_per_s": round(report.chunks_embedded / elapsed, 1),
            "noop_reindex_s": round(noop_s, 3),
            "noop_embedded": noop.chunks_embedded,
        },
        folio,
        root,
    )


def bench_retrieval(folio, questions: list[str], rounds: int) -> dict:
    folio.engine.retrieve(questions[0])  # warm-up
    times = []
    for _ in range(rounds):
        for q in questions:
            t = time.perf_counter()
            folio.engine.retrieve(q, top_k=10)
            times.append((time.perf_counter() - t) * 1000)
    return summary(times)


def pad_to(folio, target: int) -> int:
    """Add random unit vectors until the collection holds `target` points (search cost
    depends on the count, not the text). Returns the count reached."""
    import uuid

    import numpy as np
    from qdrant_client.models import PointStruct

    name = folio.cfg.vector_store.collection
    have = folio.point_count()
    rng = np.random.default_rng(0)
    while have < target:
        n = min(1000, target - have)
        vecs = rng.normal(size=(n, 384)).astype("float32")
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        folio.client.upsert(
            name,
            [
                PointStruct(id=str(uuid.uuid4()), vector=v.tolist(), payload={"pad": True})
                for v in vecs
            ],
        )
        have += n
    return folio.point_count()


def bench_plain_llamaindex(source: Path, questions: list[str], rounds: int) -> dict:
    """Plain LlamaIndex defaults (1024/200 splitter, default threads) on the same text."""
    import torch
    from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.qdrant import QdrantVectorStore
    from qdrant_client import QdrantClient
    from threadpoolctl import threadpool_limits

    from indexes.embeddings import local_model_path

    root = Path(tempfile.mkdtemp(prefix="folio-bench-plain-"))
    threads_before = torch.get_num_threads()
    torch.set_num_threads(2)  # plain defaults: every core
    with threadpool_limits(limits=2, user_api="blas"):
        embed = HuggingFaceEmbedding(model_name=local_model_path())
        client = QdrantClient(path=str(root / "q"))
        store = QdrantVectorStore(client=client, collection_name="plain")
        docs = SimpleDirectoryReader(str(source)).load_data()
        started = time.perf_counter()
        index = VectorStoreIndex.from_documents(
            docs,
            storage_context=StorageContext.from_defaults(vector_store=store),
            embed_model=embed,
            transformations=[SentenceSplitter()],
        )
        index_s = time.perf_counter() - started
        retriever = index.as_retriever(similarity_top_k=10)
        retriever.retrieve(questions[0])
        times = []
        for _ in range(rounds):
            for q in questions:
                t = time.perf_counter()
                retriever.retrieve(q)
                times.append((time.perf_counter() - t) * 1000)
    torch.set_num_threads(threads_before)
    client.close()
    shutil.rmtree(root, ignore_errors=True)
    return {"index_s": round(index_s, 2), "retrieval": summary(times)}


def bench_http(folio, questions: list[str], rounds: int) -> dict:
    import httpx

    from app.core.settings import load_settings
    from app.main import create_app
    from tests.utils.http import serve_in_thread

    settings = load_settings(folio.cfg.storage_dir.parent / "config.yaml", environ={})
    settings.api.rate_limit_per_minute = settings.api.rate_limit_per_day = 10**9
    app = create_app(settings, index_factory=lambda cfg: folio)  # closes `folio` at shutdown
    times = []
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        client.post("/query", json={"query": questions[0]})
        for _ in range(rounds):
            for q in questions:
                t = time.perf_counter()
                r = client.post("/query", json={"query": q})
                times.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200, r.text
    return summary(times)


def bench_ask(folio, questions: list[str]) -> dict:
    from app.core.settings import load_settings
    from app.services.query import answer_question

    settings = load_settings(folio.cfg.storage_dir.parent / "config.yaml", environ={})
    times = []
    for q in questions:
        t = time.perf_counter()
        answer_question(index=folio, settings=settings, question=q)
        times.append((time.perf_counter() - t) * 1000)
    return summary(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--skip-textbook", action="store_true")
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()

    from indexes.config import EmbeddingConfig, RuntimeConfig
    from indexes.embeddings import build_embed_model
    from indexes.query import FolioQueryEngine
    from indexes.runtime import apply_runtime

    apply_runtime(RuntimeConfig())
    embed = build_embed_model(EmbeddingConfig(), RuntimeConfig())
    out: dict = {"machine": {"cores": __import__("os").cpu_count()}}

    sample, folio, _ = bench_index(REPO / "data" / "book", "sample", embed)
    out["sample_book"] = sample
    out["sample_book"]["retrieval"] = bench_retrieval(folio, QUESTIONS, args.rounds)
    out["sample_book"]["folio_ask_in_process"] = bench_ask(folio, QUESTIONS * args.rounds)
    out["sample_book"]["post_query_http"] = bench_http(folio, QUESTIONS, args.rounds)
    print(json.dumps(out), file=sys.stderr, flush=True)  # partial results, in case of a crash

    if TEXTBOOK.is_dir() and not args.skip_textbook:
        book, folio, _ = bench_index(TEXTBOOK, "rustbook", embed)
        rust_q = [
            "What is ownership?",
            "How do I borrow a value mutably?",
            "What is a trait?",
            "How do lifetimes work?",
            "How do I read a file?",
            "What is Cargo?",
            "How do closures capture variables?",
            "What is a smart pointer?",
            "How do threads share data?",
            "What does the ? operator do?",
        ]
        book["retrieval"] = bench_retrieval(folio, rust_q, args.rounds * 3)
        book["folio_ask_in_process"] = bench_ask(folio, rust_q * args.rounds * 3)
        reached = pad_to(folio, 10_000)
        book["retrieval_at_10k_points"] = {
            "points": reached,
            **bench_retrieval(folio, rust_q, args.rounds * 3),
        }
        shipped_engine = folio.engine
        dense_cfg = folio.cfg.model_copy(deep=True)
        dense_cfg.retrieval.mode = "dense"
        folio.engine = FolioQueryEngine.from_config(
            dense_cfg,
            vector_store=folio.vector_store,
            embed_model=folio.embed_model,
            bm25=folio.bm25,
            get_chunk=folio.indexer.get_chunk,
        )
        book["dense_retrieval_at_10k_points"] = bench_retrieval(folio, rust_q, args.rounds * 3)
        folio.engine = shipped_engine
        # last: the app's lifespan closes the index at shutdown
        book["post_query_http_at_10k_points"] = bench_http(folio, rust_q, args.rounds * 3)
        out["textbook"] = book
        print(json.dumps(out), file=sys.stderr, flush=True)
        if not args.skip_baseline:
            base = bench_plain_llamaindex(TEXTBOOK, rust_q, args.rounds * 3)
            out["plain_llamaindex_textbook"] = base
            out["ratio_retrieval_p95_plain_over_folio"] = round(
                base["retrieval"]["p95_ms"] / book["retrieval"]["p95_ms"], 2
            )
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
