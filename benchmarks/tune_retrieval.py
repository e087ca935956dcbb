"""Tune BM25 parameters and hybrid fusion on tuning splits only (SciFact train, SQuAD DEV).

Runs the dense and BM25 retrievers once per query at full depth over the cached eval index,
then replays every fusion setting offline with indexes.fusion (the same code the engine runs),
so a sweep costs seconds. Prints JSON; the chosen setting is then checked with `folio eval`.

    .venv/bin/python -m benchmarks.tune_retrieval scifact --split train
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

from llama_index.core.schema import QueryBundle

from app.core.settings import load_settings
from evals.datasets import load_dataset
from evals.metrics import mean_metrics, per_query_metrics
from evals.runner import EvalSession
from indexes.bm25 import BM25Index
from indexes.fusion import best_per_group, fuse

METRICS = ("ndcg@10", "hit_rate@5", "mrr@10", "recall@100")


def doc_run(rankings, doc_of):
    run = {}
    for qid, ranking in rankings.items():
        docs = best_per_group(ranking, doc_of)
        run[qid] = {d: float(len(docs) - r) for r, (d, _) in enumerate(docs)}
    return run


def score(qrels, run):
    return {m: round(v, 4) for m, v in mean_metrics(per_query_metrics(qrels, run, METRICS)).items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset")
    parser.add_argument("--split", default="train")
    parser.add_argument("--config", default="config.yaml")
    parser.add_argument("--depth", type=int, default=300)
    parser.add_argument("--cache-dir", default=".folio-cache/evals")
    args = parser.parse_args()

    cfg = load_settings(args.config, environ={}).index
    data = load_dataset(args.dataset, split=args.split)
    session = EvalSession(cache_root=Path(args.cache_dir))
    folio = session.open_index(data, cfg)
    engine = session.engine(folio, cfg.model_copy(deep=True))
    doc_of = {}
    out: dict = {"dataset": data.name, "split": args.split, "queries": len(data.queries)}

    dense = {}
    started = time.perf_counter()
    for qid, text in data.queries.items():
        hits = engine._dense(QueryBundle(text), args.depth, None)
        dense[qid] = [(h.node_id, h.score) for h in hits]
        doc_of.update({h.node_id: h.doc_id for h in hits})
    out["dense_s"] = round(time.perf_counter() - started, 1)
    out["dense"] = score(data.qrels, doc_run(dense, doc_of))

    chunks, ids = folio.indexer.all_chunks(), folio.indexer.chunk_ids()
    bm25_runs = {}
    out["bm25"] = {}
    for k1, b in itertools.product((0.9, 1.2, 1.5), (0.4, 0.75, 0.9)):
        bcfg = cfg.retrieval.bm25.model_copy(update={"k1": k1, "b": b})
        index = BM25Index(bcfg, folio.cfg.storage_dir / f"bm25-tune-{k1}-{b}")
        index.load_or_build(lambda: chunks, ids)
        run = {}
        for qid, text in data.queries.items():
            hits = index.search(text, args.depth)
            run[qid] = [(n, s) for n, _, s in hits]
            doc_of.update({n: d for n, d, _ in hits})
        bm25_runs[(k1, b)] = run
        out["bm25"][f"k1={k1},b={b}"] = score(data.qrels, doc_run(run, doc_of))
        print(f"bm25 k1={k1} b={b}", out["bm25"][f"k1={k1},b={b}"], file=sys.stderr, flush=True)

    default_key = (cfg.retrieval.bm25.k1, cfg.retrieval.bm25.b)
    out["fusion"] = {}
    for (k1, b), lexical in bm25_runs.items():
        if (k1, b) not in (default_key, (0.9, 0.4)):
            continue
        for method, w, k, cand in itertools.product(
            ("rrf", "convex"), (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8), (10, 30, 60), (100, 300)
        ):
            if method == "convex" and k != 60:
                continue
            run = {}
            for qid in data.queries:
                run[qid] = fuse(
                    [dense[qid][:cand], lexical[qid][:cand]],
                    [w, 1 - w],
                    method=method,
                    rrf_k=k,
                )[: args.depth]
            name = f"bm25(k1={k1},b={b}) {method} dense_w={w} k={k} cand={cand}"
            out["fusion"][name] = score(data.qrels, doc_run(run, doc_of))
            # variant: collapse each list to documents first, then fuse documents
            run = {}
            for qid in data.queries:
                run[qid] = fuse(
                    [
                        best_per_group(dense[qid][:cand], doc_of),
                        best_per_group(lexical[qid][:cand], doc_of),
                    ],
                    [w, 1 - w],
                    method=method,
                    rrf_k=k,
                )
            out["fusion"][name.replace(f" {method} ", f" {method}-doc ")] = score(
                data.qrels, doc_run(run, {})
            )
    best = sorted(out["fusion"].items(), key=lambda kv: -kv[1]["ndcg@10"])[:15]
    out["fusion_top"] = dict(best)
    for method in ("rrf", "convex", "rrf-doc", "convex-doc"):
        mine = [kv for kv in out["fusion"].items() if f" {method} " in kv[0]]
        out[f"best_{method}"] = dict(sorted(mine, key=lambda kv: -kv[1]["ndcg@10"])[:3])
    print(json.dumps({k: v for k, v in out.items() if k != "fusion"}, indent=1))
    session.close()


if __name__ == "__main__":
    main()
