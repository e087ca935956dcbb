"""retrieve() latency at 13.7k and 50k chunks: Folio's embedded Qdrant (Edge, HNSW built, hybrid
in one engine call) against the previous embedded default, Qdrant local mode (brute force in
Python), on the same vectors in the same run.

The chunks are real: SciFact's 13,685 and SQuAD DEV's paragraphs, read (text, payload, dense and
BM25 vectors) from the eval indexes `folio eval scifact` / `folio eval squad-v1.1-dev` built.
Those make 15.8k; the 50k set adds copies of them whose dense vectors are perturbed by noise
(σ = 0.02 per dimension, re-normalised) under new ids, so the engine searches 50k distinct
points with real text statistics. Questions: 300 SciFact + SQuAD questions, embedded by the
shipped ONNX model inside retrieve() (as /query does).

    .venv/bin/python benchmarks/retrieval_scale.py [--questions 300] [--sizes 13685 50000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def eval_shard(dataset: str) -> Path:
    from app.core.settings import load_settings
    from evals.datasets import load_dataset
    from evals.runner import DEFAULT_CACHE, index_key

    cfg = load_settings(REPO / "config.yaml", environ={}, check_paths=False).index
    path = REPO / DEFAULT_CACHE / index_key(load_dataset(dataset), cfg) / "vectors"
    if not path.is_dir():
        sys.exit(f"no eval index for {dataset}: run `folio eval {dataset}` first ({path})")
    return path


def read_points(shard_dir: Path) -> list:
    """Every point of an eval shard, with payload and both vectors."""
    from qdrant_edge import EdgeShard, ScrollRequest

    shard = EdgeShard.load(str(shard_dir))
    points, offset = [], None
    try:
        while True:
            records, offset = shard.scroll(
                ScrollRequest(offset=offset, limit=2000, with_payload=True, with_vector=True)
            )
            points.extend(records)
            if offset is None:
                return points
    finally:
        shard.close()


def build_folio(points: list, size: int, root: Path):  # type: ignore[no-untyped-def]
    """A FolioIndex whose Edge store holds `size` points (copies beyond the real ones)."""
    from llama_index.core.vector_stores.utils import metadata_dict_to_node

    from app.core.settings import load_settings
    from indexes.folio_index import FolioIndex

    settings = load_settings(REPO / "config.yaml", environ={}, check_paths=False)
    cfg = settings.index.model_copy(update={"storage_dir": root, "sources": []})
    cfg.vector_store = cfg.vector_store.model_copy(update={"path": root / "vectors"})
    folio = FolioIndex(cfg, eager=True, recover=False)
    store = folio.vector_store
    rng = np.random.default_rng(7)
    batch: list = []
    for n in range(size):
        src = points[n % len(points)]
        copy = n // len(points)
        node = metadata_dict_to_node(src.payload)
        dense = np.array(src.vector["dense"], dtype=np.float32)
        if copy:  # a distinct point near the original, under a new id
            dense = dense + rng.normal(0, 0.02, dense.shape).astype(np.float32)
            dense = dense / np.linalg.norm(dense)
            node.id_ = str(uuid.uuid5(uuid.UUID(str(src.id)), str(copy)))
        node.embedding = dense.tolist()
        batch.append(node)
        if len(batch) == 1000:
            store.add(batch)  # the public write path (BM25 weights computed from the text)
            batch = []
    if batch:
        store.add(batch)
    started = time.perf_counter()
    store.optimize()
    return folio, time.perf_counter() - started


def local_mode(dense: np.ndarray, root: Path):  # type: ignore[no-untyped-def]
    """Qdrant local mode (qdrant-client, path=...) holding the same dense vectors."""
    from qdrant_client import QdrantClient
    from qdrant_client.models import Distance, PointStruct, VectorParams

    client = QdrantClient(path=str(root / "local"))
    client.create_collection(
        "c", vectors_config=VectorParams(size=dense.shape[1], distance=Distance.DOT)
    )
    for start in range(0, len(dense), 2000):
        client.upsert(
            "c",
            [
                PointStruct(id=i, vector=dense[i].tolist())
                for i in range(start, min(start + 2000, len(dense)))
            ],
        )
    return client


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--sizes", type=int, nargs="+", default=[13685, 50000])
    args = parser.parse_args()

    from threadpoolctl import threadpool_limits

    from evals.datasets import load_dataset

    threadpool_limits(1, user_api="blas")
    points = read_points(eval_shard("scifact")) + read_points(eval_shard("squad-v1.1-dev"))
    qs = list(load_dataset("scifact").queries.values()) + list(
        load_dataset("squad-v1.1-dev").queries.values()
    )
    rng = np.random.default_rng(3)
    questions = [qs[i] for i in rng.choice(len(qs), args.questions, replace=False)]
    out: dict = {"real_points": len(points), "questions": len(questions)}
    for size in args.sizes:
        root = Path(tempfile.mkdtemp(prefix="folio-scale-"))
        try:
            folio, optimize_s = build_folio(points, size, root)
            retriever = folio.retriever
            embedder = folio.embed_model
            for q in questions[:20]:
                retriever.retrieve(q)  # warm-up
            total, search, embed = [], [], []
            for q in questions:
                started = time.perf_counter()
                retriever.retrieve(q)
                total.append((time.perf_counter() - started) * 1000)
                search.append(retriever.last_timings["search_ms"])
                embed.append(retriever.last_timings["embed_ms"])
            vectors = {
                q: np.array(embedder.get_query_embedding(q), dtype=np.float32) for q in questions
            }
            dense = np.array(
                [
                    r.vector["dense"]
                    for r in folio.vector_store.client.retrieve(
                        list(folio.vector_store.point_ids()), False, ["dense"]
                    )
                ],
                dtype=np.float32,
            )
            folio.close()
            client = local_mode(dense, root)
            local = []
            for q in questions:
                started = time.perf_counter()
                client.query_points("c", query=vectors[q].tolist(), limit=100)
                local.append((time.perf_counter() - started) * 1000)
            client.close()
            out[str(size)] = {
                "hnsw_build_s": round(optimize_s, 1),
                "folio_retrieve_p50_ms": pct(total, 0.5),
                "folio_retrieve_p95_ms": pct(total, 0.95),
                "folio_search_only_p95_ms": pct(search, 0.95),
                "question_embedding_p95_ms": pct(embed, 0.95),
                "local_mode_dense_top100_p50_ms": pct(local, 0.5),
                "local_mode_dense_top100_p95_ms": pct(local, 0.95),
                "local_mode_retrieve_p95_ms_est": round(pct(local, 0.95) + pct(embed, 0.95), 2),
                "search_p95_ratio_local_over_folio": round(pct(local, 0.95) / pct(search, 0.95), 1),
            }
        finally:
            shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
