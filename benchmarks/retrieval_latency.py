"""Retrieval latency at a labelled corpus's size, mode by mode, with where the time goes.

Opens the cached eval index of `folio eval` (run that first), then times what `/query` does
before answering: `FolioQueryEngine.retrieve` (question embedding + search + passages), plus
its parts. Prints JSON; the gate in docs/evals.md is retrieve p95 ≤ 25 ms.

    .venv/bin/python -m benchmarks.retrieval_latency scifact [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from llama_index.core.schema import QueryBundle

from app.core.settings import load_settings
from evals.datasets import load_dataset
from evals.runner import EvalSession


def timed(fn, items, rounds: int) -> dict[str, float]:
    fn(items[0])  # warm-up
    times = []
    for _ in range(rounds):
        for item in items:
            started = time.perf_counter()
            fn(item)
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {
        "n": len(times),
        "p50_ms": round(times[len(times) // 2], 1),
        "p95_ms": round(times[min(len(times) - 1, int(len(times) * 0.95))], 1),
    }


def measure(engine, questions: list[str], rounds: int) -> dict[str, dict[str, float]]:
    """retrieve() as /query runs it, then its parts on pre-computed question embeddings."""
    rcfg = engine.cfg.retrieval
    embeddings = {q: engine.embed_model.get_query_embedding(q) for q in questions}
    depth = rcfg.fusion.candidates if rcfg.mode == "hybrid" else rcfg.top_k
    result = {
        "retrieve (embed + search + passages)": timed(engine.retrieve, questions, rounds),
        "question embedding": timed(engine.embed_model.get_query_embedding, questions, rounds),
        f"qdrant top {depth}": timed(
            lambda q: engine._qdrant_ids(embeddings[q], depth), questions, rounds
        ),
        "search without embedding": timed(
            lambda q: engine.search(QueryBundle(q, embedding=embeddings[q]), rcfg.top_k),
            questions,
            rounds,
        ),
    }
    if rcfg.mode == "hybrid":
        result[f"bm25 top {depth}"] = timed(lambda q: engine._bm25(q, depth), questions, rounds)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset")
    parser.add_argument("--config", default="config.yaml")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--cache-dir", default=".folio-cache/evals")
    args = parser.parse_args()

    cfg = load_settings(args.config, environ={}).index
    data = load_dataset(args.dataset, split="dev")
    session = EvalSession(cache_root=Path(args.cache_dir))
    folio = session.open_index(data, cfg)
    questions = list(data.queries.values())
    out: dict = {
        "dataset": data.name,
        "chunks": folio.point_count(),
        "load_avg_before": os.getloadavg(),
    }
    for mode in ("dense", "hybrid"):
        mcfg = cfg.model_copy(deep=True)
        mcfg.retrieval.mode = mode
        out[mode] = measure(session.engine(folio, mcfg), questions, args.rounds)
    out["load_avg_after"] = os.getloadavg()
    print(json.dumps(out, indent=1))
    session.close()


if __name__ == "__main__":
    main()
