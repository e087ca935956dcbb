"""What else could lift SciFact nDCG@10 with MiniLM + BM25? Offline replay of representations.

Embeds SciFact once per representation (numpy cache in .folio-cache/explore/), scores every
train + DEV query against all of them, and grid-searches convex fusion weights on the **train**
queries only; DEV is printed for the chosen weights, never used to choose.

Representations: Folio's chunks (BookNodeParser 200/30, section line = title), whole abstracts
(title + text, cut at 256 pieces), title-prefixed sentences; BM25 over chunks or whole
abstracts; dense pseudo-relevance feedback (Rocchio over the top fused documents).

    .venv/bin/python -m benchmarks.scifact_representations      # ~25 min first run, then ~3
"""

from __future__ import annotations

import itertools
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

from evals.datasets import load_dataset
from evals.metrics import mean_metrics, per_query_metrics

OUT = Path(".folio-cache/explore")
METRICS = ("ndcg@10", "hit_rate@5", "mrr@10", "recall@100")


def log(*args: object) -> None:
    print(*args, file=sys.stderr, flush=True)


def embed_all(data) -> dict[str, list[str]]:
    """Embeds each representation once; returns the owning document of every row."""
    import torch
    from llama_index.core.schema import MetadataMode
    from sentence_transformers import SentenceTransformer

    from indexes.embeddings import local_model_path
    from indexes.parsers import BookNodeParser

    torch.set_num_threads(2)
    OUT.mkdir(parents=True, exist_ok=True)
    model = SentenceTransformer(local_model_path(), device="cpu")
    model.max_seq_length = 256
    nodes = BookNodeParser(
        tokenizer=model.tokenizer.tokenize, chunk_size=200, chunk_overlap=30
    ).get_nodes_from_documents(data.documents())
    sentences = [
        (d.id, f"{d.title}. {s.strip()}")
        for d in data.corpus
        for s in re.split(r"(?<=[.!?])\s+(?=[A-Z(\[])", d.text)
        if len(s.strip()) > 20
    ]
    reps = {
        "queries": [(q, t) for q, t in data.queries.items()],
        "chunks": [(n.ref_doc_id, n.get_content(metadata_mode=MetadataMode.EMBED)) for n in nodes],
        "docs": [(d.id, f"{d.title}\n\n{d.text}") for d in data.corpus],
        "sents": sentences,
    }
    for name, rows in reps.items():
        path = OUT / f"{name}.npy"
        if not path.exists():
            started = time.perf_counter()
            vectors = model.encode([t for _, t in rows], batch_size=32, normalize_embeddings=True)
            np.save(path, vectors.astype(np.float32))
            log(f"embedded {name}: {len(rows)} rows in {time.perf_counter() - started:.0f} s")
    return {name: [owner for owner, _ in rows] for name, rows in reps.items()}, reps


def main() -> None:
    import bm25s
    import Stemmer

    data = load_dataset("scifact", split="train+dev")
    train = set(load_dataset("scifact", split="train").queries)
    owners, reps = embed_all(data)
    qids = owners["queries"]
    doc_ids = [d.id for d in data.corpus]
    dix = {d: i for i, d in enumerate(doc_ids)}
    query_vectors = np.load(OUT / "queries.npy")

    def per_doc(scores: np.ndarray, rows: list[str]) -> np.ndarray:
        """Best row per document (rows of one document are contiguous)."""
        idx = np.array([dix[r] for r in rows])
        starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
        out = np.full((scores.shape[0], len(doc_ids)), -1e9, dtype=np.float32)
        out[:, idx[starts]] = np.maximum.reduceat(scores, starts, axis=1)
        return out

    def evaluate(matrix: np.ndarray, split: str) -> dict[str, float]:
        keep = [i for i, q in enumerate(qids) if (q in train) == (split == "train")]
        run = {}
        for i in keep:
            top = np.argpartition(-matrix[i], 100)[:100]
            run[qids[i]] = {doc_ids[j]: float(matrix[i, j]) for j in top}
        qrels = {q: data.qrels[q] for q in run}
        metrics = mean_metrics(per_query_metrics(qrels, run, METRICS))
        return {m: round(v, 4) for m, v in metrics.items()}

    def norm(matrix: np.ndarray, cand: int = 300) -> np.ndarray:
        """Min-max over each query's top `cand` documents, others 0 (like convex_fusion)."""
        out = np.zeros_like(matrix)
        idx = np.argpartition(-matrix, cand, axis=1)[:, :cand]
        vals = np.take_along_axis(matrix, idx, 1)
        low, high = vals.min(1, keepdims=True), vals.max(1, keepdims=True)
        np.put_along_axis(out, idx, (vals - low) / np.maximum(high - low, 1e-9), 1)
        return out

    signals = {
        f"dense_{name}": per_doc(query_vectors @ np.load(OUT / f"{name}.npy").T, owners[name])
        for name in ("chunks", "docs", "sents")
    }
    stemmer = Stemmer.Stemmer("english")
    for name, texts, rows in (
        ("chunks", [t for _, t in reps["chunks"]], owners["chunks"]),
        ("docs", [f"{d.title} {d.text}" for d in data.corpus], doc_ids),
    ):
        retriever = bm25s.BM25(k1=0.9, b=0.4, method="lucene")
        retriever.index(
            bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False),
            show_progress=False,
        )
        scores = np.zeros((len(qids), len(texts)), dtype=np.float32)
        for i, q in enumerate(qids):
            tokens = bm25s.tokenize(
                data.queries[q],
                stopwords="en",
                stemmer=stemmer,
                show_progress=False,
                return_ids=False,
            )[0]
            scores[i] = retriever.get_scores(tokens)
        signals[f"bm25_{name}"] = per_doc(scores, rows)

    report: dict[str, object] = {
        name: {"train": evaluate(m, "train"), "dev": evaluate(m, "dev")}
        for name, m in signals.items()
    }
    grid = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    for combo in (
        ("dense_chunks", "bm25_chunks"),
        ("dense_chunks", "bm25_docs"),
        ("dense_chunks", "dense_docs", "bm25_docs"),
        ("dense_sents", "bm25_docs"),
        ("dense_sents", "dense_chunks", "bm25_docs"),
    ):
        normed = {n: norm(signals[n]) for n in combo}
        best = None
        for head in itertools.product(grid, repeat=len(combo) - 1):
            if sum(head) > 1:
                continue
            weights = [*head, round(1 - sum(head), 2)]
            fused = sum(w * normed[n] for w, n in zip(weights, combo, strict=True))
            score = evaluate(fused, "train")["ndcg@10"]
            if best is None or score > best[0]:
                best = (score, weights, fused)
        assert best is not None
        report[" + ".join(combo)] = {
            "weights": best[1],
            "train": evaluate(best[2], "train"),
            "dev": evaluate(best[2], "dev"),
        }
        log(" + ".join(combo), report[" + ".join(combo)])

    # Dense pseudo-relevance feedback: q' = q + beta * mean(top-k fused documents' vectors).
    base = 0.5 * norm(signals["dense_chunks"]) + 0.5 * norm(signals["bm25_docs"])
    doc_vectors, chunk_vectors = np.load(OUT / "docs.npy"), np.load(OUT / "chunks.npy")
    prf = {}
    for k, beta in itertools.product((3, 5, 10), (0.3, 0.6, 1.0)):
        top = np.argsort(-base, axis=1)[:, :k]
        expanded = query_vectors + beta * doc_vectors[top].mean(1)
        expanded /= np.linalg.norm(expanded, axis=1, keepdims=True)
        dense = per_doc(expanded @ chunk_vectors.T, owners["chunks"])
        fused = 0.5 * norm(dense) + 0.5 * norm(signals["bm25_docs"])
        prf[f"k={k} beta={beta}"] = evaluate(fused, "train")["ndcg@10"]
    report["prf_train_ndcg@10"] = prf
    report["prf_baseline_train_ndcg@10"] = evaluate(base, "train")["ndcg@10"]
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
